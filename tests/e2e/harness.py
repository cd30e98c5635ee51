"""End-to-end harness: the real operator (kopf) against kmock, real Prometheus, real Triton + CPU stand-in.

kmock runs no controllers, so this harness plays the kubelet and the Job/Deployment controllers: it marks
Jobs complete or failed, builds the stand-in engine a Job would have built, starts Triton on it, writes
Deployment status and creates the pod objects whose Triton the operator then asks. Time in the operator
runs ``SPEEDUP`` times faster than the wall clock, so minutes of traffic pass in seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from seasonal_engines import handlers
from seasonal_engines.adapters.kubernetes import Cluster
from seasonal_engines.core import build_jobs, deployments, presets
from seasonal_engines.reconciling import Reconciler
from seasonal_engines.traces import openmetrics
from seasonal_engines.traces.readers import Trace
from tests.testbed import kube

NAMESPACE = "default"
NAME = "chat"
SPEEDUP = 60.0                                     # 1 s of wall time = 1 min of operator time
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)  # operator time when the test starts
SHIFT_AT = T0 + timedelta(minutes=12)              # traffic grows here (operator time)
JOBS = "batch/v1/jobs"
DEPLOYMENTS = "apps/v1/deployments"
PODS = "v1/pods"
CONFIGMAPS = "v1/configmaps"
EVENTS = "v1/events"


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


def manifest(prometheus_url: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": {"name": "llama-3-8b", "source": {"pvc": {"claimName": "weights"}}},
        "hardware": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
        "engine": {"store": {"claimName": "engines"}, "buildDeadline": "2h"},
        "traffic": {"prometheusUrl": prometheus_url, "preset": "seasonal",
                    "selector": [{"label": "model", "value": NAME}], "window": "10m",
                    "evaluationInterval": "1m", "minSamples": 100},
        "drift": {"consecutiveEvaluations": 2, "breachFraction": 0.01, "minRebuildInterval": "1m"},
        "rollout": {"readinessTimeout": "5m"},
        "serving": {"replicas": 1},
    }
    for key, value in overrides.items():
        spec[key] = {**spec.get(key, {}), **value} if isinstance(value, dict) else value
    return {"apiVersion": "seasonalengines.io/v1alpha1", "kind": "InferenceService",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "uid": "0b0e6d1e-5eas-0000-0000-000000000001",
                         "generation": 1, "resourceVersion": "1"}, "spec": spec}


@dataclass
class Harness:
    k8s: kube.KubeEmulator
    workdir: Path
    triton_factory: Callable[..., Any]
    store: Path = field(init=False)
    started: float = field(default_factory=time.monotonic)
    tritons: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = self.workdir / "engines"
        self.store.mkdir(parents=True, exist_ok=True)

    # --- the operator ---------------------------------------------------------------------

    def clock(self) -> datetime:
        return T0 + timedelta(seconds=(time.monotonic() - self.started) * SPEEDUP)

    def install_operator(self) -> None:
        """A fresh operator state with the accelerated clock (as a restarted process would have)."""
        from kubernetes import config

        handlers._state.clear()
        handlers._next_due.clear()
        handlers._locks.clear()
        handlers._written.clear()
        api_client = config.new_client_from_config(config_file=str(self.k8s.kubeconfig))
        handlers._state["reconciler"] = Reconciler(cluster=Cluster(api_client), clock=self.clock,
                                                   prometheus_timeout_s=3.0)

    # --- waiting --------------------------------------------------------------------------

    def isvc(self) -> dict[str, Any]:
        return self.k8s.get(kube.INFERENCE_SERVICES, NAMESPACE, NAME)

    def wait_status(self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 30.0) -> dict[str, Any]:
        return self.k8s.wait_for(kube.INFERENCE_SERVICES, NAMESPACE, NAME,
                                 lambda o: predicate(o.get("status") or {}), timeout_s)

    def wait_jobs(self, count: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            jobs = self.k8s.list(JOBS, NAMESPACE)
            if len(jobs) >= count:
                return sorted(jobs, key=lambda j: j["metadata"].get("creationTimestamp") or j["metadata"]["name"])
            time.sleep(0.1)
        status = json.dumps(self.isvc().get("status"), indent=1)
        (self.workdir / "status-at-timeout.json").write_text(status)
        raise TimeoutError(f"expected {count} build Jobs; status: {status[:3000]}")

    def events(self) -> list[dict[str, Any]]:
        return self.k8s.list(EVENTS, NAMESPACE)

    def event_reasons(self) -> list[str]:
        return [e.get("reason", "") for e in self.events()]

    # --- playing the controllers ----------------------------------------------------------

    def plan_of(self, job: dict[str, Any]) -> dict[str, Any]:
        engine_hash = job["metadata"]["annotations"][build_jobs.ANNOTATION_FULL_HASH]
        cm = self.k8s.get(CONFIGMAPS, NAMESPACE, build_jobs.plan_config_map_name("llama-3-8b", engine_hash))
        return dict(json.loads(cm["data"][build_jobs.PLAN_KEY]))

    def build_stand_in(self, plan: dict[str, Any]) -> Path:
        """What the Job would have done, with the CPU stand-in instead of TensorRT-LLM."""
        path = self.workdir / f"plan-{plan['engine_hash'][:12]}.json"
        path.write_text(json.dumps(plan))
        done = subprocess.run([sys.executable, "-m", "seasonal_build", "build", "--plan", str(path), "--store",
                        str(self.store), "--backend", "cpu-stand-in", "--serving-store", str(self.store)],
                       check=False, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"stand-in build failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
        return self.store / plan["model"]["name"] / plan["engine_hash"] / "triton"

    def complete_job(self, job: dict[str, Any], ok: bool = True, message: str = "") -> None:
        kind = "Complete" if ok else "Failed"
        status = {"conditions": [{"type": kind, "status": "True", "reason": "BackoffLimitExceeded" if not ok else
                                  "Completed", "message": message}]}
        status.update({"succeeded": 1} if ok else {"failed": 2})
        self.k8s.patch(JOBS, NAMESPACE, job["metadata"]["name"], {"status": status})

    def serve(self, plan: dict[str, Any]) -> Any:
        """Start a real Triton on the stand-in engine of ``plan``."""
        repo = self.build_stand_in(plan)
        server = self.triton_factory(repo)
        self.tritons[plan["engine_hash"]] = server
        return server

    def wait_deployment(self, engine_hash: str, timeout_s: float = 30.0) -> dict[str, Any]:
        name = deployments.deployment_name(NAME)
        return self.k8s.wait_for(DEPLOYMENTS, NAMESPACE, name, lambda d: (d["metadata"].get("annotations") or {})
                                 .get("seasonalengines.io/engine-hash") == engine_hash, timeout_s)

    def roll_pods(self, dep: dict[str, Any], engine_hash: str, port: int) -> None:
        """Play the Deployment controller and kubelet: one new pod on ``port``, old pods gone, status Available."""
        for pod in self.k8s.list(PODS, NAMESPACE):
            self.k8s.delete(PODS, NAMESPACE, pod["metadata"]["name"])
        template = dep["spec"]["template"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{dep['metadata']['name']}-{engine_hash[:8]}",
                            "labels": template["metadata"]["labels"]},
               "spec": {"containers": [{"name": "triton", "image": "x",
                                        "ports": [{"name": "http", "containerPort": port}]}]},
               "status": {"phase": "Running", "podIP": "127.0.0.1"}}
        self.k8s.create(PODS, NAMESPACE, pod)
        replicas = dep["spec"].get("replicas", 1)
        self.k8s.patch(DEPLOYMENTS, NAMESPACE, dep["metadata"]["name"], {"status": {
            "observedGeneration": dep["metadata"].get("generation", 1), "replicas": replicas,
            "updatedReplicas": replicas, "availableReplicas": replicas, "readyReplicas": replicas}})
