"""Whether the serving engine should change, and what to do about it: two steps of ``core.decisions``.

``wanted`` is pure and writes nothing: from the status, the season outlook, this evaluation's plans and
drift's verdict it says which change the present asks for (``Change``), that the target waiting in the
store should roll out (``RollTarget``), that nothing may happen now (``Hold``: a rollout under way, the
target's build running, drift after a failed rollout), or nothing at all (None: the serving engine is the
one wanted). A change is wanted when nothing serves yet (Initial, or Bootstrap without traffic), a season
began whose engine differs from the serving one (SeasonStart), discovered seasons resize between their
boundaries (SeasonGrown, SeasonShrunk, ``core.resizing``), or drift confirmed a breach or waste
(DriftBreach, DriftWaste). Between discovered seasons' boundaries a breach that no stored engine near its
plan covers is served first by a larger stored interim engine (BreachInterim), then by its plan. A target
whose build failed or vanished is planned again for the same purpose.

``carry_out`` does it through a ``drafts.Draft``: an engine the store already has rolls out at once, an
engine that serves already is only relabelled (seasons that plan alike share it), an engine that failed
its rollout before is not tried again, and anything else is built first. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime, timedelta

from seasonal_engines.api import durations
from seasonal_engines.api.spec import Backend, InferenceServiceSpec
from seasonal_engines.api.status import EngineRef, InferenceServiceStatus
from seasonal_engines.core import (
    build_following,
    drift,
    planners,
    reasons,
    resizing,
    rollout_following,
    season_schedules,
    seasons,
    status_codec,
    times,
)
from seasonal_engines.core import conditions as cond
from seasonal_engines.core.drafts import Draft
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.evaluation_plans import EvaluationPlans, Plan
from seasonal_engines.core.traffic import TrafficProfile

DRIFT_REASONS = reasons.DRIFT_REASONS


@dataclass(frozen=True)
class Change:
    """The serving engine should become ``engine`` (or its refusal says why it cannot), because ``why``."""

    engine: planners.PlannedEngine | planners.PlanRefused
    why: str
    retry: bool = False  # the target's build failed or vanished: planned again for the same purpose


@dataclass(frozen=True)
class RollTarget:
    """The target engine is in the store: roll it out."""

    target: EngineRef


@dataclass(frozen=True)
class Hold:
    """Nothing may change now."""

    why: str


@dataclass(frozen=True)
class Wanted:
    """What the present asks of the serving engine, and (seasonDiscovery, between boundaries) the resize
    state of the season in force to keep; None leaves it as it is."""

    what: Change | RollTarget | Hold | None
    resize: resizing.ResizeState | None = None


@dataclass(frozen=True)
class Situation:
    """What ``wanted`` decides from: everything as values."""

    status: InferenceServiceStatus
    spec: InferenceServiceSpec
    outlook: seasons.SeasonOutlook
    plans: EvaluationPlans
    verdict: drift.DriftVerdict | None
    bootstrap: planners.BootstrapPlanner
    store: Set[str]
    now: datetime


def wanted(s: Situation) -> Wanted:
    """The change the present asks for (see the module docstring). Pure."""
    serving, target, active = s.status.serving_engine, s.status.target_engine, s.outlook.active
    if s.status.rollout is not None:
        return Wanted(Hold("one rollout at a time"))
    if target is not None and (serving is None or target.hash != serving.hash):
        return Wanted(_retry(s, target))
    if serving is None:
        planned = s.plans.wanted(s.outlook)
        return Wanted(Change(planned, reasons.INITIAL) if planned is not None else
                      Change(s.bootstrap(), reasons.BOOTSTRAP))
    if active is not None and serving.season != active.name:
        return Wanted(_keep_or(_season_start(s, active.name), reasons.SEASON_START))
    if s.spec.season_discovery is not None and active is not None:
        return _resize(s, active.name)
    if s.verdict is not None and s.verdict.rebuild:
        if s.status.failed_rollouts:
            # A rollout failed and was rolled back: rebuilding on drift would likely fail the same way.
            # Hold until a person changes the spec (which clears failedRollouts); seasons still apply.
            return Wanted(Hold("a rollout failed; drift waits for a spec change"))
        return Wanted(_keep_or(s.plans.fresh, reasons.DRIFT_BREACH if s.verdict.direction == drift.Direction.up
                               else reasons.DRIFT_WASTE))
    return Wanted(None)


def _keep_or(engine: Plan, why: str) -> Change | None:
    return None if engine is None else Change(engine, why)


def _retry(s: Situation, target: EngineRef) -> Change | RollTarget | Hold:
    """The target does not serve yet: roll it out when it is in the store, wait for its build, or plan it
    again for the same purpose from today's traffic (its build failed or vanished)."""
    if target.hash in s.store:
        return RollTarget(target)
    if s.status.build is not None:
        return Hold("the target's build runs")  # its completion brings the target in
    why = target.reason or reasons.TARGET_PENDING
    if why in DRIFT_REASONS:
        engine = s.plans.fresh
    elif why == reasons.BOOTSTRAP:
        engine = s.bootstrap()
    else:
        engine = s.plans.wanted(s.outlook)
    return Hold("nothing to plan the target from") if engine is None else Change(engine, why, retry=True)


