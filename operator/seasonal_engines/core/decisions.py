"""The decision core: from one observation of the world to the next actions and the status to write.

``decide`` is the operator's whole brain. It never calls Kubernetes, Prometheus or Triton: the handlers
gather an ``Observation`` (spec, status, traffic profiles, engine store, build Job and rollout state, now),
call ``decide`` with a planner, and apply the returned ``Decision`` (actions, status, Events).

State machine (phase in status; each arrow is one evaluation):

    spec invalid ─────────────────────────────────────────────► Invalid (serving engine left alone)
    mode Advisory ────────────────────────────────────────────► Advisory (plan recorded, nothing built)
    no engine, no traffic ────────────────────────────────────► InsufficientTraffic ──► Building (bootstrap)
    Pending/Serving ── switch wanted, engine not in store ─────► Building
    Pending/Serving ── switch wanted, engine in store ─────────► RollingOut
    Building ── Job succeeded, engine is the target ──────────► RollingOut
    Building ── Job succeeded, engine is a season prebuild ───► Serving (nextSeason.engineReady)
    Building ── Job failed (retry after backoff, 3 at most) ──► Degraded (no rollout, ever)
    RollingOut ── Deployment available, Triton ready, config ─► Serving (engine generation + 1)
    RollingOut ── failed or readiness timeout ─────────────────► RollingOut (rollback) ──► Degraded

A *switch* is wanted when nothing serves yet (Initial), a season began whose engine differs from the
serving one (SeasonStart), or drift confirmed a breach or waste (DriftBreach, DriftWaste). A season's
engine is built ahead of its start by its lead time (SeasonPrebuild). With spec.seasonDiscovery the
seasons are the discovered schedule in status (``core.season_schedules``), their profiles are pooled from
the observation's hourly history, and between boundaries the season in force grows at once when its
plan needs more (SeasonGrown) and shrinks to its cautious plan only with evidence and hysteresis
(SeasonShrunk, ``core.resizing``); drift's waste then reports only. One build and one rollout at a
time. Pure: no I/O; ``now`` comes in with the observation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from seasonal_engines.api import durations
from seasonal_engines.api.spec import Backend, InferenceServiceSpec, Mode, Season
from seasonal_engines.api.status import (
    BUILD_DURATIONS_LIMIT,
    HISTORY_LIMIT,
    BuildStatus,
    EngineRef,
    EnvelopeStatus,
    InferenceServiceStatus,
    Phase,
    RolloutStatus,
    SeasonEngine,
    SeasonStatus,
)
from seasonal_engines.core import (
    build_jobs,
    drift,
    engine_references,
    names,
    reasons,
    resizing,
    season_discovery,
    season_schedules,
    seasons,
    summaries,
    times,
)
from seasonal_engines.core import conditions as cond
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.hourly_history import HourlyHistory
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

MAX_BUILD_ATTEMPTS = 3
BUILD_BACKOFF = timedelta(minutes=2)  # doubled after each failure in a row
BUSY_REQUEUE = 15.0                   # seconds between looks while a build or rollout is under way


# --- what comes in ----------------------------------------------------------


@dataclass(frozen=True)
class PlannedEngine:
    """A plan the planner made: the engine's identity and limits, and the plan document for its Job."""

    hash: str
    envelope: Envelope
    season: str | None
    backend: str
    plan: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # The serving model's prediction for this engine, computed only when asked (it simulates; most plans
    # are never built): summaries.engine_ref asks when the engine becomes a target or the advised plan.
    serving: Callable[[], Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PlanRefused:
    """The planner refused (model does not fit, too few samples, ...): ``reason`` CamelCase, ``message`` for people."""

    reason: str
    message: str


Planner = Callable[[TrafficProfile, "str | None"], "PlannedEngine | PlanRefused"]
"""Plans an engine from a profile for a season (None: the trailing window). Pure; injected for tests."""

BootstrapPlanner = Callable[[], "PlannedEngine | PlanRefused"]
"""Plans the first engine when there is no traffic yet: the model's full context, like a static engine."""


class JobState(str, Enum):
    running = "Running"
    succeeded = "Succeeded"
    failed = "Failed"
    missing = "Missing"  # no Job of that name (deleted, or garbage-collected after its TTL)


@dataclass(frozen=True)
class BuildObservation:
    job_name: str
    state: JobState
    message: str = ""
    unschedulable: str = ""     # the scheduler's word while the build pod waits for a node (Pending)


@dataclass(frozen=True)
class RolloutObservation:
    """What the cluster says about the rollout of ``engine_hash``."""

    engine_hash: str
    deployment_ready: bool      # every replica updated and available on the new engine
    model_ready: bool           # every new pod's Triton reports the model ready
    config_matches: bool        # ... with a model config that matches the plan
    failed: bool = False        # the Deployment gave up (ProgressDeadlineExceeded, crash loops)
    message: str = ""
    unschedulable: str = ""     # the scheduler's word while a new pod waits for a node (no free GPU)


@dataclass(frozen=True)
class Observation:
    now: datetime
    generation: int
    spec: InferenceServiceSpec | None
    spec_error: str | None
    status: InferenceServiceStatus
    traffic: TrafficProfile | TrafficUnavailable                  # the trailing window
    season_traffic: Mapping[str, TrafficProfile | TrafficUnavailable] = field(default_factory=dict)
    store: frozenset[str] = frozenset()                           # complete engines in the store
    build: BuildObservation | None = None
    rollout: RolloutObservation | None = None
    status_problem: str | None = None   # why the stored status could not be read (``status`` starts afresh)
    owner: str | None = None            # "<namespace>/<name>", for the engine store's references
    # spec.seasonDiscovery only: the hourly history seasons are discovered and planned from
    # (season_traffic is then built here from it, not gathered).
    history: HourlyHistory | TrafficUnavailable | None = None


# --- what goes out ----------------------------------------------------------


@dataclass(frozen=True)
class StartBuild:
    engine: PlannedEngine
    reason: str
    job_name: str
    attempt: int = 1  # numbers the Job: every attempt gets a new one


@dataclass(frozen=True)
class RollOut:
    engine: EngineRef
    previous: EngineRef | None
    rollback: bool = False


@dataclass(frozen=True)
class RecordReferences:
    """Record in the engine store which engines this InferenceService holds on to (gc keeps them)."""

    references: engine_references.EngineReferences


@dataclass(frozen=True)
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    status: InferenceServiceStatus
    actions: tuple[StartBuild | RollOut | RecordReferences, ...] = ()
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None


# --- deciding -----------------------------------------------------------------


class _Draft:
    """The status being written and the effects collected on the way; applied once at the end."""

    def __init__(self, obs: Observation):
        self.obs = obs
        self.status = obs.status
        self.actions: list[StartBuild | RollOut | RecordReferences] = []
        self.events: list[Event] = []
        self.requeue: list[float] = []
        self.season_traffic: Mapping[str, TrafficProfile | TrafficUnavailable] = obs.season_traffic
        self.cautious: Planner | None = None

    def set(self, **updates: Any) -> None:
        self.status = self.status.model_copy(update=updates)

    def condition(self, type_: str, value: bool | None, reason: str, message: str, *,
                  event: str | None = None) -> None:
        """Set a condition; when it changes (status or reason) emit an Event of type ``event``."""
        old = cond.get(self.status.conditions, type_)
        changed = old is None or old.reason != reason or old.status != ("True" if value else "False" if
                                                                          value is not None else "Unknown")
        self.set(conditions=cond.set_condition(self.status.conditions, type_, value, reason, message,
                                               now=self.obs.now, generation=self.obs.generation))
        if event and changed:
            self.emit(event, reason, message)

    def emit(self, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, message))

    def done(self, phase: Phase) -> Decision:
        self.set(phase=phase, observed_generation=self.obs.generation)
        return Decision(self.status, tuple(self.actions), tuple(self.events),
                        min(self.requeue) if self.requeue else None)


