"""Adaptive sizing of discovered seasons: which history a season is planned from, and when its engine may
change between the season's boundaries.

* **Pooling** (``season_pool``): a season's profile is its newest occurrences from the hourly history,
  the one in progress included while the season is active, added newest first until they hold
  ``tail_requests / (1 - q)`` requests (at least one whole occurrence when there is one). At production
  rates that is today and yesterday, so day-to-day swings are followed; at a few hundred requests an hour
  it reaches back as far as the quantile needs. A service's first day pools everything it has seen.
* **Order statistics** (``tolerance_policy``): a plan sizes to the k-th smallest request with
  ``k = ceil(q (n + 1))``, whose expected coverage is ``q``, instead of PromQL's interpolated quantile.
  Below ``q / (1 - q)`` requests no order statistic has that coverage and the plan sizes to the largest
  request seen: it can grow the engine, never justify shrinking it.
* **Moves** (``compare``, ``advance``): a plan that needs either limit larger resizes up at once (the
  pool counts censored requests at the engine's limit, so a too-small engine's plan grows). Shrinking
  is judged on a *cautious* plan, sized at the quantile's upper confidence bound (``confident_policy``):
  it exists only once the pool holds enough requests for that bound, it is never below the plan that
  grows the engine (so growing and shrinking cannot chase each other on the same requests), and it must
  stay smaller for ``consecutive`` evaluations in a row, not sooner than ``min_interval`` after the last
  resize. The engine it shrinks to is that cautious plan.
* **Provisional engines** (``PROVISIONAL_MARGIN``): until the pool holds enough requests for the cautious
  plan, a season whose trailing window holds ``traffic.minSamples`` requests (so that a breach can be
  counted) moves to ``PROVISIONAL_MARGIN`` times its plan: down from a larger engine after
  ``consecutive`` evaluations, up at once. Once the cautious plan exists it replaces the provisional
  engine without waiting for ``min_interval``.
* **Counted breaches** (``count_breach``): a season's engine is planned to leave ``1 - q`` of its requests
  beyond, so the trailing window's ``n`` requests should hold about ``n (1 - q)`` of them, a Poisson count.
  More than that count reaches with probability ``COUNT_SIGNIFICANCE`` is a breach at once, with no
  streak: drift's share test (``drift.breachFraction`` for ``consecutiveEvaluations``) waits for a burst
  to fill the diluted window, a quarter of an hour or more in which the burst is refused.

Pure: no I/O; ``now`` is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from seasonal_engines.api import spec as api
from seasonal_engines.api.spec import InferenceServiceSpec, Season, SizingPolicy, shortest_period
from seasonal_engines.core import poisson, reasons, seasons, times
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.hourly_history import HourlyHistory
from seasonal_engines.core.season_discovery import tolerance_rank
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

_TOP = 1.0 - 1e-12  # "the largest request": histogram_quantile at this rank reads the top bucket's bound


def pool_target(q: float, tail_requests: float) -> float:
    """Requests a season's pool should hold: ``tail_requests`` expected beyond the quantile ``q``."""
    return tail_requests / (1.0 - q)


def season_pool(history: HourlyHistory, season: Season, now: datetime, *, active: bool, target: float,
                peak_percentile: float = 0.99) -> TrafficProfile | TrafficUnavailable:
    """The profile a season is planned from now (see the module docstring)."""
    period = shortest_period(season.schedule, season.timezone).total_seconds()
    most = max(1, math.ceil(history.hours * 3600.0 / period) + 1)
    current = seasons.Recurrence.of(season).window_at(now) if active else None
    requests = history.requests
    # Most pools are the newest two or three occurrences: walk back that far first, all the way only if needed.
    for n in sorted({min(3, most), most}):
        windows = seasons.occurrences(season, now, n, include_partial=active)
        rows = history.rows_within([(w.start, w.end) for w in windows])
        chosen: list[int] = []
        held, whole, done = 0.0, False, False
        for w, r in zip(reversed(windows), reversed(rows)):
            if not r:
                continue
            chosen += r
            held += float(requests[r].sum())
            whole = whole or current is None or w.start != current[0]
            if held >= target and whole:
                done = True
                break
        if done:
            break
    if not chosen:
        return TrafficUnavailable(reasons.INSUFFICIENT_SAMPLES, f"no hour of history falls in an occurrence of "
                                  f"season {season.name}")
    return history.pool(chosen, peak_percentile=peak_percentile)


def tolerance_policy(policy: SizingPolicy, samples: float) -> SizingPolicy:
    """The sizing policy with its quantiles raised to the expected-coverage order statistic's rank
    (the largest request when there are too few for one). Not re-validated: ranks may reach 1."""
    def raised(q: float) -> float:
        n = math.floor(samples + 1e-9)
        k = tolerance_rank(q, n)
        return _TOP if k is None else min(_TOP, max(q, k / n))

    return policy.model_copy(update={"input_quantile": raised(policy.input_quantile),
                                     "sequence_quantile": raised(policy.sequence_quantile)})


def confident_policy(policy: SizingPolicy, samples: float, confidence: float) -> SizingPolicy | None:
    """The sizing policy with its quantiles raised to their upper ``confidence`` bound from order
    statistics (``core.season_discovery.upper_bound``'s rank); None when even the largest request does
    not bound them: too few requests to shrink on."""
    n = math.floor(samples + 1e-9)

    def raised(q: float) -> float | None:
        j = poisson.poisson_quantile(n * (1.0 - q), 1.0 - confidence) if n >= 1 else 0
        return None if j < 1 else min(_TOP, max(q, (n - j + 1) / n))

    q_in, q_seq = raised(policy.input_quantile), raised(policy.sequence_quantile)
    if q_in is None or q_seq is None:
        return None
    return policy.model_copy(update={"input_quantile": q_in, "sequence_quantile": q_seq})


