"""Every plan one evaluation needs, each made once, before anything is decided.

``plan_once`` plans the trailing window's profile (``fresh``: what drift compares the serving engine
with, and what a drift rebuild builds), the history profile of each season the outlook names (active,
due, next) that holds at least ``traffic.minSamples`` requests, and, with ``spec.seasonDiscovery``, the
active season's profile with the cautious planner (what a season may shrink to) and, while that pool is
too small for a cautious plan, with the provisional planner (``core.resizing``). The steps of
``core.decisions`` only read the result: no profile is planned twice and no planner needs a cache.
Pure: the planners are pure, and so is this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from seasonal_engines.api.spec import InferenceServiceSpec
from seasonal_engines.core import planners, seasons
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

Plan = planners.PlannedEngine | planners.PlanRefused | None
"""A plan, a refusal, or None when there was no profile to plan from."""


def usable(spec: InferenceServiceSpec, t: TrafficProfile | TrafficUnavailable | None) -> TrafficProfile | None:
    """``t`` when it is a profile with at least ``traffic.minSamples`` requests."""
    if isinstance(t, TrafficProfile) and t.samples >= spec.traffic.min_samples:
        return t
    return None


@dataclass(frozen=True)
class EvaluationPlans:
    """The plans of one evaluation (see the module docstring)."""

    fresh: Plan                           # the trailing window's profile, for the active season
    trailing_usable: bool                 # the trailing window holds traffic.minSamples requests
    by_season: Mapping[str, planners.PlannedEngine | planners.PlanRefused] = field(default_factory=dict)
    cautious: Plan = None                 # seasonDiscovery: the active season's pool, at the upper bound
    provisional: Plan = None              # seasonDiscovery, no cautious plan yet: that pool, with the margin

    def season(self, name: str) -> planners.PlannedEngine | planners.PlanRefused | None:
        """The plan of a season's history; None when it holds too few requests to plan from."""
        return self.by_season.get(name)

    def wanted(self, outlook: seasons.SeasonOutlook) -> Plan:
        """The engine the present calls for: the active season's (from its history), else the trailing
        window's; a season with too little history yet is planned from the trailing window rather than from
        nothing."""
        if outlook.active is not None and outlook.active.name in self.by_season:
            return self.by_season[outlook.active.name]
        return self.fresh if self.trailing_usable else None

    def advised(self, outlook: seasons.SeasonOutlook) -> Plan:
        """Advisory mode's plan: the one wanted, else the trailing window's whatever its size."""
        planned = self.wanted(outlook)
        return planned if planned is not None else self.fresh


def plan_once(spec: InferenceServiceSpec, planner: planners.Planner, cautious: planners.Planner,
              trailing: TrafficProfile | TrafficUnavailable,
              season_traffic: Mapping[str, TrafficProfile | TrafficUnavailable],
              outlook: seasons.SeasonOutlook, provisional: planners.Planner | None = None) -> EvaluationPlans:
    """Plan every profile this evaluation reads, once each."""
    active = outlook.active.name if outlook.active is not None else None
    fresh = planner(trailing, active) if isinstance(trailing, TrafficProfile) else None
    plans: dict[str, planners.PlannedEngine | planners.PlanRefused] = {}
    for name in seasons.names_needed(outlook):
        pool = usable(spec, season_traffic.get(name))
        if pool is not None:
            plans[name] = planner(pool, name)
    careful: Plan = None
    margin: Plan = None
    if spec.season_discovery is not None and active is not None:
        pool = usable(spec, season_traffic.get(active))
        careful = cautious(pool, active) if pool is not None else None
        if pool is not None and provisional is not None and not isinstance(careful, planners.PlannedEngine):
            margin = provisional(pool, active)
    return EvaluationPlans(fresh, usable(spec, trailing) is not None, plans, careful, margin)


__all__ = ["EvaluationPlans", "Plan", "plan_once", "usable"]
