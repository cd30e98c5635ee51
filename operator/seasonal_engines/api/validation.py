"""Turn an InferenceService manifest into a validated spec, or into errors a person can act on.

Each error names the field path as it appears in the manifest (``spec.sizing.inputQuantile``), what was
wrong, and what would be valid. Pure: dicts in, models or errors out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pydantic

from seasonal_engines.api import spec as api

# What would be valid, per pydantic error type, when pydantic's own message does not say it.
_HINTS = {
    "missing": "add this required field",
    "extra_forbidden": "remove it; `kubectl explain inferenceservices.{group}.spec` lists the fields",
    "enum": "",
    "literal_error": "",
    "string_pattern_mismatch": "",
}


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(ValueError):
    """An invalid spec; ``errors`` lists every problem found, each with its field path."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("invalid InferenceService: " + "; ".join(str(e) for e in errors))


def _path(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    msg = str(err["msg"])
    if kind == "value_error":  # our validators: the message already says what would be valid
        msg = msg.removeprefix("Value error, ")
    hint = _HINTS.get(kind, "").format(group=api.GROUP)
    if kind not in ("missing",) and "input" in err and not isinstance(err["input"], (dict, list)):
        msg += f" (got {err['input']!r})"
    if kind == "string_pattern_mismatch":
        msg = f"{msg.split(' (got')[0]} (got {err['input']!r})"
    return f"{msg}; {hint}" if hint else msg


def errors_from(exc: pydantic.ValidationError, prefix: str = "spec") -> list[FieldError]:
    return [FieldError(_path(prefix, tuple(e["loc"])), _message(dict(e))) for e in exc.errors()]


def parse_spec(raw: dict[str, Any] | None) -> api.InferenceServiceSpec:
    """Validate a manifest's ``spec``; raise SpecError listing every problem."""
    if not isinstance(raw, dict):
        raise SpecError([FieldError("spec", "missing or not an object; see examples/ for complete manifests")])
    try:
        return api.InferenceServiceSpec.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise SpecError(errors_from(exc)) from None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an InferenceService (its children's names and label values derive from it)."""
    if len(name) > api.MAX_SERVICE_NAME or not re.fullmatch(api.SERVICE_NAME, name):
        return (f"{name!r} must be a DNS-1035 label of at most {api.MAX_SERVICE_NAME} characters (lowercase "
                "letters, digits and '-', starting with a letter): it names the Triton Service and label values")
    return None


def warnings(spec: api.InferenceServiceSpec) -> list[FieldError]:
    """Valid choices a person should make knowingly."""
    out = []
    if spec.rollout.strategy == api.Strategy.recreate:
        out.append(FieldError("spec.rollout.strategy", "Recreate stops every serving pod before the new engine is "
                              "ready: requests fail during each rollover. RollingUpdate (the default) keeps them "
                              "serving and needs one spare set of GPUs"))
    if spec.serving.allow_privileged:
        out.append(FieldError("spec.serving.allowPrivileged", "the Triton pod template may reach beyond the pod "
                              "(host namespaces, hostPath, privileged containers)"))
    return out


def parse_manifest(manifest: dict[str, Any]) -> api.InferenceServiceSpec:
    """Validate a whole InferenceService object: apiVersion, kind, metadata.name and spec."""
    problems: list[FieldError] = []
    want_api = f"{api.GROUP}/{api.VERSION}"
    if manifest.get("apiVersion") != want_api:
        problems.append(FieldError("apiVersion", f"must be {want_api} (got {manifest.get('apiVersion')!r}); "
                                   "KServe's serving.kserve.io InferenceService is a different resource"))
    if manifest.get("kind") != api.KIND:
        problems.append(FieldError("kind", f"must be {api.KIND} (got {manifest.get('kind')!r})"))
    name = (manifest.get("metadata") or {}).get("name")
    if not name:
        problems.append(FieldError("metadata.name", "missing; name the InferenceService"))
    elif name_problem(str(name)):
        problems.append(FieldError("metadata.name", name_problem(str(name)) or ""))
    try:
        parsed = parse_spec(manifest.get("spec"))
    except SpecError as exc:
        problems.extend(exc.errors)
    if problems:
        raise SpecError(problems)
    return parsed