def _season_start(s: Situation, season: str) -> Plan:
    """The engine a season starts on. With seasonDiscovery a smaller engine than the serving one is the
    cautious plan, and only once the season's history holds enough requests for it: otherwise the
    serving engine carries on, relabelled (a first day leaves the bootstrap engine only then)."""
    serving, planned = s.status.serving_engine, s.plans.wanted(s.outlook)
    if s.spec.season_discovery is None or serving is None or not isinstance(planned, planners.PlannedEngine):
        return planned
    if resizing.compare(status_codec.envelope_of(serving), planned.envelope) != resizing.Move.down:
        return planned
    if isinstance(s.plans.cautious, planners.PlannedEngine):
        return s.plans.cautious
    return planners.PlannedEngine(serving.hash, status_codec.envelope_of(serving), season, serving.backend)


def _resize(s: Situation, season: str) -> Wanted:
    """seasonDiscovery between a season's boundaries (core.resizing): grow at once when the season's pooled
    plan needs more; shrink to the cautious plan after enough evaluations, on enough requests. A confirmed
    coverage breach of the trailing window still rebuilds upward (``_breach_change``). Drift's waste never
    acts here."""
    serving = s.status.serving_engine
    assert serving is not None
    state = season_schedules.resize_state(s.status.season_schedule)
    planned = s.plans.season(season)
    change: Change | None = None
    if isinstance(planned, planners.PlannedEngine):
        provisional = s.plans.provisional if s.plans.trailing_usable else None
        move, target, enough = _resize_move(status_codec.envelope_of(serving), planned, s.plans.cautious,
                                            provisional)
        state, verdict = resizing.advance(
            state, move, now=s.now, enough=enough, consecutive=s.spec.drift.consecutive_evaluations,
            min_interval=timedelta(0) if _interim_outlived_its_window(s, serving)
            or serving.reason == reasons.SEASON_PROVISIONAL else
            timedelta(seconds=durations.seconds(s.spec.drift.min_rebuild_interval)),
            evaluation_interval=timedelta(seconds=durations.seconds(s.spec.traffic.evaluation_interval)))
        if verdict.act:
            change = Change(target, reasons.SEASON_PROVISIONAL if target is provisional else
                            reasons.SEASON_GROWN if move == resizing.Move.up else reasons.SEASON_SHRUNK)
    if change is None and not s.status.failed_rollouts:
        change = _breach_change(s, serving)
    if change is not None:
        state = resizing.resized(state, s.now)
    return Wanted(change, resize=state)


