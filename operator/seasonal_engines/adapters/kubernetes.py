"""The cluster, as the decision core needs to see and change it (the official ``kubernetes`` client).

Gathering: the build Job's state, the engines published by earlier builds, the rollout's state (the
Deployment's rollout status, then each new pod's Triton). Applying: create a build Job and its plan
ConfigMap (idempotently: a Job that exists is left alone), create or patch the Triton Deployment, switch the
BlueGreen Service. Every call is declared in ``api_usage`` so the chart's RBAC covers exactly these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from seasonal_engines.adapters import api_usage
from seasonal_engines.adapters.triton import ModelCheck, check_model
from seasonal_engines.api import spec as api
from seasonal_engines.api.status import EngineRef
from seasonal_engines.core import build_jobs, decisions, deployments

MERGE = "application/merge-patch+json"
TritonCheck = Callable[[str, str, EngineRef], ModelCheck]


def _absent(exc: ApiException) -> bool:
    return exc.status == 404


class Cluster:
    """One namespace's view, through an ``ApiClient`` (in-cluster, kubeconfig, or a test emulator)."""

    def __init__(self, api_client: k8s.ApiClient, triton_check: TritonCheck = check_model):
        self.core = k8s.CoreV1Api(api_client)
        self.batch = k8s.BatchV1Api(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self.triton_check = triton_check

    # --- gathering --------------------------------------------------------------------------

    def build_state(self, namespace: str, job_name: str) -> decisions.BuildObservation:
        api_usage.require("batch", "jobs", "get")
        try:
            job = self.batch.read_namespaced_job(job_name, namespace, _preload_content=False)
        except ApiException as exc:
            if _absent(exc):
                return decisions.BuildObservation(job_name, decisions.JobState.missing)
            raise
        return job_observation(_json(job))

    def published_engines(self, namespace: str, service: str) -> frozenset[str]:
        """Engines whose build Job succeeded (full hashes from the Job annotation)."""
        api_usage.require("batch", "jobs", "list")
        jobs = _json(self.batch.list_namespaced_job(
            namespace, label_selector=f"{build_jobs.LABEL_SERVICE}={service}", _preload_content=False))
        out = set()
        for job in jobs.get("items", []):
            if job_observation(job).state == decisions.JobState.succeeded:
                full = (job["metadata"].get("annotations") or {}).get(build_jobs.ANNOTATION_FULL_HASH)
                if full:
                    out.add(full)
        return frozenset(out)

    def rollout_state(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any],
                      target: EngineRef, colour: str | None) -> decisions.RolloutObservation:
        """Whether every replica runs ``target`` and each one's Triton serves it."""
        name = _deployment_name(spec, owner, colour)
        namespace = owner["metadata"]["namespace"]
        api_usage.require("apps", "deployments", "get")
        try:
            dep = _json(self.apps.read_namespaced_deployment(name, namespace, _preload_content=False))
        except ApiException as exc:
            if _absent(exc):
                return decisions.RolloutObservation(target.hash, False, False, False, message=f"Deployment "
                                                    f"{name} does not exist yet")
            raise
        progress = deployment_progress(dep, target.hash)
        if progress.failed or not progress.ready:
            return decisions.RolloutObservation(target.hash, False, False, False, failed=progress.failed,
                                                message=progress.message)
        checks = self._check_pods(namespace, dep, spec, target)
        if not checks:
            return decisions.RolloutObservation(target.hash, True, False, False,
                                                message="no running pod of the new engine to ask yet")
        ready = all(c.ready for c in checks)
        matches = all(c.config_matches for c in checks)
        bad = next((c.message for c in checks if not (c.ready and c.config_matches)), "")
        return decisions.RolloutObservation(target.hash, True, ready, matches, message=bad)

    def _check_pods(self, namespace: str, dep: Mapping[str, Any], spec: api.InferenceServiceSpec,
                    target: EngineRef) -> list[ModelCheck]:
        api_usage.require("", "pods", "list")
        labels = dep["spec"]["selector"].get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in {**labels, deployments.HASH_LABEL:
                                                     target.hash[:build_jobs.HASH_IN_LABELS]}.items())
        pods = _json(self.core.list_namespaced_pod(namespace, label_selector=selector, _preload_content=False))
        out = []
        for pod in pods.get("items", []):
            ip = (pod.get("status") or {}).get("podIP")
            if not ip or (pod.get("metadata") or {}).get("deletionTimestamp"):
                continue
            out.append(self.triton_check(f"{ip}:{http_port(pod)}", spec.serving.model_name, target))
        return out

    def colour_for(self, owner: Mapping[str, Any], engine_hash: str) -> str:
        """BlueGreen: the colour whose Deployment names ``engine_hash``, else the colour not receiving traffic."""
        namespace, name = owner["metadata"]["namespace"], owner["metadata"]["name"]
        api_usage.require("apps", "deployments", "get")
        for colour in ("blue", "green"):
            dep = _read_or_none(lambda c=colour: self.apps.read_namespaced_deployment(  # type: ignore[misc]
                deployments.deployment_name(name, c), namespace, _preload_content=False))
            if dep and (dep["metadata"].get("annotations") or {}).get(f"{api.GROUP}/engine-hash") == engine_hash:
                return colour
        api_usage.require("", "services", "get")
        svc = _read_or_none(lambda: self.core.read_namespaced_service(f"{name}-triton", namespace,
                                                                      _preload_content=False))
        live = ((svc or {}).get("spec", {}).get("selector") or {}).get(deployments.COLOUR_LABEL)
        return deployments.colour_after(live)

    # --- applying ------------------------------------------------------------------------------

    def start_build(self, namespace: str, manifests: build_jobs.BuildManifests) -> None:
        """Create the plan ConfigMap and the Job; either existing already is fine (idempotent restarts)."""
        api_usage.require("", "configmaps", "create")
        _create_once(lambda: self.core.create_namespaced_config_map(namespace, manifests.config_map))
        api_usage.require("batch", "jobs", "create")
        _create_once(lambda: self.batch.create_namespaced_job(namespace, manifests.job))

    def roll_out(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any], engine: EngineRef,
                 colour: str | None) -> None:
        """Point the serving Deployment (or the ``colour`` one, for BlueGreen) at ``engine``."""
        namespace = owner["metadata"]["namespace"]
        if spec.serving.deployment_ref is not None:
            name = spec.serving.deployment_ref.name
            api_usage.require("apps", "deployments", "get")
            existing = _json(self.apps.read_namespaced_deployment(name, namespace, _preload_content=False))
            body = deployments.referenced_patch(spec, existing, owner["metadata"]["name"], engine)
            api_usage.require("apps", "deployments", "patch")
            self.apps.patch_namespaced_deployment(name, namespace, body, _content_type=MERGE)
            return
        manifest = deployments.deployment(spec, owner, engine, colour)
        self._apply_deployment(namespace, manifest)
        if colour is None:
            return
        self.ensure_service(spec, owner, None)  # created with no colour: switched once the new colour is ready

    def switch_service(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any], colour: str) -> None:
        """BlueGreen: send traffic to ``colour`` (call only when it is ready)."""
        self.ensure_service(spec, owner, colour)

    def ensure_service(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any], colour: str | None) -> None:
        namespace = owner["metadata"]["namespace"]
        svc = deployments.service(spec, owner, colour)
        api_usage.require("", "services", "get")
        existing = _read_or_none(lambda: self.core.read_namespaced_service(svc["metadata"]["name"], namespace,
                                                                           _preload_content=False))
        if existing is None:
            api_usage.require("", "services", "create")
            self.core.create_namespaced_service(namespace, svc)
            return
        if colour is not None and existing.get("spec", {}).get("selector") != svc["spec"]["selector"]:
            api_usage.require("", "services", "patch")
            self.core.patch_namespaced_service(svc["metadata"]["name"], namespace,
                                               {"spec": {"selector": svc["spec"]["selector"]}}, _content_type=MERGE)

    def _apply_deployment(self, namespace: str, manifest: dict[str, Any]) -> None:
        name = manifest["metadata"]["name"]
        api_usage.require("apps", "deployments", "get")
        if _read_or_none(lambda: self.apps.read_namespaced_deployment(name, namespace, _preload_content=False)) \
                is None:
            api_usage.require("apps", "deployments", "create")
            self.apps.create_namespaced_deployment(namespace, manifest)
            return
        api_usage.require("apps", "deployments", "patch")
        self.apps.patch_namespaced_deployment(name, namespace, {"metadata": {"annotations": manifest["metadata"][
            "annotations"]}, "spec": manifest["spec"]}, _content_type=MERGE)


