"""Drift: whether the traffic has moved away from the serving engine far enough to rebuild it.

One evaluation takes the serving ``Envelope``, the current ``TrafficProfile`` (or why there is none), the
envelope a fresh plan would choose for the same window (passed in, so drift never depends on the
planner), the ``DriftPolicy``, the previous ``DriftState`` and ``now``; it returns the next state and a
``DriftVerdict``. A chain of small checks decides, the first one that speaks wins (cert-manager's policy
chain): traffic → confirmed breach → pending breach → confirmed waste → pending waste → stable.

Measures, all shares of requests:

* **beyond** (coverage breach): a *lower bound* of the share of requests the envelope does not serve:
  ``max(input beyond max_input_len, sequence beyond max_seq_len, censored)``. A lower bound because a
  breach rebuilds at once, ignoring the minimum interval: it must never fire on overlap counted twice.
  ``censored`` (rejected for length plus stopped at the engine's limit, per admitted request) is a term
  of its own because an engine's own histograms hide exactly those requests. Above a histogram's top
  finite bucket nothing is known, so a limit there adds nothing from that histogram (a message note).
* **waste**: the serving ``max_input_len`` or ``max_seq_len`` is at least ``waste_factor`` times the fresh
  plan's. Counted only while there is no breach, so a rebuild has one direction.
* **shift score** and **shift** (``core.shift_references``): how far the traffic is from the profile the
  serving engine was planned from, and whether the profile's *recent* window (``drift.shift.window``)
  could have come from it; a shift is confirmed after ``drift.shift.consecutiveEvaluations`` in a row.
  The early warning the diluted trailing window cannot give; reported (the caller sets condition
  TrafficShifted), never a rebuild by itself: minutes of requests are too few to plan from.

Hysteresis: a breach or waste acts after ``consecutive_evaluations`` evaluations in a row; a streak
resets when its condition clears. Insufficient traffic changes nothing (streaks hold). An evaluation
sooner than half an evaluation interval after the last counted one (a nudge from an update event, a
restart) refreshes the figures without counting as another evaluation. Waste also waits for
``min_rebuild_interval`` since the last rebuild, and with a ``downsize_window`` the verdict names the
window its rollout must wait for. Acting is the caller's: after starting a rebuild it records it with
``DriftState.rebuilt``; in Advisory mode it records the verdict and acts on nothing. The state's status
form is ``core.status_codec``'s. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from seasonal_engines.api import durations
from seasonal_engines.api.spec import DriftPolicy
from seasonal_engines.core import histograms, reasons, seasons, shift_detection, shift_references, times
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable


class DriftKind(str, Enum):
    stable = "Stable"              # nothing to do (pending streaks included)
    breach = "Breach"              # confirmed coverage breach
    waste = "Waste"                # confirmed waste
    insufficient = "Insufficient"  # no judgement possible


class Direction(str, Enum):
    up = "Up"
    down = "Down"


# --- state and verdict --------------------------------------------------------


@dataclass(frozen=True)
class DriftState:
    """What drift remembers between evaluations; kept in ``status.drift`` (``core.status_codec``)."""

    breach_streak: int = 0
    waste_streak: int = 0
    shift_streak: int = 0
    last_rebuild: datetime | None = None
    last_evaluated: datetime | None = None   # the last evaluation that counted
    beyond_fraction: float | None = None
    score: float | None = None
    reference: shift_references.ShiftReference | None = None

    def rebuilt(self, now: datetime, planned_from: TrafficProfile) -> DriftState:
        """After the caller started a rebuild planned from ``planned_from``: streaks reset, the interval
        clock restarts and the shift score is measured against the new plan's traffic."""
        return replace(self.rebased(planned_from), last_rebuild=times.utc(now))

    def rebased(self, planned_from: TrafficProfile) -> DriftState:
        """The serving engine changed without a drift rebuild (a season began): new reference, streaks
        reset, interval clock kept."""
        return replace(self, breach_streak=0, waste_streak=0, shift_streak=0,
                       reference=shift_references.ShiftReference.of(planned_from))


