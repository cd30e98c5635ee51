"""The chart's image values reach every image of ours: the operator's container, and through the operator's
command line (parsed by the real ``seasonal`` parser) every build Job's init container, pull secrets and NGC
mirror; and our image is named in exactly one place of each kind (chart values, the settings default)."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import seasonal_engines
from seasonal_engines.cli import image_flags, main
from seasonal_engines.core import build_jobs, images
from tests.chart import chart_rendering as cr

MIRROR = "registry.example.com/mirror/seasonal-engines"
DIGEST = "sha256:" + "3c" * 32
PRIVATE = ["--set", f"image.repository={MIRROR}", "--set", f"image.digest={DIGEST}",
           "--set", "imagePullSecrets[0].name=mirror-pull", "--set", "imagePullSecrets[1].name=ngc-pull",
           "--set", "ngcRegistry=registry.example.com/nvcr"]
EXAMPLE = cr.REPO_ROOT / "examples" / "llama-3-8b-h100-seasons.yaml"
PLAN = cr.REPO_ROOT / "tests" / "engine_jobs" / "golden" / "llama-3-8b-bf16-tp1.plan.json"


def _service_and_plan() -> tuple[dict[str, Any], dict[str, Any]]:
    svc = yaml.safe_load(EXAMPLE.read_text())
    svc["metadata"]["uid"] = "0b6a4c9e-5d3f-4e61-9a47-1f2e3d4c5b6a"
    plan = json.loads(PLAN.read_text())
    plan["model"]["source"] = copy.deepcopy(svc["spec"]["model"]["source"])
    return svc, plan


def _operator(helm_bin: Path, values: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = cr.one(cr.template(helm_bin, values), "Deployment")["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def _build_pod_from_operator_args(container: dict[str, Any]) -> dict[str, Any]:
    """The build Job the operator started with these args renders: the same path as ``seasonal run``."""
    args = main.build_parser().parse_args(container["args"])
    settings = build_jobs.JobSettings(image_settings=image_flags.image_settings(args))
    svc, plan = _service_and_plan()
    return build_jobs.render(plan, svc, settings).job["spec"]["template"]["spec"]


@pytest.mark.helm
def test_private_registry_values_move_the_operator_and_every_build_job(helm_bin: Path) -> None:
    pod, operator = _operator(helm_bin, PRIVATE)
    assert operator["image"] == f"{MIRROR}@{DIGEST}"
    assert pod["imagePullSecrets"] == [{"name": "mirror-pull"}, {"name": "ngc-pull"}]
    build_pod = _build_pod_from_operator_args(operator)
    assert {c["name"]: c["image"] for c in build_pod["initContainers"]}["install-builder"] == operator["image"]
    assert build_pod["imagePullSecrets"] == pod["imagePullSecrets"]
    assert build_pod["containers"][0]["image"] == \
        "registry.example.com/nvcr/nvidia/tritonserver:26.07-trtllm-python-py3"


@pytest.mark.helm
def test_render_job_with_the_charts_flags_gives_the_same_job(helm_bin: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    _, operator = _operator(helm_bin, PRIVATE)
    image_args = [a for a in operator["args"] if a.startswith(("--builder-image", "--image-pull-secret",
                                                               "--ngc-registry"))]
    svc, plan = _service_and_plan()
    (tmp_path / "isvc.yaml").write_text(yaml.safe_dump(svc))
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    assert main.main(["render-job", "--spec", str(tmp_path / "isvc.yaml"), "--plan", str(tmp_path / "plan.json"),
                      *image_args]) == 0
    job = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d["kind"] == "Job"][0]
    assert job["spec"]["template"]["spec"] == _build_pod_from_operator_args(operator)


@pytest.mark.helm
@pytest.mark.parametrize("values", list(cr.VALUE_SETS))
def test_build_jobs_use_the_operators_own_image(helm_bin: Path, values: str) -> None:
    pod, operator = _operator(helm_bin, cr.VALUE_SETS[values])
    build_pod = _build_pod_from_operator_args(operator)
    assert {c["name"]: c["image"] for c in build_pod["initContainers"]}["install-builder"] == operator["image"]
    assert build_pod.get("imagePullSecrets") == pod.get("imagePullSecrets")


@pytest.mark.helm
def test_seasonal_run_hands_the_charts_image_settings_to_the_reconciler(helm_bin: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import kopf
    import kubernetes.client
    import prometheus_client

    from seasonal_engines import handlers
    from seasonal_engines.cli import run as run_cli

    _, operator = _operator(helm_bin, PRIVATE)
    started: dict[str, Any] = {}
    # Where the real kopf.run would connect to a cluster, keep what `seasonal run` hands it; no credentials,
    # no listening port, and the test process's logging left as it was.
    monkeypatch.setattr(kopf, "run", lambda **kwargs: started.update(kwargs))
    monkeypatch.setattr(kopf, "configure", lambda **_: None)
    monkeypatch.setattr(run_cli, "kube_api_client", kubernetes.client.ApiClient)
    monkeypatch.setattr(prometheus_client, "start_http_server", lambda *a, **k: None)
    assert main.main(operator["args"]) == 0
    reconciler = started["memo"][handlers.MEMO_RECONCILER]
    assert reconciler.settings.jobs.image_settings == images.ImageSettings(
        builder_image=operator["image"], pull_secrets=("mirror-pull", "ngc-pull"),
        ngc_registry="registry.example.com/nvcr")


def test_seasonal_run_refuses_a_malformed_image_flag_before_starting(monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import kopf

    monkeypatch.setattr(kopf, "run", lambda **_: pytest.fail("kopf.run was reached with a malformed flag"))
    monkeypatch.setattr(kopf, "configure", lambda **_: None)
    assert main.main(["run", "--standalone", "--ngc-registry", "https://registry.example.com"]) == 2
    assert "--ngc-registry" in capsys.readouterr().err


@pytest.mark.helm
def test_the_charts_default_image_is_the_settings_default(helm_bin: Path) -> None:
    _, operator = _operator(helm_bin, [])
    chart = yaml.safe_load((cr.CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == seasonal_engines.__version__
    assert operator["image"] == images.DEFAULT_IMAGE
    tagged = _operator(helm_bin, ["--set", "image.tag=0.2.0-rc1"])[1]["image"]
    assert tagged == f"{images.DEFAULT_REPOSITORY}:0.2.0-rc1"


@pytest.mark.helm
@pytest.mark.parametrize(("values", "message"), [
    (["--set", "image.repository=registry.example.com/seasonal-engines:0.1.0"], "repository"),
    (["--set", "image.digest=sha256:abc"], "digest"),
    (["--set", "imagePullSecrets[0].name=Mirror_Pull"], "imagePullSecrets"),
    (["--set", "ngcRegistry=https://registry.example.com"], "ngcRegistry"),
], ids=["tag-in-repository", "short-digest", "secret-name", "mirror-scheme"])
def test_schema_refuses_malformed_image_values(helm_bin: Path, values: list[str], message: str) -> None:
    result = cr.helm(helm_bin, "template", cr.RELEASE, str(cr.CHART), *values, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_our_image_is_named_only_where_it_is_defined() -> None:
    """Chart values and the settings default name our image; everything else reads it from them."""
    values = yaml.safe_load((cr.CHART / "values.yaml").read_text())
    assert values["image"]["repository"] == images.DEFAULT_REPOSITORY
    owner = images.DEFAULT_REPOSITORY.rsplit("/", 1)[0] + "/"  # every image under our registry namespace
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=cr.REPO_ROOT, capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    naming = set()
    for name in filter(None, files):
        path = cr.REPO_ROOT / name
        if path.is_file() and owner.encode() in path.read_bytes().lower():
            naming.add(name)
    assert naming == {"charts/seasonal-engines/values.yaml", "operator/seasonal_engines/core/images.py"}
