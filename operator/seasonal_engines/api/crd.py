"""Generate the InferenceService CRD from the pydantic models.

``python -m seasonal_engines.api.crd > crds/inferenceservices.seasonalengines.io.yaml`` regenerates it;
``tests/api/test_crd.py`` fails when the committed file differs. The JSON schema pydantic emits is turned
into a Kubernetes *structural* schema: references inlined, ``Optional`` unwrapped, draft-2020 keywords
mapped to OpenAPI v3.0, every property described. Pure: returns data, writes nothing.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from seasonal_engines.api import spec, status

CRD_FILENAME = f"{spec.PLURAL}.{spec.GROUP}.yaml"

# Keywords a structural schema accepts; anything else pydantic emits (title, ...) is dropped.
_ORDER = (
    "type", "description", "format", "enum", "default", "minimum", "exclusiveMinimum", "maximum",
    "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "nullable",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
    "additionalProperties", "items", "required", "properties", "x-kubernetes-validations",
)
_FORMATS = {"date-time", "int32", "int64", "float", "double", "byte", "uri"}


def _structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Convert one pydantic JSON-schema node into a structural OpenAPI v3 node."""
    node = dict(node)
    optional = False  # Optional[X] = None: absent means unset, so never defaulted to {}
    if "$ref" in node:  # inline the definition, keeping the field's own description and default
        target = defs[node.pop("$ref").split("/")[-1]]
        node = {**target, **node}
    if "anyOf" in node:  # Optional[X] -> X: absence, not null, means "unset" in Kubernetes
        variants = [v for v in node.pop("anyOf") if v.get("type") != "null"]
        if len(variants) != 1:
            raise ValueError(f"unions other than Optional cannot be expressed structurally: {variants}")
        inner = variants[0]
        if "$ref" in inner:
            inner = {**defs[inner["$ref"].split("/")[-1]]}
        optional = node.get("default", "absent") is None
        node = {**inner, **{k: v for k, v in node.items() if k != "default" or v is not None}}
        if node.get("default") is None:
            node.pop("default", None)
    if node.get("type") == "integer" or node.get("type") == "number":
        # JSON Schema 2020 writes exclusive bounds as numbers; OpenAPI v3.0 as booleans beside min/max.
        for ex, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if ex in node and not isinstance(node[ex], bool):
                node[bound] = node.pop(ex)
                node[ex] = True
    if "enum" in node and "type" not in node:
        node["type"] = "string"
    if node.get("format") not in _FORMATS:
        node.pop("format", None)
    if "properties" in node:
        node["type"] = "object"
        node["properties"] = {k: _structural(v, defs) for k, v in node["properties"].items()}
        # An object whose every field has a default gets `default: {}` so the API server fills them in.
        # (Not where a CEL rule asks for some field: `{}` would fail it.)
        # Never on an optional block (absent means unset) nor on a free-form object (a pod template): `{}`
        # would make an absent one present.
        if not node.get("required") and "default" not in node and "x-kubernetes-validations" not in node \
                and not optional and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["default"] = {}
        node.pop("additionalProperties", None)
    elif node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = _structural(node["additionalProperties"], defs)
    elif node.get("type") == "object" and not node.get("x-kubernetes-preserve-unknown-fields"):
        node["x-kubernetes-preserve-unknown-fields"] = True
    if "items" in node:
        node["items"] = _structural(node["items"], defs)
    if "description" in node:
        node["description"] = " ".join(node["description"].split())
    # Stable, readable key order: type and description first, the rest as the tuple below.
    return {k: node[k] for k in _ORDER if k in node}


def openapi_schema(model: type[spec.ApiModel]) -> dict[str, Any]:
    """The structural schema of one pydantic model, by its wire (camelCase) names."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _structural(raw, raw.get("$defs", {}))


def custom_resource_definition() -> dict[str, Any]:
    """The complete apiextensions.k8s.io/v1 CRD object."""
    spec_schema = openapi_schema(spec.InferenceServiceSpec)
    status_schema = openapi_schema(status.InferenceServiceStatus)
    status_schema.pop("default", None)
    root = {
        "type": "object",
        "description": "An LLM served by Triton whose TensorRT-LLM engines are sized to its observed traffic, "
                       "rebuilt per season and when traffic drifts.",
        "properties": {
            "apiVersion": {"type": "string", "description": "API version of this object."},
            "kind": {"type": "string", "description": "Kind of this object: InferenceService."},
            # apiextensions refuses anything but name/generateName constraints under the root metadata
            # (not even a description): "must not specify anything other than name and generateName".
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
        "required": ["spec"],
        # Children's names and label values derive from the name (core.names): refuse what cannot make them.
        "x-kubernetes-validations": [{
            "rule": f"self.metadata.name.size() <= {spec.MAX_SERVICE_NAME} && "
                    f"self.metadata.name.matches('{spec.SERVICE_NAME}')",
            "message": f"metadata.name must be a DNS-1035 label of at most {spec.MAX_SERVICE_NAME} characters "
                       "(lowercase letters, digits and '-', starting with a letter): it names the Triton Service "
                       "and label values"}],
    }
    spec_schema.pop("default", None)
    columns = [
        {"name": "Model", "type": "string", "jsonPath": ".spec.model.name", "description": "Model name."},
        {"name": "Mode", "type": "string", "jsonPath": ".spec.mode", "description": "Auto or Advisory.",
         "priority": 1},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "Life-cycle phase."},
        {"name": "Season", "type": "string", "jsonPath": ".status.activeSeason",
         "description": "Season in force."},
        {"name": "Envelope", "type": "string", "jsonPath": ".status.envelope",
         "description": "Serving engine limits: max input / max sequence / max batch."},
        {"name": "Engine", "type": "string", "jsonPath": ".status.servingEngine.hash",
         "description": "Serving engine hash.", "priority": 1},
        {"name": "Drift", "type": "string", "jsonPath": ".status.drift.state", "description": "Drift state.",
         "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{spec.PLURAL}.{spec.GROUP}",
            "labels": {"app.kubernetes.io/name": "seasonal-engines", "app.kubernetes.io/component": "crd"},
        },
        "spec": {
            "group": spec.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": spec.KIND,
                "plural": spec.PLURAL,
                "singular": spec.SINGULAR,
                "shortNames": list(spec.SHORT_NAMES),
                "categories": list(spec.CATEGORIES),
                "listKind": f"{spec.KIND}List",
            },
            "versions": [{
                "name": spec.VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": root},
            }],
        },
    }


def render() -> str:
    header = ("# Generated from seasonal_engines.api (pydantic models); do not edit.\n"
              "# Regenerate: python -m seasonal_engines.api.crd > crds/" + CRD_FILENAME + "\n")
    return header + yaml.safe_dump(custom_resource_definition(), sort_keys=False, width=120)


if __name__ == "__main__":
    sys.stdout.write(render())