PROVISIONAL_MARGIN = 2.0
"""A season whose pool holds ``traffic.minSamples`` requests but too few to bound its quantile (a
service's first hours) may leave a far larger engine (the bootstrap engine, the model's context) for one
this many times the usual plan: the largest request seen is then about the quantile ``1 - 1/n``, and
the margin covers the tail beyond it. The larger engine stays stored as the interim engine of a counted
breach, and the cautious plan replaces the provisional one once the pool bounds the quantile."""


COUNT_SIGNIFICANCE = 0.005
"""Chance of a counted breach when the engine leaves exactly its planned share beyond: at an evaluation
every 5 minutes, one false alarm in about 17 hours at worst, and none while the plan's headroom keeps the
share below ``1 - q`` (each is a rebuild upward, never a refusal)."""


def count_breach(beyond_fraction: float | None, samples: float | None, policy: SizingPolicy) -> bool:
    """Whether ``beyond_fraction`` of the trailing window's ``samples`` requests are more than the planned
    share ``1 - q`` (the smaller quantile) leaves beyond: the count exceeds the Poisson quantile
    ``1 - COUNT_SIGNIFICANCE`` of ``samples (1 - q)``. False when either figure is unknown."""
    if beyond_fraction is None or samples is None or samples < 1:
        return False
    planned = 1.0 - min(policy.input_quantile, policy.sequence_quantile)
    count = round(beyond_fraction * samples, 6)
    return count > poisson.poisson_quantile(samples * planned, 1.0 - COUNT_SIGNIFICANCE)


def enough_to_shrink(policy: SizingPolicy, samples: float) -> bool:
    """Whether ``samples`` requests name an order statistic with the coverage of both sizing quantiles."""
    return all(tolerance_rank(q, samples) is not None for q in (policy.input_quantile, policy.sequence_quantile))


class Move(str, Enum):
    none = "None"
    up = "Up"
    down = "Down"


def compare(serving: Envelope, wanted: Envelope) -> Move:
    """Up when the wanted engine needs either limit larger; down when it needs both no larger and one smaller."""
    if wanted.max_input_len > serving.max_input_len or wanted.max_seq_len > serving.max_seq_len:
        return Move.up
    if wanted.max_input_len < serving.max_input_len or wanted.max_seq_len < serving.max_seq_len:
        return Move.down
    return Move.none


@dataclass(frozen=True)
class ResizeState:
    """What resizing remembers between evaluations (kept in ``status.seasonSchedule``)."""

    shrink_streak: int = 0
    last_counted: datetime | None = None
    last_resized: datetime | None = None


@dataclass(frozen=True)
class ResizeVerdict:
    act: bool
    message: str


def advance(state: ResizeState, move: Move, *, now: datetime, enough: bool, consecutive: int,
            min_interval: timedelta, evaluation_interval: timedelta) -> tuple[ResizeState, ResizeVerdict]:
    """One evaluation of the season in force: the next state and whether to resize now.

    An evaluation sooner than half an interval after the last counted one refreshes nothing (a nudge)."""
    now = times.utc(now)
    counts = state.last_counted is None or now - state.last_counted >= evaluation_interval / 2
    if move == Move.up:
        return replace(state, shrink_streak=0), ResizeVerdict(True, "the season's plan needs more than the "
                                                                    "serving engine: resize up now")
    if move == Move.none:
        return replace(state, shrink_streak=0, last_counted=now if counts else state.last_counted), \
            ResizeVerdict(False, "the serving engine is the season's plan")
    if not enough:
        return replace(state, shrink_streak=0), ResizeVerdict(
            False, "the season's plan is smaller, but its history holds too few requests to name an order "
                   "statistic with the quantile's coverage: the engine is kept")
    streak = state.shrink_streak + 1 if counts else state.shrink_streak
    new = replace(state, shrink_streak=streak, last_counted=now if counts else state.last_counted)
    if streak < consecutive:
        return new, ResizeVerdict(False, f"the season's plan is smaller: {streak} of {consecutive} evaluations "
                                         "in a row")
    if state.last_resized is not None and now - state.last_resized < min_interval:
        return new, ResizeVerdict(False, f"the season's plan is smaller, but the last resize was less than "
                                         f"{min_interval} ago")
    return new, ResizeVerdict(True, f"the season's plan was smaller for {streak} evaluations in a row: "
                                    "resize down")


def resized(state: ResizeState, now: datetime) -> ResizeState:
    """After the caller started a resize (or a season start changed the engine)."""
    return ResizeState(0, state.last_counted, times.utc(now))


def discovery_target(spec: InferenceServiceSpec) -> float:
    sd = spec.season_discovery
    tail = sd.tail_requests if sd is not None else api.SeasonDiscovery().tail_requests
    return pool_target(spec.sizing.sequence_quantile, tail)


__all__ = ["season_pool", "pool_target", "tolerance_policy", "confident_policy", "enough_to_shrink", "Move", "compare",
           "count_breach", "COUNT_SIGNIFICANCE", "PROVISIONAL_MARGIN", "ResizeState", "ResizeVerdict", "advance",
           "resized", "discovery_target"]
