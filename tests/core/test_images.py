"""Image references: an NGC mirror redirects only nvcr.io images, malformed settings are refused naming the flag,
and a build Job takes every image and pull secret from the settings."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from seasonal_engines.core import build_jobs, images

REPO = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "5e" * 32


@pytest.mark.parametrize(("image", "mirror", "expected"), [
    ("nvcr.io/nvidia/tritonserver:26.07-trtllm-python-py3", "registry.example.com/nvcr",
     "registry.example.com/nvcr/nvidia/tritonserver:26.07-trtllm-python-py3"),
    ("nvcr.io/nvidia/tritonserver@" + DIGEST, "mirror.local:5000", "mirror.local:5000/nvidia/tritonserver@" + DIGEST),
    ("nvcr.io.example.com/nvidia/tritonserver:1", "registry.example.com/nvcr",
     "nvcr.io.example.com/nvidia/tritonserver:1"),
    ("registry.example.com/own/trtllm:1", "registry.example.com/nvcr", "registry.example.com/own/trtllm:1"),
    ("nvcr.io/nvidia/tritonserver:26.07-trtllm-python-py3", None,
     "nvcr.io/nvidia/tritonserver:26.07-trtllm-python-py3"),
], ids=["ngc-tag", "ngc-digest-port", "lookalike-host", "other-registry", "no-mirror"])
def test_ngc_mirror_redirects_only_nvcr_images(image: str, mirror: str | None, expected: str) -> None:
    assert images.mirrored(image, mirror) == expected


@pytest.mark.parametrize(("kwargs", "flag"), [
    ({"builder_image": "registry.example.com/seasonal-engines"}, "--builder-image"),  # neither tag nor digest
    ({"builder_image": "Registry.example.com/Seasonal:1"}, "--builder-image"),
    ({"builder_image": "registry.example.com/seasonal-engines@sha256:abc"}, "--builder-image"),
    ({"pull_secrets": ("Mirror_Pull",)}, "--image-pull-secret"),
    ({"ngc_registry": "https://registry.example.com"}, "--ngc-registry"),
    ({"ngc_registry": "registry.example.com/nvcr/"}, "--ngc-registry"),
], ids=["untagged", "uppercase", "short-digest", "secret-name", "scheme", "trailing-slash"])
def test_malformed_settings_are_refused_naming_the_flag(kwargs: dict[str, object], flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        images.ImageSettings(**kwargs)  # type: ignore[arg-type]


def test_build_job_takes_its_images_and_pull_secrets_from_the_settings() -> None:
    svc = yaml.safe_load((REPO / "examples" / "llama-3-8b-h100-seasons.yaml").read_text())
    svc["metadata"]["uid"] = "0b6a4c9e-5d3f-4e61-9a47-1f2e3d4c5b6a"
    plan = json.loads((REPO / "tests" / "engine_jobs" / "golden" / "llama-3-8b-bf16-tp1.plan.json").read_text())
    plan["model"]["source"] = svc["spec"]["model"]["source"]
    ours = "registry.example.com/mirror/seasonal-engines@" + DIGEST
    settings = build_jobs.JobSettings(image_settings=images.ImageSettings(
        builder_image=ours, pull_secrets=("mirror-pull", "ngc-pull"), ngc_registry="registry.example.com/nvcr"))
    job = build_jobs.render(plan, svc, settings).job
    kubernetes_validate.validate(job, "1.35", strict=True)
    pod = job["spec"]["template"]["spec"]
    # Ours copies seasonal_build in; NVIDIA's image downloads the Hugging Face checkpoint and builds, mirrored.
    mirrored = "registry.example.com/nvcr/nvidia/tritonserver:26.07-trtllm-python-py3"
    assert {c["name"]: c["image"] for c in pod["initContainers"]} == {"install-builder": ours, "download": mirrored}
    assert pod["containers"][0]["image"] == mirrored
    assert pod["imagePullSecrets"] == [{"name": "mirror-pull"}, {"name": "ngc-pull"}]
    default_pod = build_jobs.render(plan, svc).job["spec"]["template"]["spec"]
    assert {c["name"]: c["image"] for c in default_pod["initContainers"]}["install-builder"] == images.DEFAULT_IMAGE
    assert "imagePullSecrets" not in default_pod