def _breach_change(s: Situation, serving: EngineRef) -> Change | None:
    """A coverage breach of the trailing window moves upward: when drift's streak confirms it (drift has
    checked that the plan is larger; a refusal is reported), or at once when it is counted
    (``resizing.count_breach``). It moves to a stored engine within ``COVER_FACTOR`` of its plan
    (``_stored_cover``); failing that, to a larger stored interim engine that serves while the plan waits
    (``_interim_engine``, then ``_after_interim``); failing that, a confirmed breach builds the plan and a
    counted one waits for drift's streak: planned from a burst's first minutes, it is too rough to build."""
    v, fresh = s.verdict, s.plans.fresh
    if v is None or v.kind == drift.DriftKind.insufficient:
        return None
    confirmed = v.rebuild and v.direction == drift.Direction.up
    if not isinstance(fresh, planners.PlannedEngine):
        return _keep_or(fresh, reasons.DRIFT_BREACH) if confirmed else None
    if serving.reason == reasons.BREACH_INTERIM and not confirmed:
        return _after_interim(s, serving, fresh)
    if not confirmed and not resizing.count_breach(v.beyond_fraction, v.samples, s.spec.sizing):
        return None
    plan = _stored_cover(s, fresh)
    if plan.hash in s.store:
        up = resizing.compare(status_codec.envelope_of(serving), plan.envelope) == resizing.Move.up
        return Change(plan, reasons.DRIFT_BREACH) if confirmed or up else None
    interim = _interim_engine(s, fresh, serving, whole=confirmed)
    if interim is not None:
        return Change(interim, reasons.BREACH_INTERIM)
    return Change(plan, reasons.DRIFT_BREACH) if confirmed else None


COVER_FACTOR = 2.0
"""A breach may roll out a stored engine up to this many times the plan's limits instead of building the
plan: it serves in a rollout's minutes, a build takes tens of minutes of refused requests, and the
season's resizing brings it down on evidence."""


def _stored_cover(s: Situation, plan: planners.PlannedEngine) -> planners.PlannedEngine:
    """The smallest engine in the store that serves everything ``plan`` does and is at most
    ``COVER_FACTOR`` times its limits (``_smallest_stored``)."""
    return _smallest_stored(s.status, s.store, plan, COVER_FACTOR)


def _interim_engine(s: Situation, plan: planners.PlannedEngine, serving: EngineRef,
                    *, whole: bool) -> planners.PlannedEngine | None:
    """A stored engine above the serving one (both limits at least its, one larger) that serves a breach
    while its plan waits: the smallest of them that covers ``plan``; unless ``whole``, failing that, the
    largest of them, which serves more of the burst than the serving engine does. None when there is
    none."""
    now = status_codec.envelope_of(serving)
    above = [(e, r) for e, r in _stored_engines(s.status, s.store, plan)
             if _covers(e, now) and resizing.compare(now, e) == resizing.Move.up]
    covers = [(e, r) for e, r in above if _covers(e, plan.envelope)]
    if covers:
        return _as_plan(min(covers, key=_size)[1], plan)
    if above and not whole:
        return _as_plan(max(above, key=_size)[1], plan)
    return None


def _after_interim(s: Situation, serving: EngineRef, fresh: planners.PlannedEngine) -> Change | None:
    """While an interim engine serves, the trailing window fills with the burst's requests, uncensored:
    after ``drift.consecutiveEvaluations`` evaluations, and while the window still holds what it served,
    the breach's plan (or its stored cover) replaces it. It stays when it is that cover; past the window
    it is a season's engine for resizing to bring down (``_interim_outlived_its_window``)."""
    served = _interim_served(s, serving)
    interval = timedelta(seconds=durations.seconds(s.spec.traffic.evaluation_interval))
    if served is None or not s.spec.drift.consecutive_evaluations * interval <= served <= _window(s):
        return None
    plan = _stored_cover(s, fresh)
    return None if plan.hash == serving.hash else Change(plan, reasons.DRIFT_BREACH)


