"""The cluster, as the decision core needs to see and change it (the official ``kubernetes`` client).

Gathering: the build Job's state (and whether its pod waits for a GPU), the engines published by earlier
builds, the rollout's state (the Deployment's rollout status, unschedulable new pods, then each new pod's
Triton). Applying: every object the operator owns (build Job and plan ConfigMap, Triton Deployment,
Service) is written with server-side apply under our field manager, so keys we stop writing go away and an
edit by another manager is reported (a ``FieldConflict`` note) before our fields are taken back; a user's
own Deployment (``serving.deploymentRef``) is applied to only in the fields we own, and only when it opted
in with a label. Status is replaced with the resourceVersion it was decided from, so a write that raced
another one fails with 409 instead of overwriting it. Every call is declared in ``api_usage`` so the
chart's RBAC covers exactly these.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from seasonal_engines.adapters import api_usage
from seasonal_engines.adapters.triton import check_model
from seasonal_engines.api import spec as api
from seasonal_engines.api.status import EngineRef
from seasonal_engines.core import build_jobs, deployments, images, names, observations, reasons
from seasonal_engines.core.ports import FieldConflict, Refused, StatusConflict, TritonProbe

APPLY = "application/apply-patch+yaml"
FIELD_MANAGER = "seasonal-engines"
# A user's Deployment is changed only when its owner said so with this label (value: the InferenceService).
DEPLOYMENT_OPT_IN_LABEL = f"{api.GROUP}/managed-by-inferenceservice"


def api_error(exc: ApiException, doing: str) -> str:
    """A short, factual account of an API server refusal, for a condition and an Event."""
    detail = ""
    try:
        body = json.loads(exc.body or "{}")
        detail = str(body.get("message") or "")
    except (ValueError, TypeError, AttributeError):
        detail = ""
    text = f"{doing}: HTTP {exc.status} {exc.reason or ''}".rstrip()
    return f"{text}: {detail[:400]}" if detail else text


class KubernetesCluster:
    """``core.ports.Cluster`` through an ``ApiClient`` (in-cluster or from a kubeconfig)."""

    def __init__(self, api_client: k8s.ApiClient, triton_check: TritonProbe = check_model,
                 image_settings: images.ImageSettings = images.UNCHANGED):
        self.image_settings = image_settings  # the Triton Deployments' NGC mirror and pull secrets
        self.core = k8s.CoreV1Api(api_client)
        self.batch = k8s.BatchV1Api(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self.custom = k8s.CustomObjectsApi(api_client)
        self.triton_check = triton_check

    # --- the InferenceService itself -----------------------------------------------------

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        api_usage.require(api.GROUP, api.PLURAL, "get")
        return _read_or_none(lambda: self.custom.get_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.PLURAL, name, _preload_content=False))

    def write_status(self, body: Mapping[str, Any], status: Mapping[str, Any]) -> str:
        """Replace the status of ``body`` (as read) with ``status``; the new resourceVersion.

        StatusConflict when the object changed since ``body`` was read; None removes nothing by accident:
        the whole status is replaced, so a key we dropped never comes back."""
        meta = body["metadata"]
        obj = {"apiVersion": f"{api.GROUP}/{api.VERSION}", "kind": api.KIND,
               "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                            "resourceVersion": meta.get("resourceVersion")},
               "spec": body.get("spec"), "status": dict(status)}
        api_usage.require(api.GROUP, f"{api.PLURAL}/status", "update")
        try:
            answer = _json(self.custom.replace_namespaced_custom_object_status(
                api.GROUP, api.VERSION, meta["namespace"], api.PLURAL, meta["name"], obj, _preload_content=False))
        except ApiException as exc:
            if exc.status == 409:
                raise StatusConflict(api_error(exc, "writing status")) from None
            raise
        return str(answer["metadata"]["resourceVersion"])

    # --- gathering --------------------------------------------------------------------------

    def build_state(self, namespace: str, job_name: str) -> observations.BuildObservation:
        api_usage.require("batch", "jobs", "get")
        job = _read_or_none(lambda: self.batch.read_namespaced_job(job_name, namespace, _preload_content=False))
        if job is None:
            return observations.BuildObservation(job_name, observations.JobState.missing)
        seen = job_observation(job)
        if seen.state != observations.JobState.running:
            return seen
        pods = self._pods(namespace, {"batch.kubernetes.io/job-name": job_name})
        waiting = next((why for why in map(unschedulable, pods) if why), "")
        return observations.BuildObservation(seen.job_name, seen.state, seen.message, unschedulable=waiting)

    def published_engines(self, namespace: str, service: str) -> frozenset[str]:
        """Engines whose build Job succeeded (full hashes from the Job annotation)."""
        api_usage.require("batch", "jobs", "list")
        jobs = _json(self.batch.list_namespaced_job(
            namespace, label_selector=f"{build_jobs.LABEL_SERVICE}={names.label_value(service)},"
            "app.kubernetes.io/component=engine-build", _preload_content=False))
        out = set()
        for job in jobs.get("items", []):
            if job_observation(job).state == observations.JobState.succeeded:
                full = (job["metadata"].get("annotations") or {}).get(build_jobs.ANNOTATION_FULL_HASH)
                if full:
                    out.add(full)
        return frozenset(out)

    def rollout_state(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any],
                      target: EngineRef, colour: str | None) -> observations.RolloutObservation:
        """Whether every replica runs ``target`` and each one's Triton serves it."""
        name = _deployment_name(spec, owner, colour)
        namespace = owner["metadata"]["namespace"]
        api_usage.require("apps", "deployments", "get")
        dep = _read_or_none(lambda: self.apps.read_namespaced_deployment(name, namespace, _preload_content=False))
        if dep is None:
            return observations.RolloutObservation(target.hash, False, False, False,
                                                message=f"Deployment {name} does not exist yet")
        progress = deployment_progress(dep, target.hash)
        pods = self._pods(namespace, {**(dep["spec"]["selector"].get("matchLabels") or {}),
                                      deployments.HASH_LABEL: target.hash[:build_jobs.HASH_IN_LABELS]})
        waiting = next((why for why in map(unschedulable, pods) if why), "")
        if progress.failed or not progress.ready:
            return observations.RolloutObservation(target.hash, False, False, False, failed=progress.failed,
                                                message=progress.message, unschedulable=waiting)
        checks = [self.triton_check(f"{ip}:{http_port(pod)}", spec.serving.model_name, target)
                  for pod in pods if (ip := (pod.get("status") or {}).get("podIP"))
                  and not (pod.get("metadata") or {}).get("deletionTimestamp")]
        if not checks:
            return observations.RolloutObservation(target.hash, True, False, False,
                                                message="no running pod of the new engine to ask yet")
        ready = all(c.ready for c in checks)
        matches = all(c.config_matches for c in checks)
        bad = next((c.message for c in checks if not (c.ready and c.config_matches)), "")
        return observations.RolloutObservation(target.hash, True, ready, matches, message=bad)

    def _pods(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        api_usage.require("", "pods", "list")
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        return list(_json(self.core.list_namespaced_pod(namespace, label_selector=selector,
                                                        _preload_content=False)).get("items", []))

    def colour_for(self, owner: Mapping[str, Any], engine_hash: str) -> str:
        """BlueGreen: the colour whose Deployment names ``engine_hash``, else the colour not receiving traffic."""
        namespace, name = owner["metadata"]["namespace"], owner["metadata"]["name"]
        api_usage.require("apps", "deployments", "get")
        for colour in ("blue", "green"):
            dep = _read_or_none(lambda c=colour: self.apps.read_namespaced_deployment(  # type: ignore[misc]
                deployments.deployment_name(name, c), namespace, _preload_content=False))
            if dep and (dep["metadata"].get("annotations") or {}).get(f"{api.GROUP}/engine-hash") == engine_hash:
                return colour
        return deployments.colour_after(self.live_colour(owner))

    def live_colour(self, owner: Mapping[str, Any]) -> str | None:
        """BlueGreen: the colour the Service sends traffic to (None: no Service or no colour yet)."""
        namespace, name = owner["metadata"]["namespace"], owner["metadata"]["name"]
        api_usage.require("", "services", "get")
        svc = _read_or_none(lambda: self.core.read_namespaced_service(deployments.service_name(name), namespace,
                                                                      _preload_content=False))
        return ((svc or {}).get("spec", {}).get("selector") or {}).get(deployments.COLOUR_LABEL)

    # --- applying ------------------------------------------------------------------------------

    # Each apply returns the field conflicts it met (and overrode), for the reconciler to report.

    def start_build(self, namespace: str, manifests: build_jobs.BuildManifests) -> list[FieldConflict]:
        """Apply the plan ConfigMap and the Job (idempotent: the same attempt applies the same objects)."""
        _require_apply("", "configmaps")
        found = self._apply(lambda body, force: self.core.patch_namespaced_config_map(
            body["metadata"]["name"], namespace, body, field_manager=FIELD_MANAGER, force=force,
            _content_type=APPLY), manifests.config_map)
        _require_apply("batch", "jobs")
        return found + self._apply(lambda body, force: self.batch.patch_namespaced_job(
            body["metadata"]["name"], namespace, body, field_manager=FIELD_MANAGER, force=force,
            _content_type=APPLY), manifests.job)

    def record_references(self, namespace: str, job: dict[str, Any]) -> list[FieldConflict]:
        """Apply the Job that records engine references in the store (``build_jobs.references_job``)."""
        _require_apply("batch", "jobs")
        return self._apply(lambda body, force: self.batch.patch_namespaced_job(
            body["metadata"]["name"], namespace, body, field_manager=FIELD_MANAGER, force=force,
            _content_type=APPLY), job)

    def roll_out(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any], engine: EngineRef,
                 colour: str | None) -> list[FieldConflict]:
        """Point the serving Deployment (or the ``colour`` one, for BlueGreen) at ``engine``."""
        namespace = owner["metadata"]["namespace"]
        if spec.serving.deployment_ref is not None:
            return self._roll_referenced(spec, owner, engine)
        found = self._apply_deployment(namespace, deployments.deployment(spec, owner, engine, colour,
                                                                          self.image_settings))
        if colour is not None:
            # BlueGreen: the Service keeps sending traffic to the live colour until the new one is ready.
            found += self.apply_service(spec, owner, self.live_colour(owner))
        return found

    def _roll_referenced(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any],
                         engine: EngineRef) -> list[FieldConflict]:
        ref = spec.serving.deployment_ref
        assert ref is not None
        namespace, service = owner["metadata"]["namespace"], owner["metadata"]["name"]
        api_usage.require("apps", "deployments", "get")
        existing = _read_or_none(lambda: self.apps.read_namespaced_deployment(ref.name, namespace,
                                                                              _preload_content=False))
        if existing is None:
            raise Refused(reasons.DEPLOYMENT_NOT_FOUND, f"serving.deploymentRef names Deployment {ref.name}, "
                          f"which does not exist in namespace {namespace}")
        if (existing["metadata"].get("labels") or {}).get(DEPLOYMENT_OPT_IN_LABEL) != service:
            raise Refused(reasons.DEPLOYMENT_NOT_OPTED_IN, f"Deployment {ref.name} is not ours to change: label it "
                          f"{DEPLOYMENT_OPT_IN_LABEL}={service} to let InferenceService {service} manage its "
                          "engine (kubectl label deployment ...)")
        try:
            applied = deployments.referenced_apply(spec, existing, service, engine)
        except ValueError as exc:
            raise Refused(reasons.DEPLOYMENT_CONTAINER_MISSING, str(exc)) from None
        return self._apply_deployment(namespace, applied)

    def apply_service(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any],
                      colour: str | None) -> list[FieldConflict]:
        """The Service clients use, selecting ``colour`` (BlueGreen) or every pod of the service."""
        namespace = owner["metadata"]["namespace"]
        _require_apply("", "services")
        return self._apply(lambda body, force: self.core.patch_namespaced_service(
            body["metadata"]["name"], namespace, body, field_manager=FIELD_MANAGER, force=force,
            _content_type=APPLY), deployments.service(spec, owner, colour))

    def _apply_deployment(self, namespace: str, manifest: dict[str, Any]) -> list[FieldConflict]:
        _require_apply("apps", "deployments")
        return self._apply(lambda body, force: self.apps.patch_namespaced_deployment(
            body["metadata"]["name"], namespace, body, field_manager=FIELD_MANAGER, force=force,
            _content_type=APPLY), manifest)

    @staticmethod
    def _apply(send: Callable[[dict[str, Any], bool], Any], manifest: dict[str, Any]) -> list[FieldConflict]:
        """Server-side apply; a conflict with another manager is noted, then our values are forced."""
        try:
            send(manifest, False)
            return []
        except ApiException as exc:
            if exc.status != 409:
                raise
            conflict = field_conflict(exc, manifest)
        send(manifest, True)
        return [conflict]


