"""The operator end to end: kopf's KopfRunner against kmock, the real Prometheus (backfilled traffic) and
the real tritonserver serving the CPU stand-in engine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("SEASONAL_TICK_SECONDS", "0.5")  # before the handlers module is imported

import kopf.testing  # noqa: E402

from tests.e2e import harness as h  # noqa: E402
from tests.testbed import kube  # noqa: E402

HANDLERS = ["run", "-A", "--standalone", "-m", "seasonal_engines.handlers"]


@pytest.fixture
def prometheus_url(prometheus_factory: Any) -> str:
    return str(prometheus_factory(h.openmetrics_text()).url)


@pytest.fixture
def bed(kmock_k8s: kube.KubeEmulator, tmp_path: Path, triton_factory: Any) -> Iterator[h.Harness]:
    harness = h.Harness(kmock_k8s, tmp_path, triton_factory)
    harness.install_operator()
    yield harness


def _conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("conditions", [])}


def _first_engine_serving(bed: h.Harness, prometheus_url: str, **overrides: Any) -> dict[str, Any]:
    """create → Job with the planned flags → Job complete → Deployment rolls → Triton ready → Serving."""
    bed.k8s.create(kube.INFERENCE_SERVICES, h.NAMESPACE, h.manifest(prometheus_url, **overrides))
    (job,) = bed.wait_jobs(1)
    plan = bed.plan_of(job)
    # The Job carries the plan the traffic asked for: short chat requests before the shift.
    build = plan["build"]
    assert 512 <= build["max_seq_len"] <= 4096 and build["max_input_len"] <= build["max_seq_len"]
    assert job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert job["spec"]["template"]["spec"]["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert h.deployments.deployment_name(h.NAME) not in [d["metadata"]["name"] for d in
                                                         bed.k8s.list(h.DEPLOYMENTS, h.NAMESPACE)]
    server = bed.serve(plan)
    bed.complete_job(job)
    dep = bed.wait_deployment(plan["engine_hash"])
    bed.roll_pods(dep, plan["engine_hash"], server.http_port)
    obj = bed.wait_status(lambda s: s.get("phase") == "Serving")
    status = obj["status"]
    assert status["servingEngine"]["hash"] == plan["engine_hash"]
    assert status["engineGeneration"] == 1
    assert status["envelope"] == f"in {build['max_input_len']} / seq {build['max_seq_len']} / bs " \
                                 f"{build['max_batch_size']}"
    conds = _conditions(status)
    assert conds["EngineReady"]["status"] == "True" and conds["SpecValid"]["status"] == "True"
    assert conds["TrafficAvailable"]["status"] == "True"
    reasons = bed.event_reasons()
    for expected in ("BuildStarted", "BuildSucceeded", "RolloutStarted", "RolloutSucceeded"):
        assert expected in reasons, reasons
    return plan


def _drift_rebuild(bed: h.Harness, first: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The traffic shift passes the window: drift confirms a breach and a larger engine is built."""
    jobs = bed.wait_jobs(2, timeout_s=60)
    job = next(j for j in jobs if j["metadata"]["annotations"][h.build_jobs.ANNOTATION_FULL_HASH]
               != first["engine_hash"])
    plan = bed.plan_of(job)
    assert plan["build"]["max_seq_len"] > first["build"]["max_seq_len"], (bed.isvc()["status"], [
        (e.get("reason"), e.get("message")) for e in bed.events()])
    status = bed.isvc()["status"]
    assert status["drift"]["state"] == "Breach" or status["build"]["reason"] == "DriftBreach"
    return job, plan


