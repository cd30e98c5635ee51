"""End-to-end harness: the operator (``tests/e2e/operator_process.py``, a process of its own) against the real
control plane (``tests/testbed/cluster.py``: etcd, kube-apiserver, controller-manager, scheduler, kwok), the
real Prometheus (backfilled traffic) and the real tritonserver serving the CPU stand-in engine.

Nothing here writes the status of a Job, a Deployment or a pod: the Job and Deployment controllers do, the
scheduler places pods, kwok plays their lifecycle. The harness does what a GPU node would have done besides:
it builds the stand-in engine a build Job's plan asks for and starts a real Triton on it, telling the
operator's readiness seam where that Triton listens. The operator authenticates as the Helm chart's
ServiceAccount, with the chart's RBAC, so every call it makes is judged by the real authorizer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from kubernetes import client as k8s

from seasonal_engines.core import build_jobs, presets
from seasonal_engines.traces import openmetrics
from seasonal_engines.traces.readers import Trace
from tests.testbed import cluster

REPO = Path(__file__).resolve().parents[2]
NAME = "chat"
OPERATOR_NAMESPACE = "seasonal-engines"
OPERATOR_ACCOUNT = "se-seasonal-engines"   # the chart's ServiceAccount for release "se"
SPEEDUP = 60.0                             # 1 s of wall time = 1 min of operator time
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # operator time when a test starts
SHIFT_AT = T0 + timedelta(minutes=12)       # traffic grows here (operator time)
GROUP, VERSION, PLURAL = "seasonalengines.io", "v1alpha1", "inferenceservices"


def traffic_trace(rate_per_min: float = 30.0, seed: int = 7) -> Trace:
    """Short chat requests until SHIFT_AT, then long ones: 5 hours around T0, Poisson arrivals."""
    rng = np.random.default_rng(seed)
    start, end = (T0 - timedelta(hours=2)).timestamp(), (T0 + timedelta(hours=3)).timestamp()
    n = rng.poisson(rate_per_min * (end - start) / 60)
    ts = np.sort(rng.uniform(start, end, n))
    late = ts >= SHIFT_AT.timestamp()
    inp = np.where(late, rng.lognormal(np.log(2500), 0.3, n), rng.lognormal(np.log(300), 0.4, n))
    out = np.where(late, rng.lognormal(np.log(900), 0.3, n), rng.lognormal(np.log(120), 0.4, n))
    return Trace(timestamps_s=ts, input_tokens=np.maximum(1, inp).astype(np.int64),
                 output_tokens=np.maximum(1, out).astype(np.int64))


def openmetrics_text() -> str:
    return openmetrics.to_text(traffic_trace(), presets.SEASONAL, interval_s=60.0, labels={"model": NAME})


def manifest(namespace: str, prometheus_url: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": {"name": "llama-3-8b", "source": {"pvc": {"claimName": "weights"}}},
        "hardware": {"gpuProduct": cluster.H100},
        "engine": {"store": {"claimName": "engines"}, "buildDeadline": "2h"},
        "traffic": {"prometheusUrl": prometheus_url, "preset": "seasonal",
                    "selector": [{"label": "model", "value": NAME}], "window": "10m",
                    "evaluationInterval": "1m", "minSamples": 100},
        "drift": {"consecutiveEvaluations": 2, "breachFraction": 0.01, "minRebuildInterval": "1m"},
        "rollout": {"readinessTimeout": "30m"},
        # New Triton pods turn Ready a few seconds after they start (kwok), so a rollover is seen happening.
        "serving": {"replicas": 2, "template": {"metadata": {"annotations": cluster.pod_fate(ready_after_s=3)}}},
    }
    for key, value in overrides.items():
        spec[key] = {**spec.get(key, {}), **value} if isinstance(value, dict) else value
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService",
            "metadata": {"name": NAME, "namespace": namespace}, "spec": spec}


def install_operator_account(plane: cluster.ControlPlane, helm: Path, workdir: Path) -> Path:
    """The chart's ServiceAccount and RBAC, exactly as `helm install` renders them, and a kubeconfig for it."""
    rendered = subprocess.run(
        [str(helm), "template", "se", str(REPO / "charts" / "seasonal-engines"), "--namespace", OPERATOR_NAMESPACE,
         "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    plane.kubectl("create", "namespace", OPERATOR_NAMESPACE, check=False)
    plane.kubectl("apply", "--server-side", "-f", "-", input=rendered)
    return plane.service_account_kubeconfig(OPERATOR_NAMESPACE, OPERATOR_ACCOUNT, workdir / "operator.kubeconfig",
                                            create=False)


@dataclass
class OperatorRun:
    process: subprocess.Popen[str]
    log: Path

    def kill(self) -> None:
        """SIGKILL: no cleanup, no peering goodbye, as a node failure or an OOM kill ends it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Bed:
    plane: cluster.ControlPlane
    namespace: str
    workdir: Path
    prometheus_url: str
    operator_kubeconfig: Path
    triton_factory: Callable[..., Any]
    origin: float = field(default_factory=time.time)  # wall time at which the operators' clock reads T0
    operators: list[OperatorRun] = field(default_factory=list)
    tritons: dict[str, Any] = field(default_factory=dict)
    _cluster_peerings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = self.workdir / "engines"
        self.store.mkdir(parents=True, exist_ok=True)
        self.triton_map = self.workdir / "triton-map.json"
        self.triton_map.write_text("{}")
        self.api = self.plane.api_client()
        self.custom = k8s.CustomObjectsApi(self.api)
        self.core = k8s.CoreV1Api(self.api)
        self.batch = k8s.BatchV1Api(self.api)
        self.apps = k8s.AppsV1Api(self.api)
        self._volumes()

    def _volumes(self) -> None:
        """The model and engine-store claims the pods mount, bound to static PVs (no storage runs here)."""
        for claim in ("weights", "engines"):
            pv = f"{self.namespace}-{claim}"
            self.core.create_persistent_volume({
                "metadata": {"name": pv}, "spec": {
                    "capacity": {"storage": "1Ti"}, "accessModes": ["ReadWriteMany", "ReadOnlyMany"],
                    "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "",
                    "hostPath": {"path": f"/nonexistent/{pv}"},
                    "claimRef": {"namespace": self.namespace, "name": claim}}})
            self.core.create_namespaced_persistent_volume_claim(self.namespace, {
                "metadata": {"name": claim}, "spec": {
                    "accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": pv,
                    "resources": {"requests": {"storage": "1Ti"}}}})
        for claim in ("weights", "engines"):
            cluster.wait_until(lambda c=claim: self.core.read_namespaced_persistent_volume_claim(
                c, self.namespace).status.phase == "Bound", timeout_s=30, what=f"PVC {claim} bound")

    def close(self) -> None:
        for run in self.operators:
            run.kill()
        for name in self._cluster_peerings:
            self.plane.kubectl("delete", "clusterkopfpeerings.kopf.dev", name, "--ignore-not-found", check=False)
        for claim in ("weights", "engines"):
            try:
                self.core.delete_persistent_volume(f"{self.namespace}-{claim}")
            except k8s.exceptions.ApiException:
                pass
        self.api.close()

    # --- the operator ---------------------------------------------------------------------

    def start_operator(self, *args: str, all_namespaces: bool = False, pod_id: str | None = None) -> OperatorRun:
        """An operator process; ``pod_id`` is its $POD_ID, as the chart sets it from the pod's name (kopf's
        peering identity, and what ``--priority auto`` derives each replica's priority from)."""
        log = self.workdir / f"operator-{len(self.operators)}.log"
        if not self.operators:
            self.origin = time.time()  # the scenario's clock starts with its first operator, at T0
        scope = ["--all-namespaces"] if all_namespaces else ["--namespace", self.namespace]
        command = [sys.executable, "-m", "tests.e2e.operator_process", *scope, "--metrics-port", "0",
                   "--liveness", "", "--tick", "0.5", "--log-format", "plain",
                   "--clock-origin", repr(self.origin), "--clock-start", T0.isoformat(),
                   "--speedup", str(SPEEDUP), "--triton-map", str(self.triton_map),
                   # Build pods run until the test says how they end (finish()), as a GPU build takes its time.
                   "--build-pod-annotation", f"{cluster.OUTCOME_ANNOTATION}={cluster.Outcome.RUNNING.value}", *args]
        if "--peering" not in args:
            command.append("--standalone")
        env = {**os.environ, "KUBECONFIG": str(self.operator_kubeconfig), "PYTHONUNBUFFERED": "1"}
        env.pop("POD_ID", None)
        if pod_id is not None:
            env["POD_ID"] = pod_id
        with log.open("w") as out:
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        run = OperatorRun(process, log)
        self.operators.append(run)
        return run

    def peering(self, name: str, *, namespaced: bool) -> None:
        """The kopf peering object the chart creates (ClusterKopfPeering, or a KopfPeering in the namespace)."""
        kind = "KopfPeering" if namespaced else "ClusterKopfPeering"
        meta = {"name": name, **({"namespace": self.namespace} if namespaced else {})}
        self.create({"apiVersion": "kopf.dev/v1", "kind": kind, "metadata": meta})
        if not namespaced:
            self._cluster_peerings.append(name)

    def now(self) -> datetime:
        """The operators' clock."""
        return T0 + timedelta(seconds=(time.time() - self.origin) * SPEEDUP)

    # --- reading the cluster ------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> None:
        self.plane.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(body))

    def isvc(self, name: str = NAME) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name))

    def wait_status(self, predicate: Callable[[dict[str, Any]], bool], *, timeout_s: float = 60.0,
                    what: str = "status", name: str = NAME) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            obj = self.isvc(name)
            return obj if predicate(obj.get("status") or {}) else None
        try:
            return cluster.wait_until(check, timeout_s=timeout_s, what=what)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\nstatus: {json.dumps(self.isvc(name).get('status'), indent=1)[:4000]}\n"
                               f"operator log tail:\n{self._logs_tail()}") from None

    def _logs_tail(self) -> str:
        return "\n".join(run.output()[-3000:] for run in self.operators)

    def build_jobs(self) -> list[dict[str, Any]]:
        items = self.api.sanitize_for_serialization(self.batch.list_namespaced_job(
            self.namespace, label_selector="app.kubernetes.io/component=engine-build").items)
        return sorted(items, key=lambda j: j["metadata"]["creationTimestamp"] + j["metadata"]["name"])

    def wait_build_jobs(self, count: int, *, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        try:
            def enough() -> list[dict[str, Any]] | None:
                jobs = self.build_jobs()
                return jobs if len(jobs) >= count else None
            return cluster.wait_until(enough, timeout_s=timeout_s, what=f"{count} build Jobs")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\nstatus: {json.dumps(self.isvc().get('status'), indent=1)[:3000]}\n"
                               f"operator log tail:\n{self._logs_tail()}") from None

    def job_condition(self, job: dict[str, Any]) -> str | None:
        """Complete or Failed, as the Job controller wrote it (None while it runs)."""
        live = self.api.sanitize_for_serialization(self.batch.read_namespaced_job(job["metadata"]["name"],
                                                                                 self.namespace))
        for c in (live.get("status") or {}).get("conditions") or []:
            if c["status"] == "True" and c["type"] in ("Complete", "Failed"):
                return str(c["type"])
        return None

    def job_pods(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        return self.api.sanitize_for_serialization(self.core.list_namespaced_pod(
            self.namespace, label_selector=f"batch.kubernetes.io/job-name={job['metadata']['name']}").items)

    def finish(self, job: dict[str, Any], outcome: cluster.Outcome, *, timeout_s: float = 60.0) -> None:
        """End a build Job's pods as ``outcome`` (kwok plays it) until the Job controller calls the Job done."""
        want = "Complete" if outcome == cluster.Outcome.SUCCEEDED else "Failed"

        def done() -> bool:
            for pod in self.job_pods(job):
                notes = pod["metadata"].get("annotations") or {}
                if notes.get(cluster.OUTCOME_ANNOTATION) != outcome.value and pod["spec"].get("nodeName"):
                    self.core.patch_namespaced_pod(pod["metadata"]["name"], self.namespace, {"metadata": {
                        "annotations": cluster.pod_fate(outcome, run_for_s=0.5)}})
            return self.job_condition(job) == want

        cluster.wait_until(done, timeout_s=timeout_s, what=f"Job {job['metadata']['name']} {want}", interval_s=0.5)

    def plan_of(self, job: dict[str, Any]) -> dict[str, Any]:
        engine_hash = job["metadata"]["annotations"][build_jobs.ANNOTATION_FULL_HASH]
        cm = self.core.read_namespaced_config_map(build_jobs.plan_config_map_name("llama-3-8b", engine_hash),
                                                  self.namespace)
        return dict(json.loads(cm.data[build_jobs.PLAN_KEY]))

    def deployment(self, name: str = f"{NAME}-triton") -> dict[str, Any] | None:
        try:
            return self.api.sanitize_for_serialization(self.apps.read_namespaced_deployment(name, self.namespace))
        except k8s.exceptions.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def events(self) -> list[dict[str, Any]]:
        return self.api.sanitize_for_serialization(self.core.list_namespaced_event(self.namespace).items)

    def event_reasons(self) -> list[str]:
        return [e.get("reason", "") for e in self.events()]

    def wait_event(self, reason: str, *, timeout_s: float = 30.0) -> dict[str, Any]:
        """The first Event with ``reason`` (kopf posts Events a moment after the status write)."""
        return cluster.wait_until(lambda: next((e for e in self.events() if e.get("reason") == reason), None),
                                  timeout_s=timeout_s, what=f"an Event {reason}")

    # --- what a GPU node would have done ----------------------------------------------------------

    def serve(self, plan: dict[str, Any]) -> Any:
        """Build the stand-in engine of ``plan`` and start a real Triton on it; the operator's readiness
        seam then finds it for that engine."""
        path = self.workdir / f"plan-{plan['engine_hash'][:12]}.json"
        path.write_text(json.dumps(plan))
        done = subprocess.run([sys.executable, "-m", "seasonal_build", "build", "--plan", str(path), "--store",
                               str(self.store), "--backend", "cpu-stand-in", "--serving-store", str(self.store)],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"stand-in build failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        server = self.triton_factory(self.store / plan["model"]["name"] / plan["engine_hash"] / "triton")
        self.tritons[plan["engine_hash"]] = server
        served = json.loads(self.triton_map.read_text())
        served[plan["engine_hash"]] = server.http_url.removeprefix("http://")
        self.triton_map.write_text(json.dumps(served))
        return server


@dataclass
class ReadySampler:
    """Samples a Deployment's ready replicas while a rollover runs (the Deployment controller's word)."""

    bed: Bed
    name: str = f"{NAME}-triton"
    samples: list[int] = field(default_factory=list)

    def sample(self) -> None:
        dep = self.bed.deployment(self.name)
        if dep is not None:
            self.samples.append(int((dep.get("status") or {}).get("readyReplicas") or 0))


def sampling(bed: Bed, until: Callable[[], bool], *, timeout_s: float, name: str = f"{NAME}-triton",
             interval_s: float = 0.1) -> list[int]:
    """Ready replicas of Deployment ``name``, sampled until ``until()`` holds."""
    sampler = ReadySampler(bed, name)
    deadline = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done within {timeout_s} s; ready replicas seen: {sampler.samples[-50:]}\n"
                               f"operator log tail:\n{bed._logs_tail()}")
        sampler.sample()
        time.sleep(interval_s)
    sampler.sample()
    return sampler.samples


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("conditions", [])}


__all__ = ["Bed", "OperatorRun", "manifest", "openmetrics_text", "install_operator_account", "sampling",
           "conditions", "NAME", "T0", "OPERATOR_NAMESPACE", "OPERATOR_ACCOUNT"]
