"""The Kubernetes manifests of one engine build: a batch/v1 Job and the ConfigMap carrying its plan.

The Job runs ``python -m seasonal_build build`` in the spec's image (NVIDIA's Triton TRT-LLM
container) on a node with the planned GPU, with TP x PP GPUs, the model source, the engine store
and a scratch volume sized to the plan. The ``seasonal_build`` package (standard library only) is
copied in by an init container from the operator's image, so the NVIDIA image stays unmodified (which images and
pull secrets: ``core.images.ImageSettings``, from the chart's values). A
Hugging Face source is fetched by a second init container, the only one that mounts the token (as a
file, ``HF_TOKEN_PATH``); conversion and trtllm-build never see it. The pod meets the restricted Pod
Security Standard: it runs as the image's non-root user (``triton-server``, 1000), mounts no
service-account token, and every container has CPU and memory requests and limits
(``core.sizing.build_resources``). Names derive
from the engine hash, so creating the same build twice is a no-op (AlreadyExists) and the build
is idempotent end to end. Both objects are owned by the InferenceService. Pure: dicts in, dicts
out; the caller creates them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seasonal_engines.api import durations
from seasonal_engines.api import spec as api
from seasonal_engines.core import images, names
from seasonal_engines.core.sizing import build_resources

MANAGED_BY = "seasonal-engines"
LABEL_HASH = "seasonalengines.io/engine-hash"
LABEL_MODEL = "seasonalengines.io/model"
LABEL_SEASON = "seasonalengines.io/season"
LABEL_SERVICE = "seasonalengines.io/inferenceservice"
ANNOTATION_FULL_HASH = "seasonalengines.io/engine-hash-full"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
PLAN_KEY = "plan.json"
PLAN_DIR = "/etc/seasonal"
HF_TOKEN_DIR = "/var/run/secrets/huggingface"
CALIBRATION_MOUNT = "/calibration"
IMAGE_USER = 1000  # triton-server, created with uid/gid 1000 in every Triton image (server's build.py)
STORE_MOUNT = "/engines"  # seasonal_build.engine_store.STORE_MOUNT: Triton pods mount the store here too
MODEL_MOUNT = "/models"
SCRATCH_MOUNT = "/scratch"
BUILDER_MOUNT = "/opt/seasonal"
HASH_IN_NAMES = 12
HASH_IN_LABELS = 16


@dataclass(frozen=True)
class JobSettings:
    """How build Jobs are shaped beyond what the InferenceService says. Defaults suit one build per model."""

    image_settings: images.ImageSettings = images.ImageSettings()
    """Our image (copied in by the init container), the NGC mirror and the pull secrets: from the chart."""
    backoff_limit: int = 1
    """Retries of a failed build pod: one retry covers a preempted node, more only burn GPU hours."""
    ttl_seconds_after_finished: int = 24 * 3600
    """Finished Jobs stay a day for `kubectl logs`, then Kubernetes deletes them."""
    cpu_request: str | None = None
    """None: sized to the plan (core.sizing.build_resources), with twice that as the limit; a value is both."""
    memory_request: str | None = None
    """None: sized to the plan; conversion holds the source model in host memory (a BF16 70B needs ~180Gi)."""
    memory_limit: str | None = None
    """None: equal to the request, so a build that outgrows its estimate fails loudly, not a node."""
    scratch_size_limit: str | None = None
    """None: sized to the plan (download + TensorRT-LLM checkpoint + 10%); the emptyDir's sizeLimit and the
    build container's ephemeral-storage request."""
    shm_size: str = "16Gi"
    """/dev/shm for the checkpoint step's GPU workers (quantize.py over TP ranks)."""
    run_as_non_root: bool = True
    """The restricted Pod Security Standard; NVIDIA's Triton images have the non-root user triton-server."""
    run_as_user: int | None = IMAGE_USER
    """uid and gid of the build; 1000 is the images' triton-server user (files it writes keep that owner)."""
    calibration_claim: str | None = None
    """A PVC holding an offline calibration set (a datasets directory: train split, text column), mounted at
    /calibration for nodes without network; quantizing builds then never reach the Hub."""
    calibration_path: str = "/"
    """The calibration set's directory inside that PVC."""
    service_account_name: str | None = None
    extra_tolerations: tuple[Mapping[str, Any], ...] = ()
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    """Annotations on build pods, e.g. cluster-autoscaler.kubernetes.io/safe-to-evict: "false" so that a
    scale-down never evicts an hour-long build."""


