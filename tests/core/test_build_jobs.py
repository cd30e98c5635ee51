"""Build Job and plan ConfigMap manifests: valid Kubernetes objects, pinned to the planned GPU, owned and labelled."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from seasonal_engines.cli import main as cli
from seasonal_engines.core import build_jobs

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "engine_jobs" / "golden"
K8S_VERSION = "1.35"


def plan(preset: str = "llama-3-8b-bf16-tp1") -> dict[str, Any]:
    return json.loads((GOLDEN / f"{preset}.plan.json").read_text())


def service(source: dict[str, Any] | None = None, **spec_changes: Any) -> dict[str, Any]:
    svc = yaml.safe_load((REPO / "examples" / "llama-3-8b-h100-seasons.yaml").read_text())
    svc["metadata"]["uid"] = "0b6a4c9e-5d3f-4e61-9a47-1f2e3d4c5b6a"
    if source is not None:
        svc["spec"]["model"]["source"] = source
    for key, value in spec_changes.items():
        svc["spec"][key] = value
    return svc


def hf_plan(p: dict[str, Any], svc: dict[str, Any]) -> dict[str, Any]:
    """The plan as the operator writes it: with the InferenceService's model source."""
    p = copy.deepcopy(p)
    p["model"]["source"] = svc["spec"]["model"]["source"]
    return p


def test_job_and_config_map_validate_strictly_against_kubernetes() -> None:
    svc = service()
    m = build_jobs.render(hf_plan(plan(), svc), svc)
    for obj in (m.job, m.config_map):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_job_is_pinned_to_the_planned_gpu_with_tp_times_pp_gpus() -> None:
    p70 = plan("llama-3-70b-fp8-tp4")
    svc = service()
    svc["spec"]["model"]["name"] = "llama-3-70b"
    job = build_jobs.render(hf_plan(p70, svc), svc).job
    pod = job["spec"]["template"]["spec"]
    build = pod["containers"][0]
    assert build["resources"]["limits"]["nvidia.com/gpu"] == "4"  # quantities are strings: typed clients refuse ints
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert build["image"] == "nvcr.io/nvidia/tritonserver:26.07-trtllm-python-py3"
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_names_come_from_the_hash_and_fit_63_characters() -> None:
    svc = service()
    p = hf_plan(plan(), svc)
    m = build_jobs.render(p, svc)
    assert m.job["metadata"]["name"] == f"seasonal-build-llama-3-8b-{p['engine_hash'][:12]}-1"
    assert build_jobs.render(p, svc).job == m.job  # deterministic: re-rendering changes nothing
    # Every attempt gets a Job of its own; the plan ConfigMap is the engine's, shared by its attempts.
    second = build_jobs.render(p, svc, attempt=2)
    assert second.job["metadata"]["name"] == f"seasonal-build-llama-3-8b-{p['engine_hash'][:12]}-2"
    assert second.config_map == m.config_map
    long = build_jobs.job_name("a" * 63, p["engine_hash"], 7)
    assert len(long) == 63 and long.endswith("-7") and long.startswith("seasonal-build-aaa")
    assert long != build_jobs.job_name("a" * 62 + "b", p["engine_hash"], 7)
    assert build_jobs.job_name("mistral-7b.v0.3", "ab" * 32) == "seasonal-build-mistral-7b-v0-3-abababababab-1"


def test_owner_labels_and_plan_travel_with_both_objects() -> None:
    svc = service()
    p = hf_plan(plan(), svc)
    p["season"] = "business-hours"
    m = build_jobs.render(p, svc)
    for obj in (m.job, m.config_map):
        meta = obj["metadata"]
        assert meta["ownerReferences"] == [{"apiVersion": "seasonalengines.io/v1alpha1", "kind": "InferenceService",
                                            "name": "llama-3-8b-chat", "uid": svc["metadata"]["uid"],
                                            "controller": True, "blockOwnerDeletion": True}]
        assert meta["labels"]["seasonalengines.io/engine-hash"] == p["engine_hash"][:16]
        assert meta["labels"]["seasonalengines.io/model"] == "llama-3-8b"
        assert meta["labels"]["seasonalengines.io/season"] == "business-hours"
        assert meta["labels"]["seasonalengines.io/inferenceservice"] == "llama-3-8b-chat"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "seasonal-engines"
        assert meta["namespace"] == "llm"
    assert m.job["spec"]["template"]["metadata"]["labels"] == m.job["metadata"]["labels"]
    assert json.loads(m.config_map["data"]["plan.json"]) == p
    volume = next(v for v in m.job["spec"]["template"]["spec"]["volumes"] if v["name"] == "plan")
    assert volume["configMap"]["name"] == m.config_map["metadata"]["name"]
    command = m.job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:4] == ["python3", "-m", "seasonal_build", "build"]
    assert command[command.index("--plan") + 1] == "/etc/seasonal/plan.json"