def _require_apply(group: str, resource: str) -> None:
    for verb in api_usage.APPLY_VERBS:
        api_usage.require(group, resource, verb)


# --- pure readings of objects ---------------------------------------------------------------


def field_conflict(exc: ApiException, manifest: Mapping[str, Any]) -> FieldConflict:
    """The managers and fields named by a server-side apply conflict (HTTP 409)."""
    managers: list[str] = []
    fields: list[str] = []
    try:
        causes = (json.loads(exc.body or "{}").get("details") or {}).get("causes") or []
    except (ValueError, TypeError, AttributeError):
        causes = []
    for cause in causes:
        message = str(cause.get("message") or "")
        if '"' in message:
            manager = message.split('"')[1]
            if manager not in managers:
                managers.append(manager)
        if cause.get("field"):
            fields.append(str(cause["field"]))
    return FieldConflict(str(manifest.get("kind")), str(manifest["metadata"]["name"]), tuple(managers),
                         tuple(fields[:8]))


def job_observation(job: Mapping[str, Any]) -> observations.BuildObservation:
    """A Job's state from its status conditions (Complete / Failed, as the Job controller writes them)."""
    name = job["metadata"]["name"]
    status = job.get("status") or {}
    for c in status.get("conditions") or []:
        if c.get("status") != "True":
            continue
        if c.get("type") in ("Complete", "SuccessCriteriaMet"):
            return observations.BuildObservation(name, observations.JobState.succeeded)
        if c.get("type") in ("Failed", "FailureTarget"):
            why = c.get("message") or c.get("reason") or "the Job failed"
            return observations.BuildObservation(name, observations.JobState.failed, f"Job {name}: {why}")
    if status.get("succeeded"):
        return observations.BuildObservation(name, observations.JobState.succeeded)
    return observations.BuildObservation(name, observations.JobState.running)


def unschedulable(pod: Mapping[str, Any]) -> str:
    """The scheduler's message when ``pod`` is Pending because no node can take it, else ''."""
    status = pod.get("status") or {}
    if status.get("phase") not in (None, "Pending"):
        return ""
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable":
            return str(c.get("message") or "no node can run the pod")[:400]
    return ""


@dataclass(frozen=True)
class Progress:
    ready: bool
    failed: bool
    message: str


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
    """The object as JSON, or None when it does not exist; other API errors propagate."""
    try:
        return _json(read())
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _json(response: Any) -> dict[str, Any]:
    data = response.data if hasattr(response, "data") else response
    return json.loads(data) if isinstance(data, (bytes, str)) else dict(data)


__all__ = ["KubernetesCluster", "api_error", "job_observation",
           "deployment_progress", "unschedulable", "FIELD_MANAGER", "DEPLOYMENT_OPT_IN_LABEL"]
