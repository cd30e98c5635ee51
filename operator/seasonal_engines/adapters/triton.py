"""Asking one Triton server whether it serves the engine a rollout expects (tritonclient over HTTP).

"Ready" means more than pod Ready: the model is loaded and ready in Triton, and its config names the
planned engine (the ``engine_hash`` parameter every model repository we write carries) with the planned
limits. Failures come back as a ``ModelCheck`` with a reason; nothing raises. ``check_model`` is the
``core.ports.TritonProbe`` the operator runs with.
"""

from __future__ import annotations

from typing import Any

from seasonal_engines.api.status import EngineRef
from seasonal_engines.core.ports import ModelCheck


def _param(config: dict[str, Any], key: str) -> str | None:
    value = (config.get("parameters") or {}).get(key)
    if isinstance(value, dict):
        return value.get("string_value")
    return None if value is None else str(value)


def config_mismatch(config: dict[str, Any], engine: EngineRef) -> str | None:
    """Why a model config does not serve ``engine`` (None when it does). Pure."""
    served = _param(config, "engine_hash")
    if served != engine.hash:
        return f"Triton serves engine {str(served)[:12]}, not {engine.hash[:12]}"
    for key, want in (("max_seq_len", engine.envelope.max_seq_len),):
        got = _param(config, key)
        if got is not None and int(float(got)) != want:
            return f"model config has {key} {got}, the plan {want}"
    return None


def check_model(url: str, model: str, engine: EngineRef, timeout_s: float = 5.0) -> ModelCheck:
    """Ask the Triton at ``url`` (host:port, HTTP) whether ``model`` is ready and serves ``engine``."""
    import tritonclient.http as httpclient  # heavy import kept at the edge
    from tritonclient.utils import InferenceServerException

    try:
        client = httpclient.InferenceServerClient(url, connection_timeout=timeout_s, network_timeout=timeout_s)
        try:
            if not client.is_model_ready(model):
                return ModelCheck(False, False, f"model {model} is not ready in Triton at {url}")
            config = client.get_model_config(model)
        finally:
            client.close()
    except (InferenceServerException, OSError, ConnectionError) as exc:
        return ModelCheck(False, False, f"Triton at {url} did not answer: {str(exc)[:200]}")
    except Exception as exc:  # noqa: BLE001 - gevent/geventhttpclient raise a zoo of socket errors
        return ModelCheck(False, False, f"Triton at {url} did not answer: {type(exc).__name__}: {str(exc)[:200]}")
    why = config_mismatch(config, engine)
    return ModelCheck(True, why is None, why or f"model {model} ready on engine {engine.hash[:12]}")
