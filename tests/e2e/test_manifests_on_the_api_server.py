"""The real API server judges our manifests (the CRD's schema and its CEL rules): every example is accepted,
every broken or hostile copy (``tests/api/hostile_manifests.py``) is refused with the field named, and what
only the operator can judge is accepted here and refused by it. ``kubectl explain`` reads our descriptions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.api import hostile_manifests as hm
from tests.e2e import harness as h
from tests.testbed import cluster

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def dry_run(control_plane: cluster.ControlPlane, operator_kubeconfig: Path) -> Iterator[Any]:
    """Create an InferenceService with dryRun=All in a namespace of this module: the API server validates,
    defaults and runs admission, and stores nothing. Returns (ok, the API server's answer)."""
    namespace = control_plane.create_namespace("manifests")
    api = control_plane.api_client()
    custom = k8s.CustomObjectsApi(api)

    def create(doc: dict[str, Any]) -> tuple[bool, str]:
        body = {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
        try:
            # Strict field validation, as kubectl asks for by default: an unknown field is an error, not pruned.
            custom.create_namespaced_custom_object(h.GROUP, h.VERSION, namespace, h.PLURAL, body, dry_run="All",
                                                   field_validation="Strict")
        except k8s.exceptions.ApiException as exc:
            return False, str(exc.body)
        return True, ""

    yield create
    api.close()
    control_plane.delete_namespace(namespace)


@pytest.mark.parametrize("path", hm.EXAMPLES, ids=lambda p: p.name)
def test_the_api_server_accepts_every_example(dry_run: Any, path: Path) -> None:
    for doc in hm.inference_services(path):
        ok, message = dry_run(doc)
        assert ok, message


@pytest.mark.parametrize("case", sorted(hm.CASES), ids=str)
def test_the_api_server_refuses_each_broken_copy_naming_the_field(dry_run: Any, case: str) -> None:
    spec = hm.CASES[case]
    ok, message = dry_run(hm.broken(spec))
    assert not ok, f"the API server accepted {case}"
    assert spec.server_field in message, message


@pytest.mark.parametrize("case", sorted(hm.OPERATOR_ONLY), ids=str)
def test_what_cel_cannot_judge_passes_the_api_server_and_only_the_operator_refuses(dry_run: Any, case: str) -> None:
    ok, message = dry_run(hm.broken(hm.OPERATOR_ONLY[case]))
    assert ok, message  # the operator then sets SpecValid False (tests/api/test_manifests.py: the same message)


def test_kubectl_explain_reads_the_field_descriptions(control_plane: cluster.ControlPlane,
                                                      operator_kubeconfig: Path) -> None:
    out = control_plane.kubectl("explain", "inferenceservices.seasonalengines.io.spec.seasons").stdout
    assert "A recurring window with its own engine" in out and "schedule" in out and "timezone" in out
    out = control_plane.kubectl("explain", "inferenceservices.seasonalengines.io.spec.serving.allowPrivileged").stdout
    assert "Off: such templates are refused" in out
