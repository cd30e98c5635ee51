"""The Triton Deployment (and BlueGreen Service) serving an engine, rendered as plain manifests.

The operator owns a Deployment built from ``spec.serving.template`` (or patches a referenced one): it adds
the engine store volume (read-only), points Triton at ``/engines/<model>/<hash>/triton``, requests
TP x PP GPUs, pins pods to the GPU product the engine was built for, and labels pods with the engine hash
so readiness can be checked pod by pod. Strategies: RollingUpdate with maxSurge 1 / maxUnavailable 0 (a
new pod must be ready before an old one goes: nothing serving is removed before its replacement is ready,
so a rollover needs one spare set of GPUs and waits, condition RolloutBlocked, while there is none),
BlueGreen (two Deployments; the Service switches colour when the new one is ready) and Recreate (downtime
accepted, an explicit opt-in). Pure: dicts in, dicts out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from seasonal_build import launching
from seasonal_engines.api import spec as api
from seasonal_engines.api.status import EngineRef
from seasonal_engines.core import images, names
from seasonal_engines.core.build_jobs import HASH_IN_LABELS, LABEL_HASH, LABEL_SERVICE, STORE_MOUNT

HASH_LABEL = LABEL_HASH
SERVICE_LABEL = LABEL_SERVICE
COLOUR_LABEL = f"{api.GROUP}/colour"
HTTP_PORT = 8000
GRPC_PORT = 8001
METRICS_PORT = 8002
CONTAINER = "triton"


def deployment_name(service: str, colour: str | None = None) -> str:
    return names.triton_deployment(service, colour)


def service_name(service: str) -> str:
    return names.triton_service(service)


def model_repository(model: str, engine_hash: str) -> str:
    return f"{STORE_MOUNT}/{model}/{engine_hash}/triton"


def _labels(service: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "triton", "app.kubernetes.io/managed-by": "seasonal-engines",
            SERVICE_LABEL: names.label_value(service)}


def triton_command(model: str, engine_hash: str, world_size: int,
                   backend: str = api.Backend.tensorrt.value) -> list[str]:
    """TP/PP engines: one MPI rank per GPU with ``mpirun`` in the foreground (NVIDIA's launch script returns
    at once, which would end the container); see ``seasonal_build.launching``."""
    return launching.serve_argv(model_repository(model, engine_hash), world_size, backend=backend,
                                ports=(HTTP_PORT, GRPC_PORT, METRICS_PORT))


def pod_template(spec: api.InferenceServiceSpec, service: str, engine: EngineRef,
                 image_settings: images.ImageSettings = images.UNCHANGED) -> dict[str, Any]:
    """The pod template serving ``engine``: the user's template with engine, GPU and placement filled in.
    The image comes through the NGC mirror and the chart's pull secrets apply, unless the template sets its own."""
    tpl = copy.deepcopy(spec.serving.template) if spec.serving.template else {}
    meta = tpl.setdefault("metadata", {})
    meta.setdefault("labels", {}).update({**_labels(service), HASH_LABEL: engine.hash[:HASH_IN_LABELS]})
    meta.setdefault("annotations", {})[f"{api.GROUP}/engine-envelope"] = _envelope(engine)
    pod = tpl.setdefault("spec", {})
    triton = _triton_container(pod)
    world = spec.model.tensor_parallel_size * spec.model.pipeline_parallel_size
    triton.setdefault("image", images.mirrored(spec.engine.image, image_settings.ngc_registry))
    if image_settings.pull_secrets and "imagePullSecrets" not in pod:
        pod["imagePullSecrets"] = [{"name": name} for name in image_settings.pull_secrets]
    if engine.backend != api.Backend.pytorch or "command" not in triton:
        triton["command"] = triton_command(spec.model.name, engine.hash, world, str(engine.backend))
    _serving_ports_and_probes(triton)
    if engine.backend != "cpu-stand-in":
        _on_gpus(pod, triton, world, spec.hardware.gpu_product)
    _restrict(pod, enforce=not spec.serving.allow_privileged)
    _mount_store(pod, triton, spec.engine.store.claim_name)
    return tpl


