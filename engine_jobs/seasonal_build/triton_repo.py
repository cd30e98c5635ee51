"""The Triton model repository a plan is served from, and the checks that it fits its engine.

TensorRT engines get four models, as NVIDIA lays them out (``docs/trtllm-contract.md`` lists the
upstream facts each one honours): ``ensemble`` (the front door: NGC's input and output names),
``preprocessing`` and ``postprocessing`` (our Python models: tokenize, detokenize, and record the
token-length metrics once per request, see ``docs/token-exporter.md``) and ``tensorrt_llm`` (the C++
backend running the engine, every parameter it reads without a fallback written out). The PyTorch
backend gets NVIDIA's ``llmapi`` model (our config and ``model.yaml``; NVIDIA's ``model.py`` loaded from
the container) behind our Python front ``ensemble``, which takes the same NGC inputs and records the
same metrics. Configs are written from the plan, never from templates, so nothing is left unfilled.
:func:`problems` rejects a repository whose settings its engine cannot honour. Pure except
:func:`write`, :func:`write_repository`, :func:`copy_tokenizer` and :func:`check_dir`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seasonal_build import pbtxt, plans, runtime_limits, verification
from seasonal_build.pbtxt import Token

MODELS_DIR = Path(__file__).resolve().parent / "triton_models"
ENSEMBLE, PRE, TRT, POST = "ensemble", "preprocessing", "tensorrt_llm", "postprocessing"
TOKEN_METRICS = MODELS_DIR / "token_metrics.py"
# Where NVIDIA's Triton TRT-LLM container keeps the backend's executor worker and the llmapi model.
EXECUTOR_WORKER = "/opt/tritonserver/backends/tensorrtllm/trtllmExecutorWorker"
LLMAPI_MODEL_DIR = "/app/all_models/llmapi/tensorrt_llm/1"
STAND_IN_ENGINE_DIR = "stand-in-engine"
# Tokenizer files copied from the checkpoint next to the engine, so serving needs no checkpoint.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                   "vocab.json", "merges.txt", "generation_config.json", "config.json")

# NGC's ensemble inputs beyond text_input/max_tokens that reach the engine unchanged:
# (ensemble name, tensorrt_llm name, data type). Names from the backend's utils.h InputFieldsNames and
# the ensemble template (docs/trtllm-contract.md, table "ensemble inputs").
PASS_THROUGH = (
    ("top_k", "runtime_top_k", "INT32"), ("top_p", "runtime_top_p", "FP32"), ("temperature", "temperature", "FP32"),
    ("length_penalty", "len_penalty", "FP32"), ("repetition_penalty", "repetition_penalty", "FP32"),
    ("min_tokens", "min_tokens", "INT32"), ("presence_penalty", "presence_penalty", "FP32"),
    ("frequency_penalty", "frequency_penalty", "FP32"), ("seed", "seed", "UINT64"),
    ("beam_width", "beam_width", "INT32"), ("return_log_probs", "return_log_probs", "BOOL"),
    ("return_perf_metrics", "return_perf_metrics", "BOOL"),
    ("return_num_input_tokens", "return_num_input_tokens", "BOOL"),
    ("return_num_output_tokens", "return_num_output_tokens", "BOOL"), ("stream", "streaming", "BOOL"),
)
# Ensemble inputs the preprocessing model turns into token ids.
WORD_LISTS = (("bad_words", "bad_words_list"), ("stop_words", "stop_words_list"))
OUTPUTS = (("text_output", "STRING", [-1]), ("num_input_tokens", "INT32", [1]), ("num_output_tokens", "INT32", [1]),
           ("finish_reason", "STRING", [1]))
# NGC ensemble inputs the llmapi model takes under other names (its config.pbtxt), for the PyTorch front.
LLMAPI_INPUTS = (("max_tokens", "sampling_param_max_tokens"), ("top_k", "sampling_param_top_k"),
                 ("top_p", "sampling_param_top_p"), ("temperature", "sampling_param_temperature"),
                 ("presence_penalty", "sampling_param_presence_penalty"),
                 ("frequency_penalty", "sampling_param_frequency_penalty"), ("seed", "sampling_param_seed"),
                 ("stop_words", "sampling_param_stop"))

FileSource = Path | str  # a file to copy, or the text to write


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


def ensemble_inputs() -> list[dict[str, Any]]:
    """The front door's inputs: NGC's names and types (text only; no LoRA, logits or prompt tables)."""
    return [tensor("text_input", "STRING", [1]), tensor("max_tokens", "INT32", [1]),
            *[tensor(name, "STRING", [-1], optional=True) for name, _ in WORD_LISTS],
            tensor("end_id", "INT32", [1], optional=True), tensor("pad_id", "INT32", [1], optional=True),
            *[tensor(name, dtype, [1], optional=True) for name, _, dtype in PASS_THROUGH]]


def ensemble_outputs() -> list[dict[str, Any]]:
    return [tensor(name, dtype, dims) for name, dtype, dims in OUTPUTS]


@dataclass(frozen=True)
class Paths:
    """Where the serving pod finds the engine and tokenizer (or, for PyTorch, the checkpoint)."""

    engine_dir: str
    tokenizer_dir: str


def metric_parameters(plan: plans.Plan) -> dict[str, Any]:
    """What the models recording token metrics must know: the label and the limits the runtime enforces."""
    return {"model_label": plan.model.name, "max_input_len": runtime_limits.effective_input_limit(plan),
            "max_seq_len": plan.build["max_seq_len"]}


def configs(plan: plans.Plan, engine_dir: str, tokenizer_dir: str) -> dict[str, dict[str, Any]]:
    """ModelConfig values of the four TensorRT-LLM models; paths as the serving pod sees them."""
    rt = plan.runtime
    mbs = rt.triton_max_batch_size
    ensemble = {
        "name": ENSEMBLE, "platform": "ensemble", "max_batch_size": mbs,
        "input": ensemble_inputs(), "output": ensemble_outputs(),
        "parameters": {"engine_kind": "tensorrt-llm", "engine_hash": plan.engine_hash},
        "ensemble_scheduling": {"step": [
            {"model_name": PRE, "model_version": -1,
             "input_map": _io_map({"text_input": "text_input", "max_tokens": "max_tokens", "end_id": "end_id",
                                   "pad_id": "pad_id", **{n: n for n, _ in WORD_LISTS}}),
             "output_map": _io_map({"input_ids": "_input_ids", "input_lengths": "_input_lengths",
                                    "request_output_len": "_request_output_len", "out_end_id": "_end_id",
                                    "out_pad_id": "_pad_id", **{t: f"_{t}" for _, t in WORD_LISTS}})},
            {"model_name": TRT, "model_version": -1,
             "input_map": _io_map({"input_ids": "_input_ids", "input_lengths": "_input_lengths",
                                   "request_output_len": "_request_output_len", "end_id": "_end_id",
                                   "pad_id": "_pad_id", **{t: f"_{t}" for _, t in WORD_LISTS},
                                   **{t: e for e, t, _ in PASS_THROUGH}}),
             "output_map": _io_map({"output_ids": "_output_ids", "sequence_length": "_sequence_length"})},
            {"model_name": POST, "model_version": -1,
             "input_map": _io_map({"output_ids": "_output_ids", "sequence_length": "_sequence_length",
                                   "input_lengths": "_input_lengths", "max_tokens": "max_tokens"}),
             "output_map": _io_map({n: n for n, _, _ in OUTPUTS})},
        ]},
    }
    # NVIDIA suggests a handful of tokenizer instances; each records metrics into the same series.
    cpu = [{"count": 4, "kind": Token("KIND_CPU")}]
    batching = {"max_queue_delay_microseconds": rt.max_queue_delay_microseconds}
    pre = {
        "name": PRE, "backend": "python", "max_batch_size": mbs, "dynamic_batching": batching,
        "input": [tensor("text_input", "STRING", [1]), tensor("max_tokens", "INT32", [1]),
                  *[tensor(n, "STRING", [-1], optional=True) for n, _ in WORD_LISTS],
                  tensor("end_id", "INT32", [1], optional=True), tensor("pad_id", "INT32", [1], optional=True)],
        "output": [tensor("input_ids", "INT32", [-1]), tensor("input_lengths", "INT32", [1]),
                   tensor("request_output_len", "INT32", [1]), tensor("out_end_id", "INT32", [1]),
                   tensor("out_pad_id", "INT32", [1]), *[tensor(t, "INT32", [2, -1]) for _, t in WORD_LISTS]],
        "instance_group": cpu, "parameters": {"tokenizer_dir": tokenizer_dir, **metric_parameters(plan)},
    }
    trt = {
        "name": TRT, "backend": "tensorrtllm", "max_batch_size": mbs,
        "model_transaction_policy": {"decoupled": False},
        "dynamic_batching": {"preferred_batch_size": [mbs], **batching},
        "input": trt_inputs(), "output": trt_outputs(),
        # One instance drives all GPUs of the engine; the executor batches in flight.
        "instance_group": [{"count": 1, "kind": Token("KIND_CPU")}],
        "parameters": trt_parameters(plan, engine_dir),
    }
    post = {
        "name": POST, "backend": "python", "max_batch_size": mbs, "dynamic_batching": batching,
        "input": [tensor("output_ids", "INT32", [-1, -1]), tensor("sequence_length", "INT32", [-1]),
                  tensor("input_lengths", "INT32", [1]), tensor("max_tokens", "INT32", [1])],
        "output": ensemble_outputs(),
        "instance_group": cpu, "parameters": {"tokenizer_dir": tokenizer_dir, **metric_parameters(plan)},
    }
    return {ENSEMBLE: ensemble, PRE: pre, TRT: trt, POST: post}


def trt_inputs() -> list[dict[str, Any]]:
    """The ``tensorrt_llm`` inputs we use, declared as the backend's template declares them."""
    return [tensor("input_ids", "INT32", [-1], optional=True, ragged=True),  # optional upstream (encoder-only)
            tensor("input_lengths", "INT32", [1], scalar=True),
            tensor("request_output_len", "INT32", [1], scalar=True),
            tensor("end_id", "INT32", [1], optional=True, scalar=True),
            tensor("pad_id", "INT32", [1], optional=True, scalar=True),
            *[tensor(t, "INT32", [2, -1], optional=True, ragged=True) for _, t in WORD_LISTS],
            *[tensor(t, dtype, [1], optional=True, scalar=True) for _, t, dtype in PASS_THROUGH]]


