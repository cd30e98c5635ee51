"""The reconciler and the kopf handlers against an in-memory cluster (``tests/cluster_fake.py``): what is
written, when nothing is, and what a refusal, a conflict or a stale body does. The real API server's side of
the same behaviour is in tests/e2e."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import kopf
import pytest
from kubernetes.client.exceptions import ApiException

from seasonal_engines import handlers
from seasonal_engines.reconciling import Outcome, Reconciler
from tests.cluster_fake import FakeCluster

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def closed_port_url() -> str:
    """A loopback URL nobody listens on: Prometheus is unreachable, at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def manifest(**status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "seasonalengines.io/v1alpha1", "kind": "InferenceService",
        "metadata": {"name": "chat", "namespace": "llm", "uid": "u-1", "generation": 1, "resourceVersion": "5"},
        "spec": {"model": {"name": "llama-3-8b", "source": {"pvc": {"claimName": "weights"}}},
                 "hardware": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
                 "engine": {"store": {"claimName": "engines"}},
                 "traffic": {"prometheusUrl": closed_port_url(), "minSamples": 100}},
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


def reconciler(cluster: FakeCluster) -> Reconciler:
    return Reconciler(cluster=cluster, clock=lambda: NOW)  # type: ignore[arg-type]


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
