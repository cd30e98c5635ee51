"""The plan kinds the GPU path must get right, planned by the operator's planner from one fixed window of traffic.

Each kind has golden files in ``golden/kinds/``: the plan (``<kind>.plan.json``), the exact commands a build
runs (``<kind>.commands.json``, TensorRT kinds) and the model repository it is served from
(``<kind>.repository.json``: every config.pbtxt and text file, and where each copied file comes from).
``python -m tests.engine_jobs.plan_kinds`` rewrites them after a deliberate change; the tests compare.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from seasonal_build import cli, plans, triton_repo
from seasonal_engines.core import traffic
from seasonal_engines.core.sizing import gpus, models, planning
from seasonal_engines.core.sizing.plans import ModelRef

GOLDEN = Path(__file__).resolve().parent / "golden" / "kinds"
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
IMAGE = "nvcr.io/nvidia/tritonserver:26.07-trtllm-python-py3"


@dataclass(frozen=True)
class Kind:
    name: str
    model: str
    hf_repo: str
    gpu: str
    weights: str = "none"
    kv: str = "auto"
    tp: int = 1
    backend: str = "tensorrt"
    trtllm_version: str = "1.2.1"


KINDS = (
    Kind("bf16", "llama-3-8b", "meta-llama/Meta-Llama-3-8B-Instruct", "h100"),
    Kind("fp8-weights-default-kv", "llama-3-8b", "meta-llama/Meta-Llama-3-8B-Instruct", "h100", weights="fp8"),
    Kind("fp8-kv-over-bf16", "llama-3-8b", "meta-llama/Meta-Llama-3-8B-Instruct", "h100", kv="fp8"),
    Kind("int8-weight-only-int8-kv", "llama-3-8b", "meta-llama/Meta-Llama-3-8B-Instruct", "a100", weights="int8_wo",
         kv="int8"),
    Kind("int4-awq", "llama-3-8b", "meta-llama/Meta-Llama-3-8B-Instruct", "l40s", weights="int4_awq"),
    Kind("tp4-70b", "llama-3-70b", "meta-llama/Meta-Llama-3-70B-Instruct", "h100", tp=4),
    Kind("mixtral", "mixtral-8x7b", "mistralai/Mixtral-8x7B-Instruct-v0.1", "h100", tp=2),
    Kind("gemma", "gemma-7b", "google/gemma-7b-it", "h100", tp=2),
    Kind("pytorch", "llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct", "h100", backend="pytorch",
         trtllm_version="1.3.0"),
)
BY_NAME = {k.name: k for k in KINDS}


def window(n: int = 20000, seed: int = 1) -> traffic.TrafficProfile:
    """One hour of chat-like traffic: lognormal prompts (median 800) and outputs (median 200)."""
    rng = np.random.default_rng(seed)
    inp = np.clip(rng.lognormal(np.log(800), 1.0, n).round(), 1, 60000)
    out = np.clip(rng.lognormal(np.log(200), 0.8, n).round(), 1, 8000)
    return traffic.profile_from_requests(START, START + timedelta(hours=1), inp, out)


def plan_dict(kind: Kind) -> dict[str, Any]:
    source = {"huggingFace": {"repo": kind.hf_repo, "revision": "main"}}
    p = planning.plan(window(), models.preset(kind.model), gpus.preset(kind.gpu), weights_quant=kind.weights,
                      kv_quant=kind.kv, tp=kind.tp, backend=kind.backend, image=IMAGE,
                      trtllm_version=kind.trtllm_version, model_ref=ModelRef(kind.model, source))
    return p.to_json()


def commands(plan: plans.Plan) -> list[dict[str, Any]]:
    return [c.to_dict() for c in cli.planned_commands(plan)]


def repository(plan: plans.Plan) -> dict[str, str]:
    """Every file of the plan's model repository: text files in full, copied ones by their source."""
    sources = {str(p.resolve()): str(p.relative_to(triton_repo.MODELS_DIR))
               for p in triton_repo.MODELS_DIR.rglob("*.py")}
    contents = {p.read_bytes(): name for p, name in ((Path(k), v) for k, v in sources.items())}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "repository"
        plan_file = Path(tmp) / "plan.json"
        plan_file.write_text(json.dumps(dict(plan.raw)))
        assert cli.main(["repository", "--plan", str(plan_file), "--out", str(out)]) == cli.EXIT_OK
        files = {}
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            data = path.read_bytes()
            rel = str(path.relative_to(out))
            files[rel] = f"copy of triton_models/{contents[data]}" if data in contents else data.decode()
        return files


def golden(kind: Kind, part: str) -> Any:
    return json.loads((GOLDEN / f"{kind.name}.{part}.json").read_text())


def write_goldens() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        d = plan_dict(kind)
        (GOLDEN / f"{kind.name}.plan.json").write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")
        p = plans.parse(d)
        if p.backend is plans.Backend.tensorrt:
            (GOLDEN / f"{kind.name}.commands.json").write_text(json.dumps(commands(p), indent=2) + "\n")
        (GOLDEN / f"{kind.name}.repository.json").write_text(json.dumps(repository(p), indent=2) + "\n")


if __name__ == "__main__":
    write_goldens()
