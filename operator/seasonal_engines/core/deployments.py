"""The Triton Deployment (and BlueGreen Service) serving an engine, rendered as plain manifests.

The operator owns a Deployment built from ``spec.serving.template`` (or patches a referenced one): it adds
the engine store volume (read-only), points Triton at ``/engines/<model>/<hash>/triton``, requests
TP x PP GPUs, pins pods to the GPU product the engine was built for, and labels pods with the engine hash
so readiness can be checked pod by pod. Strategies: RollingUpdate with maxSurge 0 / maxUnavailable 1 (no
spare GPU needed), Recreate, and BlueGreen (two Deployments; the Service switches colour when the new one
is ready). Pure: dicts in, dicts out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from seasonal_build import launching
from seasonal_engines.api import spec as api
from seasonal_engines.api.status import EngineRef
from seasonal_engines.core.build_jobs import HASH_IN_LABELS, LABEL_HASH, LABEL_SERVICE, STORE_MOUNT

HASH_LABEL = LABEL_HASH
SERVICE_LABEL = LABEL_SERVICE
COLOUR_LABEL = f"{api.GROUP}/colour"
HTTP_PORT = 8000
GRPC_PORT = 8001
METRICS_PORT = 8002
CONTAINER = "triton"


def deployment_name(service: str, colour: str | None = None) -> str:
    return f"{service}-triton" + (f"-{colour}" if colour else "")


def model_repository(model: str, engine_hash: str) -> str:
    return f"{STORE_MOUNT}/{model}/{engine_hash}/triton"


def _labels(service: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "triton", "app.kubernetes.io/managed-by": "seasonal-engines",
            SERVICE_LABEL: service}


def triton_command(model: str, engine_hash: str, world_size: int, backend: str = "tensorrt") -> list[str]:
    """TP/PP engines: one MPI rank per GPU with ``mpirun`` in the foreground (NVIDIA's launch script returns
    at once, which would end the container); see ``seasonal_build.launching``."""
    return launching.serve_argv(model_repository(model, engine_hash), world_size, backend=backend,
                                ports=(HTTP_PORT, GRPC_PORT, METRICS_PORT))


def pod_template(spec: api.InferenceServiceSpec, service: str, engine: EngineRef) -> dict[str, Any]:
    """The pod template serving ``engine``: the user's template with engine, GPU and placement filled in."""
    tpl = copy.deepcopy(spec.serving.template) if spec.serving.template else {}
    meta = tpl.setdefault("metadata", {})
    meta.setdefault("labels", {}).update({**_labels(service), HASH_LABEL: engine.hash[:HASH_IN_LABELS]})
    meta.setdefault("annotations", {})[f"{api.GROUP}/engine-envelope"] = (
        f"{engine.envelope.max_input_len}/{engine.envelope.max_seq_len}/{engine.envelope.max_batch_size}")
    pod = tpl.setdefault("spec", {})
    containers = pod.setdefault("containers", [])
    triton = next((c for c in containers if c.get("name") == CONTAINER), None)
    if triton is None:
        triton = {"name": CONTAINER}
        containers.insert(0, triton)
    world = spec.model.tensor_parallel_size * spec.model.pipeline_parallel_size
    triton.setdefault("image", spec.engine.image)
    if engine.backend != "pytorch" or "command" not in triton:
        triton["command"] = triton_command(spec.model.name, engine.hash, world, str(engine.backend))
    triton.setdefault("ports", [{"name": "http", "containerPort": HTTP_PORT},
                                {"name": "grpc", "containerPort": GRPC_PORT},
                                {"name": "metrics", "containerPort": METRICS_PORT}])
    triton.setdefault("readinessProbe", {"httpGet": {"path": "/v2/health/ready", "port": "http"},
                                         "periodSeconds": 10, "failureThreshold": 3})
    if engine.backend != "cpu-stand-in":
        limits = triton.setdefault("resources", {}).setdefault("limits", {})
        limits["nvidia.com/gpu"] = str(world)  # quantities are strings for typed clients
        pod.setdefault("nodeSelector", {})["nvidia.com/gpu.product"] = spec.hardware.gpu_product
        tolerations = pod.setdefault("tolerations", [])
        if not any(t.get("key") == "nvidia.com/gpu" for t in tolerations):
            tolerations.append({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
    mounts = triton.setdefault("volumeMounts", [])
    if not any(m.get("name") == "engines" for m in mounts):
        mounts.append({"name": "engines", "mountPath": STORE_MOUNT, "readOnly": True})
    volumes = pod.setdefault("volumes", [])
    if not any(v.get("name") == "engines" for v in volumes):
        volumes.append({"name": "engines", "persistentVolumeClaim": {"claimName": spec.engine.store.claim_name,
                                                                      "readOnly": True}})
    return tpl


def deployment(spec: api.InferenceServiceSpec, owner: Mapping[str, Any], engine: EngineRef,
               colour: str | None = None) -> dict[str, Any]:
    """An operator-owned Triton Deployment serving ``engine`` (``colour`` only for BlueGreen)."""
    meta = owner.get("metadata") or {}
    service = str(meta["name"])
    selector = {SERVICE_LABEL: service, **({COLOUR_LABEL: colour} if colour else {})}
    template = pod_template(spec, service, engine)
    template["metadata"]["labels"].update(selector)
    strategy: dict[str, Any]
    if spec.rollout.strategy == api.Strategy.recreate.value:
        strategy = {"type": "Recreate"}
    else:
        # maxSurge 0: a GPU node that is full can still roll, one pod at a time.
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": deployment_name(service, colour), "namespace": meta.get("namespace"),
                     "labels": {**_labels(service), **({COLOUR_LABEL: colour} if colour else {})},
                     "annotations": {f"{api.GROUP}/engine-hash": engine.hash},
                     "ownerReferences": [owner_reference(owner)]},
        "spec": {"replicas": spec.serving.replicas, "selector": {"matchLabels": selector},
                 "strategy": strategy, "progressDeadlineSeconds": 600, "template": template},
    }


