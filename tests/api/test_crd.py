"""The CRD is generated from the pydantic models and says everything kubectl needs."""

from __future__ import annotations

from typing import Any

import pytest

from seasonal_engines.api import crd as crd_module
from tests.api import crd_validation


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return crd_validation.load_crd()


def test_committed_crd_equals_generated() -> None:
    committed = crd_validation.CRD_PATH.read_text()
    assert committed == crd_module.render(), (
        "crds/ is stale: run python -m seasonal_engines.api.crd > crds/" + crd_module.CRD_FILENAME)


def test_group_is_ours_and_short_names_avoid_kserve(crd: dict[str, Any]) -> None:
    assert crd["spec"]["group"] == "seasonalengines.io"
    assert "kserve" not in crd["spec"]["group"]
    names = crd["spec"]["names"]
    assert names["kind"] == "InferenceService"
    assert "isvc" not in names["shortNames"] and names["shortNames"]
    assert crd["metadata"]["name"] == f"{names['plural']}.{crd['spec']['group']}"


def test_status_subresource_and_printer_columns(crd: dict[str, Any]) -> None:
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Model"] == ".spec.model.name"
    assert columns["Phase"] == ".status.phase"
    assert columns["Season"] == ".status.activeSeason"
    assert columns["Envelope"] == ".status.envelope"
    assert columns["Age"] == ".metadata.creationTimestamp"
    assert crd["spec"]["names"]["categories"]


def _walk(node: dict[str, Any], path: str):
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if "items" in node:
        yield from _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}{{}}")


def test_every_field_is_described_and_typed(crd: dict[str, Any]) -> None:
    schema = crd_validation.root_schema(crd)
    undocumented = [p for p, n in _walk(schema, "") if not n.get("description") and p.count(".") and
                    not p.endswith("[]") and not p.endswith("{}") and p != ".metadata"]
    untyped = [p for p, n in _walk(schema, "") if "type" not in n]
    assert not undocumented, f"fields without a description: {undocumented}"
    assert not untyped, f"fields without a type (not structural): {untyped}"
    # Spot-check that field descriptions reach kubectl explain.
    quantile = schema["properties"]["spec"]["properties"]["sizing"]["properties"]["inputQuantile"]
    assert "max_input_len" in quantile["description"]
    assert quantile["exclusiveMinimum"] is True and quantile["exclusiveMaximum"] is True


def test_root_metadata_carries_nothing_the_api_server_refuses(crd: dict[str, Any]) -> None:
    # apiextensions validation: under the root `metadata` only type (and name/generateName constraints)
    # may appear; a description alone makes the API server reject the whole CRD.
    assert crd_validation.root_schema(crd)["properties"]["metadata"] == {"type": "object"}


def test_structural_schema_uses_openapi_v3_0_keywords(crd: dict[str, Any]) -> None:
    allowed = {"type", "description", "format", "enum", "default", "minimum", "exclusiveMinimum", "maximum",
               "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "nullable",
               "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
               "additionalProperties", "items", "required", "properties", "x-kubernetes-validations"}
    for path, node in _walk(crd_validation.root_schema(crd), ""):
        assert set(node) <= allowed, f"{path}: {set(node) - allowed}"
        for bound in ("exclusiveMinimum", "exclusiveMaximum"):
            assert isinstance(node.get(bound, True), bool), path


def test_every_cel_rule_has_a_message(crd: dict[str, Any]) -> None:
    # The real API server compiles every rule when the CRD is applied (tests/e2e); here: each says why.
    rules = [(p, r) for p, n in _walk(crd_validation.root_schema(crd), "")
             for r in n.get("x-kubernetes-validations", [])]
    assert len(rules) >= 6
    for path, rule in rules:
        assert rule["message"], path

def test_defaults_in_schema_match_the_model() -> None:
    schema = crd_validation.root_schema()
    spec = schema["properties"]["spec"]["properties"]
    assert spec["mode"]["default"] == "Auto"
    assert spec["engine"]["properties"]["backend"]["default"] == "tensorrt"
    assert spec["rollout"]["properties"]["strategy"]["default"] == "RollingUpdate"
    assert spec["rollout"]["properties"]["strategy"]["enum"] == ["RollingUpdate", "BlueGreen", "Recreate"]