@dataclass(frozen=True)
class BuildManifests:
    job: dict[str, Any]
    config_map: dict[str, Any]


def job_name(model: str, engine_hash: str, attempt: int = 1) -> str:
    """The Job of build attempt ``attempt`` (``core.names.build_job``), at most 63 characters."""
    return names.build_job(model, engine_hash, attempt)


def plan_config_map_name(model: str, engine_hash: str) -> str:
    return names.plan_config_map(model, engine_hash)


def render(plan: Mapping[str, Any], service: Mapping[str, Any], settings: JobSettings = JobSettings(),
           *, owned: bool = True, attempt: int = 1) -> BuildManifests:
    """The Job and plan ConfigMap for ``plan`` (plan.json as a dict) owned by ``service`` (the InferenceService).

    ``owned=False`` leaves out the ownerReference, for manifests rendered before the InferenceService
    exists (GitOps); the operator always renders owned ones. ``attempt`` numbers the Job's name.
    """
    meta = _service_metadata(service, owned)
    spec = api.InferenceServiceSpec.model_validate(service.get("spec") or {})
    engine_hash, model = _checked_plan(plan, spec)
    plan = _with_source(plan, spec)
    labels = _labels(model, engine_hash, plan.get("season"), str(meta["name"]))
    owners = _owner_references(meta) if owned else []
    cm_name = plan_config_map_name(model, engine_hash)
    config_map = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": cm_name, "namespace": meta["namespace"], "labels": labels,
                     "annotations": {ANNOTATION_FULL_HASH: engine_hash}, "ownerReferences": owners},
        "data": {PLAN_KEY: json.dumps(dict(plan), indent=2, sort_keys=True) + "\n"},
    }
    sized = build_resources.build_resources(plan)
    job = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": job_name(model, engine_hash, attempt), "namespace": meta["namespace"],
                     "labels": labels,
                     "annotations": {ANNOTATION_FULL_HASH: engine_hash, ANNOTATION_RESOURCES: "; ".join(sized.reasons)},
                     "ownerReferences": owners},
        "spec": {
            "backoffLimit": settings.backoff_limit,
            "activeDeadlineSeconds": int(durations.seconds(spec.engine.build_deadline)),
            "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
            "template": {"metadata": {"labels": labels, **({"annotations": dict(settings.pod_annotations)}
                                                          if settings.pod_annotations else {})},
                         "spec": _pod_spec(spec, plan, cm_name, settings, sized)},
        },
    }
    # No object shared between the two manifests or their parts: callers may patch one freely, and
    # YAML output carries no anchors.
    job, config_map = json.loads(json.dumps(job)), json.loads(json.dumps(config_map))
    if not owned:
        for obj in (job, config_map):
            del obj["metadata"]["ownerReferences"]
    return BuildManifests(job=job, config_map=config_map)


def _service_metadata(service: Mapping[str, Any], owned: bool) -> Mapping[str, Any]:
    """The InferenceService's metadata, refused without what the manifests need (the uid only to own them)."""
    meta = service.get("metadata") or {}
    for key in ("name", "namespace", "uid") if owned else ("name", "namespace"):
        if not meta.get(key):
            raise ValueError(f"InferenceService metadata.{key} is required to own the build Job (got "
                             f"{meta.get(key)!r}); pass the object as read from the cluster")
    return meta


def _checked_plan(plan: Mapping[str, Any], spec: api.InferenceServiceSpec) -> tuple[str, str]:
    """The plan's engine hash and model name, refused when the plan is no TensorRT-LLM build of this spec's model."""
    engine_hash = str(plan.get("engine_hash", ""))
    if not re.fullmatch(r"[0-9a-f]{16,128}", engine_hash):
        raise ValueError(f"plan.engine_hash must be lowercase hex (16+ characters), got {engine_hash!r}")
    if plan.get("backend") not in (api.Backend.tensorrt, None):
        raise ValueError(f"plan.backend {plan.get('backend')!r} has no build Job: pytorch builds nothing and the "
                         "cpu-stand-in is built locally (python -m seasonal_build build --backend cpu-stand-in)")
    model = str(plan["model"]["name"])
    if model != spec.model.name:
        raise ValueError(f"plan.model.name {model!r} differs from spec.model.name {spec.model.name!r}; "
                         "re-plan for this InferenceService")
    return engine_hash, model