# Written by the backend whenever a request sets return_perf_metrics, requested or not: declared as the
# template declares them.
PERF_OUTPUTS = (("kv_cache_alloc_new_blocks", "INT32"), ("kv_cache_reused_blocks", "INT32"),
                ("kv_cache_alloc_total_blocks", "INT32"), ("arrival_time_ns", "INT64"),
                ("first_scheduled_time_ns", "INT64"), ("first_token_time_ns", "INT64"), ("last_token_time_ns", "INT64"),
                ("acceptance_rate", "FP32"), ("total_accepted_draft_tokens", "INT32"), ("total_draft_tokens", "INT32"))


def trt_outputs() -> list[dict[str, Any]]:
    return [tensor("output_ids", "INT32", [-1, -1]), tensor("sequence_length", "INT32", [-1]),
            tensor("cum_log_probs", "FP32", [-1]), tensor("output_log_probs", "FP32", [-1, -1]),
            tensor("num_input_tokens", "INT32", [1]), tensor("num_output_tokens", "INT32", [1]),
            *[tensor(name, dtype, [1]) for name, dtype in PERF_OUTPUTS]]


def trt_parameters(plan: plans.Plan, engine_dir: str) -> dict[str, Any]:
    rt = plan.runtime
    params: dict[str, Any] = {
        "gpt_model_type": rt.batching_strategy,
        "gpt_model_path": engine_dir,
        "max_beam_width": rt.max_beam_width,
        "batch_scheduler_policy": rt.batch_scheduler_policy,
        "kv_cache_free_gpu_mem_fraction": rt.kv_cache_free_gpu_mem_fraction,
        "enable_chunked_context": rt.enable_chunked_context,
        # Written out even when false: the C++ backend turns reuse on when the key is absent.
        "enable_kv_cache_reuse": rt.enable_kv_cache_reuse,
        "exclude_input_in_output": True,
        # Read without a fallback by the guided-decoding setup: absent, the model never loads. Empty
        # strings mean "no guided decoding" there, as unfilled template placeholders do.
        "tokenizer_dir": "", "xgrammar_tokenizer_info_path": "", "guided_decoding_backend": "",
        "executor_worker_path": EXECUTOR_WORKER,
    }
    if rt.max_attention_window_size is not None:
        params["max_attention_window_size"] = rt.max_attention_window_size
    return params


