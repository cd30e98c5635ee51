"""The Triton Deployment and Service the operator writes, and how it reads Jobs and Deployments back."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from seasonal_engines.adapters import kubernetes as kube_adapter
from seasonal_engines.api import validation
from seasonal_engines.api.status import EngineRef, EnvelopeStatus
from seasonal_engines.core import deployments, images, observations

REPO = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.35"


def spec(**updates: Any):
    doc = yaml.safe_load((REPO / "examples" / "llama-3-8b-h100-seasons.yaml").read_text())
    doc["spec"].update(updates)
    return validation.parse_manifest(doc)


OWNER = {"metadata": {"name": "chat", "namespace": "llm", "uid": "8d3c7f1e-0000-4000-8000-000000000001"}}
ENGINE = EngineRef(hash="ab" * 32, envelope=EnvelopeStatus(max_input_len=4096, max_seq_len=8192,
                                                           max_batch_size=128, max_num_tokens=8192), season="night")


def validate(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize("strategy", ["RollingUpdate", "Recreate", "BlueGreen"])
def test_deployment_is_valid_and_never_removes_a_pod_before_its_replacement(strategy: str) -> None:
    s = spec(rollout={"strategy": strategy})
    colour = "blue" if strategy == "BlueGreen" else None
    dep = deployments.deployment(s, OWNER, ENGINE, colour)
    validate(dep)
    if strategy == "Recreate":
        assert dep["spec"]["strategy"] == {"type": "Recreate"}
    else:
        # maxUnavailable 0: the Deployment controller keeps every old pod until a new one is available.
        assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pod = dep["spec"]["template"]["spec"]
    triton = pod["containers"][0]
    assert triton["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert f"--model-repository=/engines/llama-3-8b/{ENGINE.hash}/triton" in triton["command"]
    assert {"name": "engines", "mountPath": "/engines", "readOnly": True} in triton["volumeMounts"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert labels[deployments.HASH_LABEL] == ENGINE.hash[:16]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert dep["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
    if colour:
        assert dep["metadata"]["name"] == "chat-triton-blue"


def test_tensor_parallel_engines_launch_one_rank_per_gpu() -> None:
    s = spec(model={**spec().model.model_dump(by_alias=True, exclude_none=True, mode="json"),
                    "tensorParallelSize": 4})
    dep = deployments.deployment(s, OWNER, ENGINE)
    triton = dep["spec"]["template"]["spec"]["containers"][0]
    assert triton["resources"]["limits"]["nvidia.com/gpu"] == "4"
    command = triton["command"]
    # mpirun itself is the container's command (NVIDIA's launch script would return at once): four ranks.
    assert command[0] == "mpirun" and command.count("tritonserver") == 4


def test_users_template_is_kept_and_completed() -> None:
    template = {"metadata": {"labels": {"team": "search"}},
                "spec": {"priorityClassName": "inference", "containers": [
                    {"name": "triton", "image": "registry.local/triton:26.07", "env": [{"name": "X", "value": "1"}]},
                    {"name": "sidecar", "image": "busybox"}]}}
    dep = deployments.deployment(spec(serving={"template": template}), OWNER, ENGINE)
    validate(dep)
    pod = dep["spec"]["template"]
    assert pod["metadata"]["labels"]["team"] == "search"
    assert pod["spec"]["priorityClassName"] == "inference"
    assert pod["spec"]["containers"][0]["image"] == "registry.local/triton:26.07"
    assert [c["name"] for c in pod["spec"]["containers"]] == ["triton", "sidecar"]
    assert template["spec"]["containers"][0].get("command") is None, "the spec's template is not mutated"


def test_triton_pods_meet_pod_security_restricted_whatever_the_template_says() -> None:
    template = {"spec": {"securityContext": {"runAsUser": 0}, "containers": [
        {"name": "triton",
         "securityContext": {"allowPrivilegeEscalation": True, "capabilities": {"drop": ["NET_RAW"]}}},
        {"name": "sidecar", "image": "busybox"}]}}
    # validate() refuses the escalation; the renderer enforces the same on its own (objects created before
    # a CRD upgrade reach it unvalidated by the API server).
    raw = spec().model_copy(update={"serving": spec().serving.model_copy(update={"template": template})})
    pod = deployments.deployment(raw, OWNER, ENGINE)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for c in pod["containers"]:
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"]["drop"][0] == "ALL"


def test_blue_green_service_switches_colour() -> None:
    s = spec(rollout={"strategy": "BlueGreen"})
    svc = deployments.service(s, OWNER, "green")
    validate(svc)
    assert svc["spec"]["selector"][deployments.COLOUR_LABEL] == "green"
    assert deployments.colour_after("green") == "blue" and deployments.colour_after(None) == "blue"


def test_referenced_deployment_apply_names_a_missing_container_and_owns_only_engine_fields() -> None:
    s = spec(serving={"deploymentRef": {"name": "my-triton", "container": "server"}})
    existing = {"metadata": {"name": "my-triton", "namespace": "ns"},
                "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "x"}]}}}}
    with pytest.raises(ValueError, match="serving.deploymentRef.container 'server'"):
        deployments.referenced_apply(s, existing, "chat", ENGINE)
    existing["spec"]["template"]["spec"]["containers"][0]["name"] = "server"
    applied = deployments.referenced_apply(s, copy.deepcopy(existing), "chat", ENGINE)
    (server,) = applied["spec"]["template"]["spec"]["containers"]
    assert server["name"] == "server" and "--model-repository" in " ".join(server["command"])
    # The user's fields (image, replicas, selector, strategy, other containers) are not in the apply
    # configuration, so server-side apply leaves them to their manager.
    assert "image" not in server
    assert set(applied["spec"]) == {"template"}
    assert applied["metadata"] == {"name": "my-triton", "namespace": "ns",
                                   "annotations": {"seasonalengines.io/engine-hash": ENGINE.hash}}


# --- reading the cluster back -------------------------------------------------------------------


@pytest.mark.parametrize(("status", "state"), [
    ({}, observations.JobState.running),
    ({"active": 1}, observations.JobState.running),
    ({"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}, observations.JobState.succeeded),
    ({"conditions": [{"type": "SuccessCriteriaMet", "status": "True"}]}, observations.JobState.succeeded),
    ({"conditions": [{"type": "Failed", "status": "True", "message": "DeadlineExceeded"}]},
     observations.JobState.failed),
    ({"conditions": [{"type": "Failed", "status": "False"}]}, observations.JobState.running),
], ids=["new", "active", "complete", "success-criteria", "failed", "condition-false"])
def test_job_state_follows_the_job_controllers_conditions(status: dict[str, Any], state: observations.JobState) -> None:
    seen = kube_adapter.job_observation({"metadata": {"name": "j"}, "status": status})
    assert seen.state == state
    if state == observations.JobState.failed:
        assert "DeadlineExceeded" in seen.message


def _dep(generation: int = 2, observed: int = 2, updated: int = 2, available: int = 2, total: int = 2,
         engine: str = ENGINE.hash, conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "d", "generation": generation,
                         "annotations": {"seasonalengines.io/engine-hash": engine}},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "availableReplicas": available,
                       "replicas": total, "conditions": conditions or []}}


@pytest.mark.parametrize(("dep", "ready", "failed"), [
    (_dep(), True, False),
    (_dep(observed=1), False, False),
    (_dep(updated=1), False, False),
    (_dep(available=1), False, False),
    (_dep(total=3), False, False),  # an old pod still terminating
    (_dep(engine="other"), False, False),
    (_dep(conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]), False, True),
], ids=["done", "not-observed", "not-updated", "not-available", "old-pod-left", "other-engine", "deadline"])
def test_deployment_progress_is_what_rollout_status_checks(dep: dict[str, Any], ready: bool, failed: bool) -> None:
    p = kube_adapter.deployment_progress(dep, ENGINE.hash)
    assert (p.ready, p.failed) == (ready, failed), p.message


def test_triton_config_must_name_the_planned_engine() -> None:
    from seasonal_engines.adapters.triton import config_mismatch

    good = {"parameters": {"engine_hash": {"string_value": ENGINE.hash}, "max_seq_len": {"string_value": "8192"}}}
    assert config_mismatch(good, ENGINE) is None
    other = {"parameters": {"engine_hash": {"string_value": "cd" * 32}}}
    assert "not abababababab" in str(config_mismatch(other, ENGINE))
    short = {"parameters": {"engine_hash": {"string_value": ENGINE.hash}, "max_seq_len": {"string_value": "4096"}}}
    assert "max_seq_len 4096" in str(config_mismatch(short, ENGINE))
    assert config_mismatch({}, ENGINE) is not None, "a model without the parameter is not ours"


def test_triton_pods_pull_ngc_images_through_the_mirror_with_the_charts_pull_secrets() -> None:
    settings = images.ImageSettings(pull_secrets=("ngc-pull",), ngc_registry="registry.example.com/nvcr")
    dep = deployments.deployment(spec(), OWNER, ENGINE, image_settings=settings)
    pod = dep["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"].startswith("registry.example.com/nvcr/nvidia/tritonserver:")
    assert pod["imagePullSecrets"] == [{"name": "ngc-pull"}]
    validate(dep)


def test_a_template_that_names_its_image_and_pull_secrets_keeps_them() -> None:
    template = {"spec": {"imagePullSecrets": [{"name": "own"}],
                         "containers": [{"name": deployments.CONTAINER, "image": "nvcr.io/nvidia/own:1"}]}}
    settings = images.ImageSettings(pull_secrets=("ngc-pull",), ngc_registry="registry.example.com/nvcr")
    pod = deployments.deployment(spec(serving={"template": template}), OWNER, ENGINE,
                                 image_settings=settings)["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "nvcr.io/nvidia/own:1"
    assert pod["imagePullSecrets"] == [{"name": "own"}]