def _owner_references(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"apiVersion": f"{api.GROUP}/{api.VERSION}", "kind": api.KIND, "name": meta["name"],
             "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}]


def _pod_spec(spec: api.InferenceServiceSpec, plan: Mapping[str, Any], cm_name: str, settings: JobSettings,
              sized: build_resources.BuildResources) -> dict[str, Any]:
    """The build pod: init containers (builder install, then any download), the build container, its volumes."""
    volumes, mounts, env = _volumes(spec, plan, cm_name, settings)
    container_security = _container_security(settings)
    read_only = {**container_security, "readOnlyRootFilesystem": True}
    init_containers = [_install_container(settings, read_only)]
    download = _download_container(spec, settings, read_only)
    if download is not None:
        init_containers.append(download)
    build = _build_container(spec, plan, settings, sized, env, mounts, container_security)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "nodeSelector": {GPU_PRODUCT_LABEL: spec.hardware.gpu_product},
        "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
                        *[dict(t) for t in settings.extra_tolerations]],
        "securityContext": _pod_security(settings),
        # The build talks to no Kubernetes API: no service-account token in the pod.
        "automountServiceAccountToken": False,
        "initContainers": init_containers,
        "containers": [build],
        "volumes": volumes,
    }
    if settings.image_settings.pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in settings.image_settings.pull_secrets]
    if settings.service_account_name:
        pod_spec["serviceAccountName"] = settings.service_account_name
    return pod_spec


def _container_security(settings: JobSettings) -> dict[str, Any]:
    """Every container's securityContext under the restricted Pod Security Standard."""
    security: dict[str, Any] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"}}
    if settings.run_as_non_root:
        security["runAsNonRoot"] = True
    return security


def _pod_security(settings: JobSettings) -> dict[str, Any]:
    """The pod's securityContext: the build's user and group, and the group that owns its volumes."""
    security: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    if settings.run_as_non_root:
        security["runAsNonRoot"] = True
    if settings.run_as_user is not None:
        security.update(runAsUser=settings.run_as_user, runAsGroup=settings.run_as_user,
                        fsGroup=settings.run_as_user,
                        # The store may hold terabytes: chown it only when its root is not ours yet.
                        fsGroupChangePolicy="OnRootMismatch")
    return security


def _install_container(settings: JobSettings, security: Mapping[str, Any]) -> dict[str, Any]:
    """The init container that copies ``seasonal_build`` from our image into the pod."""
    return {
        "name": "install-builder", "image": settings.image_settings.builder_image, "imagePullPolicy": "IfNotPresent",
        # The package is standard library only: copying its directory is a complete install.
        "command": ["python", "-c", "import os, shutil, seasonal_build; shutil.copytree(os.path.dirname("
                    f"seasonal_build.__file__), '{BUILDER_MOUNT}/seasonal_build', dirs_exist_ok=True)"],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "volumeMounts": [{"name": "builder", "mountPath": BUILDER_MOUNT}],
        "securityContext": security,
    }


def _build_container(spec: api.InferenceServiceSpec, plan: Mapping[str, Any], settings: JobSettings,
                     sized: build_resources.BuildResources, env: list[dict[str, Any]], mounts: list[dict[str, Any]],
                     security: Mapping[str, Any]) -> dict[str, Any]:
    """The container that runs ``seasonal_build build`` in NVIDIA's image on TP x PP GPUs."""
    gpus = int(plan["model"].get("tp", 1)) * int(plan["model"].get("pp", 1))
    memory = settings.memory_request or sized.memory
    return {
        "name": "build", "image": images.mirrored(spec.engine.image, settings.image_settings.ngc_registry),
        "imagePullPolicy": "IfNotPresent",
        "command": _build_command(settings),
        # trtllm-build writes its timing cache (model.cache) into the working directory.
        "workingDir": SCRATCH_MOUNT,
        "env": env,
        "resources": {"requests": {"cpu": settings.cpu_request or str(sized.cpu_request), "memory": memory,
                                   "ephemeral-storage": settings.scratch_size_limit or sized.scratch,
                                   GPU_RESOURCE: str(gpus)},
                      "limits": {"cpu": settings.cpu_request or str(sized.cpu_limit),
                                 "memory": settings.memory_limit or memory, GPU_RESOURCE: str(gpus)}},
        "volumeMounts": mounts,
        "securityContext": security,
    }


