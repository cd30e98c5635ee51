"""What the Kubernetes API server would do with a manifest, for tests: defaulting, the structural schema
(via jsonschema, Draft 4 = OpenAPI v3.0's boolean exclusive bounds) and the CEL rules (via cel-python).

kmock does no server-side validation, so tests validate manifests against the CRD themselves."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]
CRD_PATH = REPO / "crds" / "inferenceservices.seasonalengines.io.yaml"


def load_crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_PATH.read_text())


def root_schema(crd: dict[str, Any] | None = None) -> dict[str, Any]:
    crd = crd or load_crd()
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def apply_defaults(obj: Any, schema: dict[str, Any]) -> Any:
    """Fill defaults the way the API server does: absent properties with a default get it, recursively."""
    if isinstance(obj, dict) and "properties" in schema:
        for name, sub in schema["properties"].items():
            if name not in obj and "default" in sub:
                obj[name] = copy.deepcopy(sub["default"])
            if name in obj:
                obj[name] = apply_defaults(obj[name], sub)
    elif isinstance(obj, list) and "items" in schema:
        return [apply_defaults(x, schema["items"]) for x in obj]
    return obj


def _nodes(obj: Any, schema: dict[str, Any], path: str = "") -> Any:
    """Every (value, schema, path) of an object, as the API server visits them."""
    yield obj, schema, path or "<root>"
    if isinstance(obj, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in obj:
                yield from _nodes(obj[name], sub, f"{path}.{name}" if path else name)
    elif isinstance(obj, list) and "items" in schema:
        for i, item in enumerate(obj):
            yield from _nodes(item, schema["items"], f"{path}[{i}]")


def cel_errors(obj: Any, schema: dict[str, Any]) -> list[str]:
    """Evaluate every x-kubernetes-validations rule at its node; return 'path: message' for each failure."""
    env = celpy.Environment()
    return [f"{path}: {rule['message']}" for value, node, path in _nodes(obj, schema)
            for rule in node.get("x-kubernetes-validations", [])
            if not bool(env.program(env.compile(rule["rule"])).evaluate({"self": celpy.json_to_cel(value)}))]


def list_map_errors(obj: Any, schema: dict[str, Any]) -> list[str]:
    """x-kubernetes-list-type: map — keys must be unique (the API server refuses duplicates)."""
    out: list[str] = []
    for value, node, path in _nodes(obj, schema):
        if isinstance(value, list) and node.get("x-kubernetes-list-type") == "map":
            keys = [tuple(item.get(k) for k in node["x-kubernetes-list-map-keys"]) for item in value]
            dup = {k for k in keys if keys.count(k) > 1}
            if dup:
                out.append(f"{path}: duplicate entries {sorted(dup)}")
    return out


def unknown_field_errors(obj: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """kubectl's default --validate=strict: the server refuses fields the schema does not know."""
    out: list[str] = []
    if isinstance(obj, dict) and "properties" in schema and path != "metadata":
        for name, value in obj.items():
            sub = schema["properties"].get(name)
            where = f"{path}.{name}" if path else name
            if sub is None:
                out.append(f'{where}: unknown field "{name}"')
            elif not sub.get("x-kubernetes-preserve-unknown-fields"):
                out += unknown_field_errors(value, sub, where)
    elif isinstance(obj, list) and "items" in schema:
        for i, item in enumerate(obj):
            out += unknown_field_errors(item, schema["items"], f"{path}[{i}]")
    return out


def server_side_errors(manifest: dict[str, Any], crd: dict[str, Any] | None = None) -> list[str]:
    """Every error the API server would report for this manifest, as 'path: message' lines."""
    schema = root_schema(crd)
    obj = apply_defaults(copy.deepcopy(manifest), schema)
    validator = jsonschema.Draft4Validator(schema)
    errors = [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
              for e in validator.iter_errors(obj)] + unknown_field_errors(obj, schema)
    if errors:  # CEL runs only on objects that passed the schema, as on the server
        return errors
    return cel_errors(obj, schema) + list_map_errors(obj, schema)
