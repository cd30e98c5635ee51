"""Seasons ahead of their start: each due season's engine is built before the season begins (SeasonPrebuild),
``status.nextSeason`` says whether the next one's engine is ready, and ``status.seasonEngines`` keeps the
engine last planned for each season (garbage collection spares them). Steps of ``core.decisions.decide``,
writing through a ``drafts.Draft``; the plans are this evaluation's (``core.evaluation_plans``). Pure.
"""

from __future__ import annotations

from seasonal_engines.api.spec import Backend, InferenceServiceSpec
from seasonal_engines.api.status import SeasonEngine, SeasonStatus
from seasonal_engines.core import build_following, planners, reasons, seasons, switching, times
from seasonal_engines.core.drafts import Draft
from seasonal_engines.core.evaluation_plans import EvaluationPlans, Plan


def prebuild(d: Draft, spec: InferenceServiceSpec, plans: EvaluationPlans, outlook: seasons.SeasonOutlook) -> None:
    """Build the first due season's engine that is neither in the store nor serving, when a build may start."""
    for name in outlook.due:
        if outlook.active is not None and name == outlook.active.name:
            continue  # the active season is core.switching's business
        planned = plans.season(name)
        if planned is None:
            continue
        engine = _alike(d, spec, planned)
        remember(d, engine)
        if isinstance(engine, planners.PlannedEngine) and engine.hash not in d.obs.store \
                and engine.backend != Backend.pytorch:
            serving = d.status.serving_engine
            if serving is not None and serving.hash == engine.hash:
                continue
            if build_following.may_build(d):
                build_following.start(d, engine, reasons.SEASON_PREBUILD)
            return


def next_season(d: Draft, spec: InferenceServiceSpec, plans: EvaluationPlans, outlook: seasons.SeasonOutlook) -> None:
    """``status.nextSeason``: when it starts, the engine planned for it, and whether that engine is ready."""
    nxt = outlook.next
    if nxt is None:
        d.set(next_season=None)
        return
    planned = plans.season(nxt.name)
    engine = _alike(d, spec, planned) if planned is not None else None
    remember(d, engine)
    ready = isinstance(engine, planners.PlannedEngine) and (
        engine.hash in d.obs.store or engine.backend == Backend.pytorch)
    d.set(next_season=SeasonStatus(name=nxt.name, starts_at=times.rfc3339(nxt.start), engine_ready=ready,
                                   engine_hash=engine.hash if isinstance(engine, planners.PlannedEngine) else None))


def remember(d: Draft, engine: Plan) -> None:
    """Keep ``engine`` as its season's in ``status.seasonEngines`` (a refusal, or no season, keeps nothing)."""
    if not isinstance(engine, planners.PlannedEngine) or engine.season is None:
        return
    kept = [s for s in d.status.season_engines if s.season != engine.season]
    d.set(season_engines=sorted([*kept, SeasonEngine(season=engine.season, hash=engine.hash)],
                                key=lambda s: s.season))


def _alike(d: Draft, spec: InferenceServiceSpec,
           planned: planners.PlannedEngine | planners.PlanRefused) -> planners.PlannedEngine | planners.PlanRefused:
    return switching.stored_alike(d, spec, planned) if isinstance(planned, planners.PlannedEngine) else planned


__all__ = ["prebuild", "next_season", "remember"]