def service(spec: api.InferenceServiceSpec, owner: Mapping[str, Any], colour: str | None) -> dict[str, Any]:
    """The Service clients use; with BlueGreen its selector names the live colour."""
    meta = owner.get("metadata") or {}
    name = str(meta["name"])
    selector = {SERVICE_LABEL: name, **({COLOUR_LABEL: colour} if colour else {})}
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": f"{name}-triton", "namespace": meta.get("namespace"), "labels": _labels(name),
                     "ownerReferences": [owner_reference(owner)]},
        "spec": {"selector": selector, "ports": [
            {"name": "http", "port": HTTP_PORT, "targetPort": "http"},
            {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc"},
            {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"}]},
    }


def referenced_patch(spec: api.InferenceServiceSpec, existing: Mapping[str, Any], service_name: str,
                     engine: EngineRef) -> dict[str, Any]:
    """A merge patch moving a user's own Deployment (``serving.deploymentRef``) to ``engine``.

    Only the serving container's command, the engine volume and the pod labels change; a merge patch
    replaces lists, so the patched lists are the existing ones with our entries updated in place."""
    assert spec.serving.deployment_ref is not None
    want = spec.serving.deployment_ref.container
    tpl = copy.deepcopy((existing.get("spec") or {}).get("template") or {})
    pod = tpl.setdefault("spec", {})
    names = [c.get("name") for c in pod.get("containers", [])]
    if want not in names:
        raise ValueError(f"serving.deploymentRef.container {want!r} is not a container of Deployment "
                         f"{spec.serving.deployment_ref.name} (it has {names}); name the container that runs "
                         "tritonserver")
    patched_spec = spec.model_copy(update={"serving": spec.serving.model_copy(update={"template": tpl})})
    merged = pod_template(patched_spec, service_name, engine)
    # pod_template inserted a 'triton' container; the user's container keeps its own name.
    containers = merged["spec"]["containers"]
    ours = next(c for c in containers if c.get("name") == CONTAINER)
    if want != CONTAINER:
        containers.remove(ours)
        theirs = next(c for c in containers if c.get("name") == want)
        theirs["command"] = ours["command"]
        theirs.setdefault("volumeMounts", [])
        if not any(m.get("name") == "engines" for m in theirs["volumeMounts"]):
            theirs["volumeMounts"].append({"name": "engines", "mountPath": STORE_MOUNT, "readOnly": True})
    return {"metadata": {"annotations": {f"{api.GROUP}/engine-hash": engine.hash}},
            "spec": {"template": merged}}


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    meta = owner.get("metadata") or {}
    return {"apiVersion": f"{api.GROUP}/{api.VERSION}", "kind": api.KIND, "name": meta.get("name"),
            "uid": meta.get("uid", ""), "controller": True, "blockOwnerDeletion": True}


def colour_after(live: str | None) -> str:
    """BlueGreen: the colour a new engine goes to."""
    return "green" if live == "blue" else "blue"