def test_create_build_roll_serve_then_drift_rebuild_and_rollover(bed: h.Harness, prometheus_url: str,
                                                                  kubectl_bin: Path) -> None:
    with kopf.testing.KopfRunner(HANDLERS, timeout=120) as runner:
        first = _first_engine_serving(bed, prometheus_url)
        job, plan = _drift_rebuild(bed, first)
        assert "Drifted" in _conditions(bed.isvc()["status"])
        server = bed.serve(plan)
        bed.complete_job(job)
        dep = bed.wait_deployment(plan["engine_hash"])
        bed.roll_pods(dep, plan["engine_hash"], server.http_port)
        obj = bed.wait_status(lambda s: s.get("engineGeneration") == 2 and s.get("phase") == "Serving")
        history = [e["hash"] for e in obj["status"]["engineHistory"]]
        assert history[:2] == [plan["engine_hash"], first["engine_hash"]]
        table = _kubectl_get(bed, kubectl_bin)
    assert runner.exit_code == 0, runner.output
    # What `kubectl get` shows, through the CRD's own printer columns.
    header, row = table.splitlines()[:2]
    assert header.split()[:5] == ["NAME", "MODEL", "MODE", "PHASE", "SEASON"]
    build = plan["build"]
    assert "Serving" in row and f"in {build['max_input_len']} / seq {build['max_seq_len']}" in row