def _interim_served(s: Situation, serving: EngineRef) -> timedelta | None:
    """How long an interim engine has served; None for any other engine."""
    if serving.reason != reasons.BREACH_INTERIM or serving.rolled_out_at is None:
        return None
    return times.utc(s.now) - times.parse_time(serving.rolled_out_at)


def _interim_outlived_its_window(s: Situation, serving: EngineRef) -> bool:
    """An interim engine that served past the trailing window (its plan never came: too few requests) is
    larger than anything planned, and the season's history now holds what it served: resizing may bring
    it down without waiting for ``drift.minRebuildInterval``."""
    served = _interim_served(s, serving)
    return served is not None and served > _window(s)


def _window(s: Situation) -> timedelta:
    return timedelta(seconds=durations.seconds(s.spec.traffic.window))


def _stored_engines(status: InferenceServiceStatus, store: Set[str],
                    plan: planners.PlannedEngine) -> list[tuple[Envelope, EngineRef]]:
    """The engines the status knows of that are in the store, with ``plan``'s backend and a batch no
    smaller, newest first."""
    refs = [r for r in (status.serving_engine, status.target_engine, *status.engine_history) if r is not None]
    return [(e, r) for r in refs if r.hash in store and r.backend == plan.backend
            for e in [status_codec.envelope_of(r)] if e.max_batch_size >= plan.envelope.max_batch_size]


def _smallest_stored(status: InferenceServiceStatus, store: Set[str], plan: planners.PlannedEngine,
                     factor: float) -> planners.PlannedEngine:
    """The smallest of ``_stored_engines`` with both limits from ``plan``'s to ``factor`` times them, as a
    plan for ``plan``'s season; ``plan`` itself when it is stored or no engine qualifies. At factor 1 the
    limits are ``plan``'s own."""
    if plan.hash in store:
        return plan
    covers = [(e, r) for e, r in _stored_engines(status, store, plan) if _covers(e, plan.envelope, factor)]
    # min keeps the first of equals: the newest, as _stored_engines lists them newest first.
    return _as_plan(min(covers, key=_size)[1], plan) if covers else plan


def _covers(e: Envelope, want: Envelope, factor: float = math.inf) -> bool:
    """Whether both of ``e``'s limits are from ``want``'s to ``factor`` times them."""
    return want.max_input_len <= e.max_input_len <= factor * want.max_input_len \
        and want.max_seq_len <= e.max_seq_len <= factor * want.max_seq_len


def _size(stored: tuple[Envelope, EngineRef]) -> tuple[int, int]:
    return stored[0].max_seq_len, stored[0].max_input_len


def _as_plan(ref: EngineRef, plan: planners.PlannedEngine) -> planners.PlannedEngine:
    """The stored engine ``ref`` standing in for ``plan``, for ``plan``'s season."""
    return planners.PlannedEngine(ref.hash, status_codec.envelope_of(ref), plan.season, plan.backend, plan.plan)


def _resize_move(serving: Envelope, planned: planners.PlannedEngine, cautious: Plan,
                 provisional: Plan = None) -> tuple[resizing.Move, planners.PlannedEngine, bool]:
    """Which way the season's plan moves from the serving engine, the engine it moves to, and whether
    there are enough requests to move down: up to the plan at once; down only to the cautious plan. With
    no cautious plan yet, a ``provisional`` plan (given only when a breach can be counted) is where
    both moves go, so that a young season leaves the bootstrap engine with a margin and grows with one."""
    move = resizing.compare(serving, planned.envelope)
    if isinstance(provisional, planners.PlannedEngine) and not isinstance(cautious, planners.PlannedEngine):
        if move == resizing.Move.up:
            return move, provisional, True
        down = resizing.compare(serving, provisional.envelope) == resizing.Move.down
        return (resizing.Move.down if down else resizing.Move.none), provisional, True
    if move == resizing.Move.up:
        return move, planned, True
    if isinstance(cautious, planners.PlannedEngine):
        down = resizing.compare(serving, cautious.envelope) == resizing.Move.down
        return (resizing.Move.down if down else resizing.Move.none), cautious, True
    return move, planned, move != resizing.Move.down


