"""The files of a release pass their linters: the Dockerfile (hadolint) and the release workflow (actionlint);
the workflow's first step, run here as GitHub would, refuses a tag that differs from the versions in the
repository and sends the image where the chart's values say."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import seasonal_engines

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "release.yaml"


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not on PATH: run bash .ci/install.sh"
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([_tool("hadolint"), "--no-color", "Dockerfile"], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_release_workflow_passes_actionlint() -> None:
    result = subprocess.run([_tool("actionlint"), "-no-color", str(WORKFLOW.relative_to(REPO))], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _release_step(tag: str, out: Path) -> subprocess.CompletedProcess[str]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (step,) = [s for s in workflow["jobs"]["release"]["steps"] if s.get("id") == "release"]
    # GitHub runs `run:` scripts with `bash -e {0}`.
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=REPO, capture_output=True, text=True, timeout=30,
                          env={**os.environ, "GITHUB_REF_NAME": tag, "GITHUB_OUTPUT": str(out)})


def test_release_step_publishes_where_the_chart_values_point(tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as True
    out = tmp_path / "output"
    result = _release_step(f"v{seasonal_engines.__version__}", out)
    assert result.returncode == 0, result.stderr
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    values = yaml.safe_load((REPO / "charts" / "seasonal-engines" / "values.yaml").read_text())
    repository = values["image"]["repository"]
    assert outputs == {"version": seasonal_engines.__version__, "repository": repository,
                       "registry": repository.split("/")[0], "charts": f"oci://{repository.rsplit('/', 1)[0]}/charts"}


VERSION = seasonal_engines.__version__


@pytest.mark.parametrize("tag", ["v0.0.0", f"v{VERSION}-rc1", f"v{VERSION}.1"])
def test_release_step_refuses_a_tag_that_is_not_the_version(tmp_path: Path, tag: str) -> None:
    result = _release_step(tag, tmp_path / "output")
    assert result.returncode != 0
    assert not (tmp_path / "output").exists()