def _build_command(settings: JobSettings) -> list[str]:
    command = ["python3", "-m", "seasonal_build", "build", "--plan", f"{PLAN_DIR}/{PLAN_KEY}",
               "--store", STORE_MOUNT, "--serving-store", STORE_MOUNT, "--model-mount", MODEL_MOUNT,
               "--work-dir", SCRATCH_MOUNT]
    if settings.calibration_claim:
        command += ["--calibration-dir", f"{CALIBRATION_MOUNT}/{settings.calibration_path.strip('/')}".rstrip("/")]
    return command


REFERENCES_UID = IMAGE_USER  # the uid Triton pods and builds run as, so the references' files match


def references_job(refs: Any, service: Mapping[str, Any], settings: JobSettings = JobSettings()) -> dict[str, Any]:
    """A small Job that writes ``refs`` (``core.engine_references.EngineReferences``) into the engine store,
    where garbage collection reads them: the operator itself never mounts the store. No GPU, non-root, no
    API credentials; named by the references' digest, so applying it again is a no-op."""
    meta = service.get("metadata") or {}
    spec = api.InferenceServiceSpec.model_validate(service.get("spec") or {})
    command = ["python", "-m", "seasonal_build", "refs", "--store", STORE_MOUNT, "--model", refs.model,
               "--owner", refs.owner, "--keep", str(refs.keep)]
    if refs.serving:
        command += ["--serving", refs.serving]
    for h in refs.history:
        command += ["--history", h]
    for season, h in sorted(refs.seasons.items()):
        command += ["--season", f"{season}={h}"]
    labels = {"app.kubernetes.io/managed-by": MANAGED_BY, "app.kubernetes.io/component": "engine-references",
              LABEL_SERVICE: names.label_value(str(meta["name"])), LABEL_MODEL: names.label_value(refs.model)}
    security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
                "seccompProfile": {"type": "RuntimeDefault"}}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": names.shortened(f"seasonal-refs-{meta['name']}", f"-{refs.digest()[:10]}"),
                     "namespace": meta["namespace"], "labels": labels,
                     "ownerReferences": [{"apiVersion": f"{api.GROUP}/{api.VERSION}", "kind": api.KIND,
                                          "name": meta["name"], "uid": meta["uid"], "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": {
            "backoffLimit": 3, "activeDeadlineSeconds": 600, "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": labels}, "spec": {
                "restartPolicy": "Never", "automountServiceAccountToken": False,
                **({"imagePullSecrets": [{"name": n} for n in settings.image_settings.pull_secrets]}
                   if settings.image_settings.pull_secrets else {}),
                "securityContext": {"runAsNonRoot": True, "runAsUser": REFERENCES_UID, "runAsGroup": REFERENCES_UID,
                                    "fsGroup": REFERENCES_UID, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "record", "image": settings.image_settings.builder_image, "imagePullPolicy": "IfNotPresent",
                    "command": command,
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                  "limits": {"cpu": "500m", "memory": "128Mi"}},
                    "volumeMounts": [{"name": "engines", "mountPath": STORE_MOUNT}],
                    "securityContext": security}],
                "volumes": [{"name": "engines", "persistentVolumeClaim": {"claimName": spec.engine.store.claim_name}}],
            }},
        },
    }


def _with_source(plan: Mapping[str, Any], spec: api.InferenceServiceSpec) -> Mapping[str, Any]:
    """The plan with the spec's model source: filled in when the plan has none (planned from a trace),
    refused when it names another checkpoint."""
    wanted = spec.model.source.model_dump(by_alias=True, exclude_none=True, mode="json")
    given = plan["model"].get("source") or {}
    if not given:
        return {**plan, "model": {**plan["model"], "source": wanted}}
    try:
        normalised = api.ModelSource.model_validate(given).model_dump(by_alias=True, exclude_none=True, mode="json")
    except ValueError as exc:
        raise ValueError(f"plan.model.source is not a valid model source: {exc}") from None
    if _checkpoint_of(normalised) != _checkpoint_of(wanted):
        raise ValueError(f"plan.model.source {json.dumps(normalised)} differs from spec.model.source "
                         f"{json.dumps(wanted)}; re-plan for this InferenceService")
    return plan


def _checkpoint_of(source: Mapping[str, Any]) -> Any:
    """A source without its token reference: which Secret holds the token does not change the weights."""
    hf = source.get("huggingFace")
    if isinstance(hf, Mapping):
        return {"huggingFace": {k: v for k, v in hf.items() if k != "tokenSecretRef"}}
    return source


