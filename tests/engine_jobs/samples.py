"""Plans and fake TensorRT-LLM tools for the build-job tests (no GPU, no TensorRT-LLM).

``GOLDEN`` holds plan.json files written by the operator's planner for the preset models; the
fake runner plays convert_checkpoint/quantize, trtllm-build and nvidia-smi, writing what the
real tools write (an engine ``config.json`` in TensorRT-LLM 1.x form and ``rank<N>.engine``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seasonal_build import commands, plans, trtllm

GOLDEN = Path(__file__).resolve().parent / "golden"
PRESETS = ("llama-3-8b-bf16-tp1", "llama-3-70b-fp8-tp4", "mixtral-8x7b-bf16-tp2")


def plan_dict(preset: str = "llama-3-8b-bf16-tp1") -> dict[str, Any]:
    return json.loads((GOLDEN / f"{preset}.plan.json").read_text())


def plan(preset: str = "llama-3-8b-bf16-tp1", **build: Any) -> plans.Plan:
    d = plan_dict(preset)
    d["build"].update(build)
    return plans.parse(d)


def small_plan_dict(max_input_len: int = 64, max_seq_len: int = 128, max_batch_size: int = 4,
                    max_num_tokens: int = 64, chunked: bool = False, engine_hash: str | None = None) -> dict[str, Any]:
    """A plan with small limits, so tests can cross them with a few words."""
    d = copy.deepcopy(plan_dict())
    d["build"].update(max_input_len=max_input_len, max_seq_len=max_seq_len, max_batch_size=max_batch_size,
                      max_num_tokens=max_num_tokens, opt_num_tokens=None)
    d["runtime"].update(enable_chunked_context=chunked, triton_max_batch_size=max_batch_size,
                        max_attention_window_size=max_seq_len)
    if engine_hash:
        d["engine_hash"] = engine_hash
    return d


def engine_config(p: plans.Plan, **build_overrides: Any) -> dict[str, Any]:
    """The config.json trtllm-build 1.x writes for plan ``p`` (plugins resolved to the model dtype)."""
    b = p.build
    on = {k: b.get(k) == "enable" for k in ("context_fmha", "remove_input_padding", "use_paged_context_fmha",
                                             "use_fp8_context_fmha", "multiple_profiles")}
    plugin = {"gpt_attention_plugin": p.model.dtype if b.get("gpt_attention_plugin") == "auto"
              else b.get("gpt_attention_plugin"),
              "gemm_plugin": None if b.get("gemm_plugin") == "disable" else p.model.dtype,
              "tokens_per_block": b.get("tokens_per_block", 32), "paged_kv_cache": True, **on}
    build = {"max_input_len": b["max_input_len"], "max_seq_len": b["max_seq_len"],
             "max_batch_size": b["max_batch_size"], "max_beam_width": b.get("max_beam_width", 1),
             "max_num_tokens": b["max_num_tokens"], "opt_num_tokens": b.get("opt_num_tokens") or 8,
             "max_prompt_embedding_table_size": 0, "kv_cache_type": "PAGED", "plugin_config": plugin}
    for key, value in build_overrides.items():
        if key in plugin:
            plugin[key] = value
        else:
            build[key] = value
    return {"version": p.trtllm_version,
            "pretrained_config": {"architecture": "LlamaForCausalLM", "dtype": p.model.dtype,
                                  "mapping": {"world_size": p.model.world_size, "tp_size": p.model.tp,
                                              "pp_size": p.model.pp}},
            "build_config": build}


@dataclass
class FakeTools:
    """A runner standing in for the container's tools; records every argv it was asked to run."""

    plan: plans.Plan
    gpu_line: str = "NVIDIA H100 80GB HBM3, 9.0"
    engine_overrides: dict[str, Any] = field(default_factory=dict)
    fail_step: str | None = None
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def __call__(self, command: commands.Command, cwd: Path | None = None) -> trtllm.RunResult:
        self.calls.append(command.argv)
        if command.step == self.fail_step:
            return trtllm.RunResult(1, "something broke\nCUDA out of memory")
        argv = list(command.argv)
        if command.step == "convert":
            out = Path(argv[argv.index("--output_dir") + 1])
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.json").write_text("{}")
        elif command.step == "build":
            out = Path(argv[argv.index("--output_dir") + 1])
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.json").write_text(json.dumps(engine_config(self.plan, **self.engine_overrides)))
            for rank in range(self.plan.model.world_size):
                (out / f"rank{rank}.engine").write_bytes(b"\0" * 1024)
        elif command.step == "verify":
            return trtllm.RunResult(0, self.gpu_line + "\n")
        return trtllm.RunResult(0, "")


def hf_checkpoint(path: Path) -> Path:
    """A directory that looks like a Hugging Face checkpoint (config, tokenizer, one weight file)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (path / "tokenizer.json").write_text("{}")
    (path / "tokenizer_config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(b"\0" * 64)
    return path


def versions() -> dict[str, Any]:
    return {"tensorrt_llm": "1.2.1", "tensorrt": "10.14.1.48", "seasonal_build": "test", "python": "3"}
