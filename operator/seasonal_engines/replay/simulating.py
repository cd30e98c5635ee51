"""Replaying a trace through the operator's own decision core in simulated time.

At every evaluation the replay does what the reconciler does, with the trace and a simulated world in
place of Prometheus and Kubernetes: it builds the trailing-window profile and the profiles of the
seasons that matter now (active, due, next; each from its past occurrences) as the serving engines'
exporter would have exported them (``replay.exports``: censored, in the preset's buckets), observes the
build and rollout from the ``World``, calls ``core.decisions.decide`` with the spec's real planner and
bootstrap planner, and applies the actions to the world.

Evaluations happen every ``traffic.evaluationInterval``, and also at the instants the operator would be
woken sooner: a build finishing or a rollout becoming ready (the operator polls every 15 s while busy;
the replay jumps to the instant instead) and a season boundary the decision asks to be requeued for.
The replay starts before the trace, with nothing serving, so the bootstrap engine (the model's full
context) is built and rolled out by the decision core itself before the first request arrives.

Pure computation over the trace (no I/O); time is the trace's, in Unix seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from seasonal_engines.api import durations
from seasonal_engines.api.spec import InferenceServiceSpec, shortest_period
from seasonal_engines.api.status import InferenceServiceStatus
from seasonal_engines.core import (
    actions,
    censoring,
    decisions,
    hourly_history,
    observations,
    planners,
    presets,
    reasons,
    season_schedules,
    seasons,
)
from seasonal_engines.core.presets import MetricPreset
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable
from seasonal_engines.replay import exports
from seasonal_engines.replay.world import BuildRecord, Durations, RolloutRecord, Segment, World
from seasonal_engines.traces.readers import Trace


@dataclass(frozen=True)
class Settings:
    """How the world behaves and how early the replay starts before the trace (None: long enough for the
    bootstrap engine's build and rollout)."""

    durations: Durations = field(default_factory=Durations)
    warmup_s: float | None = None


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation, for plots and drift figures."""

    at_s: float
    phase: str
    samples: float | None
    beyond_fraction: float | None
    breach_streak: int
    waste_streak: int
    counted: bool  # counted by drift as an evaluation (not a nudge within half an interval)
    shift_confirmed: bool = False  # status.drift.shift says a confirmed shift


@dataclass(frozen=True, eq=False)
class ReplayRun:
    """Everything a replay produced: who served each request, what was built and rolled out."""

    served: exports.ServedTrace
    builds: tuple[BuildRecord, ...]
    rollouts: tuple[RolloutRecord, ...]
    timeline: tuple[Segment, ...]
    evaluations: tuple[EvaluationRecord, ...]
    start_s: float
    end_s: float
    interval_s: float
    schedule_changes: tuple[tuple[float, str], ...] = ()  # spec.seasonDiscovery: (when, the Event's message)

    @property
    def trace(self) -> Trace:
        return self.served.trace

    def builds_in_trace(self) -> tuple[BuildRecord, ...]:
        """Builds started while the trace runs (the bootstrap before it is not a rebuild)."""
        return tuple(b for b in self.builds if b.started_s >= self.start_s)

    def rollouts_in_trace(self) -> tuple[RolloutRecord, ...]:
        return tuple(r for r in self.rollouts if r.started_s >= self.start_s and not r.rollback)


def _utc(t_s: float) -> datetime:
    return datetime.fromtimestamp(t_s, tz=UTC)


@dataclass(eq=False)
class _SeasonProfiles:
    """The history profiles of the seasons ``decide`` reads at ``now`` (``seasons.profiles_needed``, as the
    reconciler queries them), cached per exact set of windows (past requests never change)."""

    spec: InferenceServiceSpec
    preset: MetricPreset
    served: exports.ServedTrace
    first_s: float
    last_s: float
    cache: dict[tuple[str, tuple[tuple[float, float], ...]], TrafficProfile | TrafficUnavailable] = \
        field(default_factory=dict)
    _occurrences: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every complete occurrence up to the end of the replay, once: ``seasons.occurrences`` for any
        # ``before`` is the tail of this list (windows of one season never depend on ``before``).
        for season in self.spec.seasons:
            period = shortest_period(season.schedule, season.timezone).total_seconds()
            n = math.ceil((self.last_s - self.first_s) / period) + season.history + 2
            windows = seasons.occurrences(season, _utc(self.last_s + period), n)
            self._occurrences[season.name] = [(w.start.timestamp(), w.end.timestamp()) for w in windows]

    def at(self, now_s: float, status: InferenceServiceStatus) -> dict[str, TrafficProfile | TrafficUnavailable]:
        out: dict[str, TrafficProfile | TrafficUnavailable] = {}
        for season in seasons.profiles_needed(self.spec, status.build_durations_seconds, _utc(now_s)):
            complete = [w for w in self._occurrences[season.name] if w[1] <= now_s]
            windows = tuple(complete[-season.history:])
            if not windows:
                continue
            key = (season.name, windows)
            if key not in self.cache:
                self.cache[key] = exports.profile(self.served, windows, self.preset,
                                                  peak_percentile=self.spec.traffic.peak_percentile)
            out[season.name] = self.cache[key]
        return out


@dataclass(eq=False)
class _History:
    """spec.seasonDiscovery: the hourly history the reconciler would read at ``now`` (the last
    ``seasonDiscovery.history`` of exported histograms), re-read as often as it would
    (``core.season_schedules.history_ttl_s``)."""

    spec: InferenceServiceSpec
    preset: MetricPreset
    served: exports.ServedTrace
    interval_s: float
    _cached: hourly_history.HourlyHistory | None = None
    _until_s: float = -math.inf

    def at(self, now_s: float) -> hourly_history.HourlyHistory:
        if self._cached is not None and now_s < self._until_s:
            return self._cached
        sd = self.spec.season_discovery
        assert sd is not None
        hours = sd.history_hours()
        t = self.served.trace
        idx = self.served.indices(now_s - hours * 3600.0, now_s)
        inp = t.input_tokens[idx]
        adm = censoring.admit(inp, t.output_tokens[idx], self.served.max_input_len[idx],
                              self.served.max_seq_len[idx])
        self._cached = hourly_history.from_requests(
            _utc(now_s), hours, t.timestamps_s[idx], inp, adm.served_output, ~adm.rejected,
            bounds=self.preset.bounds, limit_stopped=adm.limit_stopped if self.preset.limit_stopped else None,
            joint=self.preset.sequence_metric is not None, counts_rejected=self.preset.rejected is not None,
            notes=self.preset.notes)
        self._until_s = now_s + season_schedules.history_ttl_s(self._cached, self.interval_s)
        return self._cached


def replay(trace: Trace, spec: InferenceServiceSpec, settings: Settings | None = None) -> ReplayRun:
    """Run the decision core over ``trace`` (timestamps in Unix seconds) and record what served each request."""
    settings = settings or Settings()
    if len(trace) == 0:
        raise ValueError("the trace holds no requests: nothing to replay")
    preset = presets.from_spec(spec.traffic)
    interval = durations.seconds(spec.traffic.evaluation_interval)
    window = durations.seconds(spec.traffic.window)
    shift_s = spec.shift_window_seconds()
    planner, bootstrap = planners.for_spec(spec), planners.bootstrap_for_spec(spec)
    served = exports.ServedTrace(trace)
    world = World(settings.durations)
    start, end = trace.first_s, trace.last_s
    warm = settings.warmup_s if settings.warmup_s is not None else (
        settings.durations.build_max_s + settings.durations.rollout_s + 2 * interval)
    t = start - math.ceil(warm / interval) * interval
    season_profiles = _SeasonProfiles(spec, preset, served, t, end)
    history = _History(spec, preset, served, interval) if spec.season_discovery is not None else None
    next_tick = t
    status = InferenceServiceStatus()
    records: list[EvaluationRecord] = []
    changes: list[tuple[float, str]] = []

    while t < end:
        _serve(served, world, t)
        world.advance(t)
        now = _utc(t)
        trailing = exports.profile(served, [(t - window, t)], preset, peak_percentile=spec.traffic.peak_percentile,
                                   recent_s=shift_s)
        store = set(world.store) | {e.hash for e in status.engine_history}
        if status.serving_engine is not None:
            store.add(status.serving_engine.hash)
        obs = observations.Observation(
            now=now, generation=1, spec=spec, spec_error=None, status=status, traffic=trailing,
            season_traffic=season_profiles.at(t, status), store=frozenset(store),
            build=world.build_observation(status, t), rollout=world.rollout_observation(status, t),
            history=history.at(t) if history is not None else None)
        decision = decisions.decide(obs, planner, bootstrap)
        world.apply(decision.actions, t)
        records.append(_record(t, decision.status, status))
        changes += [(t, e.message) for e in decision.events if e.reason == reasons.SEASONS_DISCOVERED]
        status = decision.status

        while next_tick <= t:
            next_tick += interval
        candidates = [next_tick]
        event = world.next_event_after(t)
        if event is not None:
            candidates.append(event)
        if decision.requeue_after is not None and decision.requeue_after > actions.BUSY_REQUEUE:
            candidates.append(t + decision.requeue_after)  # a season boundary; busy polls are the world's events
        t = min(candidates)
    _serve(served, world, math.inf)
    return ReplayRun(served, tuple(world.builds), tuple(world.rollouts), tuple(world.timeline), tuple(records),
                     start, end, interval, tuple(changes))


def _serve(served: exports.ServedTrace, world: World, until_s: float) -> None:
    """Requests arriving before ``until_s`` meet the engine serving now (none serving: all rejected)."""
    seg = world.serving
    if seg is None:
        served.serve_until(until_s, 0, 0)
    else:
        served.serve_until(until_s, seg.envelope.max_input_len, seg.envelope.max_seq_len)


def _record(t: float, new: InferenceServiceStatus, old: InferenceServiceStatus) -> EvaluationRecord:
    d = new.drift
    counted = d is not None and d.last_evaluated is not None and (
        old.drift is None or old.drift.last_evaluated != d.last_evaluated)
    return EvaluationRecord(
        at_s=t, phase=new.phase, samples=new.traffic.samples if new.traffic is not None else None,
        beyond_fraction=d.beyond_fraction if d is not None else None,
        breach_streak=d.breach_streak if d is not None else 0,
        waste_streak=d.waste_streak if d is not None else 0, counted=counted,
        shift_confirmed=d is not None and d.shift is not None and d.shift.confirmed)


__all__ = ["Settings", "ReplayRun", "EvaluationRecord", "replay"]