@dataclass(frozen=True)
class DriftVerdict:
    """One evaluation's outcome. ``reason`` is a constant of ``core.reasons``; ``message`` is for people."""

    kind: DriftKind
    reason: str
    message: str
    rebuild: bool = False
    direction: Direction | None = None
    urgent: bool = False
    consecutive: int = 0                       # the streak behind this verdict
    beyond_fraction: float | None = None
    score: float | None = None
    waste_ratio: float | None = None           # serving / fresh, the larger of input and sequence
    rollout_window: seasons.Window | None = None  # downsize: roll out only inside this window
    shift: shift_detection.ShiftResult | None = None  # this evaluation's shift tests (None: none made)
    shift_streak: int = 0                      # evaluations in a row with a shift
    shift_confirmed: bool = False              # the streak reached drift.shift.consecutiveEvaluations
    samples: float | None = None               # requests in the trailing window the figures are of


@dataclass(frozen=True)
class _Evaluation:
    """One evaluation's inputs and measured figures, as the checks see them."""

    serving: Envelope
    profile: TrafficProfile | TrafficUnavailable
    fresh: Envelope | None
    policy: DriftPolicy
    state: DriftState            # already advanced by this evaluation's streaks
    now: datetime
    min_samples: int
    beyond: float | None = None
    breaching: bool = False
    waste_ratio: float | None = None
    wasteful: bool = False
    score: float | None = None
    reference: shift_references.ShiftReference | None = None
    shift: shift_detection.ShiftResult | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


# --- evaluating ------------------------------------------------------------------


def evaluate(*, serving: Envelope, traffic: TrafficProfile | TrafficUnavailable, fresh: Envelope | None,
             policy: DriftPolicy, state: DriftState, now: datetime, min_samples: int,
             evaluation_interval: timedelta = timedelta(0)) -> tuple[DriftState, DriftVerdict]:
    """Measure, advance the streaks, and let the first check that speaks decide."""
    now = times.utc(now)
    if min_samples < 1:
        raise ValueError(f"traffic.minSamples must be at least 1, got {min_samples}")
    ev = _Evaluation(serving, traffic, fresh, policy, state, now, min_samples)
    insufficient = _check_traffic(ev)
    if insufficient is not None:
        return state, insufficient  # streaks hold: nothing to write
    assert isinstance(traffic, TrafficProfile)  # _check_traffic spoke for anything else

    ev = _measured(ev, traffic)
    new = replace(state, beyond_fraction=ev.beyond, score=ev.score, reference=ev.reference)
    if state.last_evaluated is None or now - state.last_evaluated >= evaluation_interval / 2:
        new = _counted(new, ev)
    ev = replace(ev, state=new)
    for check in CHAIN:
        verdict = check(ev)
        if verdict is not None:
            return new, verdict
    raise AssertionError("the last check always speaks")  # pragma: no cover


def _measured(ev: _Evaluation, traffic: TrafficProfile) -> _Evaluation:
    """``ev`` with this evaluation's figures: beyond share, waste ratio, shift score and shift tests."""
    beyond, notes = beyond_fraction(ev.serving, traffic)
    beyond = round(beyond, 6)  # the figure status shows is the one compared
    breaching = beyond > ev.policy.breach_fraction
    ratio = waste_ratio(ev.serving, ev.fresh)
    # An adopted engine (or a baseline with no buckets): the first traffic seen is the baseline.
    reference = ev.state.reference if ev.state.reference and not ev.state.reference.empty else \
        shift_references.ShiftReference.of(traffic)
    score = shift_references.shift_score(reference, traffic)
    return replace(ev, beyond=beyond, breaching=breaching, waste_ratio=ratio,
                   wasteful=not breaching and ratio is not None and ratio >= ev.policy.waste_factor,
                   score=None if score is None else round(score, 6), reference=reference,
                   shift=shift_references.detect_shift(ev.policy.shift, reference, traffic), notes=notes)