# --- pure readings of objects ---------------------------------------------------------------


def job_observation(job: Mapping[str, Any]) -> decisions.BuildObservation:
    """A Job's state from its status conditions (Complete / Failed, as the Job controller writes them)."""
    name = job["metadata"]["name"]
    status = job.get("status") or {}
    for c in status.get("conditions") or []:
        if c.get("status") != "True":
            continue
        if c.get("type") in ("Complete", "SuccessCriteriaMet"):
            return decisions.BuildObservation(name, decisions.JobState.succeeded)
        if c.get("type") in ("Failed", "FailureTarget"):
            why = c.get("message") or c.get("reason") or "the Job failed"
            return decisions.BuildObservation(name, decisions.JobState.failed, f"Job {name}: {why}")
    if status.get("succeeded"):
        return decisions.BuildObservation(name, decisions.JobState.succeeded)
    return decisions.BuildObservation(name, decisions.JobState.running)


class Progress:
    def __init__(self, ready: bool, failed: bool, message: str):
        self.ready, self.failed, self.message = ready, failed, message


def deployment_progress(dep: Mapping[str, Any], engine_hash: str) -> Progress:
    """Whether a Deployment finished rolling to ``engine_hash`` (what `kubectl rollout status` checks)."""
    meta, spec, status = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
    if (meta.get("annotations") or {}).get(f"{api.GROUP}/engine-hash") != engine_hash:
        return Progress(False, False, "the Deployment does not name the new engine yet")
    for c in status.get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            return Progress(False, True, f"Deployment {meta.get('name')}: {c.get('message') or 'progress deadline'}")
    want = int(spec.get("replicas", 1))
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if generation is not None and (observed is None or observed < generation):
        return Progress(False, False, "the Deployment controller has not seen the new engine yet")
    updated, available = int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    if updated < want or available < want or total > updated:
        return Progress(False, False, f"{updated}/{want} replicas updated, {available} available")
    return Progress(True, False, f"{want} replicas on the new engine")


def http_port(pod: Mapping[str, Any]) -> int:
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == "http":
                return int(p["containerPort"])
    return deployments.HTTP_PORT


def _deployment_name(spec: api.InferenceServiceSpec, owner: Mapping[str, Any], colour: str | None) -> str:
    if spec.serving.deployment_ref is not None:
        return spec.serving.deployment_ref.name
    return deployments.deployment_name(owner["metadata"]["name"], colour)


def _read_or_none(read: Callable[[], Any]) -> dict[str, Any] | None:
    """The object as JSON, or None when it does not exist; other API errors propagate (kopf retries)."""
    try:
        return _json(read())
    except ApiException as exc:
        if _absent(exc):
            return None
        raise


def _create_once(create: Callable[[], Any]) -> None:
    try:
        create()
    except ApiException as exc:
        if exc.status != 409:  # AlreadyExists: the same deterministic name means the same engine
            raise


def _json(response: Any) -> dict[str, Any]:
    import json

    data = response.data if hasattr(response, "data") else response
    return json.loads(data) if isinstance(data, (bytes, str)) else dict(data)