ANNOTATION_RESOURCES = "seasonalengines.io/build-resources"


def _download_container(spec: api.InferenceServiceSpec, settings: JobSettings,
                        security: Mapping[str, Any]) -> dict[str, Any] | None:
    """The init container that fetches a Hugging Face source: the only one that mounts the token."""
    hf = spec.model.source.hugging_face
    if hf is None:
        return None
    mounts: list[dict[str, Any]] = [
        {"name": "plan", "mountPath": PLAN_DIR, "readOnly": True},
        {"name": "scratch", "mountPath": SCRATCH_MOUNT},
        {"name": "builder", "mountPath": BUILDER_MOUNT, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    env: list[dict[str, Any]] = [*_common_env(), {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"}]
    if hf.token_secret_ref is not None:
        mounts.append({"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True})
        # huggingface_hub reads the token from this file itself: no token in env, argv or logs.
        env.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/{hf.token_secret_ref.key}"})
    return {
        "name": "download", "image": images.mirrored(spec.engine.image, settings.image_settings.ngc_registry),
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-m", "seasonal_build", "download", "--plan", f"{PLAN_DIR}/{PLAN_KEY}",
                    "--work-dir", SCRATCH_MOUNT],
        "env": env,
        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}},
        "volumeMounts": mounts,
        "securityContext": dict(security),
    }


def _common_env() -> list[dict[str, Any]]:
    """Writable homes and caches on the scratch volume: the image's user owns nothing else."""
    return [
        {"name": "PYTHONPATH", "value": BUILDER_MOUNT},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "HOME", "value": f"{SCRATCH_MOUNT}/home"},
        {"name": "XDG_CACHE_HOME", "value": f"{SCRATCH_MOUNT}/cache"},
        {"name": "HF_HOME", "value": f"{SCRATCH_MOUNT}/hf-home"},
        {"name": "TMPDIR", "value": SCRATCH_MOUNT},
    ]


def _volumes(spec: api.InferenceServiceSpec, plan: Mapping[str, Any], cm_name: str,
             settings: JobSettings) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    scratch = {"sizeLimit": settings.scratch_size_limit or build_resources.build_resources(plan).scratch}
    volumes: list[dict[str, Any]] = [
        {"name": "plan", "configMap": {"name": cm_name, "items": [{"key": PLAN_KEY, "path": PLAN_KEY}]}},
        {"name": "engines", "persistentVolumeClaim": {"claimName": spec.engine.store.claim_name}},
        {"name": "scratch", "emptyDir": scratch},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": settings.shm_size}},
        {"name": "builder", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "plan", "mountPath": PLAN_DIR, "readOnly": True},
        {"name": "engines", "mountPath": STORE_MOUNT},
        {"name": "scratch", "mountPath": SCRATCH_MOUNT},
        {"name": "dshm", "mountPath": "/dev/shm"},
        {"name": "builder", "mountPath": BUILDER_MOUNT, "readOnly": True},
    ]
    env = _common_env()
    source = spec.model.source
    if source.pvc is not None:
        volumes.append({"name": "model", "persistentVolumeClaim": {"claimName": source.pvc.claim_name,
                                                                   "readOnly": True}})
        mounts.append({"name": "model", "mountPath": MODEL_MOUNT, "readOnly": True})
    elif source.hugging_face is not None and source.hugging_face.token_secret_ref is not None:
        ref = source.hugging_face.token_secret_ref
        # Mounted by the download container only (see _download_container).
        volumes.append({"name": "hf-token", "secret": {"secretName": ref.name, "defaultMode": 0o440,
                                                       "items": [{"key": ref.key, "path": ref.key}]}})
    if settings.calibration_claim:
        volumes.append({"name": "calibration", "persistentVolumeClaim": {"claimName": settings.calibration_claim,
                                                                         "readOnly": True}})
        mounts.append({"name": "calibration", "mountPath": CALIBRATION_MOUNT, "readOnly": True})
    return volumes, mounts, env


def _labels(model: str, engine_hash: str, season: Any, service: str) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/component": "engine-build",
        LABEL_HASH: engine_hash[:HASH_IN_LABELS],
        LABEL_MODEL: names.label_value(model),
        LABEL_SERVICE: names.label_value(service),
    }
    if season:
        labels[LABEL_SEASON] = names.label_value(str(season))
    return labels


__all__ = ["JobSettings", "BuildManifests", "render", "job_name", "plan_config_map_name"]