def decide(obs: Observation, planner: Planner, bootstrap: BootstrapPlanner,
           cautious: Planner | None = None) -> Decision:
    """The next actions and status for one InferenceService. Total: never raises on any observation.

    ``cautious`` (spec.seasonDiscovery only) plans at the quantile's upper confidence bound: what a season
    may shrink to; by default ``planners.cautious_for_spec(spec)``."""
    d = _Draft(obs)
    d.cautious = cautious
    if obs.status_problem:
        d.emit("Warning", reasons.STATUS_UNREADABLE, f"{obs.status_problem}; the operator starts from a fresh "
               "status (what serves is re-learned from the cluster)")
    if obs.spec is None:
        d.condition(cond.SPEC_VALID, False, reasons.INVALID_SPEC, obs.spec_error or "invalid spec",
                    event="Warning")
        return d.done(Phase.invalid)
    spec = obs.spec
    if d.cautious is None:
        d.cautious = _cautious_for(spec) or planner
    d.condition(cond.SPEC_VALID, True, reasons.SPEC_ACCEPTED, "the spec is valid")
    if obs.status.observed_generation != obs.generation:
        d.set(build_failures=0, failed_rollouts=[])  # a changed spec deserves fresh attempts

    _observe_traffic(d, spec)
    lead = seasons.lead_time(timedelta(seconds=durations.seconds(spec.engine.build_lead_time)),
                             obs.status.build_durations_seconds)
    in_force = _discover(d, spec) if spec.season_discovery is not None else spec.seasons
    outlook = seasons.outlook(in_force, obs.now, lead)
    if spec.season_discovery is not None:
        d.season_traffic = season_schedules.profiles(
            spec, in_force, [w.name for w in (outlook.active, outlook.next) if w is not None] + list(outlook.due),
            obs.history, obs.now, outlook.active.name if outlook.active else None)
    d.set(active_season=outlook.active.name if outlook.active else None)
    if outlook.wake_at is not None:
        d.requeue.append(max(1.0, (outlook.wake_at - obs.now).total_seconds()))

    fresh = _plan(planner, obs.traffic, outlook.active.name if outlook.active else None)
    wanted = _wanted(d, planner, outlook, fresh)
    if spec.mode == Mode.advisory:
        return _advise(d, wanted if wanted is not None else fresh, _evaluate_drift(d, spec, fresh))

    if obs.status.rollout is not None:
        _follow_rollout(d, spec)
    if d.status.build is not None:
        _follow_build(d, spec)
    # After following the rollout: drift is judged against the engine serving now, not the one it replaced.
    verdict = _evaluate_drift(d, spec, fresh)

    _switch(d, spec, outlook, wanted, fresh, verdict, bootstrap)
    _prebuild(d, spec, planner, outlook)
    _next_season_status(d, planner, outlook)
    _record_references(d, spec, in_force)
    return d.done(_phase(d.status))


