"""The operator's own Prometheus metrics (prometheus_client), and recording one evaluation into them.

Names are part of the product: the Grafana dashboards and alert rules in ``charts/`` query them, and a test
runs every one of those queries against a real Prometheus. Labels ``namespace`` and ``name`` identify the
InferenceService.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from seasonal_engines.api.status import InferenceServiceStatus, ServingPrediction
from seasonal_engines.core import actions

SERVICE = ("namespace", "name")
LIMITS = ("max_input_len", "max_seq_len", "max_batch_size", "max_num_tokens")


class OperatorMetrics:
    """All operator metrics on one registry (a fresh registry per instance keeps tests independent)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self._seen: set[tuple[str, str]] = set()
        r = self.registry
        self.evaluations = Counter("seasonal_operator_evaluations", "Evaluations of an InferenceService, by "
                                   "result (ok, invalid, error).", (*SERVICE, "result"), registry=r)
        self.evaluation_seconds = Histogram("seasonal_operator_evaluation_duration_seconds", "Wall time of one "
                                            "evaluation, gather to apply.", SERVICE, registry=r,
                                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.envelope = Gauge("seasonal_operator_envelope_limit", "Limits of the serving engine, tokens or "
                              "requests.", (*SERVICE, "limit"), registry=r)
        self.coverage = Gauge("seasonal_operator_coverage_ratio", "Share of the trailing window's requests "
                              "inside the serving envelope, censored requests counted outside.", SERVICE,
                              registry=r)
        self.drift_score = Gauge("seasonal_operator_drift_score", "Distribution-shift score (Jensen-Shannon) "
                                 "against the traffic the serving engine was planned from.", SERVICE, registry=r)
        self.drifted = Gauge("seasonal_operator_drifted", "1 while drift confirms a breach or waste.",
                             (*SERVICE, "kind"), registry=r)
        self.shifted = Gauge("seasonal_operator_traffic_shifted", "1 while request lengths are confirmed to have "
                             "moved away from the planning traffic (condition TrafficShifted), per direction.",
                             [*SERVICE, "direction"], registry=r)
        self.censored = Gauge("seasonal_operator_censored_fraction", "Share of requests rejected for length or "
                              "stopped at the engine's limit.", SERVICE, registry=r)
        self.traffic_available = Gauge("seasonal_operator_traffic_available", "1 when the last evaluation had "
                                       "enough traffic to plan from.", SERVICE, registry=r)
        self.season = Gauge("seasonal_operator_active_season", "1 for the season in force (season=\"\" between "
                            "seasons).", (*SERVICE, "season"), registry=r)
        self.generation = Gauge("seasonal_operator_engine_generation", "Rollouts completed.", SERVICE, registry=r)
        self.builds = Counter("seasonal_operator_builds", "Engine builds by result (started, succeeded, "
                              "failed).", (*SERVICE, "result"), registry=r)
        self.build_seconds = Histogram("seasonal_operator_build_duration_seconds", "Duration of successful "
                                       "engine builds.", SERVICE, registry=r,
                                       buckets=(60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800))
        self.rollouts = Counter("seasonal_operator_rollouts", "Rollouts by result (started, succeeded, failed, "
                                "rolled_back).", (*SERVICE, "result"), registry=r)
        self.rollout_started = Gauge("seasonal_operator_rollout_started_timestamp_seconds", "Start of the "
                                     "rollout in progress; 0 when none.", SERVICE, registry=r)
        self.build_started = Gauge("seasonal_operator_build_started_timestamp_seconds", "Start of the build in "
                                   "progress; 0 when none.", SERVICE, registry=r)
        self.replicas = Gauge("seasonal_operator_recommended_replicas", "Replicas the latest plan recommends "
                              "for the peak request rate.", SERVICE, registry=r)
        self.predicted_latency = Gauge("seasonal_operator_predicted_latency_seconds", "The serving model's "
                                       "prediction for the serving engine at its planning traffic's peak "
                                       "(modelled, not measured): time to first token (ttft) and inter-token "
                                       "latency (itl) at quantile 0.5 and 0.99.",
                                       (*SERVICE, "latency", "quantile"), registry=r)
        self.predicted_replicas = Gauge("seasonal_operator_predicted_replicas", "Replicas the serving model "
                                        "predicts the serving engine needs to meet spec.rollout.slo at the peak "
                                        "(modelled).", SERVICE, registry=r)
        self.peak_rps = Gauge("seasonal_operator_peak_request_rate", "Peak request rate (Poisson model) of the "
                              "trailing window, per second.", SERVICE, registry=r)

    def record(self, namespace: str, name: str, decision: actions.Decision, seconds: float,
               recommended_replicas: int | None = None) -> None:
        """Reflect one applied decision."""
        svc = (namespace, name)
        s: InferenceServiceStatus = decision.status
        if svc not in self._seen:  # counters exist at 0 from the start, so a first failure shows in increase()
            self._seen.add(svc)
            for result in ("started", "succeeded", "failed"):
                self.builds.labels(*svc, result)
            for result in ("started", "succeeded", "failed", "rolled_back"):
                self.rollouts.labels(*svc, result)
        self.evaluations.labels(*svc, "invalid" if s.phase == "Invalid" else "ok").inc()
        self.evaluation_seconds.labels(*svc).observe(seconds)
        if s.serving_engine is not None:
            env = s.serving_engine.envelope
            for limit in LIMITS:
                self.envelope.labels(*svc, limit).set(getattr(env, limit))
            self.generation.labels(*svc).set(s.engine_generation)
            self._record_prediction(svc, s.serving_engine.prediction)
        if s.drift is not None:
            if s.drift.beyond_fraction is not None:
                self.coverage.labels(*svc).set(1.0 - s.drift.beyond_fraction)
            if s.drift.score is not None:
                self.drift_score.labels(*svc).set(s.drift.score)
            for kind in ("Breach", "Waste"):
                self.drifted.labels(*svc, kind).set(1.0 if s.drift.state == kind else 0.0)
            if s.drift.shift is not None:
                for direction in ("Up", "Down"):
                    self.shifted.labels(*svc, direction).set(
                        1.0 if s.drift.shift.confirmed and s.drift.shift.direction == direction else 0.0)
        if s.traffic is not None:
            self.peak_rps.labels(*svc).set(s.traffic.peak_rps)
            if s.traffic.censored_fraction is not None:
                self.censored.labels(*svc).set(s.traffic.censored_fraction)
        available = any(c.type == "TrafficAvailable" and c.status == "True" for c in s.conditions)
        self.traffic_available.labels(*svc).set(1.0 if available else 0.0)
        for season in list(self._seasons_seen(svc)):
            self.season.labels(*svc, season).set(0.0)
        self.season.labels(*svc, s.active_season or "").set(1.0)
        self.rollout_started.labels(*svc).set(_epoch(s.rollout.started_at) if s.rollout else 0.0)
        self.build_started.labels(*svc).set(_epoch(s.build.started_at) if s.build else 0.0)
        if recommended_replicas is not None:
            self.replicas.labels(*svc).set(recommended_replicas)
        for event in decision.events:
            if event.reason == "BuildStarted":
                self.builds.labels(*svc, "started").inc()
            elif event.reason == "BuildSucceeded":
                self.builds.labels(*svc, "succeeded").inc()
                if s.build_durations_seconds:
                    self.build_seconds.labels(*svc).observe(s.build_durations_seconds[-1])
            elif event.reason == "BuildFailed":
                self.builds.labels(*svc, "failed").inc()
            elif event.reason == "RolloutStarted":
                self.rollouts.labels(*svc, "started").inc()
            elif event.reason == "EngineReady" or event.reason == "RolloutSucceeded":
                self.rollouts.labels(*svc, "succeeded").inc()
            elif event.reason == "RolloutFailed":
                self.rollouts.labels(*svc, "failed").inc()
            elif event.reason == "RolledBack":
                self.rollouts.labels(*svc, "rolled_back").inc()

    def _record_prediction(self, svc: tuple[str, str], pred: ServingPrediction | None) -> None:
        """The serving engine's modelled latency; no series for an engine without a prediction (bootstrap)."""
        figures = (("ttft", "0.5", pred.ttft_p50_seconds if pred else None),
                   ("ttft", "0.99", pred.ttft_p99_seconds if pred else None),
                   ("itl", "0.5", pred.itl_p50_seconds if pred else None),
                   ("itl", "0.99", pred.itl_p99_seconds if pred else None))
        for latency, quantile, value in figures:
            if value is not None:
                self.predicted_latency.labels(*svc, latency, quantile).set(value)
            else:
                _forget(self.predicted_latency, *svc, latency, quantile)
        if pred is not None and pred.replicas is not None:
            self.predicted_replicas.labels(*svc).set(pred.replicas)
        else:
            _forget(self.predicted_replicas, *svc)

    def _seasons_seen(self, svc: tuple[str, str]) -> set[str]:
        seen = set()
        for metric in self.season.collect():
            for sample in metric.samples:
                if (sample.labels.get("namespace"), sample.labels.get("name")) == svc:
                    seen.add(sample.labels["season"])
        return seen


def _forget(gauge: Gauge, *labels: str) -> None:
    try:
        gauge.remove(*labels)
    except KeyError:  # never set
        pass


def _epoch(text: str) -> float:
    from seasonal_engines.core import times

    return times.parse_time(text).timestamp()
