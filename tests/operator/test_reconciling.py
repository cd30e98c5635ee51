"""The reconciler and the kopf handlers against fakes of their ports (``core.ports``): an in-memory cluster
(``tests/cluster_fake.py``) and traffic source (``tests/traffic_fake.py``). What is written, when nothing is,
what a refusal, a conflict or a stale body does, what is applied in which order, and which profiles are
asked for. The real API server's and Prometheus' side of the same behaviour is in tests/e2e and
tests/integration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import numpy as np
import pytest
from kubernetes.client.exceptions import ApiException

from seasonal_engines import handlers
from seasonal_engines.api import validation
from seasonal_engines.core import reasons, seasons
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable, profile_from_requests
from seasonal_engines.reconciling import Outcome, Reconciler
from tests.cluster_fake import FakeCluster
from tests.traffic_fake import FakeTraffic

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday, 13:00 in Berlin
PROMETHEUS = "http://prometheus.monitoring:9090"
UNREACHABLE = TrafficUnavailable(reasons.PROMETHEUS_UNREACHABLE, "connection refused")


def requests(n: int = 5000, scale: float = 1000.0, seed: int = 1) -> TrafficProfile:
    rng = np.random.default_rng(seed)
    inp = np.maximum(1, rng.lognormal(np.log(scale * 0.7), 0.5, n)).astype(np.int64)
    out = np.maximum(1, rng.lognormal(np.log(scale * 0.2), 0.5, n)).astype(np.int64)
    return profile_from_requests(NOW - timedelta(hours=1), NOW, inp, out, rejected=0, limit_stopped=0)


def manifest(spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "seasonalengines.io/v1alpha1", "kind": "InferenceService",
        "metadata": {"name": "chat", "namespace": "llm", "uid": "u-1", "generation": 1, "resourceVersion": "5"},
        "spec": {"model": {"name": "llama-3-8b", "source": {"pvc": {"claimName": "weights"}}},
                 "hardware": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
                 "engine": {"store": {"claimName": "engines"}},
                 "traffic": {"prometheusUrl": PROMETHEUS, "minSamples": 100}, **(spec or {})},
    }
    if status:
        body["status"] = status
    return body


def written(outcome: Outcome) -> dict[str, Any]:
    """The status an evaluation wrote (it must have written one)."""
    assert outcome.status is not None
    return outcome.status


def stored(cluster: FakeCluster) -> dict[str, Any]:
    """The InferenceService as the fake API server holds it."""
    body = cluster.read_service("llm", "chat")
    assert body is not None
    return body


def reconciler(cluster: FakeCluster, traffic: FakeTraffic | None = None,
               clock: Callable[[], datetime] = lambda: NOW) -> Reconciler:
    source = traffic if traffic is not None else FakeTraffic(trailing=UNREACHABLE)
    return Reconciler(cluster=cluster, clock=clock, traffic_source=lambda url: source)


def test_a_first_evaluation_builds_the_bootstrap_engine_and_records_exactly_that() -> None:
    cluster = FakeCluster()
    body = cluster.add(manifest())
    outcome = reconciler(cluster).reconcile(body)
    jobs = [m for kind, m in cluster.applied if kind == "Job"]
    status = written(outcome)
    assert [j["metadata"]["name"] for j in jobs] == [status["build"]["jobName"]]
    assert status["build"]["jobName"].endswith("-1")
    assert status["buildsStarted"] == 1
    assert stored(cluster)["status"] == status
    synced = {c["type"]: c for c in status["conditions"]}["Synced"]
    assert synced["status"] == "True"
    assert synced["reason"] == "Applied"
    assert outcome.written_from == "5"


def test_a_refused_change_leaves_the_status_as_it_was_and_says_why() -> None:
    cluster = FakeCluster(refuse_applies_with=ApiException(status=403, reason="Forbidden"))
    body = cluster.add(manifest())
    outcome = reconciler(cluster).reconcile(body)
    status = stored(cluster)["status"]
    assert "build" not in status  # no build that never started
    assert status.get("buildsStarted", 0) == 0
    (synced,) = [c for c in status["conditions"] if c["type"] == "Synced"]
    assert synced["status"] == "False"
    assert synced["reason"] == "KubernetesApiError"
    assert "HTTP 403 Forbidden" in synced["message"]
    assert [(e.type, e.reason) for e in outcome.events] == [("Warning", "KubernetesApiError")]


def test_a_status_write_that_meets_a_metadata_change_writes_the_same_decision_again() -> None:
    # kopf's own annotations and finalizer land while the first evaluation runs: the decision still holds.
    cluster = FakeCluster(conflicts_before_write=1)
    body = cluster.add(manifest())
    outcome = reconciler(cluster).reconcile(body)
    assert cluster.status_writes == 1
    jobs = [m["metadata"]["name"] for kind, m in cluster.applied if kind == "Job"]
    assert len(jobs) == 1  # decided once: deciding again could plan (and build) a slightly different engine
    assert outcome.written_from == "6"  # the fresh read's version


def test_a_status_write_that_meets_a_spec_change_is_decided_again_from_the_fresh_object() -> None:
    cluster = FakeCluster()
    body = cluster.add(manifest())
    stored = cluster.objects[("llm", "chat")]
    stored["spec"]["serving"] = {"replicas": 3}  # a person changed the spec meanwhile
    stored["metadata"]["resourceVersion"] = "6"
    outcome = reconciler(cluster).reconcile(body)
    assert cluster.status_writes == 1 and outcome.written_from == "6"
    assert len([k for k, _ in cluster.applied if k == "Job"]) == 2  # decided again, from the new spec


def test_keys_the_operator_drops_are_gone_from_the_written_status() -> None:
    # What the old own-write overlay got wrong: a stored key the decision no longer writes must not survive.
    cluster = FakeCluster()
    body = cluster.add(manifest(phase="RollingOut", someKeyFromAnotherVersion={"x": 1}))
    outcome = reconciler(cluster).reconcile(body)
    assert "someKeyFromAnotherVersion" not in stored(cluster)["status"]
    assert "someKeyFromAnotherVersion" not in written(outcome)


def test_a_body_older_than_our_last_write_is_never_decided_from() -> None:
    cluster = FakeCluster()
    body = cluster.add(manifest())
    memo = kopf.Memo({handlers.MEMO_RECONCILER: reconciler(cluster)})
    posted: list[str] = []

    def post(_: Any, **event: str) -> None:
        posted.append(event["reason"])

    handlers.evaluate(kopf.Body(body), memo, force=True, post=post)  # type: ignore[arg-type]  # a dict as kopf's raw body
    assert cluster.status_writes == 1 and "BuildStarted" in posted
    # A timer (or nudge) fires with the body our write was decided from, before the watch delivered the
    # write (and kopf's own patches can even give such a body a newer resourceVersion): the evaluation reads
    # the object as the API server has it, so the build in status is followed, not started again.
    posted.clear()
    stale = {**body, "metadata": {**body["metadata"], "resourceVersion": "99"}}
    handlers.evaluate(kopf.Body(stale), memo, force=True, post=post)  # type: ignore[arg-type]
    assert "BuildStarted" not in posted
    assert len([k for k, _ in cluster.applied if k == "Job"]) == 1


@pytest.mark.parametrize("raw", [
    {"drift": {"reference": {"input": {"le": [1, 2], "cdf": [0.5]}}}},
    {"rollout": {"engineHash": "ab", "startedAt": "yesterday"}},
    {"buildFailures": -3},
    "not an object",
], ids=["drift-reference", "bad-time", "negative", "not-object"])
def test_an_unreadable_status_starts_afresh_with_a_warning(raw: Any) -> None:
    cluster = FakeCluster()
    body = cluster.add(manifest())
    body["status"] = raw
    outcome = reconciler(cluster).reconcile(body)
    assert ("Warning", "StatusUnreadable") in [(e.type, e.reason) for e in outcome.events]
    assert written(outcome)["build"]["jobName"].endswith("-1")


# --- gather and apply through the ports ------------------------------------------------------------


def test_traffic_plans_the_first_engine_and_the_service_comes_with_its_build() -> None:
    cluster = FakeCluster()
    traffic = FakeTraffic(trailing=requests())
    outcome = reconciler(cluster, traffic).reconcile(cluster.add(manifest()))
    status = written(outcome)
    assert status["build"]["reason"] == reasons.INITIAL, "planned from the traffic, not the bootstrap engine"
    # The engine store's record of the engines held on to is a Job too; the Service comes last.
    assert cluster.kinds() == ["ConfigMap", "Job", "ReferencesJob", "Service"]
    assert cluster.applied[-1] == ("Service", {"colour": None}), "RollingUpdate: every pod of the service"
    assert traffic.asked == ["window"], "no seasons, no discovery: one query"


def test_a_prometheus_that_cannot_be_reached_is_a_condition_and_the_bootstrap_engine_is_built() -> None:
    cluster = FakeCluster()
    outcome = reconciler(cluster, FakeTraffic(trailing=UNREACHABLE)).reconcile(cluster.add(manifest()))
    status = written(outcome)
    traffic = {c["type"]: c for c in status["conditions"]}["TrafficAvailable"]
    assert traffic["status"] == "False"
    assert traffic["reason"] == reasons.PROMETHEUS_UNREACHABLE
    assert status["build"]["reason"] == reasons.BOOTSTRAP


def test_blue_green_points_the_service_at_the_new_colour_only_once_it_serves() -> None:
    cluster = FakeCluster()
    clock = {"now": NOW}
    rec = reconciler(cluster, FakeTraffic(trailing=requests()), clock=lambda: clock["now"])
    body = cluster.add(manifest({"rollout": {"strategy": "BlueGreen"}}))
    def serving_objects() -> list[tuple[str, dict[str, Any]]]:
        return [(kind, m) for kind, m in cluster.applied if kind in ("Deployment", "Service")]

    rec.reconcile(body)
    assert "Job" in cluster.kinds()
    assert serving_objects() == [], "BlueGreen: nothing serves yet, the Service waits"
    cluster.finish_builds()
    clock["now"] = NOW + timedelta(minutes=30)
    rec.reconcile_latest(body)
    (deployment,) = serving_objects()
    assert deployment[0] == "Deployment"
    assert deployment[1]["colour"] == "blue"
    cluster.rollouts_ready = True
    clock["now"] = NOW + timedelta(minutes=40)
    outcome = rec.reconcile_latest(body)
    assert outcome is not None
    assert written(outcome)["servingEngine"]["hash"] == deployment[1]["engine"]
    assert serving_objects() == [deployment, ("Service", {"colour": "blue"})]
    clock["now"] = NOW + timedelta(minutes=45)
    rec.reconcile_latest(body)
    assert len(serving_objects()) == 2, "the same engine serving: nothing is applied again"


def test_only_the_seasons_decide_reads_are_queried_one_per_evaluation_and_kept_an_hour() -> None:
    spec = {"seasons": [
        {"name": "business-hours", "schedule": "0 8 * * 1-5", "timezone": "Europe/Berlin", "duration": "10h",
         "history": 4},
        {"name": "night-batch", "schedule": "0 20 * * *", "timezone": "Europe/Berlin", "duration": "10h",
         "history": 7},
        {"name": "weekend", "schedule": "0 8 * * 6", "timezone": "Europe/Berlin", "duration": "10h",
         "history": 4}]}
    cluster = FakeCluster()
    clock = {"now": NOW}
    traffic = FakeTraffic(trailing=requests())
    rec = reconciler(cluster, traffic, clock=lambda: clock["now"])
    body = cluster.add(manifest(spec))
    parsed = validation.parse_spec(body["spec"])
    needed = [s.name for s in seasons.profiles_needed(parsed, [], NOW)]
    assert needed == ["business-hours", "night-batch"], "Friday 13:00: the active season and the next"
    for minutes in (0, 1, 2, 3):
        clock["now"] = NOW + timedelta(minutes=minutes)
        rec.reconcile_latest(body)
    assert traffic.asked.count("season") == len(needed), "one season query per evaluation, then from cache"
    assert traffic.asked == ["window", "season", "window", "season", "window", "window"]
