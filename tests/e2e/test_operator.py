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
    assert 512 <= build["max_seq_len"] <= 4096, ("planned from the short chat traffic before the shift",
                                                  bed.isvc().get("status"))
    (pod,) = cluster.wait_until(lambda: [p for p in bed.job_pods(job) if p["spec"].get("nodeName")],
                                timeout_s=30, what="the build pod placed by the scheduler")
    node = bed.core.read_node(pod["spec"]["nodeName"])
    assert node.metadata.labels["nvidia.com/gpu.product"] == overrides.get("hardware", {}).get("gpuProduct",
                                                                                             cluster.H100)
    bed.wait_status(lambda s: s.get("phase") == "Building")  # the Job is applied before the status is written
    bed.serve(plan)
    bed.finish(job, cluster.Outcome.SUCCEEDED)
    obj = bed.wait_status(lambda s: s.get("phase") == "Serving", timeout_s=90, what="Serving")
    status = obj["status"]
    assert status["servingEngine"]["hash"] == plan["engine_hash"] and status["engineGeneration"] == 1
    dep = bed.deployment()
    assert dep is not None and dep["status"]["readyReplicas"] == overrides.get("serving", {}).get("replicas", 2)
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
    obj = bed.wait_status(lambda s: "didn't match" in h.conditions(s).get("Building", {}).get("message", ""))
    assert h.conditions(obj["status"])["Building"]["reason"] == "BuildUnschedulable"
    message = h.conditions(obj["status"])["Building"]["message"]
    assert "nvidia.com/gpu.product=NVIDIA-H200" in message and "didn't match" in message, message
    assert bed.wait_event("BuildUnschedulable")["type"] == "Warning"


