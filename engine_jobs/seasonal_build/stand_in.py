"""The CPU stand-in engine: a Triton model repository that behaves like the planned engine's limits.

Used by the local quickstart, the tests and the benchmarks where no GPU exists. The repository
has one Python-backend model named ``ensemble`` (the name clients and readiness checks use with
the real TensorRT-LLM ensemble) with the same request and response tensors, whose config carries
``engine_kind: cpu-stand-in``; its "engine" is ``engine/stand-in.json``, never ``rank*.engine``.
It is called a stand-in everywhere and never reported as a TensorRT-LLM engine. Pure except
:func:`write` and :func:`check_dir`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seasonal_build import manifests, pbtxt, plans, runtime_limits, triton_repo, verification
from seasonal_build.pbtxt import Token

MODEL_NAME = "ensemble"
ENGINE_FILE = "stand-in.json"
MODEL_SOURCE = triton_repo.MODELS_DIR / "stand_in" / "model.py"
TOKEN_METRICS_SOURCE = triton_repo.MODELS_DIR / "token_metrics.py"


def effective_input_limit(plan: plans.Plan) -> int:
    """The longest prompt the TensorRT-LLM runtime admits for this plan (see :mod:`runtime_limits`)."""
    return runtime_limits.effective_input_limit(plan)


def engine_document(plan: plans.Plan) -> dict[str, Any]:
    """``engine/stand-in.json``: the limits the stand-in enforces, in build_config terms."""
    return {
        "engine_kind": manifests.STAND_IN,
        "description": manifests.STAND_IN_DESCRIPTION,
        "engine_hash": plan.engine_hash,
        "build_config": dict(plan.build),
        "effective_max_input_len": effective_input_limit(plan),
        "enable_chunked_context": plan.runtime.enable_chunked_context,
    }


def config(plan: plans.Plan, decode_ms_per_token: float = 0.0) -> dict[str, Any]:
    """The stand-in's ModelConfig. Its Triton ``max_batch_size`` is the engine's: the most sequences at once."""
    return {
        "name": MODEL_NAME, "backend": "python", "max_batch_size": plan.build_int("max_batch_size"),
        "input": triton_repo.ensemble_inputs(), "output": triton_repo.ensemble_outputs(),
        "dynamic_batching": {"max_queue_delay_microseconds": plan.runtime.max_queue_delay_microseconds},
        "instance_group": [{"count": 1, "kind": Token("KIND_CPU")}],
        "parameters": {
            "engine_kind": manifests.STAND_IN,
            "description": manifests.STAND_IN_DESCRIPTION,
            "engine_hash": plan.engine_hash,
            "model_label": plan.model.name,
            "max_input_len": effective_input_limit(plan),
            "build_max_input_len": plan.build_int("max_input_len"),
            "max_seq_len": plan.build_int("max_seq_len"),
            "max_num_tokens": plan.build_int("max_num_tokens"),
            "decode_ms_per_token": decode_ms_per_token,
        },
    }


def write(plan: plans.Plan, engine_dir: Path, repo_dir: Path, decode_ms_per_token: float = 0.0) -> None:
    """Write the stand-in "engine" and its model repository."""
    if not TOKEN_METRICS_SOURCE.is_file():
        raise FileNotFoundError(f"{TOKEN_METRICS_SOURCE} is missing: the stand-in records token metrics with it")
    engine_dir.mkdir(parents=True, exist_ok=True)
    (engine_dir / ENGINE_FILE).write_text(json.dumps(engine_document(plan), indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")
    triton_repo.write(repo_dir, {MODEL_NAME: config(plan, decode_ms_per_token)},
                      {MODEL_NAME: {"model.py": MODEL_SOURCE, "token_metrics.py": TOKEN_METRICS_SOURCE}})


def problems(models: dict[str, dict[str, list[Any]]], engine: dict[str, Any]) -> list[str]:
    """Ways a stand-in repository contradicts its stand-in engine document."""
    model = models.get(MODEL_NAME)
    if model is None:
        return [f"model {MODEL_NAME!r} is missing"]
    params = pbtxt.parameter_map(model)
    out = []
    if params.get("engine_kind") != manifests.STAND_IN or engine.get("engine_kind") != manifests.STAND_IN:
        out.append("engine_kind must be cpu-stand-in in both config.pbtxt and stand-in.json")
    build = engine.get("build_config", {})
    expected = {"max_input_len": engine.get("effective_max_input_len"), "max_seq_len": build.get("max_seq_len")}
    for key, value in expected.items():
        if str(value) != params.get(key):
            out.append(f"{key} is {params.get(key)!r} in config.pbtxt but {value!r} in the engine")
    mbs = pbtxt.one(model, "max_batch_size")
    if mbs != build.get("max_batch_size"):
        out.append(f"max_batch_size is {mbs!r} in config.pbtxt but {build.get('max_batch_size')!r} in the engine")
    return out


def check_dir(repo_dir: Path, engine_dir: Path) -> None:
    """Raise :class:`verification.VerificationError` if the stand-in repository contradicts its engine file."""
    engine = json.loads((engine_dir / ENGINE_FILE).read_text(encoding="utf-8"))
    found = problems(triton_repo.read_dir(repo_dir), engine)
    if found:
        raise verification.VerificationError(f"stand-in repository {repo_dir} does not fit its engine:\n  "
                                             + "\n  ".join(found))