def applied(decision: Decision, now: datetime, generation: int) -> Decision:
    """``decision`` once the cluster accepted every change it asked for (condition Synced True)."""
    status = decision.status.model_copy(update={"conditions": cond.set_condition(
        decision.status.conditions, cond.SYNCED, True, reasons.APPLIED, "the API server accepted every change",
        now=now, generation=generation)})
    return Decision(status, decision.actions, decision.events, decision.requeue_after)


def apply_failed(obs: Observation, decision: Decision, reason: str, message: str) -> Decision:
    """What to write when a change ``decision`` asked for was refused (by the API server, or as not ours
    to make): the status as it was (nothing the refused change would have started is recorded as started),
    condition Synced False with ``reason`` and ``message``, and a Warning Event; the next evaluation tries
    again."""
    d = _Draft(obs)
    d.condition(cond.SYNCED, False, reason, message, event="Warning")
    return Decision(d.status, (), tuple(d.events), BUSY_REQUEUE if decision.requeue_after is None
                    else min(BUSY_REQUEUE, decision.requeue_after))


def with_events(decision: Decision, events: Sequence[Event]) -> Decision:
    return Decision(decision.status, decision.actions, (*decision.events, *events), decision.requeue_after)


# --- steps ------------------------------------------------------------------------


def _observe_traffic(d: _Draft, spec: InferenceServiceSpec) -> None:
    t = d.obs.traffic
    if isinstance(t, TrafficUnavailable):
        d.condition(cond.TRAFFIC_AVAILABLE, False, t.reason, t.message, event="Warning")
        return
    d.set(traffic=summaries.traffic_summary(t, spec.traffic.window, d.obs.now))
    if t.samples < spec.traffic.min_samples:
        d.condition(cond.TRAFFIC_AVAILABLE, False, reasons.INSUFFICIENT_TRAFFIC,
                    f"{t.samples:.0f} requests in the last {spec.traffic.window}, fewer than traffic.minSamples "
                    f"{spec.traffic.min_samples}: nothing is planned from it", event="Normal")
    else:
        d.condition(cond.TRAFFIC_AVAILABLE, True, reasons.TRAFFIC_OBSERVED,
                    f"{t.samples:.0f} requests in the last {spec.traffic.window}")


def _discover(d: _Draft, spec: InferenceServiceSpec) -> list[Season]:
    """spec.seasonDiscovery: discover again when due (core.season_schedules); the seasons in force."""
    sd = spec.season_discovery
    assert sd is not None
    sizing = season_discovery.Sizing.of(spec.sizing, _max_context(spec))
    found = season_schedules.rediscover(sd, sizing, d.status.season_schedule, d.obs.history, d.obs.now)
    d.set(season_schedule=found.status)
    if found.changed is not None:
        d.emit("Normal", reasons.SEASONS_DISCOVERED, found.changed)
    if found.unavailable is not None:
        d.condition(cond.SEASONS_DISCOVERED, False, reasons.HISTORY_UNAVAILABLE, found.unavailable, event="Warning")
    elif found.ran and found.status is not None:
        d.condition(cond.SEASONS_DISCOVERED, True, reasons.SEASONS_DISCOVERED if found.changed else
                    reasons.SEASONS_UNCHANGED, found.status.message or "seasons discovered")
    return season_schedules.in_force(d.status.season_schedule)


def _max_context(spec: InferenceServiceSpec) -> int:
    from seasonal_engines.core import planners  # planners imports this module

    return planners.max_context(spec)


def _cautious_for(spec: InferenceServiceSpec) -> Planner | None:
    from seasonal_engines.core import planners

    return planners.cautious_for_spec(spec)


def _usable(spec: InferenceServiceSpec, t: TrafficProfile | TrafficUnavailable | None) -> TrafficProfile | None:
    if isinstance(t, TrafficProfile) and t.samples >= spec.traffic.min_samples:
        return t
    return None


def _plan(planner: Planner, t: TrafficProfile | TrafficUnavailable | None,
          season: str | None) -> PlannedEngine | PlanRefused | None:
    if not isinstance(t, TrafficProfile):
        return None
    return planner(t, season)


def _wanted(d: _Draft, planner: Planner, outlook: seasons.SeasonOutlook,
            fresh: PlannedEngine | PlanRefused | None) -> PlannedEngine | PlanRefused | None:
    """The engine the present calls for: the active season's (from its history), else the trailing window's."""
    spec = d.obs.spec
    assert spec is not None
    if outlook.active is None:
        return fresh if _usable(spec, d.obs.traffic) else None
    history = _usable(spec, d.season_traffic.get(outlook.active.name))
    if history is not None:
        planned = planner(history, outlook.active.name)
        _remember_season_engine(d, planned)
        return planned
    # A season with too little history yet: plan it from the trailing window rather than from nothing.
    return fresh if _usable(spec, d.obs.traffic) else None