def test_job_lifetime_and_security() -> None:
    svc = service()
    job = build_jobs.render(hf_plan(plan(), svc), svc).job
    spec = job["spec"]
    assert spec["activeDeadlineSeconds"] == 2 * 3600  # spec.engine.buildDeadline: 2h
    assert spec["backoffLimit"] == 1 and spec["ttlSecondsAfterFinished"] == 86400
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # The restricted Pod Security Standard: the images' non-root user triton-server (1000), no SA token.
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert pod["automountServiceAccountToken"] is False
    for c in pod["containers"] + pod["initContainers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_hugging_face_token_comes_from_the_secret_into_the_download_step_only() -> None:
    svc = service()
    pod = build_jobs.render(hf_plan(plan(), svc), svc).job["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "hf-token")
    assert volume["secret"]["secretName"] == "hf-token"
    download = next(c for c in pod["initContainers"] if c["name"] == "download")
    assert {"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/huggingface/token"} in download["env"]
    assert any(m["name"] == "hf-token" for m in download["volumeMounts"])
    build = pod["containers"][0]
    assert not any(m["name"] == "hf-token" for m in build["volumeMounts"])
    assert not any("HF_TOKEN" in e["name"] for e in build["env"])


def test_a_pvc_source_is_mounted_read_only_and_the_store_read_write() -> None:
    svc = service(source={"pvc": {"claimName": "llama-weights", "path": "/llama-3-8b"}})
    m = build_jobs.render(hf_plan(plan(), svc), svc)
    pod = m.job["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {v["name"]: v for v in pod["containers"][0]["volumeMounts"]}
    assert volumes["model"]["persistentVolumeClaim"] == {"claimName": "llama-weights", "readOnly": True}
    assert mounts["model"] == {"name": "model", "mountPath": "/models", "readOnly": True}
    assert volumes["engines"]["persistentVolumeClaim"] == {"claimName": "engine-store"}
    assert "readOnly" not in mounts["engines"]
    assert not any(e["name"] == "HF_TOKEN" for e in pod["containers"][0]["env"])
    kubernetes_validate.validate(m.job, K8S_VERSION, strict=True)


def test_a_plan_without_source_gets_the_spec_one_and_a_different_source_is_refused() -> None:
    svc = service()
    p = plan()
    p["model"]["source"] = {}
    cm = build_jobs.render(p, svc).config_map
    assert json.loads(cm["data"]["plan.json"])["model"]["source"]["huggingFace"]["repo"] == (
        "meta-llama/Meta-Llama-3-8B-Instruct")
    p["model"]["source"] = {"pvc": {"claimName": "elsewhere"}}
    with pytest.raises(ValueError, match="differs from spec.model.source"):
        build_jobs.render(p, svc)


@pytest.mark.parametrize("change,message", [
    (lambda p, s: s["metadata"].pop("uid"), "metadata.uid"),
    (lambda p, s: p.update(backend="pytorch"), "has no build Job"),
    (lambda p, s: p["model"].update(name="mistral-7b"), "differs from spec.model.name"),
    (lambda p, s: p.update(engine_hash="not-a-hash"), "plan.engine_hash"),
], ids=["no uid", "pytorch", "other model", "bad hash"])
def test_bad_input_is_refused_with_the_field(change, message: str) -> None:
    svc = service()
    p = hf_plan(plan(), svc)
    change(p, svc)
    with pytest.raises(ValueError, match=message):
        build_jobs.render(p, svc)


def test_render_job_cli_prints_config_map_then_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan_file = tmp_path / "plan.json"
    planned = plan()
    planned["model"]["source"] = {}  # as `seasonal plan --trace` writes it
    plan_file.write_text(json.dumps(planned))
    spec = REPO / "examples" / "llama-3-8b-h100-seasons.yaml"
    assert cli.main(["render-job", "--spec", str(spec), "--plan", str(plan_file), "--uid", "abc-123"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in docs] == ["ConfigMap", "Job"]
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    assert cli.main(["render-job", "--spec", str(spec), "--plan", str(plan_file), "--no-owner-reference"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert all("ownerReferences" not in d["metadata"] for d in docs)
    assert cli.main(["render-job", "--spec", str(spec), "--plan", str(plan_file)]) == 2
    assert "--uid" in capsys.readouterr().err