def _triton_container(pod: dict[str, Any]) -> dict[str, Any]:
    """The template's container named ``triton``, or a new one first in the list."""
    containers = pod.setdefault("containers", [])
    triton = next((c for c in containers if c.get("name") == CONTAINER), None)
    if triton is None:
        triton = {"name": CONTAINER}
        containers.insert(0, triton)
    return triton


def _serving_ports_and_probes(triton: dict[str, Any]) -> None:
    triton.setdefault("ports", [{"name": "http", "containerPort": HTTP_PORT},
                                {"name": "grpc", "containerPort": GRPC_PORT},
                                {"name": "metrics", "containerPort": METRICS_PORT}])
    triton.setdefault("readinessProbe", {"httpGet": {"path": "/v2/health/ready", "port": "http"},
                                         "periodSeconds": 10, "failureThreshold": 3})
    # Loading a large engine takes minutes: the startup probe gives it up to 30, then liveness takes over.
    triton.setdefault("startupProbe", {"httpGet": {"path": "/v2/health/live", "port": "http"},
                                       "periodSeconds": 10, "failureThreshold": 180})
    triton.setdefault("livenessProbe", {"httpGet": {"path": "/v2/health/live", "port": "http"},
                                        "periodSeconds": 20, "failureThreshold": 3})


def _on_gpus(pod: dict[str, Any], triton: dict[str, Any], world: int, gpu_product: str) -> None:
    """``world`` GPUs of ``gpu_product`` for the Triton container, tolerating the GPU nodes' taint."""
    limits = triton.setdefault("resources", {}).setdefault("limits", {})
    limits["nvidia.com/gpu"] = str(world)  # quantities are strings for typed clients
    pod.setdefault("nodeSelector", {})["nvidia.com/gpu.product"] = gpu_product
    tolerations = pod.setdefault("tolerations", [])
    if not any(t.get("key") == "nvidia.com/gpu" for t in tolerations):
        tolerations.append({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})


def _mount_store(pod: dict[str, Any], triton: dict[str, Any], claim_name: str) -> None:
    """The engine store, read-only, at STORE_MOUNT (unless the template mounts a volume named engines)."""
    mounts = triton.setdefault("volumeMounts", [])
    if not any(m.get("name") == "engines" for m in mounts):
        mounts.append({"name": "engines", "mountPath": STORE_MOUNT, "readOnly": True})
    volumes = pod.setdefault("volumes", [])
    if not any(v.get("name") == "engines" for v in volumes):
        volumes.append({"name": "engines", "persistentVolumeClaim": {"claimName": claim_name, "readOnly": True}})


# NGC's Triton images create the user triton-server with uid and gid 1000 for running as non-root
# (triton-inference-server/server, build.py: "Create a user that can be used to run triton as non-root").
TRITON_UID = 1000


def _restrict(pod: dict[str, Any], *, enforce: bool) -> None:
    """Pod Security Standards "restricted" for the Triton pod: non-root, no privilege escalation, no
    capabilities, the runtime's seccomp profile, no API credentials. ``enforce`` (serving.allowPrivileged
    off) overrides what the template says; otherwise the template's own settings win."""
    put = dict.__setitem__ if enforce else dict.setdefault
    sc = pod.setdefault("securityContext", {})
    put(sc, "runAsNonRoot", True)
    put(sc, "seccompProfile", {"type": "RuntimeDefault"})
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        if enforce and sc.get(key) == 0:
            sc[key] = TRITON_UID
        sc.setdefault(key, TRITON_UID)
    put(pod, "automountServiceAccountToken", False)
    for container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
        csc = container.setdefault("securityContext", {})
        put(csc, "allowPrivilegeEscalation", False)
        caps = csc.setdefault("capabilities", {})
        if enforce:
            caps.pop("add", None)
            csc.pop("privileged", None)
        if "ALL" not in caps.setdefault("drop", []):
            caps["drop"] = ["ALL", *caps["drop"]]