def _counted(state: DriftState, ev: _Evaluation) -> DriftState:
    """``state`` after an evaluation that counts: the streaks advance or reset."""
    old = ev.state
    if ev.breaching:
        waste = 0
    elif ev.waste_ratio is None:
        waste = old.waste_streak  # no fresh plan: waste cannot be judged, so its streak holds
    else:
        waste = old.waste_streak + 1 if ev.wasteful else 0
    # no shift test (too few recent requests, or shift detection off): the streak holds
    shift = old.shift_streak if ev.shift is None else (old.shift_streak + 1 if ev.shift.shifted else 0)
    return replace(state, last_evaluated=ev.now, breach_streak=old.breach_streak + 1 if ev.breaching else 0,
                   waste_streak=waste, shift_streak=shift)


def beyond_fraction(serving: Envelope, profile: TrafficProfile) -> tuple[float, tuple[str, ...]]:
    """Lower bound of the share of requests beyond the envelope, censored ones included (see module doc)."""
    notes: list[str] = []
    parts = [0.0]
    for name, h, limit in (("input", profile.input, serving.max_input_len),
                           ("sequence", profile.sequence, serving.max_seq_len)):
        top = max((b for b in h.bounds if math.isfinite(b)), default=0.0)
        if limit > top:
            notes.append(f"{name} buckets stop at {top:g} tokens, below the limit {limit}: "
                         f"requests beyond it are known only from censoring counters")
            continue
        covered = histograms.coverage(h, limit)
        if math.isfinite(covered):
            parts.append(1.0 - covered)
    if profile.censored_fraction is None:
        upper = "" if profile.censored_upper_bound is None else \
            f" (a broader counter puts them at no more than {_pct(profile.censored_upper_bound)})"
        notes.append(f"the source reports no censoring counters: rejected and cut requests are not counted{upper}")
    else:
        parts.append(profile.censored_fraction)
    return min(1.0, max(parts)), tuple(notes)


def waste_ratio(serving: Envelope, fresh: Envelope | None) -> float | None:
    """How many times larger the serving limits are than a fresh plan's (the larger of input and sequence)."""
    if fresh is None:
        return None
    if fresh.max_input_len < 1 or fresh.max_seq_len < 1:
        raise ValueError(f"the fresh plan's limits must be positive, got {fresh.summary()}")
    return max(serving.max_input_len / fresh.max_input_len, serving.max_seq_len / fresh.max_seq_len)


def downsize_allowed(policy: DriftPolicy, now: datetime) -> bool:
    """Whether a downward rollout may happen at ``now`` (always, without a downsize window)."""
    w = policy.downsize_window
    return w is None or seasons.Recurrence.of(w).window_at(now) is not None


# --- the checks: each returns a verdict when it decides, None to pass on ----------


def _check_traffic(ev: _Evaluation) -> DriftVerdict | None:
    if isinstance(ev.profile, TrafficUnavailable):
        return DriftVerdict(DriftKind.insufficient, reasons.TRAFFIC_UNAVAILABLE,
                            f"no traffic profile ({ev.profile.reason}: {ev.profile.message}); drift streaks hold")
    if ev.profile.samples < ev.min_samples:
        return DriftVerdict(DriftKind.insufficient, reasons.INSUFFICIENT_TRAFFIC,
                            f"{ev.profile.samples:.0f} requests in the window, fewer than traffic.minSamples "
                            f"{ev.min_samples}; drift streaks hold")
    return None


def _check_breach(ev: _Evaluation) -> DriftVerdict | None:
    if not ev.breaching:
        return None
    k, streak = ev.policy.consecutive_evaluations, ev.state.breach_streak
    what = (f"{_pct(ev.beyond)} of requests beyond the serving envelope ({ev.serving.summary()}), over "
            f"drift.breachFraction {_pct(ev.policy.breach_fraction)}")
    if streak < k:
        return _verdict(ev, DriftKind.stable, reasons.COVERAGE_BREACH_PENDING,
                        f"{what}: {streak} of {k} evaluations in a row", streak)
    if ev.fresh is not None and ev.fresh.max_input_len <= ev.serving.max_input_len \
            and ev.fresh.max_seq_len <= ev.serving.max_seq_len:
        return _verdict(ev, DriftKind.breach, reasons.COVERAGE_BREACH_AT_CEILING,
                        f"{what} for {streak} evaluations, but a fresh plan ({ev.fresh.summary()}) is no larger: "
                        "the model or GPU caps the limits, so a rebuild cannot help", streak)
    return _verdict(ev, DriftKind.breach, reasons.COVERAGE_BREACH,
                    f"{what} for {streak} evaluations in a row: urgent rebuild upward", streak,
                    rebuild=True, direction=Direction.up, urgent=True)