def _kubectl_get(bed: h.Harness, kubectl: Path) -> str:
    """`kubectl get` with the CRD's printer columns (kmock serves no server-side tables, so the columns are
    passed as custom-columns: the same JSONPaths, evaluated by kubectl on the live object)."""
    import subprocess

    import yaml

    crd = yaml.safe_load((Path(__file__).resolve().parents[2] / "crds" /
                          "inferenceservices.seasonalengines.io.yaml").read_text())
    columns = ["NAME:.metadata.name"] + [f"{c['name'].upper()}:{c['jsonPath']}" for c in
                                         crd["spec"]["versions"][0]["additionalPrinterColumns"] if c["type"] != "date"]
    out = subprocess.run([str(kubectl), "--kubeconfig", str(bed.k8s.kubeconfig), "get",
                          "inferenceservices.seasonalengines.io", "-n", h.NAMESPACE, "-o",
                          "custom-columns=" + ",".join(columns)], capture_output=True, text=True, timeout=30,
                         env={"HOME": str(bed.workdir), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_triton_never_ready_rolls_back(bed: h.Harness, prometheus_url: str) -> None:
    with kopf.testing.KopfRunner(HANDLERS, timeout=120) as runner:
        first = _first_engine_serving(bed, prometheus_url)
        job, plan = _drift_rebuild(bed, first)
        bed.complete_job(job)
        dep = bed.wait_deployment(plan["engine_hash"])
        # The new pods come up, but their Triton never answers (nothing listens on the port).
        bed.roll_pods(dep, plan["engine_hash"], port=1)
        back = bed.wait_deployment(first["engine_hash"], timeout_s=60)  # rollback after readinessTimeout
        bed.roll_pods(back, first["engine_hash"], bed.tritons[first["engine_hash"]].http_port)
        obj = bed.wait_status(lambda s: "RolledBack" in str(s.get("conditions")), timeout_s=30)
        status = obj["status"]
        assert status["servingEngine"]["hash"] == first["engine_hash"]
        assert status["phase"] == "Degraded"
        assert plan["engine_hash"] in status["failedRollouts"]
        assert {"RolloutFailed", "RolledBack"} <= set(bed.event_reasons())
    assert runner.exit_code == 0, runner.output


def test_failed_build_job_sets_condition_and_event_and_never_rolls_out(bed: h.Harness, prometheus_url: str) -> None:
    with kopf.testing.KopfRunner(HANDLERS, timeout=60) as runner:
        bed.k8s.create(kube.INFERENCE_SERVICES, h.NAMESPACE, h.manifest(prometheus_url))
        (job,) = bed.wait_jobs(1)
        bed.complete_job(job, ok=False, message="trtllm-build: CUDA out of memory")
        obj = bed.wait_status(lambda s: _conditions(s).get("Building", {}).get("reason") == "BuildFailed")
        conds = _conditions(obj["status"])
        assert "CUDA out of memory" in conds["Building"]["message"]
        assert conds["Degraded"]["status"] == "True"
        assert obj["status"]["phase"] == "Degraded"
        assert "BuildFailed" in bed.event_reasons()
        assert bed.k8s.list(h.DEPLOYMENTS, h.NAMESPACE) == [], "a failed build never rolls out"
    assert runner.exit_code == 0, runner.output


def test_restart_mid_build_starts_no_second_job(bed: h.Harness, prometheus_url: str) -> None:
    with kopf.testing.KopfRunner(HANDLERS, timeout=60) as runner:
        bed.k8s.create(kube.INFERENCE_SERVICES, h.NAMESPACE, h.manifest(prometheus_url))
        (job,) = bed.wait_jobs(1)
        bed.wait_status(lambda s: s.get("phase") == "Building")
    assert runner.exit_code == 0, runner.output
    bed.install_operator()  # a new process: nothing remembered but what the cluster holds
    with kopf.testing.KopfRunner(HANDLERS, timeout=60) as runner:
        bed.wait_status(lambda s: s.get("phase") == "Building")
        import time

        time.sleep(3)  # several ticks of the restarted operator
        jobs = bed.k8s.list(h.JOBS, h.NAMESPACE)
        assert [j["metadata"]["name"] for j in jobs] == [job["metadata"]["name"]]
    assert runner.exit_code == 0, runner.output


def test_invalid_spec_sets_spec_valid_false_and_the_operator_keeps_working(bed: h.Harness,
                                                                            prometheus_url: str) -> None:
    bad = h.manifest(prometheus_url, sizing={"inputQuantile": 1.5})
    bad["metadata"]["name"] = "broken"
    with kopf.testing.KopfRunner(HANDLERS, timeout=60) as runner:
        bed.k8s.create(kube.INFERENCE_SERVICES, h.NAMESPACE, bad)
        obj = bed.k8s.wait_for(kube.INFERENCE_SERVICES, h.NAMESPACE, "broken",
                               lambda o: (o.get("status") or {}).get("phase") == "Invalid", 30)
        cond = _conditions(obj["status"])["SpecValid"]
        assert cond["status"] == "False" and "spec.sizing.inputQuantile" in cond["message"]
        assert "InvalidSpec" in bed.event_reasons()
        bed.k8s.create(kube.INFERENCE_SERVICES, h.NAMESPACE, h.manifest(prometheus_url))
        bed.wait_jobs(1)  # the good one is served despite the bad one
        assert bed.k8s.list(h.JOBS, h.NAMESPACE)[0]["metadata"]["labels"][
            "seasonalengines.io/inferenceservice"] == h.NAME
    assert runner.exit_code == 0, runner.output


def test_blue_green_switches_the_service_only_when_the_new_colour_is_ready(bed: h.Harness,
                                                                           prometheus_url: str) -> None:
    with kopf.testing.KopfRunner(HANDLERS, timeout=60) as runner:
        bed.k8s.create(kube.INFERENCE_SERVICES, h.NAMESPACE,
                       h.manifest(prometheus_url, rollout={"strategy": "BlueGreen", "readinessTimeout": "30m"}))
        (job,) = bed.wait_jobs(1)
        plan = bed.plan_of(job)
        server = bed.serve(plan)
        bed.complete_job(job)
        blue = bed.k8s.wait_for(h.DEPLOYMENTS, h.NAMESPACE, "chat-triton-blue", lambda d: True)
        service = bed.k8s.get("v1/services", h.NAMESPACE, "chat-triton")
        assert "seasonalengines.io/colour" not in service["spec"]["selector"], "no colour is live before ready"
        bed.roll_pods(blue, plan["engine_hash"], server.http_port)
        bed.wait_status(lambda s: s.get("phase") == "Serving")
        switched = bed.k8s.wait_for("v1/services", h.NAMESPACE, "chat-triton", lambda s: s["spec"]["selector"].get(
            "seasonalengines.io/colour") == "blue")
        assert switched["spec"]["selector"]["seasonalengines.io/inferenceservice"] == h.NAME
    assert runner.exit_code == 0, runner.output