def _evaluate_drift(d: _Draft, spec: InferenceServiceSpec,
                    fresh: PlannedEngine | PlanRefused | None) -> drift.DriftVerdict | None:
    serving = d.status.serving_engine
    if serving is None:
        return None
    state = _drift_state(d)
    new_state, verdict = drift.evaluate(
        serving=summaries.envelope_of(serving), traffic=d.obs.traffic,
        fresh=fresh.envelope if isinstance(fresh, PlannedEngine) else None, policy=spec.drift, state=state,
        now=d.obs.now, min_samples=spec.traffic.min_samples,
        evaluation_interval=timedelta(seconds=durations.seconds(spec.traffic.evaluation_interval)))
    d.set(drift=summaries.drift_status(new_state, verdict))
    drifted = verdict.kind in (drift.DriftKind.breach, drift.DriftKind.waste)
    d.condition(cond.DRIFTED, drifted, verdict.reason, verdict.message, event="Warning" if drifted else None)
    _report_shift(d, spec, verdict)
    return verdict


def _drift_state(d: _Draft) -> drift.DriftState:
    """Drift's memory from status; one it cannot read starts afresh (status is typed, so this is a guard)."""
    old = d.status.drift.model_dump(by_alias=True) if d.status.drift else None
    try:
        return drift.DriftState.from_dict(old)
    except ValueError as exc:
        d.emit("Warning", reasons.STATUS_UNREADABLE, f"{exc}; drift starts afresh")
        return drift.DriftState()


def _report_shift(d: _Draft, spec: InferenceServiceSpec, verdict: drift.DriftVerdict) -> None:
    """Condition TrafficShifted from the verdict's shift tests; untouched when none could be made."""
    result = verdict.shift
    best = result.strongest() if result is not None else None
    if result is None or best is None:
        return
    k = spec.drift.shift.consecutive_evaluations
    if verdict.shift_confirmed:
        reason = reasons.LENGTHS_SHIFTED_UP if result.up else reasons.LENGTHS_SHIFTED_DOWN
        d.condition(cond.TRAFFIC_SHIFTED, True, reason,
                    f"{best.describe()}, in the last {_minutes(spec)} ({result.samples:.0f} requests), "
                    f"{verdict.shift_streak} evaluations in a row. Reported only: a rebuild follows when "
                    "coverage breaches or a season starts", event="Normal")
    elif result.shifted:
        d.condition(cond.TRAFFIC_SHIFTED, False, reasons.LENGTHS_SHIFT_PENDING,
                    f"{best.describe()}: {verdict.shift_streak} of {k} evaluations in a row")
    else:
        d.condition(cond.TRAFFIC_SHIFTED, False, reasons.LENGTHS_AS_PLANNED,
                    f"the last {_minutes(spec)} of requests ({result.samples:.0f}) could come from the "
                    f"traffic the serving engine was planned from (strongest test: {best.describe()})")


def _minutes(spec: InferenceServiceSpec) -> str:
    return durations.format_seconds(spec.shift_window_seconds() or 0.0)


def _advise(d: _Draft, plan: PlannedEngine | PlanRefused | None, verdict: drift.DriftVerdict | None) -> Decision:
    if isinstance(plan, PlannedEngine):
        old = d.status.advised_plan
        d.set(advised_plan=summaries.engine_ref(plan, reuse=old))
        if old is None or old.hash != plan.hash:
            d.emit("Normal", reasons.ADVISED_PLAN, f"Advisory mode: would build engine {plan.hash[:12]} "
                   f"({plan.envelope.summary()}) for {plan.season or 'the trailing window'}; nothing is built")
    elif isinstance(plan, PlanRefused):
        d.condition(cond.DEGRADED, True, plan.reason, plan.message, event="Warning")
    return d.done(Phase.advisory)


def _follow_rollout(d: _Draft, spec: InferenceServiceSpec) -> None:
    ro = d.status.rollout
    assert ro is not None
    target = d.status.target_engine
    seen = d.obs.rollout
    timeout = timedelta(seconds=durations.seconds(spec.rollout.readiness_timeout))
    started = times.parse_time(ro.started_at)
    if seen is not None and seen.engine_hash == ro.engine_hash and seen.deployment_ready and seen.model_ready \
            and seen.config_matches:
        _rollout_succeeded(d, ro, target)
        return
    failed = seen is not None and seen.engine_hash == ro.engine_hash and seen.failed
    if seen is not None and seen.deployment_ready and seen.model_ready and not seen.config_matches:
        failed = True  # Triton serves a model whose config is not the plan's: never call that ready
    if not failed and d.obs.now - started <= timeout:
        d.condition(cond.ROLLING_OUT, True, reasons.ROLLBACK_IN_PROGRESS if ro.rollback else
                    reasons.ROLLOUT_IN_PROGRESS, f"rolling out engine {ro.engine_hash[:12]}"
                    + (f": {seen.message}" if seen and seen.message else ""))
        if seen is not None and seen.unschedulable:
            serving = d.status.serving_engine
            d.condition(cond.ROLLOUT_BLOCKED, True, reasons.UNSCHEDULABLE,
                        f"a new pod of engine {ro.engine_hash[:12]} waits for a node with {_gpus_wanted(spec)}"
                        + (f"; engine {serving.hash[:12]} keeps serving" if serving else "")
                        + f"; rolled back after rollout.readinessTimeout {spec.rollout.readiness_timeout}: "
                        f"{seen.unschedulable}", event="Warning")
        else:
            _unblock(d)
        d.requeue.append(BUSY_REQUEUE)
        return
    _unblock(d)
    why = (seen.message if seen and seen.message else "") or (
        f"not ready within rollout.readinessTimeout {spec.rollout.readiness_timeout}")
    if ro.rollback:
        d.set(rollout=None, target_engine=None)
        d.condition(cond.ROLLING_OUT, False, reasons.ROLLBACK_FAILED, f"rollback to {ro.engine_hash[:12]} "
                    f"failed: {why}", event="Warning")
        d.condition(cond.DEGRADED, True, reasons.ROLLBACK_FAILED, f"rollback to {ro.engine_hash[:12]} failed: "
                    f"{why}; fix the Deployment by hand", event=None)
        return
    previous = d.status.serving_engine
    d.set(failed_rollouts=[ro.engine_hash, *d.status.failed_rollouts][:HISTORY_LIMIT])
    d.condition(cond.DEGRADED, True, reasons.ROLLOUT_FAILED, f"engine {ro.engine_hash[:12]}: {why}; it is not "
                "rolled out again until the spec changes", event="Warning")
    if spec.rollout.auto_rollback and previous is not None:
        d.actions.append(RollOut(previous, None, rollback=True))
        d.set(rollout=RolloutStatus(engine_hash=previous.hash, previous_hash=ro.engine_hash,
                                    started_at=times.rfc3339(d.obs.now), rollback=True), target_engine=previous)
        d.condition(cond.ROLLING_OUT, True, reasons.ROLLBACK_IN_PROGRESS,
                    f"rolling back to engine {previous.hash[:12]} ({why})", event="Warning")
        d.requeue.append(BUSY_REQUEUE)
    else:
        d.set(rollout=None, target_engine=None)
        d.condition(cond.ROLLING_OUT, False, reasons.ROLLOUT_FAILED, f"engine {ro.engine_hash[:12]}: {why}; "
                    "rollout.autoRollback is off or no previous engine exists")


