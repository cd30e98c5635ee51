"""The planner as the decision core calls it: ``core.sizing`` bound to one spec, failures as values.

``PlannedEngine`` (a plan the planner made), ``PlanRefused`` (why it made none) and the ``Planner`` and
``BootstrapPlanner`` signatures ``core.decisions.decide`` takes; ``for_spec`` and ``bootstrap_for_spec``
make them for a spec. The bootstrap plan is for a service with no traffic yet: the model's full context,
like a static engine, so that something serves while the first histograms accumulate. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from seasonal_engines.api.spec import Backend, InferenceServiceSpec
from seasonal_engines.core import histograms, reasons, resizing, traffic
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.serving import predictions
from seasonal_engines.core.sizing import errors, planning
from seasonal_engines.core.sizing.plans import Plan

STATUS_SAMPLE = 400  # requests the status prediction simulates per replica count: a fraction of a second


@dataclass(frozen=True)
class PlannedEngine:
    """A plan the planner made: the engine's identity and limits, and the plan document for its Job."""

    hash: str
    envelope: Envelope
    season: str | None
    backend: str
    plan: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # The serving model's prediction for this engine, computed only when asked (it simulates; most plans
    # are never built): status_codec.engine_ref asks when the engine becomes a target or the advised plan.
    serving: Callable[[], predictions.Prediction | None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PlanRefused:
    """The planner refused (model does not fit, too few samples, ...): ``reason`` CamelCase, ``message`` for people."""

    reason: str
    message: str


Planner = Callable[[traffic.TrafficProfile, str | None], PlannedEngine | PlanRefused]
"""Plans an engine from a profile for a season (None: the trailing window). Pure; injected for tests."""

BootstrapPlanner = Callable[[], PlannedEngine | PlanRefused]
"""Plans the first engine when there is no traffic yet: the model's full context, like a static engine."""


def planned_engine(plan: Plan, profile: traffic.TrafficProfile | None = None,
                   spec: InferenceServiceSpec | None = None) -> PlannedEngine:
    """The decision core's view of ``plan``; with the traffic it was planned from (and the spec's SLO), the
    serving model's prediction for it, computed when the decision core asks."""
    doc = plan.to_json()
    serving = None if profile is None else _predictor(plan, profile, spec)
    return PlannedEngine(hash=plan.engine_hash, envelope=plan.envelope, season=plan.season,
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
             order_statistics: bool | None = None, confidence: float | None = None) -> Planner:
    """A ``Planner`` for this spec; a refusal (model does not fit, too few samples) comes back as a value.

    With ``order_statistics`` (default: when ``spec.seasonDiscovery`` is set) each profile is sized to the
    order statistic whose expected coverage is the sizing quantile (``core.resizing.tolerance_policy``):
    the largest request when the profile holds too few for one. Baselines pass False to plan as PromQL
    reads the quantile. With ``confidence`` the order statistic is the quantile's upper bound at that
    confidence (``core.resizing.confident_policy``), refused as InsufficientTraffic when the profile holds
    too few requests for one: the cautious plan a discovered season may shrink to."""
    tolerant = spec.season_discovery is not None if order_statistics is None else order_statistics

    def plan(profile: traffic.TrafficProfile, season: str | None) -> PlannedEngine | PlanRefused:
        if confidence is not None:
            bounded = resizing.confident_policy(spec.sizing, profile.samples, confidence)
            if bounded is None:
                return PlanRefused(reasons.INSUFFICIENT_TRAFFIC, f"{profile.samples:.0f} requests are too few to "
                                   f"bound the sizing quantile at {confidence:.0%} confidence")
            sized = spec.model_copy(update={"sizing": bounded})
        elif tolerant:
            sized = spec.model_copy(update={"sizing": resizing.tolerance_policy(spec.sizing, profile.samples)})
        else:
            sized = spec
        try:
            return planned_engine(planning.plan_for_spec(profile, sized, season=season, config_json=config_json),
                                  profile, sized)
        except errors.PlanningError as exc:
            return PlanRefused(type(exc).__name__, str(exc))

    return plan


def cautious_for_spec(spec: InferenceServiceSpec,
                      config_json: Mapping[str, Any] | None = None) -> Planner | None:
    """spec.seasonDiscovery: the planner at the quantile's upper confidence bound that seasons shrink to
    (``decisions.decide``'s ``cautious``); None without discovery."""
    sd = spec.season_discovery
    return None if sd is None else for_spec(spec, config_json, confidence=sd.confidence)


def provisional_for_spec(spec: InferenceServiceSpec,
                         config_json: Mapping[str, Any] | None = None) -> Planner | None:
    """spec.seasonDiscovery: the planner of a season whose requests are too few to bound its quantile
    (a service's first hours): the order statistic (the largest request, at that count) with its
    headroom widened so that the limits are ``resizing.PROVISIONAL_MARGIN`` times the usual plan's
    before the ladder rounds them. None without discovery."""
    if spec.season_discovery is None:
        return None
    widened = (1.0 + spec.sizing.headroom) * resizing.PROVISIONAL_MARGIN - 1.0
    # model_copy skips validation on purpose: the widened headroom may exceed the field's bound for users.
    sizing = spec.sizing.model_copy(update={"headroom": widened})
    return for_spec(spec.model_copy(update={"sizing": sizing}), config_json, order_statistics=True)


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
                       config_json: Mapping[str, Any] | None = None) -> BootstrapPlanner:
    def plan() -> PlannedEngine | PlanRefused:
        try:
            model = planning.resolve_model(spec.model, config_json)
            return planned_engine(planning.plan_for_spec(bootstrap_profile(spec, model.max_context), spec,
                                                         season=None, config_json=config_json))
        except errors.PlanningError as exc:
            return PlanRefused(type(exc).__name__, str(exc))

    return plan