# --- the PyTorch backend ----------------------------------------------------


def llmapi_configs(plan: plans.Plan, tokenizer_dir: str,
                   llmapi_model_dir: str = LLMAPI_MODEL_DIR) -> dict[str, dict[str, Any]]:
    """Our front ``ensemble`` (NGC inputs, token metrics) and NVIDIA's llmapi ``tensorrt_llm`` model."""
    rt = plan.raw.get("runtime") or {}
    mbs = int(rt.get("max_batch_size", plan.build["max_batch_size"]))
    front = {
        "name": ENSEMBLE, "backend": "python", "max_batch_size": mbs,
        "model_transaction_policy": {"decoupled": False}, "dynamic_batching": {},
        "input": ensemble_inputs(), "output": ensemble_outputs(),
        "instance_group": [{"count": 4, "kind": Token("KIND_CPU")}],
        "parameters": {"engine_kind": "tensorrt-llm-pytorch", "engine_hash": plan.engine_hash,
                       "downstream_model": TRT, "tokenizer_dir": tokenizer_dir, **metric_parameters(plan),
                       "input_map": ",".join(f"{a}:{b}" for a, b in LLMAPI_INPUTS)},
    }
    llmapi = {
        "name": TRT, "backend": "python",
        # llmapi's model.yaml sets max_batch_size and decoupled (triton_config) through auto-complete.
        "input": [tensor("text_input", "STRING", [-1]), tensor("streaming", "BOOL", [1], optional=True),
                  *[tensor(b, _LLMAPI_TYPES[b], [-1] if b == "sampling_param_stop" else [1], optional=True)
                    for _, b in LLMAPI_INPUTS]],
        "output": [tensor("text_output", "STRING", [-1]), tensor("finish_reason", "STRING", [-1])],
        "instance_group": [{"count": 1, "kind": Token("KIND_CPU")}],
        "parameters": {"llmapi_model_dir": llmapi_model_dir},
    }
    return {ENSEMBLE: front, TRT: llmapi}