def _gpus_wanted(spec: InferenceServiceSpec) -> str:
    gpus = spec.model.tensor_parallel_size * spec.model.pipeline_parallel_size
    return f"{gpus} free {build_jobs.GPU_RESOURCE} labelled {build_jobs.GPU_PRODUCT_LABEL}={spec.hardware.gpu_product}"


def _unblock(d: _Draft) -> None:
    if cond.is_true(d.status.conditions, cond.ROLLOUT_BLOCKED):
        d.condition(cond.ROLLOUT_BLOCKED, False, reasons.SCHEDULED, "every new pod found a node")


def _rollout_succeeded(d: _Draft, ro: RolloutStatus, target: EngineRef | None) -> None:
    _unblock(d)
    now = times.rfc3339(d.obs.now)
    if ro.rollback:
        d.set(rollout=None, target_engine=None)
        d.condition(cond.ROLLING_OUT, False, reasons.ROLLED_BACK, f"back on engine {ro.engine_hash[:12]}",
                    event="Warning")
        return
    engine = (target or EngineRef(hash=ro.engine_hash, envelope=EnvelopeStatus(
        max_input_len=1, max_seq_len=1, max_batch_size=1, max_num_tokens=1))).model_copy(
        update={"rolled_out_at": now, "generation": d.status.engine_generation + 1})
    history = [engine, *[e for e in d.status.engine_history if e.hash != engine.hash]][:HISTORY_LIMIT]
    d.set(serving_engine=engine, envelope=summaries.envelope_of(engine).summary(), rollout=None, target_engine=None,
          engine_generation=d.status.engine_generation + 1, engine_history=history)
    d.condition(cond.ROLLING_OUT, False, reasons.ROLLOUT_SUCCEEDED, f"engine {engine.hash[:12]} serves")
    d.condition(cond.ENGINE_READY, True, reasons.ROLLOUT_SUCCEEDED,
                f"engine {engine.hash[:12]} ({summaries.envelope_of(engine).summary()}) is ready in Triton",
                event="Normal")
    d.condition(cond.DEGRADED, False, reasons.ROLLOUT_SUCCEEDED, "serving the planned engine")
    if d.status.drift is not None:
        d.set(drift=d.status.drift.model_copy(update={"breach_streak": 0, "waste_streak": 0}))