def _check_waste(ev: _Evaluation) -> DriftVerdict | None:
    if not ev.wasteful or ev.fresh is None or ev.waste_ratio is None:
        return None
    k, streak = ev.policy.consecutive_evaluations, ev.state.waste_streak
    what = (f"serving envelope ({ev.serving.summary()}) is {ev.waste_ratio:.2f}x a fresh plan "
            f"({ev.fresh.summary()}), at least drift.wasteFactor {ev.policy.waste_factor:g}")
    if streak < k:
        return _verdict(ev, DriftKind.stable, reasons.ENVELOPE_WASTE_PENDING,
                        f"{what}: {streak} of {k} evaluations in a row", streak)
    interval = timedelta(seconds=durations.seconds(ev.policy.min_rebuild_interval))
    last = ev.state.last_rebuild
    if last is not None and ev.now - last < interval:
        return _verdict(ev, DriftKind.waste, reasons.REBUILD_INTERVAL_NOT_ELAPSED,
                        f"{what} for {streak} evaluations; the last rebuild was at {times.rfc3339(last)} and "
                        f"drift.minRebuildInterval {ev.policy.min_rebuild_interval} ends at "
                        f"{times.rfc3339(last + interval)}",
                        streak)
    window = _rollout_window(ev.policy, ev.now)
    when = "" if window is None else \
        f"; rollout waits for the downsize window {times.rfc3339(window.start)}-{times.rfc3339(window.end)}"
    return _verdict(ev, DriftKind.waste, reasons.ENVELOPE_WASTEFUL,
                    f"{what} for {streak} evaluations in a row: rebuild downward{when}", streak,
                    rebuild=True, direction=Direction.down, rollout_window=window)


def _check_stable(ev: _Evaluation) -> DriftVerdict | None:
    return _verdict(ev, DriftKind.stable, reasons.WITHIN_ENVELOPE,
                    f"{_pct(ev.beyond)} of requests beyond the serving envelope ({ev.serving.summary()})", 0)


# After _check_traffic, which decides before anything is measured.
CHAIN = (_check_breach, _check_waste, _check_stable)


def _rollout_window(policy: DriftPolicy, now: datetime) -> seasons.Window | None:
    """The downsize window in progress or the next one; None when downsizing may roll out any time."""
    if policy.downsize_window is None:
        return None
    rec = seasons.Recurrence.of(policy.downsize_window)
    current = rec.window_at(now)
    if current is None:
        start = rec.starts_after(now, 1)[0]
        current = (start, min(start + rec.duration, rec.starts_after(start, 1)[0]))
    return seasons.Window(*current)


def _verdict(ev: _Evaluation, kind: DriftKind, reason: str, message: str, consecutive: int,
             **kw: Any) -> DriftVerdict:
    notes = "".join(f" ({n})" for n in ev.notes)
    score = "" if ev.score is None else f"; shift score {ev.score:.3f}"
    streak = ev.state.shift_streak
    return DriftVerdict(kind, reason, message + score + notes, consecutive=consecutive,
                        beyond_fraction=ev.beyond, score=ev.score, waste_ratio=ev.waste_ratio, shift=ev.shift,
                        shift_streak=streak, shift_confirmed=ev.shift is not None and ev.shift.shifted
                        and streak >= ev.policy.shift.consecutive_evaluations,
                        samples=ev.profile.samples if isinstance(ev.profile, TrafficProfile) else None, **kw)


# --- formatting ----------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "unknown" if x is None else f"{100 * x:.2f}%"


__all__ = [
    "DriftKind", "Direction", "DriftState", "DriftVerdict", "evaluate", "beyond_fraction", "waste_ratio",
    "downsize_allowed", "CHAIN",
]