_LLMAPI_TYPES = {"sampling_param_max_tokens": "INT32", "sampling_param_top_k": "INT32",
                 "sampling_param_top_p": "FP32", "sampling_param_temperature": "FP32",
                 "sampling_param_presence_penalty": "FP32", "sampling_param_frequency_penalty": "FP32",
                 "sampling_param_seed": "UINT64", "sampling_param_stop": "STRING"}


def llmapi_model_yaml(plan: plans.Plan, model_dir: str) -> str:
    """``model.yaml``: the LLM() arguments of the plan's runtime, and Triton's ``triton_config``.

    Written as JSON, which YAML readers accept, so the build job needs no YAML library.
    """
    rt = dict(plan.raw.get("runtime") or {})
    doc: dict[str, Any] = {"model": model_dir, "backend": "pytorch"}
    for key in ("tensor_parallel_size", "pipeline_parallel_size", "max_batch_size", "max_num_tokens",
                "max_seq_len", "enable_chunked_prefill", "kv_cache_config"):
        if key in rt:
            doc[key] = rt[key]
    # The llmapi model does not batch requests itself (its own note): one prompt per Triton request.
    doc["triton_config"] = {"max_batch_size": 0, "decoupled": False}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


# --- writing ----------------------------------------------------------------


def trtllm_model_files(engine: str = TRT) -> dict[str, dict[str, FileSource]]:
    """Files next to each config: our Python models and the token-metrics module they import."""
    trtllm = MODELS_DIR / "trtllm"
    files: dict[str, dict[str, FileSource]] = {
        PRE: {"model.py": trtllm / "preprocessing.py", "token_metrics.py": TOKEN_METRICS},
        POST: {"model.py": trtllm / "postprocessing.py", "token_metrics.py": TOKEN_METRICS},
    }
    if engine == "cpu-stand-in":
        files[TRT] = {"model.py": MODELS_DIR / "stand_in" / "tensorrt_llm.py"}
    return files


def llmapi_model_files(plan: plans.Plan, model_dir: str) -> dict[str, dict[str, FileSource]]:
    llmapi = MODELS_DIR / "llmapi"
    return {ENSEMBLE: {"model.py": llmapi / "front.py", "token_metrics.py": TOKEN_METRICS},
            TRT: {"model.py": llmapi / "loader.py", "model.yaml": llmapi_model_yaml(plan, model_dir)}}


