"""The engine identity: a SHA-256 over everything that changes the compiled engine, and nothing else.

In: the model (name, checkpoint source and revision, architecture facts), TensorRT-LLM version and image,
the GPU's compute capability, dtype, quantization, TP/PP, the checkpoint step and every build flag.
Out on purpose: runtime parameters, season, traffic, predictions and explanations, so two seasons whose
limits land on the same ladder steps share one engine. The digest is taken over canonical JSON (sorted
keys, no whitespace, ASCII), so it is the same on every run and machine. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

IDENTITY_VERSION = 1  # bump when the meaning of a field changes, so old and new engines never collide
SHORT_LENGTH = 16     # characters of the digest used in names (engine store paths, labels)


def canonical_json(doc: Any) -> str:
    """JSON with one spelling per value: sorted keys, no spaces, ASCII, no NaN."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def identity_document(*, model_name: str, model_source: Mapping[str, Any], model_architecture: Mapping[str, Any],
                      backend: str, trtllm_version: str, image: str, gpu_sm: str, dtype: str, weights_quant: str,
                      kv_quant: str, tp: int, pp: int, checkpoint: Mapping[str, Any] | None,
                      build: Mapping[str, Any]) -> dict[str, Any]:
    """The document the engine hash is taken over."""
    return {
        "identity_version": IDENTITY_VERSION,
        "model": {"name": model_name, "source": dict(model_source), "architecture": dict(model_architecture)},
        "backend": backend,
        "trtllm_version": trtllm_version,
        "image": image,
        "gpu_sm": gpu_sm,
        "dtype": dtype,
        "quantization": {"weights": weights_quant, "kv_cache": kv_quant},
        "tp": int(tp),
        "pp": int(pp),
        "checkpoint": dict(checkpoint) if checkpoint is not None else None,
        "build": dict(build),
    }


def digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``doc``."""
    return hashlib.sha256(canonical_json(doc).encode("ascii")).hexdigest()


def short(engine_hash: str) -> str:
    """The prefix used in names."""
    return engine_hash[:SHORT_LENGTH]


__all__ = ["identity_document", "digest", "canonical_json", "short", "IDENTITY_VERSION", "SHORT_LENGTH"]