def _follow_build(d: _Draft, spec: InferenceServiceSpec) -> None:
    b = d.status.build
    assert b is not None
    seen = d.obs.build
    state = seen.state if seen is not None and seen.job_name == b.job_name else JobState.missing
    in_store = b.engine_hash in d.obs.store
    if state == JobState.succeeded or (state == JobState.missing and in_store):
        took = (d.obs.now - times.parse_time(b.started_at)).total_seconds()
        d.set(build=None, build_failures=0,
              build_durations_seconds=[*d.status.build_durations_seconds, round(took, 1)][-BUILD_DURATIONS_LIMIT:])
        d.condition(cond.BUILDING, False, reasons.BUILD_SUCCEEDED,
                    f"engine {b.engine_hash[:12]} built in {durations.format_seconds(took)} ({b.reason})",
                    event="Normal")
        if d.status.target_engine is not None and d.status.target_engine.hash == b.engine_hash:
            d.set(target_engine=d.status.target_engine.model_copy(update={"built_at": times.rfc3339(d.obs.now)}))
        return
    if state == JobState.running:
        deadline = timedelta(seconds=durations.seconds(spec.engine.build_deadline)) + timedelta(minutes=5)
        if d.obs.now - times.parse_time(b.started_at) <= deadline:
            if seen is not None and seen.unschedulable:
                d.condition(cond.BUILDING, True, reasons.BUILD_UNSCHEDULABLE,
                            f"Job {b.job_name} waits for a node with {_gpus_wanted(spec)}: {seen.unschedulable}",
                            event="Warning")
            else:
                d.condition(cond.BUILDING, True, reasons.BUILD_IN_PROGRESS,
                            f"Job {b.job_name} builds engine {b.engine_hash[:12]} ({b.reason})")
            d.requeue.append(BUSY_REQUEUE)
            return
        message = f"Job {b.job_name} ran past engine.buildDeadline {spec.engine.build_deadline}"
    else:
        message = (seen.message if seen is not None and seen.message else
                   f"Job {b.job_name} " + ("failed" if state == JobState.failed else "disappeared before its "
                                           "engine reached the store"))
    failures = d.status.build_failures + 1
    d.set(build=None, build_failures=failures, last_build_failure_at=times.rfc3339(d.obs.now))
    if d.status.target_engine is not None and d.status.target_engine.hash == b.engine_hash:
        d.set(target_engine=None)  # a failed build never rolls out
    retry = (f"; retrying after {durations.format_seconds(_backoff(failures).total_seconds())}"
             if failures < MAX_BUILD_ATTEMPTS else f"; {MAX_BUILD_ATTEMPTS} failures in a row: no more builds "
             "until the spec changes")
    d.condition(cond.BUILDING, False, reasons.BUILD_FAILED, message + retry, event="Warning")
    d.condition(cond.DEGRADED, True, reasons.BUILD_FAILED, message + retry)


def _backoff(failures: int) -> timedelta:
    return BUILD_BACKOFF * int(2 ** max(0, failures - 1))


def _may_build(d: _Draft) -> bool:
    s = d.status
    if s.build is not None:
        return False
    if s.build_failures >= MAX_BUILD_ATTEMPTS:
        return False
    if s.build_failures and s.last_build_failure_at:
        if d.obs.now < times.parse_time(s.last_build_failure_at) + _backoff(s.build_failures):
            d.requeue.append((times.parse_time(s.last_build_failure_at) + _backoff(s.build_failures)
                              - d.obs.now).total_seconds())
            return False
    return True


def _start_build(d: _Draft, engine: PlannedEngine, reason: str) -> None:
    spec = d.obs.spec
    assert spec is not None
    # A new name per attempt, deterministic: a restart finds the Job again, a failed one stays for its logs.
    serial = d.status.builds_started + 1
    name = names.build_job(spec.model.name, engine.hash, serial)
    d.actions.append(StartBuild(engine, reason, name, serial))
    d.set(build=BuildStatus(job_name=name, engine_hash=engine.hash, season=engine.season, reason=reason,
                            started_at=times.rfc3339(d.obs.now), attempts=d.status.build_failures + 1),
          builds_started=serial)
    d.condition(cond.BUILDING, True, reasons.BUILD_STARTED,
                f"Job {name} builds engine {engine.hash[:12]} ({engine.envelope.summary()}) for "
                f"{engine.season or 'the trailing window'}: {reason}", event="Normal")
    d.requeue.append(BUSY_REQUEUE)


def _switch(d: _Draft, spec: InferenceServiceSpec, outlook: seasons.SeasonOutlook,
            wanted: PlannedEngine | PlanRefused | None, fresh: PlannedEngine | PlanRefused | None,
            verdict: drift.DriftVerdict | None, bootstrap: BootstrapPlanner) -> None:
    """Decide whether the serving engine should change, and start the build or rollout that does it."""
    serving = d.status.serving_engine
    target = d.status.target_engine
    if d.status.rollout is not None:
        return  # one rollout at a time
    engine: PlannedEngine | PlanRefused | None = None
    why: str | None = None
    retry = target is not None and (serving is None or target.hash != serving.hash)
    if retry:
        assert target is not None
        if target.hash in d.obs.store:
            _roll_out(d, spec, target)
            return
        if d.status.build is not None:
            return  # its completion brings the target in
        # The target's build failed or vanished: plan it again for the same purpose, from today's traffic.
        why = target.reason or reasons.TARGET_PENDING
        engine = fresh if why in (reasons.DRIFT_BREACH, reasons.DRIFT_WASTE) else (
            bootstrap() if why == reasons.BOOTSTRAP else wanted)
    elif serving is None:
        engine, why = wanted, reasons.INITIAL
        if engine is None:
            engine, why = bootstrap(), reasons.BOOTSTRAP
    elif outlook.active is not None and serving.season != outlook.active.name:
        engine, why = _season_start(d, spec, outlook.active.name, wanted), reasons.SEASON_START
    elif spec.season_discovery is not None and outlook.active is not None:
        engine, why = _resize(d, spec, outlook.active.name, wanted, fresh, verdict)
    elif verdict is not None and verdict.rebuild:
        if d.status.failed_rollouts:
            # A rollout failed and was rolled back: rebuilding on drift would likely fail the same way.
            # Hold until a person changes the spec (which clears failedRollouts); seasons still apply.
            return
        engine = fresh
        why = reasons.DRIFT_BREACH if verdict.direction == drift.Direction.up else reasons.DRIFT_WASTE
    if engine is None or why is None:
        if serving is not None and not retry:
            d.condition(cond.ENGINE_READY, True, reasons.SERVING, f"engine {serving.hash[:12]} "
                        f"({summaries.envelope_of(serving).summary()}) serves")
        return
    if isinstance(engine, PlanRefused):
        d.condition(cond.DEGRADED, True, engine.reason, engine.message, event="Warning")
        return
    engine = _stored_alike(d, spec, engine)
    assert isinstance(engine, PlannedEngine)  # a planned engine stays one
    if serving is not None and engine.hash == serving.hash:
        # Seasons that plan to the same engine share it: relabel, nothing to build or roll.
        d.set(target_engine=None)
        if serving.season != engine.season:
            d.set(serving_engine=serving.model_copy(update={"season": engine.season}))
            d.emit("Normal", reasons.ENGINE_SHARED, f"season {engine.season or 'trailing window'} plans the "
                   f"serving engine {engine.hash[:12]}: nothing to build")
        return
    if not retry and why in (reasons.DRIFT_BREACH, reasons.DRIFT_WASTE) and isinstance(d.obs.traffic,
                                                                                         TrafficProfile):
        rebuilt = _drift_state(d).rebuilt(d.obs.now, d.obs.traffic)
        d.set(drift=summaries.drift_status(rebuilt, verdict))
    if engine.hash in d.status.failed_rollouts:
        d.set(target_engine=None)
        if not cond.is_true(d.status.conditions, cond.DEGRADED):  # keep the first, more specific, cause
            d.condition(cond.DEGRADED, True, reasons.ROLLOUT_FAILED, f"{why}: the planned engine {engine.hash[:12]} "
                        "failed its rollout before and is not retried until the spec changes")
        return
    target = summaries.engine_ref(engine, reuse=d.status.target_engine).model_copy(update={"reason": why})
    d.set(target_engine=target)
    if target.hash in d.obs.store or engine.backend == "pytorch":  # pytorch: runtime settings, no build
        _roll_out(d, spec, target)
    elif _may_build(d):
        _start_build(d, engine, why)


