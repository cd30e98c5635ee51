"""The decision core: from one observation of the world to the next actions and the status to write.

``decide`` is the operator's whole brain. It never calls Kubernetes, Prometheus or Triton: a shell (the
reconciler, the local mode, the replay) gathers an ``observations.Observation`` (spec, status, traffic
profiles, engine store, build Job and rollout state, now), calls ``decide`` with a planner, and applies
the returned ``actions.Decision`` (actions, status, Events).

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

One evaluation, in order: the spec; the traffic (condition TrafficAvailable); the seasons in force
(spec.seasons, or with spec.seasonDiscovery the schedule discovered and kept in status,
``core.season_schedules``, whose profiles are pooled from the observation's hourly history) and their
outlook; every plan, made once (``core.evaluation_plans``); then following the rollout
(``core.rollout_following``) and the build (``core.build_following``), drift against the engine serving
now (``core.drift_reporting``), whether the serving engine should change and what to do about it
(``core.switching``), season prebuilds and the next season (``core.prebuilding``), the engine store's
references, and the Service's traffic (``actions.SwitchTraffic``). One build and one rollout at a
time. Pure: no I/O; ``now`` comes in with the observation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from seasonal_engines.api.spec import Backend, InferenceServiceSpec, Mode, Season, Strategy
from seasonal_engines.api.status import InferenceServiceStatus, Phase
from seasonal_engines.core import (
    actions,
    build_following,
    drift,
    drift_reporting,
    engine_references,
    evaluation_plans,
    planners,
    prebuilding,
    reasons,
    rollout_following,
    season_discovery,
    season_schedules,
    seasons,
    status_codec,
    switching,
)
from seasonal_engines.core import conditions as cond
from seasonal_engines.core.actions import Decision, Event
from seasonal_engines.core.drafts import Draft
from seasonal_engines.core.observations import Observation
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable


def decide(obs: Observation, planner: planners.Planner, bootstrap: planners.BootstrapPlanner,
           cautious: planners.Planner | None = None) -> Decision:
    """The next actions and status for one InferenceService. Total: never raises on any observation.

    ``cautious`` (spec.seasonDiscovery only) plans at the quantile's upper confidence bound: what a season
    may shrink to; by default ``planners.cautious_for_spec(spec)``."""
    d = Draft(obs)
    if obs.status_problem:
        d.emit("Warning", reasons.STATUS_UNREADABLE, f"{obs.status_problem}; the operator starts from a fresh "
               "status (what serves is re-learned from the cluster)")
    if obs.spec is None:
        d.condition(cond.SPEC_VALID, False, reasons.INVALID_SPEC, obs.spec_error or "invalid spec",
                    event="Warning")
        return d.done(Phase.invalid)
    spec = obs.spec
    d.condition(cond.SPEC_VALID, True, reasons.SPEC_ACCEPTED, "the spec is valid")
    if obs.status.observed_generation != obs.generation:
        d.set(build_failures=0, failed_rollouts=[])  # a changed spec deserves fresh attempts

    _observe_traffic(d, spec)
    in_force, outlook, season_traffic = _seasons(d, spec)
    plans = evaluation_plans.plan_once(spec, planner, cautious or planners.cautious_for_spec(spec) or planner,
                                       obs.traffic, season_traffic, outlook, planners.provisional_for_spec(spec))
    if outlook.active is not None:
        prebuilding.remember(d, plans.season(outlook.active.name))
    if spec.mode == Mode.advisory:
        verdict = drift_reporting.evaluate(d, spec, plans.fresh)
        return _advise(d, plans.advised(outlook), verdict)
    return _act(d, spec, in_force, outlook, plans, bootstrap)


def _act(d: Draft, spec: InferenceServiceSpec, in_force: Sequence[Season], outlook: seasons.SeasonOutlook,
         plans: evaluation_plans.EvaluationPlans, bootstrap: planners.BootstrapPlanner) -> Decision:
    """Mode Auto: follow what is under way, judge drift, change the serving engine if the present asks for
    it, build ahead of seasons, and keep the store's references and the Service's traffic right."""
    if d.obs.status.rollout is not None:
        rollout_following.follow(d, spec)
    if d.status.build is not None:
        build_following.follow(d, spec)
    # After following the rollout: drift is judged against the engine serving now, not the one it replaced.
    verdict = drift_reporting.evaluate(d, spec, plans.fresh)
    want = switching.wanted(switching.Situation(d.status, spec, outlook, plans, verdict, bootstrap, d.obs.store,
                                                d.obs.now))
    switching.carry_out(d, spec, want, verdict)
    prebuilding.prebuild(d, spec, plans, outlook)
    prebuilding.next_season(d, spec, plans, outlook)
    _record_references(d, spec, in_force)
    _switch_traffic(d, spec)
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
    d = Draft(obs)
    d.condition(cond.SYNCED, False, reason, message, event="Warning")
    return Decision(d.status, (), tuple(d.events), actions.BUSY_REQUEUE if decision.requeue_after is None
                    else min(actions.BUSY_REQUEUE, decision.requeue_after))


def with_events(decision: Decision, events: Sequence[Event]) -> Decision:
    return Decision(decision.status, decision.actions, (*decision.events, *events), decision.requeue_after)


# --- steps ------------------------------------------------------------------------


def _observe_traffic(d: Draft, spec: InferenceServiceSpec) -> None:
    t = d.obs.traffic
    if isinstance(t, TrafficUnavailable):
        d.condition(cond.TRAFFIC_AVAILABLE, False, t.reason, t.message, event="Warning")
        return
    d.set(traffic=status_codec.traffic_status(t, spec.traffic.window, d.obs.now))
    if t.samples < spec.traffic.min_samples:
        d.condition(cond.TRAFFIC_AVAILABLE, False, reasons.INSUFFICIENT_TRAFFIC,
                    f"{t.samples:.0f} requests in the last {spec.traffic.window}, fewer than traffic.minSamples "
                    f"{spec.traffic.min_samples}: nothing is planned from it", event="Normal")
    else:
        d.condition(cond.TRAFFIC_AVAILABLE, True, reasons.TRAFFIC_OBSERVED,
                    f"{t.samples:.0f} requests in the last {spec.traffic.window}")


def _seasons(d: Draft, spec: InferenceServiceSpec) -> tuple[Sequence[Season], seasons.SeasonOutlook,
                                                             Mapping[str, TrafficProfile | TrafficUnavailable]]:
    """The seasons in force, what they say at ``now`` (status.activeSeason, a requeue for their next change)
    and the profiles of those that matter now: gathered (spec.seasons) or pooled from the hourly history
    (spec.seasonDiscovery)."""
    obs = d.obs
    in_force = _discover(d, spec) if spec.season_discovery is not None else spec.seasons
    outlook = seasons.outlook(in_force, obs.now, seasons.lead_time_for(spec, obs.status.build_durations_seconds))
    active = outlook.active.name if outlook.active else None
    season_traffic = obs.season_traffic if spec.season_discovery is None else season_schedules.profiles(
        spec, in_force, seasons.names_needed(outlook), obs.history, obs.now, active)
    d.set(active_season=active)
    if outlook.wake_at is not None:
        d.requeue.append(max(1.0, (outlook.wake_at - obs.now).total_seconds()))
    return in_force, outlook, season_traffic


def _discover(d: Draft, spec: InferenceServiceSpec) -> list[Season]:
    """spec.seasonDiscovery: discover again when due (core.season_schedules); the seasons in force."""
    sd = spec.season_discovery
    assert sd is not None
    sizing = season_discovery.Sizing.of(spec.sizing, planners.max_context(spec))
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


def _advise(d: Draft, plan: evaluation_plans.Plan, verdict: drift.DriftVerdict | None) -> Decision:
    if isinstance(plan, planners.PlannedEngine):
        old = d.status.advised_plan
        d.set(advised_plan=status_codec.engine_ref(plan, reuse=old))
        if old is None or old.hash != plan.hash:
            d.emit("Normal", reasons.ADVISED_PLAN, f"Advisory mode: would build engine {plan.hash[:12]} "
                   f"({plan.envelope.summary()}) for {plan.season or 'the trailing window'}; nothing is built")
    elif isinstance(plan, planners.PlanRefused):
        d.condition(cond.DEGRADED, True, plan.reason, plan.message, event="Warning")
    return d.done(Phase.advisory)


def _record_references(d: Draft, spec: InferenceServiceSpec, in_force: Sequence[Season]) -> None:
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
    d.actions.append(actions.RecordReferences(refs))
    d.set(references_recorded=refs.digest())


def _switch_traffic(d: Draft, spec: InferenceServiceSpec) -> None:
    """The Service clients use (ours only: a ``serving.deploymentRef`` brings its own). BlueGreen: point it
    at the colour of the engine that serves now, once that engine (or its generation) changed. Otherwise it
    selects every pod of the service and is applied with each build or rollout."""
    if spec.serving.deployment_ref is not None:
        return
    before, after = d.obs.status.serving_engine, d.status.serving_engine
    if spec.rollout.strategy == Strategy.blue_green:
        if after is not None and (before is None or before.hash != after.hash
                                  or d.obs.status.engine_generation != d.status.engine_generation):
            d.actions.append(actions.SwitchTraffic(after))
    elif any(isinstance(a, (actions.StartBuild, actions.RollOut)) for a in d.actions):
        d.actions.append(actions.SwitchTraffic(None))


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


__all__ = ["decide", "applied", "apply_failed", "with_events"]
