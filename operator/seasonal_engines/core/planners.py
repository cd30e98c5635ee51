"""The planner as the decision core calls it: ``core.sizing`` bound to one spec, failures as values.

Also the bootstrap plan for a service with no traffic yet: the model's full context, like a static
engine, so that something serves while the first histograms accumulate. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from seasonal_engines.api.spec import Backend, InferenceServiceSpec
from seasonal_engines.core import decisions, histograms, reasons, resizing, traffic
from seasonal_engines.core.serving import predictions
from seasonal_engines.core.sizing import errors, planning
from seasonal_engines.core.sizing.plans import Plan

STATUS_SAMPLE = 400  # requests the status prediction simulates per replica count: a fraction of a second


def planned_engine(plan: Plan, profile: traffic.TrafficProfile | None = None,
                   spec: InferenceServiceSpec | None = None) -> decisions.PlannedEngine:
    """The decision core's view of ``plan``; with the traffic it was planned from (and the spec's SLO), the
    serving model's prediction for it, computed when the decision core asks."""
    doc = plan.to_json()
    serving = None if profile is None else _predictor(plan, profile, spec)
    return decisions.PlannedEngine(hash=plan.engine_hash, envelope=plan.envelope, season=plan.season,
                                   backend=str(doc.get("backend", Backend.tensorrt.value)), plan=doc, serving=serving)


def _predictor(plan: Plan, profile: traffic.TrafficProfile,
               spec: InferenceServiceSpec | None) -> Callable[[], predictions.Prediction | None]:
    slo = spec.rollout.slo if spec is not None else None
    objective = predictions.Slo(slo.ttft_p99_seconds, slo.itl_p99_seconds) if slo else predictions.Slo()

    def predict() -> predictions.Prediction | None:
        try:
            return predictions.for_plan(plan, profile.input, profile.output, profile.peak_rps, objective,
                                        sample=STATUS_SAMPLE)
        except ValueError:  # a window the model cannot sample (empty histograms): no prediction
            return None

    return predict


def for_spec(spec: InferenceServiceSpec, config_json: Mapping[str, Any] | None = None, *,
             order_statistics: bool | None = None, confidence: float | None = None) -> decisions.Planner:
    """A ``Planner`` for this spec; a refusal (model does not fit, too few samples) comes back as a value.

    With ``order_statistics`` (default: when ``spec.seasonDiscovery`` is set) each profile is sized to the
    order statistic whose expected coverage is the sizing quantile (``core.resizing.tolerance_policy``):
    the largest request when the profile holds too few for one. Baselines pass False to plan as PromQL
    reads the quantile. With ``confidence`` the order statistic is the quantile's upper bound at that
    confidence (``core.resizing.confident_policy``), refused as InsufficientTraffic when the profile holds
    too few requests for one: the cautious plan a discovered season may shrink to."""
    tolerant = spec.season_discovery is not None if order_statistics is None else order_statistics
    # One evaluation asks about the same profile several times. Keyed by identity, the cache keeps the
    # profile itself too, so an id can never be reused by another profile while its entry lives.
    cache: dict[tuple[int, str | None], tuple[traffic.TrafficProfile,
                                               decisions.PlannedEngine | decisions.PlanRefused]] = {}

    def plan(profile: traffic.TrafficProfile, season: str | None) -> decisions.PlannedEngine | decisions.PlanRefused:
        key = (id(profile), season)
        hit = cache.get(key)
        if hit is not None and hit[0] is profile:
            return hit[1]
        if confidence is not None:
            bounded = resizing.confident_policy(spec.sizing, profile.samples, confidence)
            if bounded is None:
                return decisions.PlanRefused(reasons.INSUFFICIENT_TRAFFIC, f"{profile.samples:.0f} requests are "
                                             f"too few to bound the sizing quantile at {confidence:.0%} confidence")
            sized = spec.model_copy(update={"sizing": bounded})
        elif tolerant:
            sized = spec.model_copy(update={"sizing": resizing.tolerance_policy(spec.sizing, profile.samples)})
        else:
            sized = spec
        try:
            result: decisions.PlannedEngine | decisions.PlanRefused = planned_engine(
                planning.plan_for_spec(profile, sized, season=season, config_json=config_json), profile, sized)
        except errors.PlanningError as exc:
            result = decisions.PlanRefused(type(exc).__name__, str(exc))
        if len(cache) > 64:  # a long-lived planner (replay) must not grow without bound
            cache.clear()
        cache[key] = (profile, result)
        return result

    return plan


def cautious_for_spec(spec: InferenceServiceSpec,
                      config_json: Mapping[str, Any] | None = None) -> decisions.Planner | None:
    """spec.seasonDiscovery: the planner at the quantile's upper confidence bound that seasons shrink to
    (``decisions.decide``'s ``cautious``); None without discovery."""
    sd = spec.season_discovery
    return None if sd is None else for_spec(spec, config_json, confidence=sd.confidence)


def max_context(spec: InferenceServiceSpec, config_json: Mapping[str, Any] | None = None) -> int:
    """The model's context in tokens (the top of the effective ladder); the ladder's top when unknown."""
    try:
        return planning.resolve_model(spec.model, config_json).max_context
    except errors.PlanningError:
        return int(spec.sizing.ladder[-1])


def bootstrap_profile(spec: InferenceServiceSpec, max_context: int,
                      now: datetime | None = None) -> traffic.TrafficProfile:
    """Traffic as a static engine assumes it: every request may use the model's whole context."""
    now = now or datetime(2026, 1, 1, tzinfo=UTC)  # the plan depends on lengths only
    n = float(spec.traffic.min_samples)
    longest = max(1, max_context - 1)
    bounds = histograms.log_buckets()

    def requests_of(length: int) -> histograms.Histogram:
        # n requests of one length, as counts: memory does not grow with traffic.minSamples.
        one = histograms.from_values([length], bounds)
        return histograms.Histogram(one.bounds, tuple(c * n for c in one.counts))

    return traffic.profile_from_histograms(now - timedelta(hours=1), now, requests_of(longest), requests_of(1),
                                           requests_of(longest + 1))


def bootstrap_for_spec(spec: InferenceServiceSpec,
                       config_json: Mapping[str, Any] | None = None) -> decisions.BootstrapPlanner:
    def plan() -> decisions.PlannedEngine | decisions.PlanRefused:
        try:
            model = planning.resolve_model(spec.model, config_json)
            return planned_engine(planning.plan_for_spec(bootstrap_profile(spec, model.max_context), spec,
                                                         season=None, config_json=config_json))
        except errors.PlanningError as exc:
            return decisions.PlanRefused(type(exc).__name__, str(exc))

    return plan