def _season_start(d: _Draft, spec: InferenceServiceSpec, season: str,
                  wanted: PlannedEngine | PlanRefused | None) -> PlannedEngine | PlanRefused | None:
    """The engine a season starts on. With seasonDiscovery a smaller engine than the serving one is the
    cautious plan, and only once the season's history holds enough requests for it: otherwise the
    serving engine carries on, relabelled (a first day leaves the bootstrap engine only then)."""
    serving = d.status.serving_engine
    if spec.season_discovery is None or serving is None or not isinstance(wanted, PlannedEngine):
        return wanted
    if resizing.compare(summaries.envelope_of(serving), wanted.envelope) != resizing.Move.down:
        return wanted
    careful = _cautious_plan(d, spec, season)
    if isinstance(careful, PlannedEngine):
        return careful
    return PlannedEngine(serving.hash, summaries.envelope_of(serving), season, serving.backend)


def _cautious_plan(d: _Draft, spec: InferenceServiceSpec, season: str) -> PlannedEngine | PlanRefused | None:
    pool = _usable(spec, d.season_traffic.get(season))
    if pool is None or d.cautious is None:
        return None
    return d.cautious(pool, season)


def _resize(d: _Draft, spec: InferenceServiceSpec, season: str, wanted: PlannedEngine | PlanRefused | None,
            fresh: PlannedEngine | PlanRefused | None,
            verdict: drift.DriftVerdict | None) -> tuple[PlannedEngine | PlanRefused | None, str | None]:
    """seasonDiscovery between a season's boundaries (core.resizing): grow at once when the season's pooled
    plan needs more; shrink to the cautious plan after enough evaluations, on enough requests. A confirmed
    coverage breach of the trailing window still rebuilds upward. Drift's waste never acts here."""
    serving = d.status.serving_engine
    assert serving is not None
    state = season_schedules.resize_state(d.status.season_schedule)
    pool = _usable(spec, d.season_traffic.get(season))
    engine: PlannedEngine | PlanRefused | None = None
    why: str | None = None
    if pool is not None and isinstance(wanted, PlannedEngine):
        now_env = summaries.envelope_of(serving)
        move, target, enough = resizing.compare(now_env, wanted.envelope), wanted, True
        if move != resizing.Move.up:
            careful = _cautious_plan(d, spec, season)
            if isinstance(careful, PlannedEngine):
                target = careful
                move = resizing.Move.down if resizing.compare(now_env, careful.envelope) == resizing.Move.down \
                    else resizing.Move.none
            else:
                enough = move != resizing.Move.down
        state, verdict_ = resizing.advance(
            state, move, now=d.obs.now, enough=enough, consecutive=spec.drift.consecutive_evaluations,
            min_interval=timedelta(seconds=durations.seconds(spec.drift.min_rebuild_interval)),
            evaluation_interval=timedelta(seconds=durations.seconds(spec.traffic.evaluation_interval)))
        if verdict_.act:
            engine, why = target, (reasons.SEASON_GROWN if move == resizing.Move.up else reasons.SEASON_SHRUNK)
    if engine is None and verdict is not None and verdict.rebuild and verdict.direction == drift.Direction.up \
            and not d.status.failed_rollouts:
        engine, why = fresh, reasons.DRIFT_BREACH
    if engine is not None:
        state = resizing.resized(state, d.obs.now)
    d.set(season_schedule=season_schedules.with_resize_state(d.status.season_schedule, state))
    return engine, why


