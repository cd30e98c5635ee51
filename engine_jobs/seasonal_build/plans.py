"""Load and validate ``plan.json``, the contract between the operator's planner and the build job.

The plan is plain JSON (see docs/architecture.md) so that the build job needs no operator code.
This module turns it into frozen values and refuses, with the field's path and the fix, anything
the build could not honour exactly: a flag trtllm-build would silently clip or clamp makes an
engine that differs from its plan. Pure: parsing only; :func:`load` is the one function that
reads a file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from seasonal_build import builder_rules

SCHEMA = "seasonal-engines/plan/v1"
QUANTIZE_SCRIPT = "examples/quantization/quantize.py"


class PlanError(ValueError):
    """A plan the build cannot honour; the message names the field and the fix."""


class Backend(str, Enum):
    tensorrt = "tensorrt"
    pytorch = "pytorch"
    cpu_stand_in = "cpu-stand-in"


class CheckpointMethod(str, Enum):
    convert = "convert"  # the per-family convert_checkpoint.py
    quantize = "quantize"  # ModelOpt's examples/quantization/quantize.py


# trtllm-build's integer flags, in the order the command passes them.
INT_FLAGS = ("max_batch_size", "max_input_len", "max_seq_len", "max_num_tokens", "opt_num_tokens",
             "max_beam_width", "tokens_per_block")
# Its string flags (plugins take a dtype or "disable"; features take enable/disable), same order rule.
STR_FLAGS = ("kv_cache_type", "gpt_attention_plugin", "gemm_plugin", "context_fmha", "remove_input_padding",
             "use_paged_context_fmha", "use_fp8_context_fmha", "multiple_profiles")
REQUIRED_INT_FLAGS = ("max_batch_size", "max_input_len", "max_seq_len", "max_num_tokens")
ENABLE_DISABLE = ("enable", "disable")
# tensorrt_llm/plugin/plugin.py (1.x): gpt_attention_plugin is a DefaultPluginDtype; gemm_plugin also takes
# fp8 and nvfp4. "disable" is the command line's None.
ATTENTION_PLUGIN_VALUES = ("auto", "float16", "float32", "bfloat16", "int32", "disable")
GEMM_PLUGIN_VALUES = ("auto", "float16", "float32", "bfloat16", "int32", "fp8", "nvfp4", "disable")
PLUGIN_VALUES = GEMM_PLUGIN_VALUES
KV_CACHE_TYPES = ("paged", "continuous", "disabled")
ALLOWED_STR_VALUES: dict[str, tuple[str, ...]] = {
    "kv_cache_type": KV_CACHE_TYPES,
    "gpt_attention_plugin": ATTENTION_PLUGIN_VALUES,
    "gemm_plugin": GEMM_PLUGIN_VALUES,
    **{k: ENABLE_DISABLE for k in ("context_fmha", "remove_input_padding", "use_paged_context_fmha",
                                    "use_fp8_context_fmha", "multiple_profiles")},
}
BATCHING_STRATEGIES = ("inflight_fused_batching", "inflight_batching", "V1")
SCHEDULER_POLICIES = ("guaranteed_no_evict", "max_utilization")
WEIGHT_FORMATS = ("none", "fp8", "int8_sq", "int8_wo", "int4_wo", "int4_awq", "w4a8_awq", "nvfp4")
KV_FORMATS = ("auto", "fp8", "int8")
DTYPES = ("bfloat16", "float16")
HEX = re.compile(r"^[0-9a-f]{16,128}$")
VERSION = re.compile(r"^\d+\.\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
# Checkpoint flags each family's convert_checkpoint.py has (examples/models/core/<family>/convert_checkpoint.py,
# 1.2): gemma takes --world-size and --ckpt-type instead of --tp_size/--pp_size and has no pipeline
# parallelism; phi has no KV-cache flags and asserts pp_size 1; qwen has no --fp8_kv_cache.
FAMILY_FLAGS: dict[str, dict[str, Any]] = {
    "gemma": {"parallel": "world-size", "requires": ("ckpt-type",), "refuses": ("tp_size", "pp_size"),
              "no_pipeline": True},
    "phi": {"refuses": ("int8_kv_cache", "fp8_kv_cache"), "no_pipeline": True},
    "qwen": {"refuses": ("fp8_kv_cache",)},
}
SM = re.compile(r"^[0-9]{1,2}\.[0-9]$")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@dataclass(frozen=True)
class ModelPlan:
    name: str
    family: str
    dtype: str
    weights: str  # weight quantization format, "none" keeps the dtype
    kv_cache: str  # KV cache dtype, "auto" follows the model dtype
    tp: int
    pp: int
    source: Mapping[str, Any]  # spec.model.source, camelCase as in the InferenceService

    @property
    def world_size(self) -> int:
        return self.tp * self.pp


@dataclass(frozen=True)
class GpuPlan:
    product: str
    sm: str
    memory_bytes: int | None


@dataclass(frozen=True)
class RuntimePlan:
    batching_strategy: str
    batch_scheduler_policy: str
    kv_cache_free_gpu_mem_fraction: float
    enable_chunked_context: bool
    enable_kv_cache_reuse: bool
    max_queue_delay_microseconds: int
    triton_max_batch_size: int
    max_attention_window_size: int | None
    max_beam_width: int


@dataclass(frozen=True)
class Plan:
    engine_hash: str
    model: ModelPlan
    gpu: GpuPlan
    backend: Backend
    trtllm_version: str
    image: str
    checkpoint_method: CheckpointMethod
    checkpoint_script: str  # relative to TensorRT-LLM's repository root, e.g. examples/quantization/quantize.py
    checkpoint_args: Mapping[str, Any]
    build: Mapping[str, int | str]  # trtllm-build flags by name, exactly as planned
    runtime: RuntimePlan
    season: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)  # the plan as read, for manifest.json

    def build_int(self, name: str) -> int:
        value = self.build[name]
        assert isinstance(value, int)
        return value

    def enabled(self, name: str) -> bool:
        """Whether a trtllm-build enable/disable feature is on (missing means trtllm-build's 1.x default)."""
        defaults = {"context_fmha": "enable", "remove_input_padding": "enable", "use_paged_context_fmha": "enable",
                    "use_fp8_context_fmha": "enable", "multiple_profiles": "disable"}
        return self.build.get(name, defaults.get(name, "disable")) == "enable"

    @property
    def short_hash(self) -> str:
        return self.engine_hash[:12]


def load(path: Path) -> Plan:
    """Read and validate a plan file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"plan file {path} does not exist; pass --plan with the planner's plan.json") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path} is not JSON ({exc.msg} at line {exc.lineno}); pass the planner's plan.json") from None
    return parse(data)


def parse(data: Any) -> Plan:
    """Validate a decoded plan; every error names the field (``plan.build.max_seq_len``) and the fix."""
    d = _obj(data, "plan")
    if d.get("schema") != SCHEMA:
        raise PlanError(f"plan.schema must be {SCHEMA!r}, got {d.get('schema')!r}; regenerate the plan with this "
                        "operator version")
    engine_hash = _str(d, "engine_hash", "plan")
    if not HEX.match(engine_hash):
        raise PlanError(f"plan.engine_hash must be 16-128 lowercase hex characters, got {engine_hash!r}")
    backend = _enum(d, "backend", "plan", Backend)
    build = _build_flags(_obj(d.get("build"), "plan.build"), backend)
    model = _model(_obj(d.get("model"), "plan.model"))
    gpu = _gpu(_obj(d.get("gpu"), "plan.gpu"))
    runtime = _runtime(_obj(d.get("runtime", {}), "plan.runtime"), build)
    checkpoint = _obj(d.get("checkpoint", {"method": "convert", "args": {}}), "plan.checkpoint")
    method = _enum(checkpoint, "method", "plan.checkpoint", CheckpointMethod)
    args = _obj(checkpoint.get("args", {}), "plan.checkpoint.args")
    script = checkpoint.get("script") or (QUANTIZE_SCRIPT if method is CheckpointMethod.quantize
                                          else f"examples/models/core/{model.family}/convert_checkpoint.py")
    if not isinstance(script, str) or not re.match(r"^examples/[\w./-]+\.py$", script) or ".." in script:
        raise PlanError(f"plan.checkpoint.script must be a script under TensorRT-LLM's examples/, got {script!r}")
    season = d.get("season")
    if season is not None and not isinstance(season, str):
        raise PlanError(f"plan.season must be a season name or null, got {season!r}")
    version = _str(d, "trtllm_version", "plan")
    if not VERSION.match(version):
        raise PlanError(f"plan.trtllm_version must be a TensorRT-LLM release such as 1.2.1 or 1.2.0rc8, got "
                        f"{version!r}")
    plan = Plan(engine_hash=engine_hash, model=model, gpu=gpu, backend=backend,
                trtllm_version=version, image=_str(d, "image", "plan"),
                checkpoint_method=method, checkpoint_script=script, checkpoint_args=dict(args), build=build,
                runtime=runtime, season=season, raw=d)
    _cross_checks(plan)
    return plan


# --- sections ---------------------------------------------------------------


def _build_flags(b: dict[str, Any], backend: Backend) -> dict[str, int | str]:
    unknown = sorted(set(b) - set(INT_FLAGS) - set(STR_FLAGS))
    if unknown:
        raise PlanError(f"plan.build has flags this build job does not know: {', '.join(unknown)}; known: "
                        f"{', '.join(INT_FLAGS + STR_FLAGS)} (upgrade the build image or regenerate the plan)")
    flags: dict[str, int | str] = {}
    for name in INT_FLAGS:
        if name not in b or b[name] is None:
            if name in REQUIRED_INT_FLAGS:
                raise PlanError(f"plan.build.{name} is required (a positive integer)")
            continue
        flags[name] = _positive_int(b[name], f"plan.build.{name}")
    for name in STR_FLAGS:
        if name not in b or b[name] is None:
            continue
        value = b[name]
        allowed = ALLOWED_STR_VALUES[name]
        if value not in allowed:
            raise PlanError(f"plan.build.{name} must be one of {', '.join(allowed)}, got {value!r}")
        flags[name] = value
    # trtllm-build clips or clamps these silently (tensorrt_llm/_common.py, builder.py): an engine
    # built from such a plan would differ from it, so refuse the plan instead.
    if flags["max_input_len"] > flags["max_seq_len"]:  # type: ignore[operator]
        raise PlanError(f"plan.build.max_input_len ({flags['max_input_len']}) exceeds max_seq_len "
                        f"({flags['max_seq_len']}); trtllm-build would clip it: lower max_input_len")
    product = int(flags["max_seq_len"]) * int(flags["max_batch_size"])
    if int(flags["max_num_tokens"]) > product:
        raise PlanError(f"plan.build.max_num_tokens ({flags['max_num_tokens']}) exceeds max_seq_len x "
                        f"max_batch_size ({product}); trtllm-build would clamp it: lower max_num_tokens")
    tpb = int(flags.get("tokens_per_block", 32))
    if flags.get("context_fmha", "enable") == "enable" and int(flags["max_num_tokens"]) < tpb:
        raise PlanError(f"plan.build.max_num_tokens ({flags['max_num_tokens']}) is below tokens_per_block ({tpb}); "
                        "trtllm-build would raise it: use at least tokens_per_block")
    if flags.get("context_fmha") == "disable" and int(flags["max_num_tokens"]) < int(flags["max_input_len"]):
        raise PlanError("plan.build.max_num_tokens must be at least max_input_len when context_fmha is disabled")
    if flags.get("remove_input_padding") == "disable" and int(flags["max_num_tokens"]) != product:
        raise PlanError("plan.build.max_num_tokens must equal max_batch_size x max_seq_len when "
                        "remove_input_padding is disabled (trtllm-build forces it)")
    return flags


def _model(m: dict[str, Any]) -> ModelPlan:
    name = _str(m, "name", "plan.model")
    if not NAME.match(name) or len(name) > 63:
        raise PlanError(f"plan.model.name {name!r} must be a lowercase name (letters, digits, '-', '.'), "
                        "at most 63 characters; it names store directories")
    quant = _obj(m.get("quantization", {}), "plan.model.quantization")
    weights = quant.get("weights", "none")
    if weights not in WEIGHT_FORMATS:
        raise PlanError(f"plan.model.quantization.weights must be one of {', '.join(WEIGHT_FORMATS)}, got {weights!r}")
    kv = quant.get("kv_cache", quant.get("kvCache", "auto"))
    if kv not in KV_FORMATS:
        raise PlanError(f"plan.model.quantization.kv_cache must be one of {', '.join(KV_FORMATS)}, got {kv!r}")
    dtype = m.get("dtype", "bfloat16")
    if dtype not in DTYPES:
        raise PlanError(f"plan.model.dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return ModelPlan(name=name, family=_str(m, "family", "plan.model"), dtype=dtype, weights=weights, kv_cache=kv,
                     tp=_positive_int(m.get("tp", 1), "plan.model.tp"),
                     pp=_positive_int(m.get("pp", 1), "plan.model.pp"),
                     source=_obj(m.get("source"), "plan.model.source"))


def _gpu(g: dict[str, Any]) -> GpuPlan:
    sm = str(_str(g, "sm", "plan.gpu"))
    if not SM.match(sm):
        raise PlanError(f"plan.gpu.sm must be a compute capability such as '9.0', got {sm!r}")
    memory = g.get("memory_bytes")
    return GpuPlan(product=_str(g, "product", "plan.gpu"), sm=sm,
                   memory_bytes=None if memory is None else _positive_int(memory, "plan.gpu.memory_bytes"))


def _runtime(r: dict[str, Any], build: Mapping[str, int | str]) -> RuntimePlan:
    strategy = r.get("batching_strategy", "inflight_fused_batching")
    if strategy not in BATCHING_STRATEGIES:
        raise PlanError(f"plan.runtime.batching_strategy must be one of {', '.join(BATCHING_STRATEGIES)}, "
                        f"got {strategy!r}")
    policy = r.get("batch_scheduler_policy", "guaranteed_no_evict")
    if policy not in SCHEDULER_POLICIES:
        raise PlanError(f"plan.runtime.batch_scheduler_policy must be one of {', '.join(SCHEDULER_POLICIES)}, "
                        f"got {policy!r}")
    fraction = r.get("kv_cache_free_gpu_mem_fraction", 0.9)
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction < 1:
        raise PlanError(f"plan.runtime.kv_cache_free_gpu_mem_fraction must be inside (0, 1), got {fraction!r}")
    window = r.get("max_attention_window_size")
    delay = r.get("max_queue_delay_microseconds", 0)
    if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
        raise PlanError(f"plan.runtime.max_queue_delay_microseconds must be a non-negative integer, got {delay!r}")
    return RuntimePlan(
        batching_strategy=strategy, batch_scheduler_policy=policy,
        kv_cache_free_gpu_mem_fraction=float(fraction),
        enable_chunked_context=_bool(r.get("enable_chunked_context", False), "plan.runtime.enable_chunked_context"),
        enable_kv_cache_reuse=_bool(r.get("enable_kv_cache_reuse", False), "plan.runtime.enable_kv_cache_reuse"),
        max_queue_delay_microseconds=delay,
        triton_max_batch_size=_positive_int(r.get("triton_max_batch_size", build["max_batch_size"]),
                                            "plan.runtime.triton_max_batch_size"),
        max_attention_window_size=None if window is None else _positive_int(
            window, "plan.runtime.max_attention_window_size"),
        max_beam_width=_positive_int(r.get("max_beam_width", build.get("max_beam_width", 1)),
                                     "plan.runtime.max_beam_width"))


def _cross_checks(plan: Plan) -> None:
    """What the checkpoint step and trtllm-build will do must be what the plan says, or the engine cannot
    match the plan: refused here, before a GPU is spent."""
    if plan.backend is not Backend.tensorrt:
        return
    args = plan.checkpoint_args
    family = FAMILY_FLAGS.get(plan.model.family, {}) if plan.checkpoint_method is CheckpointMethod.convert else {}
    if family.get("no_pipeline") and plan.model.pp != 1:
        raise PlanError(f"plan.model.pp is {plan.model.pp} but {plan.model.family}'s convert_checkpoint.py has no "
                        "pipeline parallelism: plan pp 1")
    if family.get("parallel") == "world-size":
        if args.get("world-size", plan.model.tp) != plan.model.tp:
            raise PlanError(f"plan.checkpoint.args.world-size is {args['world-size']!r} but plan.model.tp is "
                            f"{plan.model.tp}; regenerate the plan")
    else:
        for key, planned in (("tp_size", plan.model.tp), ("pp_size", plan.model.pp)):
            if key in args and args[key] != planned:
                raise PlanError(f"plan.checkpoint.args.{key} is {args[key]!r} but plan.model.{key[:2]} is {planned}; "
                                "regenerate the plan")
    for key in family.get("refuses", ()):
        if key in args:
            raise PlanError(f"plan.checkpoint.args.{key}: {plan.model.family}'s convert_checkpoint.py has no --{key} "
                            "flag; regenerate the plan (the planner uses quantize.py where the converter lacks it)")
    for key in family.get("requires", ()):
        if key not in args:
            raise PlanError(f"plan.checkpoint.args.{key} is required by {plan.model.family}'s convert_checkpoint.py; "
                            "regenerate the plan")
    if "dtype" in args and args["dtype"] not in (plan.model.dtype, "auto"):
        raise PlanError(f"plan.checkpoint.args.dtype is {args['dtype']!r} but plan.model.dtype is "
                        f"{plan.model.dtype!r}; regenerate the plan")
    rewrites = builder_rules.problems(weights=plan.model.weights, kv_cache=plan.model.kv_cache, sm=plan.gpu.sm,
                                      flags=dict(plan.build))
    if rewrites:
        raise PlanError("; ".join(rewrites))
    paged = plan.enabled("use_paged_context_fmha")
    if not paged and (plan.runtime.enable_chunked_context or plan.runtime.enable_kv_cache_reuse):
        raise PlanError("plan.runtime enables chunked context or KV-cache reuse but plan.build.use_paged_context_fmha "
                        "is disable: both need paged context FMHA; regenerate the plan")


# --- primitives -------------------------------------------------------------


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PlanError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def _str(d: Mapping[str, Any], key: str, where: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value:
        raise PlanError(f"{where}.{key} is required (a non-empty string), got {value!r}")
    return value


def _enum(d: Mapping[str, Any], key: str, where: str, enum: type[Enum]) -> Any:
    value = d.get(key)
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(e.value) for e in enum)
        raise PlanError(f"{where}.{key} must be one of {allowed}, got {value!r}") from None


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PlanError(f"{where} must be a positive integer, got {value!r}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise PlanError(f"{where} must be true or false, got {value!r}")
    return value
