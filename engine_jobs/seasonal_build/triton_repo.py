"""The Triton model repository for the TensorRT-LLM backend, and the checks that it fits its engine.

Four models, as NVIDIA lays them out: ``ensemble`` (the front door clients call: text in, text
out), ``preprocessing`` and ``postprocessing`` (Python models that tokenize with the checkpoint's
tokenizer; ours, shipped in ``triton_models/trtllm/``) and ``tensorrt_llm`` (the C++ backend that
runs the engine). Configs are written from the plan's runtime parameters, never from templates,
so nothing is left unfilled. :func:`problems` rejects a repository whose settings its engine
cannot honour (facts §4 "Must match the engine"). Pure except :func:`write` and :func:`check_dir`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Mapping

from seasonal_build import pbtxt, plans, verification
from seasonal_build.pbtxt import Token

MODELS_DIR = Path(__file__).resolve().parent / "triton_models"
ENSEMBLE, PRE, TRT, POST = "ensemble", "preprocessing", "tensorrt_llm", "postprocessing"
# Tokenizer files copied from the checkpoint next to the engine, so serving needs no checkpoint.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                   "vocab.json", "merges.txt", "generation_config.json", "config.json")


def tensor(name: str, dtype: str, dims: list[int], *, optional: bool = False, scalar: bool = False,
           ragged: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"name": name, "data_type": Token(f"TYPE_{dtype}"), "dims": dims}
    if scalar:
        t["reshape"] = {"shape": []}
    if optional:
        t["optional"] = True
    if ragged:
        t["allow_ragged_batch"] = True
    return t


def _io_map(mapping: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def configs(plan: plans.Plan, engine_dir: str, tokenizer_dir: str) -> dict[str, dict[str, Any]]:
    """ModelConfig values of the four models.

    ``engine_dir`` and ``tokenizer_dir`` are paths as the serving pod sees them.
    """
    rt = plan.runtime
    mbs = rt.triton_max_batch_size
    sampling = {"temperature": "FP32", "runtime_top_k": "INT32", "runtime_top_p": "FP32", "random_seed": "UINT64"}
    ensemble = {
        "name": ENSEMBLE, "platform": "ensemble", "max_batch_size": mbs,
        "input": [tensor("text_input", "STRING", [1]), tensor("max_tokens", "INT32", [1]),
                  tensor("end_id", "INT32", [1], optional=True), tensor("pad_id", "INT32", [1], optional=True),
                  *[tensor(n, t, [1], optional=True) for n, t in sampling.items()]],
        "output": [tensor("text_output", "STRING", [-1]), tensor("num_input_tokens", "INT32", [1]),
                   tensor("num_output_tokens", "INT32", [1]), tensor("finish_reason", "STRING", [1])],
        "parameters": {"engine_kind": "tensorrt-llm", "engine_hash": plan.engine_hash},
        "ensemble_scheduling": {"step": [
            {"model_name": PRE, "model_version": -1,
             "input_map": _io_map({"text_input": "text_input", "max_tokens": "max_tokens", "end_id": "end_id",
                                   "pad_id": "pad_id"}),
             "output_map": _io_map({"input_ids": "_input_ids", "input_lengths": "_input_lengths",
                                    "request_output_len": "_request_output_len", "out_end_id": "_end_id",
                                    "out_pad_id": "_pad_id"})},
            {"model_name": TRT, "model_version": -1,
             "input_map": _io_map({"input_ids": "_input_ids", "input_lengths": "_input_lengths",
                                   "request_output_len": "_request_output_len", "end_id": "_end_id",
                                   "pad_id": "_pad_id", **{n: n for n in sampling}}),
             "output_map": _io_map({"output_ids": "_output_ids", "sequence_length": "_sequence_length"})},
            {"model_name": POST, "model_version": -1,
             "input_map": _io_map({"output_ids": "_output_ids", "sequence_length": "_sequence_length",
                                   "input_lengths": "_input_lengths", "max_tokens": "max_tokens"}),
             "output_map": _io_map({"text_output": "text_output", "num_input_tokens": "num_input_tokens",
                                    "num_output_tokens": "num_output_tokens", "finish_reason": "finish_reason"})},
        ]},
    }
    cpu = [{"count": 4, "kind": Token("KIND_CPU")}]  # NVIDIA suggests a handful of tokenizer instances
    pre = {
        "name": PRE, "backend": "python", "max_batch_size": mbs,
        "input": [tensor("text_input", "STRING", [1]), tensor("max_tokens", "INT32", [1]),
                  tensor("end_id", "INT32", [1], optional=True), tensor("pad_id", "INT32", [1], optional=True)],
        "output": [tensor("input_ids", "INT32", [-1]), tensor("input_lengths", "INT32", [1]),
                   tensor("request_output_len", "INT32", [1]), tensor("out_end_id", "INT32", [1]),
                   tensor("out_pad_id", "INT32", [1])],
        "instance_group": cpu, "parameters": {"tokenizer_dir": tokenizer_dir},
    }
    trt_params: dict[str, Any] = {
        "gpt_model_type": rt.batching_strategy,
        "gpt_model_path": engine_dir,
        "max_beam_width": rt.max_beam_width,
        "batch_scheduler_policy": rt.batch_scheduler_policy,
        "kv_cache_free_gpu_mem_fraction": rt.kv_cache_free_gpu_mem_fraction,
        "enable_chunked_context": rt.enable_chunked_context,
        # Written out even when false: the C++ backend turns reuse on when the key is absent.
        "enable_kv_cache_reuse": rt.enable_kv_cache_reuse,
        "exclude_input_in_output": True,
    }
    if rt.max_attention_window_size is not None:
        trt_params["max_attention_window_size"] = rt.max_attention_window_size
    trt = {
        "name": TRT, "backend": "tensorrtllm", "max_batch_size": mbs,
        "model_transaction_policy": {"decoupled": False},
        "dynamic_batching": {"preferred_batch_size": [mbs],
                             "max_queue_delay_microseconds": rt.max_queue_delay_microseconds},
        "input": [tensor("input_ids", "INT32", [-1], ragged=True),
                  tensor("input_lengths", "INT32", [1], scalar=True),
                  tensor("request_output_len", "INT32", [1]),
                  tensor("end_id", "INT32", [1], optional=True, scalar=True),
                  tensor("pad_id", "INT32", [1], optional=True, scalar=True),
                  *[tensor(n, t, [1], optional=True, scalar=True) for n, t in sampling.items()]],
        "output": [tensor("output_ids", "INT32", [-1, -1]), tensor("sequence_length", "INT32", [-1])],
        # One instance drives all GPUs of the engine; the executor batches in flight.
        "instance_group": [{"count": 1, "kind": Token("KIND_CPU")}],
        "parameters": trt_params,
    }
    post = {
        "name": POST, "backend": "python", "max_batch_size": mbs,
        "input": [tensor("output_ids", "INT32", [-1, -1]), tensor("sequence_length", "INT32", [-1]),
                  tensor("input_lengths", "INT32", [1]), tensor("max_tokens", "INT32", [1])],
        "output": [tensor("text_output", "STRING", [-1]), tensor("num_input_tokens", "INT32", [1]),
                   tensor("num_output_tokens", "INT32", [1]), tensor("finish_reason", "STRING", [1])],
        "instance_group": cpu,
        "parameters": {"tokenizer_dir": tokenizer_dir, "max_seq_len": plan.build["max_seq_len"]},
    }
    return {ENSEMBLE: ensemble, PRE: pre, TRT: trt, POST: post}


def write(repo_dir: Path, model_configs: Mapping[str, Mapping[str, Any]],
          model_files: Mapping[str, Path] | None = None) -> None:
    """Write ``<repo>/<model>/config.pbtxt`` and version ``1/`` (with ``model.py`` for Python models)."""
    for name, config in model_configs.items():
        version_dir = Path(repo_dir) / name / "1"
        version_dir.mkdir(parents=True, exist_ok=True)
        text = pbtxt.dumps(config)
        pbtxt.check_schema(text)
        (Path(repo_dir) / name / "config.pbtxt").write_text(text, encoding="utf-8")
        source = (model_files or {}).get(name)
        if source is not None:
            shutil.copyfile(source, version_dir / "model.py")


def trtllm_model_files() -> dict[str, Path]:
    return {PRE: MODELS_DIR / "trtllm" / "preprocessing.py", POST: MODELS_DIR / "trtllm" / "postprocessing.py"}


def copy_tokenizer(checkpoint_dir: Path, dest: Path) -> list[str]:
    """Copy the tokenizer files the checkpoint has; returns their names (at least one is required)."""
    dest.mkdir(parents=True, exist_ok=True)
    copied = [n for n in TOKENIZER_FILES if (checkpoint_dir / n).is_file()]
    for name in copied:
        shutil.copyfile(checkpoint_dir / name, dest / name)
    if not any(n.startswith("tokenizer") or n == "vocab.json" for n in copied):
        raise FileNotFoundError(f"{checkpoint_dir} holds no tokenizer (tokenizer.json or tokenizer.model); the "
                                "pre/postprocessing models need one")
    return copied


# --- checks -----------------------------------------------------------------


def read_dir(repo_dir: Path) -> dict[str, dict[str, list[Any]]]:
    """Parse every ``<model>/config.pbtxt`` (schema-checked when tritonclient is importable)."""
    out: dict[str, dict[str, list[Any]]] = {}
    for path in sorted(Path(repo_dir).glob("*/config.pbtxt")):
        text = path.read_text(encoding="utf-8")
        if "${" in text:
            raise pbtxt.PbtxtError(f"{path} has an unfilled template placeholder ({text[text.index('${'):][:40]!r})")
        try:
            pbtxt.check_schema(text)
            out[path.parent.name] = pbtxt.loads(text)
        except pbtxt.PbtxtError as exc:
            raise pbtxt.PbtxtError(f"{path}: {exc}") from None
    return out


def problems(models: Mapping[str, Mapping[str, list[Any]]], engine: verification.EngineFacts,
             engine_dir: str | None = None) -> list[str]:
    """Ways the TRT-LLM model repository contradicts its engine (empty when consistent)."""
    out = ensemble_problems(models)
    trt = models.get(TRT)
    if trt is None:
        return out + [f"model {TRT!r} is missing"]
    params = pbtxt.parameter_map(trt)
    plug, build = engine.plugins, engine.build

    def truthy(key: str, default: bool) -> bool:
        value = params.get(key)
        return default if value in (None, "") else value.lower() in ("true", "1", "yes")

    if engine_dir is not None and params.get("gpt_model_path") != engine_dir:
        out.append(f"gpt_model_path is {params.get('gpt_model_path')!r}, the engine is at {engine_dir!r}")
    if params.get("gpt_model_type", "").startswith("inflight"):
        missing = [n for n, ok in (("gpt_attention_plugin", bool(plug.get("gpt_attention_plugin"))),
                                   ("remove_input_padding", bool(plug.get("remove_input_padding"))),
                                   ("paged KV cache", build.get("kv_cache_type") == "paged")) if not ok]
        if missing:
            out.append(f"gpt_model_type {params['gpt_model_type']} needs an engine with {', '.join(missing)}")
    paged_fmha = bool(plug.get("use_paged_context_fmha"))
    if truthy("enable_chunked_context", False) and not paged_fmha:
        out.append("enable_chunked_context needs an engine built with use_paged_context_fmha enable")
    if truthy("enable_kv_cache_reuse", True) and not paged_fmha:  # the backend's default is true
        out.append("enable_kv_cache_reuse (true when unset) needs an engine built with use_paged_context_fmha enable")
    beam = int(params.get("max_beam_width") or 1)
    if beam > int(build.get("max_beam_width", 1)):
        out.append(f"max_beam_width {beam} exceeds the engine's {build.get('max_beam_width', 1)}")
    window = params.get("max_attention_window_size")
    if window:
        sizes = [int(w) for w in window.split(",")]
        if max(sizes) > int(build["max_seq_len"]):
            out.append(f"max_attention_window_size {window} exceeds the engine's max_seq_len {build['max_seq_len']}")
    fraction = params.get("kv_cache_free_gpu_mem_fraction")
    if fraction and not 0 < float(fraction) < 1:
        out.append(f"kv_cache_free_gpu_mem_fraction {fraction} must be inside (0, 1)")
    inputs = {str(pbtxt.one(t, "name")) for t in trt.get("input", [])}
    if "prompt_embedding_table" in inputs and not int(build.get("max_prompt_embedding_table_size", 0) or 0):
        out.append("prompt_embedding_table input needs an engine built with max_prompt_embedding_table_size > 0")
    outputs = {str(pbtxt.one(t, "name")) for t in trt.get("output", [])}
    for name, flag in (("context_logits", "gather_context_logits"), ("generation_logits", "gather_generation_logits")):
        if name in outputs and not (build.get(flag) or build.get("gather_all_token_logits")):
            out.append(f"{name} output needs an engine built with --{flag}")
    return out


def ensemble_problems(models: Mapping[str, Mapping[str, list[Any]]]) -> list[str]:
    """An ensemble whose steps name missing models or tensors, or leave required inputs unfed."""
    ens = models.get(ENSEMBLE)
    if ens is None:
        return [f"model {ENSEMBLE!r} is missing"]
    scheduling = pbtxt.one(ens, "ensemble_scheduling")
    if scheduling is None:
        return []  # a single-model front (the CPU stand-in): nothing to wire
    available = {str(pbtxt.one(t, "name")) for t in ens.get("input", [])}
    out: list[str] = []
    for step in scheduling.get("step", []):
        name = str(pbtxt.one(step, "model_name"))
        model = models.get(name)
        if model is None:
            out.append(f"ensemble step {name!r} has no model in the repository")
            continue
        inputs = {str(pbtxt.one(t, "name")): t for t in model.get("input", [])}
        outputs = {str(pbtxt.one(t, "name")) for t in model.get("output", [])}
        fed = set()
        for entry in step.get("input_map", []):
            key, value = str(pbtxt.one(entry, "key")), str(pbtxt.one(entry, "value"))
            if key not in inputs:
                out.append(f"ensemble step {name!r} feeds {key!r}, which {name} does not declare")
            if value not in available:
                out.append(f"ensemble step {name!r} reads {value!r} before anything produces it")
            fed.add(key)
        for key, t in inputs.items():
            if key not in fed and not pbtxt.one(t, "optional", False):
                out.append(f"ensemble step {name!r} leaves the required input {key!r} unfed")
        for entry in step.get("output_map", []):
            key = str(pbtxt.one(entry, "key"))
            if key not in outputs:
                out.append(f"ensemble step {name!r} maps output {key!r}, which {name} does not declare")
            available.add(str(pbtxt.one(entry, "value")))
    for t in ens.get("output", []):
        if str(pbtxt.one(t, "name")) not in available:
            out.append(f"ensemble output {pbtxt.one(t, 'name')!r} is produced by no step")
    return out


def check_dir(repo_dir: Path, engine: verification.EngineFacts, engine_dir: str | None = None) -> None:
    """Raise :class:`verification.VerificationError` if the repository on disk contradicts its engine."""
    found = problems(read_dir(repo_dir), engine, engine_dir)
    if found:
        raise verification.VerificationError(f"model repository {repo_dir} does not fit its engine:\n  "
                                             + "\n  ".join(found))