def _stored_alike(d: _Draft, spec: InferenceServiceSpec,
                  engine: PlannedEngine | PlanRefused | None) -> PlannedEngine | PlanRefused | None:
    """seasonDiscovery: an engine in the store with the same limits stands in for a new plan of them, so a
    flag that follows the traffic's rate (opt_num_tokens) does not cost a rebuild."""
    if spec.season_discovery is None or not isinstance(engine, PlannedEngine) or engine.hash in d.obs.store:
        return engine
    refs = [r for r in (d.status.serving_engine, d.status.target_engine, *d.status.engine_history) if r is not None]
    for ref in refs:
        if ref.hash in d.obs.store and ref.backend == engine.backend and \
                resizing.same_limits(summaries.envelope_of(ref), engine.envelope):
            return PlannedEngine(ref.hash, summaries.envelope_of(ref), engine.season, engine.backend, engine.plan)
    return engine


def _roll_out(d: _Draft, spec: InferenceServiceSpec, target: EngineRef) -> None:
    """Start moving the Deployment to ``target`` (a smaller engine waits for the downsize window)."""
    if target.reason == reasons.DRIFT_WASTE and not drift.downsize_allowed(spec.drift, d.obs.now):
        d.condition(cond.ROLLING_OUT, False, reasons.WAITING_FOR_DOWNSIZE_WINDOW,
                    f"engine {target.hash[:12]} waits for drift.downsizeWindow")
        return
    previous = d.status.serving_engine
    d.actions.append(RollOut(target, previous))
    d.set(rollout=RolloutStatus(engine_hash=target.hash, previous_hash=previous.hash if previous else None,
                                started_at=times.rfc3339(d.obs.now)))
    d.condition(cond.ROLLING_OUT, True, reasons.ROLLOUT_STARTED,
                f"rolling {spec.rollout.strategy} to engine {target.hash[:12]} "
                f"({summaries.envelope_of(target).summary()})", event="Normal")
    d.requeue.append(BUSY_REQUEUE)


def _prebuild(d: _Draft, spec: InferenceServiceSpec, planner: Planner, outlook: seasons.SeasonOutlook) -> None:
    """Build each due season's engine ahead of its start, so the season begins on a ready engine."""
    for name in outlook.due:
        if outlook.active is not None and name == outlook.active.name:
            continue  # the active season is _switch's business
        history = _usable(spec, d.season_traffic.get(name))
        if history is None:
            continue
        engine = _stored_alike(d, spec, planner(history, name))
        _remember_season_engine(d, engine)
        if isinstance(engine, PlannedEngine) and engine.hash not in d.obs.store and engine.backend != "pytorch":
            serving = d.status.serving_engine
            if serving is not None and serving.hash == engine.hash:
                continue
            if _may_build(d):
                _start_build(d, engine, reasons.SEASON_PREBUILD)
            return


def _remember_season_engine(d: _Draft, engine: PlannedEngine | PlanRefused | None) -> None:
    if not isinstance(engine, PlannedEngine) or engine.season is None:
        return
    kept = [s for s in d.status.season_engines if s.season != engine.season]
    d.set(season_engines=sorted([*kept, SeasonEngine(season=engine.season, hash=engine.hash)],
                                key=lambda s: s.season))


def _record_references(d: _Draft, spec: InferenceServiceSpec, in_force: Sequence[Season]) -> None:
    """Ask for the engine store's record to be rewritten when the engines held on to changed. Engines of
    seasons no longer in force (removed from the spec, or no longer discovered) are let go."""
    names_in_spec = {s.name for s in in_force}
    if any(s.season not in names_in_spec for s in d.status.season_engines):
        d.set(season_engines=[s for s in d.status.season_engines if s.season in names_in_spec])
    if spec.engine.backend != Backend.tensorrt or d.obs.owner is None:
        return  # the PyTorch backend keeps no engines in a store
    refs = engine_references.of_status(d.status, owner=d.obs.owner, model=spec.model.name,
                                       keep=spec.engine.store.keep)
    if not refs.hashes() or refs.digest() == d.status.references_recorded:
        return
    d.actions.append(RecordReferences(refs))
    d.set(references_recorded=refs.digest())


def _next_season_status(d: _Draft, planner: Planner, outlook: seasons.SeasonOutlook) -> None:
    spec = d.obs.spec
    assert spec is not None
    nxt = outlook.next
    if nxt is None:
        d.set(next_season=None)
        return
    history = _usable(spec, d.season_traffic.get(nxt.name))
    engine = _stored_alike(d, spec, planner(history, nxt.name)) if history is not None else None
    _remember_season_engine(d, engine)
    planned = engine.hash if isinstance(engine, PlannedEngine) else None
    d.set(next_season=SeasonStatus(name=nxt.name, starts_at=times.rfc3339(nxt.start),
                                   engine_ready=planned is not None and (
                                       planned in d.obs.store or engine.backend == "pytorch"),  # type: ignore[union-attr]
                                   engine_hash=planned))


def _phase(s: InferenceServiceStatus) -> Phase:
    if s.rollout is not None:
        return Phase.rolling_out
    if s.build is not None:
        return Phase.building
    if cond.is_true(s.conditions, cond.DEGRADED):
        return Phase.degraded
    if s.serving_engine is not None:
        return Phase.serving
    if not cond.is_true(s.conditions, cond.TRAFFIC_AVAILABLE):
        return Phase.insufficient
    return Phase.pending