def write(repo_dir: Path, model_configs: Mapping[str, Mapping[str, Any]],
          model_files: Mapping[str, Path | Mapping[str, FileSource]] | None = None) -> None:
    """Write ``<repo>/<model>/config.pbtxt`` and version ``1/`` with the model's files.

    A model's files are ``{name: source path or text}``; a bare path means ``model.py``.
    """
    for name, config in model_configs.items():
        version_dir = Path(repo_dir) / name / "1"
        version_dir.mkdir(parents=True, exist_ok=True)
        text = pbtxt.dumps(config)
        pbtxt.check_schema(text)
        (Path(repo_dir) / name / "config.pbtxt").write_text(text, encoding="utf-8")
        files = (model_files or {}).get(name)
        if isinstance(files, Path):
            files = {"model.py": files}
        for filename, source in (files or {}).items():
            if isinstance(source, Path):
                shutil.copyfile(source, version_dir / filename)
            else:
                (version_dir / filename).write_text(source, encoding="utf-8")


def write_repository(plan: plans.Plan, repo_dir: Path, paths: Paths, *, engine: str = TRT,
                     llmapi_model_dir: str = LLMAPI_MODEL_DIR) -> None:
    """The whole repository the plan is served from; ``engine="cpu-stand-in"`` puts our CPU stand-in (same
    config interface, ``config.json`` in TensorRT-LLM 1.x form under the model) in place of the engine. For
    PyTorch plans ``paths.engine_dir`` is the checkpoint model.yaml names and ``llmapi_model_dir`` where the
    image keeps NVIDIA's llmapi model."""
    if plan.backend is plans.Backend.pytorch:
        write(repo_dir, llmapi_configs(plan, paths.tokenizer_dir, llmapi_model_dir),
              llmapi_model_files(plan, paths.engine_dir))
        return
    engine_dir = paths.engine_dir
    if engine == "cpu-stand-in":
        stand_in_dir = Path(repo_dir).resolve() / TRT / STAND_IN_ENGINE_DIR
        stand_in_dir.mkdir(parents=True, exist_ok=True)
        (stand_in_dir / "config.json").write_text(
            json.dumps(runtime_limits.stand_in_engine_config(plan), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        engine_dir = str(stand_in_dir)
    model_configs = configs(plan, engine_dir, paths.tokenizer_dir)
    if engine == "cpu-stand-in":
        # Same inputs, outputs and parameters: only the backend differs.
        model_configs[TRT] = {**model_configs[TRT], "backend": "python"}
    write(repo_dir, model_configs, trtllm_model_files(engine))


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


# Parameters the 1.2 backend reads with GetParameter<std::string> and no try/catch (model_instance_state.cc).
REQUIRED_TRT_PARAMETERS = ("gpt_model_type", "tokenizer_dir", "xgrammar_tokenizer_info_path",
                           "guided_decoding_backend")


def problems(models: Mapping[str, Mapping[str, list[Any]]], engine: verification.EngineFacts,
             engine_dir: str | None = None) -> list[str]:
    """Ways the TRT-LLM model repository contradicts its engine or the backend (empty when consistent)."""
    out = ensemble_problems(models)
    trt = models.get(TRT)
    if trt is None:
        return out + [f"model {TRT!r} is missing"]
    params = pbtxt.parameter_map(trt)
    plug, build = engine.plugins, engine.build

    def truthy(key: str, default: bool) -> bool:
        value = params.get(key)
        return default if value in (None, "") else value.lower() in ("true", "1", "yes")

    missing_params = [k for k in REQUIRED_TRT_PARAMETERS if k not in params]
    if missing_params:
        out.append(f"tensorrt_llm lacks parameters the backend reads without a default: {', '.join(missing_params)} "
                   "(it fails with \"Cannot find parameter with name\")")
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
    if not truthy("exclude_input_in_output", False):
        out.append("exclude_input_in_output must be true: postprocessing counts output_ids as generated tokens")
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
    for name in (PRE, POST):
        model = models.get(name)
        if model is not None and "model_label" not in pbtxt.parameter_map(model):
            out.append(f"{name} records no token metrics (parameter model_label is missing)")
    return out


def ensemble_problems(models: Mapping[str, Mapping[str, list[Any]]]) -> list[str]:
    """An ensemble whose steps name missing models or tensors, or leave required inputs unfed."""
    ens = models.get(ENSEMBLE)
    if ens is None:
        return [f"model {ENSEMBLE!r} is missing"]
    scheduling = pbtxt.one(ens, "ensemble_scheduling")
    if scheduling is None:
        return []  # a Python front (the CPU stand-in, the PyTorch front): nothing to wire
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
