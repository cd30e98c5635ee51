"""``manifest.json``: what an engine is, how it was made, and the marker that it is complete.

The build writes the manifest last, inside the staging directory, just before the atomic rename;
an engine directory without a readable manifest whose hash matches its directory is not an
engine. A CPU stand-in says so in ``backend`` and ``description`` and can never be mistaken for a
TensorRT-LLM engine. Pure: dicts in, dicts out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FILENAME = "manifest.json"
SCHEMA = "seasonal-engines/engine-manifest/v1"
STAND_IN = "cpu-stand-in"
STAND_IN_DESCRIPTION = "CPU stand-in, not a TensorRT-LLM engine"
TRTLLM_DESCRIPTION = "TensorRT-LLM engine"


class ManifestError(ValueError):
    """A manifest that is not one of ours or names another engine."""


def build(*, plan: Mapping[str, Any], engine_hash: str, model: str, backend: str, versions: Mapping[str, Any],
          gpu: Mapping[str, Any] | None, envelope: Mapping[str, int], sizes: Mapping[str, int],
          timings: Mapping[str, float], source_revision: str | None, created_at: str,
          layout: Mapping[str, str]) -> dict[str, Any]:
    """The manifest document. ``layout`` names the engine's parts relative to its directory."""
    return {
        "schema": SCHEMA,
        "engine_hash": engine_hash,
        "model": model,
        "backend": backend,
        "description": STAND_IN_DESCRIPTION if backend == STAND_IN else TRTLLM_DESCRIPTION,
        "created_at": created_at,
        "envelope": dict(envelope),
        "versions": dict(versions),
        "gpu": dict(gpu) if gpu is not None else None,
        "sizes": dict(sizes),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "source_revision": source_revision,
        "layout": dict(layout),
        "plan": dict(plan),
    }


def validate(doc: Any, *, engine_hash: str, model: str) -> dict[str, Any]:
    """Return the manifest if it is ours and names this engine; raise :class:`ManifestError` otherwise."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ManifestError(f"not a Seasonal Engines manifest (schema {SCHEMA!r} expected)")
    if doc.get("engine_hash") != engine_hash or doc.get("model") != model:
        raise ManifestError(f"manifest names {doc.get('model')}/{doc.get('engine_hash')}, expected "
                            f"{model}/{engine_hash}")
    if doc.get("backend") == STAND_IN and doc.get("description") != STAND_IN_DESCRIPTION:
        raise ManifestError("a stand-in manifest must describe itself as a stand-in")
    return doc


def is_stand_in(doc: Mapping[str, Any]) -> bool:
    return doc.get("backend") == STAND_IN
