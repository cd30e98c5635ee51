"""One evaluation of one InferenceService: gather, decide, apply, write status.

Gather reads the world into a ``observations.Observation`` (Prometheus profiles, the build Job, the rollout,
the engines published); ``core.decisions.decide`` returns the actions and status; apply creates Jobs and
moves Deployments; the status is then replaced with the resourceVersion it was decided from. Nothing here
decides. A failure to reach Prometheus or Triton is an observation, not an exception. A change the API
server refuses (403, 422, ...) becomes condition Synced False and a Warning Event on the object, with the
status left as it was (``decisions.apply_failed``): nothing that did not happen is recorded as started.
A status write that meets a newer object (409) is decided again from a fresh read.

The world is reached through ``core.ports`` only: a ``Cluster`` (``adapters.kubernetes.KubernetesCluster``
in the operator, an in-memory fake in tests), and a ``TrafficSource`` per Prometheus URL made by
``traffic_source`` (``adapters.prometheus.PrometheusTraffic`` by default).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException

from seasonal_engines import settings as configuration
from seasonal_engines.adapters.kubernetes import api_error
from seasonal_engines.adapters.metrics import OperatorMetrics
from seasonal_engines.adapters.prometheus import PrometheusTraffic
from seasonal_engines.api import durations, validation
from seasonal_engines.api import spec as api
from seasonal_engines.api import status as status_model
from seasonal_engines.api.status import InferenceServiceStatus
from seasonal_engines.core import (
    actions,
    build_jobs,
    decisions,
    observations,
    planners,
    ports,
    presets,
    promql,
    reasons,
    season_schedules,
    seasons,
)
from seasonal_engines.core.hourly_history import HourlyHistory
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

log = logging.getLogger("seasonal_engines")
SEASON_PROFILE_TTL = timedelta(hours=1)  # a season's history changes once per occurrence; re-read hourly


@dataclass
class Outcome:
    status: dict[str, Any] | None        # the status written, or None when unchanged (or not writable)
    events: tuple[actions.Event, ...]
    requeue_after: float | None
    decision: actions.Decision
    written_from: str | None = None      # the resourceVersion the written status was decided from


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Reconciler:
    cluster: ports.Cluster
    settings: configuration.OperatorSettings = field(default_factory=configuration.OperatorSettings)
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    clock: Callable[[], datetime] = _utc_now
    # The traffic source for a Prometheus URL; None: PrometheusTraffic with settings.prometheus.
    traffic_source: Callable[[str], ports.TrafficSource] | None = None
    sources: dict[str, ports.TrafficSource] = field(default_factory=dict)  # one per URL, kept
    _season_cache: dict[tuple[str, str, str, str], tuple[datetime, TrafficProfile | TrafficUnavailable]] = \
        field(default_factory=dict)
    _history_cache: dict[tuple[str, str, str, str], tuple[datetime, HourlyHistory | TrafficUnavailable]] = \
        field(default_factory=dict)

    # --- the whole cycle -------------------------------------------------------------------

    def reconcile_latest(self, hint: Mapping[str, Any]) -> Outcome | None:
        """Reconcile the object ``hint`` names, as the API server has it now (None: it is gone)."""
        meta = hint["metadata"]
        body = self.cluster.read_service(meta.get("namespace", "default"), meta["name"])
        return None if body is None else self.reconcile(body)

    def reconcile(self, body: Mapping[str, Any]) -> Outcome:
        """Evaluate ``body`` and write its status. On a 409: when only metadata changed meanwhile (kopf's own
        annotations and finalizer, a label), the decision still holds and is written again as it is;
        when the spec or the status changed, it is decided again from the fresh object (bounded). Deciding
        again what was already applied would start a second build of a slightly different plan."""
        meta = body["metadata"]
        namespace, name = meta.get("namespace", "default"), meta["name"]
        outcome = self.evaluate(body)
        for _ in range(self.settings.loop.status_conflict_retries):
            if outcome.status is None:
                return outcome
            try:
                self.cluster.write_status(body, outcome.status)
                outcome.written_from = meta.get("resourceVersion")
                return outcome
            except ports.StatusConflict:
                pass
            except ApiException as exc:
                # Status is our only channel besides Events: say it there, and in the log.
                message = api_error(exc, "writing status")
                log.error("%s/%s: %s", namespace, name, message)
                return Outcome(None, (*outcome.events, actions.Event("Warning", reasons.KUBERNETES_API_ERROR,
                                                                       message)), outcome.requeue_after,
                               outcome.decision)
            fresh = self.cluster.read_service(namespace, name)
            if fresh is None:
                return Outcome(None, (), None, outcome.decision)  # deleted meanwhile
            same_inputs = (fresh.get("spec") == body.get("spec")
                           and _own(fresh.get("status")) == _own(body.get("status")))
            body, meta = fresh, fresh["metadata"]
            if same_inputs:
                log.info("%s/%s: its metadata changed while it was evaluated; writing the same status again",
                         namespace, name)
                continue
            log.info("%s/%s changed while it was evaluated; evaluating again", namespace, name)
            outcome = self.evaluate(body)
        return Outcome(None, outcome.events, actions.BUSY_REQUEUE, outcome.decision)

    def evaluate(self, body: Mapping[str, Any]) -> Outcome:
        """Gather, decide and apply for ``body``; the status to write (None when it would not change)."""
        started = time.monotonic()
        now = self.clock()
        obs, parsed = self.gather(body, now)
        planner = planners.for_spec(parsed) if parsed else (
            lambda p, s: planners.PlanRefused(reasons.INVALID_SPEC, ""))
        bootstrap = planners.bootstrap_for_spec(parsed) if parsed else (
            lambda: planners.PlanRefused(reasons.INVALID_SPEC, ""))
        decision = decisions.decide(obs, planner, bootstrap)
        if parsed is not None:
            decision = self.apply(body, parsed, obs, decision)
        new = decision.status.model_dump(by_alias=True, exclude_none=True, mode="json")
        old = body.get("status")
        changed = not isinstance(old, Mapping) or {k: v for k, v in old.items() if k != "kopf"} != new
        self.metrics.record(body["metadata"].get("namespace", ""), body["metadata"]["name"], decision,
                            time.monotonic() - started)
        return Outcome(new if changed else None, decision.events, decision.requeue_after, decision)

    # --- gather ----------------------------------------------------------------------------------

    def gather(self, body: Mapping[str, Any], now: datetime) -> tuple[observations.Observation,
                                                                      api.InferenceServiceSpec | None]:
        meta = body["metadata"]
        namespace, name = meta.get("namespace", "default"), meta["name"]
        status, status_problem = read_status(body.get("status"))
        generation = int(meta.get("generation") or 0)
        try:
            parsed = validation.parse_spec(body.get("spec"))
        except validation.SpecError as exc:
            return observations.Observation(now=now, generation=generation, spec=None, spec_error=str(exc),
                                         status=status, traffic=TrafficUnavailable(reasons.INVALID_SPEC, str(exc)),
                                         status_problem=status_problem), None

        source = self._source(parsed)
        preset = presets.from_spec(parsed.traffic)
        matchers = promql.from_spec(parsed.traffic.selector)
        window = durations.seconds(parsed.traffic.window)
        trailing = source.window(preset, matchers, now, window, min_samples=1,
                                 peak_percentile=parsed.traffic.peak_percentile,
                                 recent_s=parsed.shift_window_seconds())
        season_traffic = self._season_profiles(namespace, name, parsed, preset, matchers, now,
                                               status.build_durations_seconds)
        history = self._discovery_history(namespace, name, parsed, preset, matchers, now)

        store = set(self.cluster.published_engines(namespace, name))
        store |= {e.hash for e in status.engine_history}
        if status.serving_engine is not None:
            store.add(status.serving_engine.hash)
        build = self.cluster.build_state(namespace, status.build.job_name) if status.build else None
        rollout = None
        if status.rollout is not None and status.target_engine is not None:
            colour = self._colour_for(parsed, body, status.target_engine.hash)
            rollout = self.cluster.rollout_state(parsed, body, status.target_engine, colour)
        return observations.Observation(now=now, generation=generation, spec=parsed, spec_error=None, status=status,
                                     owner=f"{namespace}/{name}",
                                     traffic=trailing, season_traffic=season_traffic, store=frozenset(store),
                                     build=build, rollout=rollout, status_problem=status_problem,
                                     history=history), parsed

    def _source(self, spec: api.InferenceServiceSpec) -> ports.TrafficSource:
        url = spec.traffic.prometheus_url
        if url not in self.sources:
            self.sources[url] = self.traffic_source(url) if self.traffic_source is not None else PrometheusTraffic(
                url, timeout_s=self.settings.prometheus.timeout_seconds,
                max_reply_bytes=self.settings.prometheus.max_reply_bytes)
        return self.sources[url]

    def _season_profiles(self, namespace: str, name: str, spec: api.InferenceServiceSpec,
                         preset: presets.MetricPreset, matchers: tuple[promql.Matcher, ...],
                         now: datetime, build_durations: list[float]) -> dict[str, TrafficProfile | TrafficUnavailable]:
        """Profiles of the seasons ``decide`` reads now (``seasons.profiles_needed``), from cache when fresh: at
        most one season query per evaluation keeps the query budget at two."""
        out: dict[str, TrafficProfile | TrafficUnavailable] = {}
        queried = False
        for season in seasons.profiles_needed(spec, build_durations, now):
            key = (namespace, name, season.name, season.model_dump_json())
            cached = self._season_cache.get(key)
            if cached and cached[0] > now:
                out[season.name] = cached[1]
                continue
            if queried:
                continue  # next evaluation
            windows = seasons.season_history_query_windows(season, now, timedelta(hours=1))
            if not windows:
                continue
            profile = self._source(spec).season(preset, matchers, windows, min_samples=1,
                                                peak_percentile=spec.traffic.peak_percentile)
            queried = True
            self._season_cache[key] = (now + SEASON_PROFILE_TTL, profile)
            out[season.name] = profile
        return out

    # --- spec.seasonDiscovery: the hourly history (a separate addition) --------------------------

    def _discovery_history(self, namespace: str, name: str, spec: api.InferenceServiceSpec,
                           preset: presets.MetricPreset, matchers: tuple[promql.Matcher, ...],
                           now: datetime) -> HourlyHistory | TrafficUnavailable | None:
        """The service's hourly history for season discovery, re-read when its cache expires (hourly; every
        evaluation during the service's first day, see ``core.season_schedules.history_ttl_s``)."""
        sd = spec.season_discovery
        if sd is None:
            return None
        key = (namespace, name, spec.traffic.model_dump_json(), sd.history)
        cached = self._history_cache.get(key)
        if cached and cached[0] > now:
            return cached[1]
        history = self._source(spec).history(preset, matchers, now, sd.history_hours())
        ttl = season_schedules.history_ttl_s(history, durations.seconds(spec.traffic.evaluation_interval))
        self._history_cache[key] = (now + timedelta(seconds=ttl), history)
        return history

    # --- apply -----------------------------------------------------------------------------------

    def apply(self, body: Mapping[str, Any], spec: api.InferenceServiceSpec, obs: observations.Observation,
              decision: actions.Decision) -> actions.Decision:
        """Carry out ``decision``'s actions; the decision to record (``apply_failed`` if one was refused)."""
        try:
            conflicts = self._apply_actions(body, spec, decision)
        except ApiException as exc:
            return decisions.apply_failed(obs, decision, reasons.KUBERNETES_API_ERROR,
                                          api_error(exc, "applying the decision"))
        except ports.Refused as exc:
            return decisions.apply_failed(obs, decision, exc.reason, str(exc))
        decision = decisions.applied(decision, obs.now, obs.generation)
        return decisions.with_events(decision, [actions.Event("Warning", reasons.FIELD_MANAGER_CONFLICT,
                                                                c.describe()) for c in conflicts])

    def _apply_actions(self, body: Mapping[str, Any], spec: api.InferenceServiceSpec,
                       decision: actions.Decision) -> list[ports.FieldConflict]:
        namespace = body["metadata"].get("namespace", "default")
        conflicts: list[ports.FieldConflict] = []
        for action in decision.actions:
            if isinstance(action, actions.StartBuild):
                manifests = build_jobs.render(action.engine.plan, body, self.settings.jobs,
                                              attempt=action.attempt)
                conflicts += self.cluster.start_build(namespace, manifests)
                log.info("build %s started for engine %s (%s)", action.job_name, action.engine.hash[:12],
                         action.reason)
            elif isinstance(action, actions.RollOut):
                colour = self._colour_for(spec, body, action.engine.hash)
                conflicts += self.cluster.roll_out(spec, body, action.engine, colour)
                log.info("rolling out engine %s%s", action.engine.hash[:12], " (rollback)" if action.rollback else "")
            elif isinstance(action, actions.RecordReferences):
                conflicts += self.cluster.record_references(
                    namespace, build_jobs.references_job(action.references, body, self.settings.jobs))
            elif isinstance(action, actions.SwitchTraffic):
                colour = None if action.engine is None else self._colour_for(spec, body, action.engine.hash)
                conflicts += self.cluster.apply_service(spec, body, colour)
        return conflicts

    def _colour_for(self, spec: api.InferenceServiceSpec, body: Mapping[str, Any], engine_hash: str) -> str | None:
        """BlueGreen: the colour whose Deployment serves ``engine_hash``, else the one not live."""
        if spec.rollout.strategy != api.Strategy.blue_green or spec.serving.deployment_ref is not None:
            return None
        return self.cluster.colour_for(body, engine_hash)


def _own(status: Any) -> Any:
    """Status as the operator writes it: absent and empty are the same, kopf's key is not ours."""
    if not isinstance(status, Mapping):
        return status or {}
    return {k: v for k, v in status.items() if k != "kopf"}


def read_status(raw: Any) -> tuple[InferenceServiceStatus, str | None]:
    """The stored status (``api.status.read``); one that cannot be read is started afresh, and said so."""
    status, problem = status_model.read(raw)
    if problem:
        log.warning("status unreadable, starting afresh: %s", problem)
    return status, problem


__all__ = ["Reconciler", "Outcome", "read_status"]
