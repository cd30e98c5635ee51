"""Fixtures of the end-to-end tests: the real control plane with our CRDs and the chart's operator identity
(session), and per test a namespace, a Prometheus holding the test's traffic and the harness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import harness as h
from tests.testbed import cluster


@pytest.fixture(scope="session")
def operator_kubeconfig(control_plane: cluster.ControlPlane, helm_bin: Path,
                        tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our CRDs (and kopf's peering CRDs) from the chart, and a kubeconfig of the chart's ServiceAccount."""
    control_plane.install_crds(h.REPO / "charts" / "seasonal-engines" / "crds")
    return h.install_operator_account(control_plane, helm_bin, tmp_path_factory.mktemp("operator"))


@pytest.fixture()
def bed(control_plane: cluster.ControlPlane, operator_kubeconfig: Path, cluster_namespace: str, tmp_path: Path,
        prometheus_factory: Any, triton_factory: Any) -> Iterator[h.Bed]:
    prometheus = prometheus_factory(h.openmetrics_text())
    harness = h.Bed(control_plane, cluster_namespace, tmp_path, str(prometheus.url), operator_kubeconfig,
                    triton_factory)
    yield harness
    harness.close()


NOT_PASSED = pytest.StashKey[list[str]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember the e2e tests that did not pass: the RBAC audit cannot judge usage they never made."""
    report = yield
    if report.failed:
        item.config.stash.setdefault(NOT_PASSED, []).append(item.nodeid)
    return report


@pytest.fixture()
def e2e_not_passed(request: pytest.FixtureRequest) -> list[str]:
    return request.config.stash.setdefault(NOT_PASSED, [])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The RBAC audit test judges what every e2e test did: run it last, and only when all of them run."""
    import ast

    audit = [i for i in items if i.get_closest_marker("rbac_audit")]
    if not audit:
        return
    e2e_dir = Path(__file__).parent
    defined = {node.name for path in e2e_dir.glob("test_*.py")
               for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)
               and node.name.startswith("test_")}
    selected = {i.originalname for i in items if Path(str(i.fspath)).parent == e2e_dir}
    rest = [i for i in items if i not in audit]
    if defined - {i.originalname for i in audit} <= selected:
        items[:] = rest + audit
    else:
        items[:] = rest
        config.hook.pytest_deselected(items=audit)
