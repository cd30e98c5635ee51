"""The operator end to end, on the real control plane: the real scheduler places build pods on the kwok GPU
node, the real Job and Deployment controllers run them, the real Prometheus holds the traffic and the real
tritonserver serves the CPU stand-in engine. The operator runs as the Helm chart's ServiceAccount."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e import harness as h
from tests.testbed import cluster

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.triton]


def first_engine_serving(bed: h.Bed, **overrides: Any) -> dict[str, Any]:
    """create → build Job placed on the H100 node → Complete → Deployment rolled → Triton verified → Serving."""
    bed.create(h.manifest(bed.namespace, bed.prometheus_url, **overrides))
    (job,) = bed.wait_build_jobs(1)
    plan = bed.plan_of(job)
    build = plan["build"]
    assert 512 <= build["max_seq_len"] <= 4096, "planned from the short chat traffic before the shift"
    (pod,) = cluster.wait_until(lambda: [p for p in bed.job_pods(job) if p["spec"].get("nodeName")],
                                timeout_s=30, what="the build pod placed by the scheduler")
    assert pod["spec"]["nodeName"] == "gpu-h100-0"
    assert bed.isvc()["status"]["phase"] == "Building"
    bed.serve(plan)
    bed.finish(job, cluster.Outcome.SUCCEEDED)
    obj = bed.wait_status(lambda s: s.get("phase") == "Serving", timeout_s=90, what="Serving")
    status = obj["status"]
    assert status["servingEngine"]["hash"] == plan["engine_hash"] and status["engineGeneration"] == 1
    dep = bed.deployment()
    assert dep is not None and dep["status"]["readyReplicas"] == 2
    assert dep["metadata"]["annotations"]["seasonalengines.io/engine-hash"] == plan["engine_hash"]
    conds = h.conditions(status)
    assert conds["EngineReady"]["status"] == "True" and conds["Synced"]["status"] == "True"
    for expected in ("BuildStarted", "BuildSucceeded", "RolloutStarted", "RolloutSucceeded"):
        bed.wait_event(expected)
    return plan


def test_create_build_serve_then_drift_rebuild_and_a_rollover_that_never_drops_a_ready_replica(bed: h.Bed) -> None:
    bed.start_operator()
    first = first_engine_serving(bed)
    # The traffic shift (12 operator-minutes in) passes the 10-minute window: drift confirms a breach.
    jobs = bed.wait_build_jobs(2, timeout_s=90)
    job = next(j for j in jobs if j["metadata"]["annotations"]["seasonalengines.io/engine-hash-full"]
               != first["engine_hash"])
    plan = bed.plan_of(job)
    assert plan["build"]["max_seq_len"] > first["build"]["max_seq_len"]
    bed.wait_event("CoverageBreach")  # condition Drifted turned True, with its Event
    bed.serve(plan)
    bed.finish(job, cluster.Outcome.SUCCEEDED)
    ready = h.sampling(bed, lambda: (bed.isvc().get("status") or {}).get("engineGeneration") == 2,
                       timeout_s=120)
    assert min(ready) >= 2, f"ready replicas fell below serving.replicas during the rollover: {ready}"
    status = bed.isvc()["status"]
    assert status["phase"] == "Serving"
    assert [e["hash"] for e in status["engineHistory"]][:2] == [plan["engine_hash"], first["engine_hash"]]
    # kubectl shows the CRD's printer columns, served by the real API server.
    table = bed.plane.kubectl("get", "inferenceservices.seasonalengines.io", "-n", bed.namespace).stdout
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "MODEL", "PHASE", "SEASON", "ENVELOPE", "AGE"]
    assert "Serving" in row and f"seq {plan['build']['max_seq_len']}" in row


def test_a_failed_build_gets_a_job_of_its_own_after_backoff_and_the_failed_one_stays(bed: h.Bed) -> None:
    bed.start_operator()
    bed.create(h.manifest(bed.namespace, bed.prometheus_url))
    (first,) = bed.wait_build_jobs(1)
    bed.finish(first, cluster.Outcome.FAILED)
    failed = bed.wait_status(lambda s: h.conditions(s).get("Building", {}).get("reason") == "BuildFailed")
    assert "retrying after 2m" in h.conditions(failed["status"])["Building"]["message"]
    assert failed["status"]["phase"] == "Degraded" and bed.wait_event("BuildFailed")["type"] == "Warning"
    assert bed.deployment() is None, "a failed build never rolls out"
    jobs = bed.wait_build_jobs(2, timeout_s=60)  # 2 operator-minutes of backoff: about 2 s here
    second = jobs[1]
    assert first["metadata"]["name"].endswith("-1") and second["metadata"]["name"].endswith("-2")
    assert bed.job_condition(first) == "Failed", "the failed Job stays for its logs, apart from the new one"
    plan = bed.plan_of(second)
    bed.serve(plan)
    bed.finish(second, cluster.Outcome.SUCCEEDED)
    obj = bed.wait_status(lambda s: s.get("phase") == "Serving", timeout_s=90)
    assert obj["status"]["servingEngine"]["hash"] == plan["engine_hash"]
    assert obj["status"]["buildFailures"] == 0
    assert len(bed.build_jobs()) == 2


def test_a_build_that_no_node_can_take_says_which_gpu_it_waits_for(bed: h.Bed) -> None:
    bed.start_operator()
    # A GPU with a preset but no node in this cluster: the real scheduler cannot place the build pod.
    bed.create(h.manifest(bed.namespace, bed.prometheus_url, hardware={"gpuProduct": "NVIDIA-H200"}))
    obj = bed.wait_status(lambda s: h.conditions(s).get("Building", {}).get("reason") == "BuildUnschedulable")
    message = h.conditions(obj["status"])["Building"]["message"]
    assert "nvidia.com/gpu.product=NVIDIA-H200" in message and "didn't match" in message, message
    assert bed.wait_event("BuildUnschedulable")["type"] == "Warning"