def drifted_plan(bed: h.Bed, first: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """After the traffic shift: the drift rebuild's Job and plan (the Job still running)."""
    jobs = bed.wait_build_jobs(2, timeout_s=90)
    job = next(j for j in jobs if j["metadata"]["annotations"]["seasonalengines.io/engine-hash-full"]
               != first["engine_hash"])
    return job, bed.plan_of(job)


def test_an_engine_triton_never_reports_ready_is_rolled_back_and_the_old_one_keeps_serving(bed: h.Bed) -> None:
    bed.start_operator()
    first = first_engine_serving(bed, rollout={"readinessTimeout": "10m"})
    job, plan = drifted_plan(bed, first)
    bed.finish(job, cluster.Outcome.SUCCEEDED)  # built, but no Triton will ever serve it (bed.serve not called)
    ready = h.sampling(bed, lambda: "RolledBack" in str((bed.isvc().get("status") or {}).get("conditions")),
                       timeout_s=120)
    assert min(ready) >= 2, f"ready replicas fell below serving.replicas: {ready}"
    status = bed.isvc()["status"]
    assert status["servingEngine"]["hash"] == first["engine_hash"] and status["phase"] == "Degraded"
    assert plan["engine_hash"] in status["failedRollouts"]
    dep = bed.deployment()
    assert dep["metadata"]["annotations"]["seasonalengines.io/engine-hash"] == first["engine_hash"]
    bed.wait_event("RolloutFailed")
    bed.wait_event("RolledBack")


def test_an_operator_killed_mid_build_and_mid_rollout_resumes_without_a_second_job(bed: h.Bed) -> None:
    # One replica with (namespaced) peering, as a chart install with watchNamespaces and peering runs it.
    bed.peering("seasonal-engines", namespaced=True)
    run = bed.start_operator("--peering", "seasonal-engines", pod_id="operator-0")
    # New Triton pods take 20 s to turn Ready: the rollout lasts long enough to be interrupted.
    slow = {"replicas": 2, "template": {"metadata": {"annotations": cluster.pod_fate(ready_after_s=20)}}}
    bed.create(h.manifest(bed.namespace, bed.prometheus_url, serving=slow))
    (job,) = bed.wait_build_jobs(1)
    bed.wait_status(lambda s: s.get("phase") == "Building")
    run.kill()  # SIGKILL mid-build: nothing is remembered but what the cluster holds
    run = bed.start_operator("--peering", "seasonal-engines", pod_id="operator-1")
    plan = bed.plan_of(job)
    bed.serve(plan)
    bed.finish(job, cluster.Outcome.SUCCEEDED)
    bed.wait_status(lambda s: s.get("phase") == "RollingOut", timeout_s=60)
    assert [j["metadata"]["name"] for j in bed.build_jobs()] == [job["metadata"]["name"]]
    run.kill()  # and again mid-rollout
    bed.start_operator("--peering", "seasonal-engines", pod_id="operator-2")
    obj = bed.wait_status(lambda s: s.get("phase") == "Serving", timeout_s=90)
    assert obj["status"]["servingEngine"]["hash"] == plan["engine_hash"]
    assert obj["status"]["engineGeneration"] == 1  # the rollout resumed, once
    assert [j["metadata"]["name"] for j in bed.build_jobs()] == [job["metadata"]["name"]]

def test_a_status_write_that_meets_another_clients_edit_is_decided_again(bed: h.Bed) -> None:
    run = bed.start_operator("--conflict-once")
    bed.create(h.manifest(bed.namespace, bed.prometheus_url))
    obj = bed.wait_status(lambda s: s.get("phase") == "Building")
    # The other client's edit landed first; the operator's write met it (409), read again, saw that only the
    # metadata had changed, and wrote the same status with the fresh resourceVersion.
    assert obj["metadata"]["labels"]["testbed.seasonalengines.io/touched"] == "once"
    assert "its metadata changed while it was evaluated; writing the same status again" in run.output()
    assert len(bed.build_jobs()) == 1


def test_a_rollover_without_a_spare_gpu_waits_blocked_then_rolls_back_while_the_old_engine_serves(
        bed: h.Bed) -> None:
    # A pool of two H200 GPUs: one serves, one builds; the rollover's surge pod then finds none.
    bed.plane.add_gpu_node(f"h200-{bed.namespace}"[:63], "NVIDIA-H200", 2)
    run = bed.start_operator()
    first = first_engine_serving(bed, hardware={"gpuProduct": "NVIDIA-H200"}, serving={"replicas": 1},
                                 rollout={"readinessTimeout": "20m"})
    job, plan = drifted_plan(bed, first)
    run.stop()  # hold the operator while the build's GPU goes to another workload
    filler = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "other-workload"}, "spec": {
        "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H200"},
        "containers": [{"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}
    bed.core.create_namespaced_pod(bed.namespace, filler)
    bed.finish(job, cluster.Outcome.SUCCEEDED)
    cluster.wait_until(lambda: bed.core.read_namespaced_pod("other-workload", bed.namespace).spec.node_name,
                       timeout_s=60, what="the other workload placed on the freed GPU")
    bed.serve(plan)
    bed.start_operator()
    blocked = bed.wait_status(lambda s: h.conditions(s).get("RolloutBlocked", {}).get("status") == "True",
                              timeout_s=60)
    message = h.conditions(blocked["status"])["RolloutBlocked"]["message"]
    assert "nvidia.com/gpu.product=NVIDIA-H200" in message and first["engine_hash"][:12] in message, message
    ready = h.sampling(bed, lambda: "RolledBack" in str((bed.isvc().get("status") or {}).get("conditions")),
                       timeout_s=120)
    assert min(ready) >= 1, f"the serving engine stopped serving while the rollover waited: {ready}"
    status = bed.isvc()["status"]
    assert status["servingEngine"]["hash"] == first["engine_hash"]
    assert h.conditions(status)["RolloutBlocked"]["status"] == "False"


def test_two_replicas_elect_one_active_and_the_standby_takes_over_when_it_dies(bed: h.Bed) -> None:
    from seasonal_engines.cli.run import auto_priority

    name = f"peering-{bed.namespace}"[:63]
    bed.peering(name, namespaced=False)
    # The chart's two replicas: all namespaces, cluster-wide peering, each replica its own pod name (and so
    # its own priority: with equal priorities kopf would pause both).
    pods = ("seasonal-engines-7d4f9-a", "seasonal-engines-7d4f9-b")
    assert auto_priority(pods[0]) != auto_priority(pods[1])
    runs = [bed.start_operator("--peering", name, "--peering-lifetime", "5", all_namespaces=True, pod_id=pod)
            for pod in pods]
    active, standby = sorted(runs, key=lambda r: auto_priority(pods[runs.index(r)]), reverse=True)
    cluster.wait_until(lambda: all("Initial authentication has finished" in r.output() for r in runs),
                       timeout_s=60, what="both replicas up")
    bed.create(h.manifest(bed.namespace, bed.prometheus_url))
    (job,) = bed.wait_build_jobs(1)
    bed.wait_status(lambda s: s.get("phase") == "Building")
    # Only the replica of the higher priority acts; the other watches.
    assert "started for engine" in active.output() and "started for engine" not in standby.output()
    active.kill()
    plan = bed.plan_of(job)
    bed.serve(plan)
    bed.finish(job, cluster.Outcome.SUCCEEDED)
    # The standby takes over once the dead replica's peering record expires (5 s) and carries the build on.
    obj = bed.wait_status(lambda s: s.get("phase") == "Serving", timeout_s=90)
    assert obj["status"]["servingEngine"]["hash"] == plan["engine_hash"]
    assert "rolling out engine" in standby.output()
    assert [j["metadata"]["name"] for j in bed.build_jobs()] == [job["metadata"]["name"]]

def test_blue_green_switches_the_service_only_once_the_new_colour_is_ready(bed: h.Bed) -> None:
    bed.start_operator()
    bed.create(h.manifest(bed.namespace, bed.prometheus_url, rollout={"strategy": "BlueGreen"}))
    (job,) = bed.wait_build_jobs(1)
    first = bed.plan_of(job)
    bed.serve(first)
    bed.finish(job, cluster.Outcome.SUCCEEDED)
    bed.wait_status(lambda s: s.get("phase") == "Serving", timeout_s=90)

    def selected() -> str | None:
        return (bed.core.read_namespaced_service(f"{h.NAME}-triton", bed.namespace).spec.selector or {}).get(
            "seasonalengines.io/colour")

    assert selected() == "blue" and bed.deployment(f"{h.NAME}-triton-blue") is not None
    job, plan = drifted_plan(bed, first)
    bed.serve(plan)
    bed.finish(job, cluster.Outcome.SUCCEEDED)
    seen: list[tuple[str | None, int]] = []

    def switched() -> bool:
        colour = selected()
        green = bed.deployment(f"{h.NAME}-triton-green")
        seen.append((colour, int(((green or {}).get("status") or {}).get("readyReplicas") or 0)))
        return (bed.isvc().get("status") or {}).get("engineGeneration") == 2

    cluster.wait_until(switched, timeout_s=120, what="generation 2 on green", interval_s=0.2)
    assert selected() == "green"
    # The Service named green only once green had every replica ready.
    assert all(ready >= 2 for colour, ready in seen if colour == "green"), seen
    blue = bed.deployment(f"{h.NAME}-triton-blue")
    assert blue["metadata"]["annotations"]["seasonalengines.io/engine-hash"] == first["engine_hash"]
