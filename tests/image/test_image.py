"""The container image, built from the Dockerfile by ``.ci/build-image.sh`` and run with buildah.

It runs its entrypoint (``seasonal``) as uid 65532 with a passwd entry, validates an example manifest, and
carries the build entrypoint: the build Job's own init container command (rendered by
``core.build_jobs``) copies ``seasonal_build`` into an empty directory, where a Python with nothing but the
standard library runs ``python -m seasonal_build``. Nothing it runs writes outside /tmp (the chart mounts
the root filesystem read-only). Containers run with ``buildah run --isolation chroot``: on this machine
``podman run`` cannot start a container (crun and cgroups in hybrid mode), buildah's chroot isolation can.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

import seasonal_engines
from seasonal_engines.core import build_jobs

pytestmark = pytest.mark.image

REPO = Path(__file__).resolve().parents[2]
TAG = "localhost/seasonal-engines:test"
UID = 65532
EXAMPLE = "llama-3-8b-h100-seasons.yaml"
SITE_PACKAGES = "/opt/seasonal-engines/lib/python3.11/site-packages"  # the Dockerfile's documented path


@pytest.fixture(scope="module")
def containers_conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # crun's default ulimits exceed this machine's hard limit on open files.
    conf = tmp_path_factory.mktemp("containers") / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n")
    return conf


def _buildah(conf: Path, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "CONTAINERS_CONF": str(conf)})
    if check and result.returncode != 0:
        raise AssertionError(f"buildah {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    return result


@pytest.fixture(scope="module")
def image(containers_conf: Path) -> dict[str, Any]:
    """The image built from this checkout, and its OCI config."""
    started = time.monotonic()
    build = subprocess.run(["bash", str(REPO / ".ci" / "build-image.sh"), TAG], capture_output=True, text=True,
                           timeout=1800, cwd=REPO)
    assert build.returncode == 0, f"the image did not build ({build.returncode}):\n{build.stderr[-6000:]}"
    assert build.stdout.strip().splitlines()[-1] == TAG
    print(f"image built in {time.monotonic() - started:.0f}s")
    return json.loads(_buildah(containers_conf, "inspect", "--type", "image", TAG).stdout)


class Container:
    def __init__(self, conf: Path, name: str) -> None:
        self.conf, self.name = conf, name

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, volumes: Sequence[str] = (),
            user: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        opts = ["--isolation", "chroot"]
        for key, value in (env or {}).items():
            opts += ["--env", f"{key}={value}"]
        for volume in volumes:
            opts += ["--volume", volume]
        if user:
            opts += ["--user", user]
        return _buildah(self.conf, "run", *opts, self.name, "--", *argv, timeout=300, check=check)


@pytest.fixture()
def container(image: dict[str, Any], containers_conf: Path) -> Iterator[Container]:
    name = _buildah(containers_conf, "from", "--pull-never", TAG).stdout.strip().splitlines()[-1]
    try:
        yield Container(containers_conf, name)
    finally:
        _buildah(containers_conf, "rm", name, check=False)


def _config(image: dict[str, Any]) -> dict[str, Any]:
    return image["OCIv1"]["config"]


def test_image_runs_as_uid_65532_with_a_passwd_entry(image: dict[str, Any], container: Container) -> None:
    assert _config(image)["User"] == f"{UID}:{UID}"
    assert container.run(["id", "-u"]).stdout.strip() == str(UID)
    assert container.run(["id", "-g"]).stdout.strip() == str(UID)
    # kopf names its peering identity after getpass.getuser() when POD_ID is unset: that needs /etc/passwd.
    user = container.run(["env", "-u", "USER", "-u", "LOGNAME", "-u", "LNAME", "-u", "USERNAME", "python", "-c",
                          "import getpass, os; print(getpass.getuser(), os.path.expanduser('~'))"])
    assert user.stdout.split() == ["seasonal", "/tmp"]


def test_entrypoint_is_seasonal_run_and_reports_the_package_version(image: dict[str, Any],
                                                                   container: Container) -> None:
    config = _config(image)
    assert (config["Entrypoint"], config["Cmd"]) == (["seasonal"], ["run"])
    version = container.run([*config["Entrypoint"], "--version"])
    assert version.stdout.strip() == f"seasonal {seasonal_engines.__version__}"
    run_help = container.run([*config["Entrypoint"], *config["Cmd"], "--help"])
    assert "--builder-image" in run_help.stdout and "--ngc-registry" in run_help.stdout


def test_labels_follow_the_oci_image_spec(image: dict[str, Any]) -> None:
    labels = _config(image)["Labels"]
    assert labels["org.opencontainers.image.version"] == seasonal_engines.__version__
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.base.name"] == "localhost/debian:bookworm-slim"
    assert labels["org.opencontainers.image.base.digest"].startswith("sha256:")
    assert len(labels["org.opencontainers.image.revision"]) >= 7
    for key in ("title", "description"):
        assert labels[f"org.opencontainers.image.{key}"]


def test_seasonal_validate_checks_an_example_inside_the_image(container: Container, tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / EXAMPLE).write_text((REPO / "examples" / EXAMPLE).read_text())
    broken = yaml.safe_load((REPO / "examples" / EXAMPLE).read_text())
    broken["spec"]["model"]["tensorParallelSize"] = 0
    (manifests / "broken.yaml").write_text(yaml.safe_dump(broken))
    ok = container.run(["seasonal", "validate", f"/manifests/{EXAMPLE}"], volumes=[f"{manifests}:/manifests:ro"])
    assert ok.stdout.strip() == f"/manifests/{EXAMPLE}: {broken['metadata']['name']}: valid"
    refused = container.run(["seasonal", "validate", "/manifests/broken.yaml"], volumes=[f"{manifests}:/manifests:ro"],
                            check=False)
    assert refused.returncode != 0 and "tensorParallelSize" in refused.stdout + refused.stderr


def test_build_job_init_container_copies_a_seasonal_build_that_runs_on_the_standard_library(
        container: Container, tmp_path: Path) -> None:
    svc = yaml.safe_load((REPO / "examples" / EXAMPLE).read_text())
    svc["metadata"]["uid"] = "0b6a4c9e-5d3f-4e61-9a47-1f2e3d4c5b6a"
    plan = json.loads((REPO / "tests" / "engine_jobs" / "golden" / "llama-3-8b-bf16-tp1.plan.json").read_text())
    plan["model"]["source"] = svc["spec"]["model"]["source"]
    pod = build_jobs.render(plan, svc).job["spec"]["template"]["spec"]
    install = next(c for c in pod["initContainers"] if c["name"] == "install-builder")
    (build,) = pod["containers"]
    (mount,) = install["volumeMounts"]
    shared = tmp_path / "builder"  # the Job's emptyDir: world-writable, as the kubelet makes it
    shared.mkdir()
    shared.chmod(0o777)
    container.run(install["command"], volumes=[f"{shared}:{mount['mountPath']}"])
    assert (shared / "seasonal_build" / "__main__.py").is_file()
    assert (shared / "seasonal_build" / "triton_models" / "token_exporter" / "config.pbtxt").is_file()
    # NVIDIA's container has its own Python and none of our dependencies: Debian's python3 in the image
    # (outside our virtual environment) has only the standard library, like it.
    env = {e["name"]: e["value"] for e in build["env"] if "value" in e}
    assert build["command"][:3] == ["python3", "-m", "seasonal_build"]
    bare = container.run(["/usr/bin/python3", "-c", "import kopf"], check=False)
    assert bare.returncode != 0, "Debian's python3 must not see the operator's dependencies"
    helped = container.run(["/usr/bin/python3", "-m", "seasonal_build", "--help"], env=env,
                           volumes=[f"{shared}:{mount['mountPath']}:ro"])
    assert "build" in helped.stdout and "gc" in helped.stdout
    located = container.run(["python", "-c", "import seasonal_build; print(seasonal_build.__file__)"])
    assert located.stdout.strip() == f"{SITE_PACKAGES}/seasonal_build/__init__.py"


def test_nothing_it_runs_writes_outside_tmp(image: dict[str, Any], container: Container) -> None:
    root = Path(_buildah(container.conf, "mount", container.name).stdout.strip())
    try:
        before = _snapshot(root)
        container.run(["seasonal", "--version"])
        container.run(["seasonal", "validate", f"/tmp/examples/{EXAMPLE}"],
                      volumes=[f"{REPO / 'examples'}:/tmp/examples:ro"])
        container.run(["seasonal", "run", "--help"])
        container.run(["python", "-c", "import seasonal_engines.handlers, seasonal_engines.reconciling, matplotlib"])
        after = _snapshot(root)
    finally:
        _buildah(container.conf, "umount", container.name, check=False)
    # /run is buildah's own (it writes .containerenv there for each command); the kubelet mounts /tmp.
    changed = sorted(p for p in set(before) ^ set(after) | {p for p in before if after.get(p) != before[p]}
                     if p.split("/")[0] not in ("tmp", "run", "proc", "dev", "sys"))
    assert changed == [], f"written outside /tmp (a read-only root filesystem refuses these): {changed[:20]}"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time (the files buildah run mounts over
    for each command, /etc/hosts and friends, are bind mounts and never change here)."""
    found: dict[str, tuple[int, int]] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory, name)
            stat = path.lstat()
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def test_the_final_stage_has_no_compiler_and_no_pip(container: Container) -> None:
    found = container.run(["sh", "-c", "for t in gcc cc c++ g++ clang make ld pip pip3; do command -v $t; done; "
                           "ls /usr/bin | grep -E -- '-gcc(-[0-9]+)?$' || true"], check=False)
    assert found.stdout.strip() == "", found.stdout