def carry_out(d: Draft, spec: InferenceServiceSpec, want: Wanted, verdict: drift.DriftVerdict | None) -> None:
    """Do what ``want`` says: keep the resize state, roll out, build, relabel, or report."""
    if want.resize is not None:
        d.set(season_schedule=season_schedules.with_resize_state(d.status.season_schedule, want.resize))
    what, serving = want.what, d.status.serving_engine
    if isinstance(what, RollTarget):
        rollout_following.start(d, spec, what.target)
    elif what is None and serving is not None:
        d.condition(cond.ENGINE_READY, True, reasons.SERVING, f"engine {serving.hash[:12]} "
                    f"({status_codec.envelope_of(serving).summary()}) serves")
    elif isinstance(what, Change):
        _change(d, spec, what, verdict)


def _change(d: Draft, spec: InferenceServiceSpec, change: Change, verdict: drift.DriftVerdict | None) -> None:
    if isinstance(change.engine, planners.PlanRefused):
        d.condition(cond.DEGRADED, True, change.engine.reason, change.engine.message, event="Warning")
        return
    engine, why, serving = stored_alike(d, spec, change.engine), change.why, d.status.serving_engine
    if serving is not None and engine.hash == serving.hash:
        _share(d, engine)
        return
    if not change.retry and why in DRIFT_REASONS and isinstance(d.obs.traffic, TrafficProfile):
        rebuilt = status_codec.drift_state(d.status.drift).rebuilt(d.obs.now, d.obs.traffic)
        d.set(drift=status_codec.drift_status(rebuilt, verdict))
    if engine.hash in d.status.failed_rollouts:
        d.set(target_engine=None)
        if not cond.is_true(d.status.conditions, cond.DEGRADED):  # keep the first, more specific, cause
            d.condition(cond.DEGRADED, True, reasons.ROLLOUT_FAILED, f"{why}: the planned engine {engine.hash[:12]} "
                        "failed its rollout before and is not retried until the spec changes")
        return
    target = status_codec.engine_ref(engine, reuse=d.status.target_engine).model_copy(update={"reason": why})
    d.set(target_engine=target)
    if target.hash in d.obs.store or engine.backend == Backend.pytorch:  # pytorch: runtime settings, no build
        rollout_following.start(d, spec, target)
    elif build_following.may_build(d):
        build_following.start(d, engine, why)


def _share(d: Draft, engine: planners.PlannedEngine) -> None:
    """Seasons that plan to the same engine share it: relabel, nothing to build or roll."""
    serving = d.status.serving_engine
    assert serving is not None
    d.set(target_engine=None)
    if serving.season != engine.season:
        d.set(serving_engine=serving.model_copy(update={"season": engine.season}))
        d.emit("Normal", reasons.ENGINE_SHARED, f"season {engine.season or 'trailing window'} plans the "
               f"serving engine {engine.hash[:12]}: nothing to build")


def stored_alike(d: Draft, spec: InferenceServiceSpec, engine: planners.PlannedEngine) -> planners.PlannedEngine:
    """seasonDiscovery: an engine in the store with the same limits stands in for a new plan of them, so a
    flag that follows the traffic's rate (opt_num_tokens) does not cost a rebuild."""
    if spec.season_discovery is None:
        return engine
    return _smallest_stored(d.status, d.obs.store, engine, 1.0)


__all__ = ["wanted", "carry_out", "stored_alike", "Situation", "Wanted", "Change", "RollTarget", "Hold"]