def deployment(spec: api.InferenceServiceSpec, owner: Mapping[str, Any], engine: EngineRef,
               colour: str | None = None,
               image_settings: images.ImageSettings = images.UNCHANGED) -> dict[str, Any]:
    """An operator-owned Triton Deployment serving ``engine`` (``colour`` only for BlueGreen)."""
    meta = owner.get("metadata") or {}
    service = str(meta["name"])
    selector = {SERVICE_LABEL: names.label_value(service), **({COLOUR_LABEL: colour} if colour else {})}
    template = pod_template(spec, service, engine, image_settings)
    template["metadata"]["labels"].update(selector)
    strategy: dict[str, Any]
    if spec.rollout.strategy == api.Strategy.recreate:
        strategy = {"type": "Recreate"}
    else:
        # maxUnavailable 0: an old pod goes only once its replacement is ready; maxSurge 1: one spare set
        # of GPUs at a time. Without one the new pod stays Pending and the old engine keeps serving.
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
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
    selector = {SERVICE_LABEL: names.label_value(name), **({COLOUR_LABEL: colour} if colour else {})}
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": service_name(name), "namespace": meta.get("namespace"), "labels": _labels(name),
                     "ownerReferences": [owner_reference(owner)]},
        "spec": {"selector": selector, "ports": [
            {"name": "http", "port": HTTP_PORT, "targetPort": "http"},
            {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc"},
            {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"}]},
    }


def referenced_apply(spec: api.InferenceServiceSpec, existing: Mapping[str, Any], service_name: str,
                     engine: EngineRef) -> dict[str, Any]:
    """The server-side apply configuration for a user's own Deployment (``serving.deploymentRef``): only the
    fields the operator owns (the serving container's command, GPU count and engine mount, the engine volume,
    the GPU node selector, the engine labels and annotation). Everything else stays the user's."""
    ref = spec.serving.deployment_ref
    assert ref is not None
    pod = ((existing.get("spec") or {}).get("template") or {}).get("spec") or {}
    found = [c.get("name") for c in pod.get("containers", [])]
    if ref.container not in found:
        raise ValueError(f"serving.deploymentRef.container {ref.container!r} is not a container of Deployment "
                         f"{ref.name} (it has {found}); name the container that runs tritonserver")
    world = spec.model.tensor_parallel_size * spec.model.pipeline_parallel_size
    container: dict[str, Any] = {
        "name": ref.container,
        "command": triton_command(spec.model.name, engine.hash, world),
        "volumeMounts": [{"name": "engines", "mountPath": STORE_MOUNT, "readOnly": True}],
    }
    pod_spec: dict[str, Any] = {
        "containers": [container],
        "volumes": [{"name": "engines", "persistentVolumeClaim": {"claimName": spec.engine.store.claim_name,
                                                                   "readOnly": True}}],
    }
    if engine.backend != "cpu-stand-in":
        container["resources"] = {"limits": {"nvidia.com/gpu": str(world)}}
        pod_spec["nodeSelector"] = {"nvidia.com/gpu.product": spec.hardware.gpu_product}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": ref.name, "namespace": (existing.get("metadata") or {}).get("namespace"),
                     "annotations": {f"{api.GROUP}/engine-hash": engine.hash}},
        "spec": {"template": {
            "metadata": {"labels": {HASH_LABEL: engine.hash[:HASH_IN_LABELS],
                                    SERVICE_LABEL: names.label_value(service_name)},
                         "annotations": {f"{api.GROUP}/engine-envelope": _envelope(engine)}},
            "spec": pod_spec}},
    }


def _envelope(engine: EngineRef) -> str:
    return f"{engine.envelope.max_input_len}/{engine.envelope.max_seq_len}/{engine.envelope.max_batch_size}"


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    meta = owner.get("metadata") or {}
    return {"apiVersion": f"{api.GROUP}/{api.VERSION}", "kind": api.KIND, "name": meta.get("name"),
            "uid": meta.get("uid", ""), "controller": True, "blockOwnerDeletion": True}


def colour_after(live: str | None) -> str:
    """BlueGreen: the colour a new engine goes to."""
    return "green" if live == "blue" else "blue"
