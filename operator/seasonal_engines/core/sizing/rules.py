"""TensorRT-LLM's build-time rules, as checks and choices the planner applies.

Each rule is the one ``trtllm-build`` enforces or documents (``_common.py::check_max_num_tokens``,
``builder.py``, the performance tuning guide; see shared/reference/trtllm-triton-facts.md §1 and §7):
``max_input_len <= max_seq_len <= the model's context``, ``tokens_per_block <= max_num_tokens <=
max_seq_len x max_batch_size``, a warning above 16384, and without chunked context every admitted prompt
must fit in ``max_num_tokens``. Pure: numbers in, numbers and messages out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from seasonal_engines.core.sizing.errors import PlanningError

DEFAULT_MAX_NUM_TOKENS = 8192    # trtllm-build default since 0.11; the tuning guide's starting point
MIN_TUNED_MAX_NUM_TOKENS = 1024  # the tuning guide sweeps powers of two from here
MAX_NUM_TOKENS_WARNING = 16384   # above this trtllm-build warns about TensorRT tensor volume
DEFAULT_TOKENS_PER_BLOCK = 32    # paged-KV block size in 1.x
MAX_BATCH_SIZE_CAP = 2048        # trtllm-build's default and our ceiling

# Weight formats whose build enables FP8 context FMHA (``optimize_model_with_config``).
FP8_FMHA_FORMATS = frozenset({"fp8", "w4a8_awq", "nvfp4"})
# Formats that need FP8 tensor cores (SM >= 8.9); NVFP4 needs Blackwell (SM >= 10.0).
FP8_FORMATS = frozenset({"fp8", "w4a8_awq"})


# Formats TensorRT-LLM's builder refuses on SM 10.x ("INT8/INT4 quantization is not supported on SM>=100").
SM100_REFUSED_WEIGHTS = frozenset({"int8_wo", "int4_wo", "int4_awq", "int8_sq"})


class BuildRuleViolation(PlanningError):
    """A build plan that trtllm-build would refuse or silently change."""

    reason = "BuildRuleViolation"


def next_power_of_two(x: float) -> int:
    return 1 if x <= 1 else 1 << math.ceil(math.log2(x))


def prev_power_of_two(x: float) -> int:
    return 1 if x < 2 else 1 << int(math.floor(math.log2(x)))


@dataclass(frozen=True)
class TokensChoice:
    value: int
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]


def choose_max_num_tokens(*, preferred: int, max_input_len: int, max_seq_len: int, max_batch_size: int,
                          tokens_per_block: int, chunked_context: bool) -> TokensChoice:
    """``max_num_tokens`` from a preferred power of two, bent to the build rules (and saying where it bent)."""
    value = preferred
    reasons = [f"max_num_tokens starts at {preferred} (powers of two; trtllm-build's default is "
               f"{DEFAULT_MAX_NUM_TOKENS})"]
    warnings: list[str] = []
    if not chunked_context and value < max_input_len:
        value = next_power_of_two(max_input_len)
        reasons.append(f"raised to {value}: without chunked context a prompt of max_input_len "
                       f"{max_input_len} must fit in one iteration")
    ceiling = max_seq_len * max_batch_size
    if value > ceiling:
        value = ceiling
        reasons.append(f"capped at max_seq_len x max_batch_size = {ceiling}")
    if value < tokens_per_block:
        value = tokens_per_block
        reasons.append(f"raised to tokens_per_block {tokens_per_block}")
    if value > MAX_NUM_TOKENS_WARNING:
        warnings.append(f"max_num_tokens {value} exceeds {MAX_NUM_TOKENS_WARNING}: trtllm-build warns that "
                        "TensorRT tensor volume may overflow; enable chunked context instead")
    return TokensChoice(value, tuple(reasons), tuple(warnings))


def effective_input_limit(*, max_seq_len: int, max_num_tokens: int, chunked_context: bool) -> int:
    """The longest prompt the runtime admits (TRT-LLM ``TrtGptModel`` constructor, packed input + context FMHA:
    there the build's max_input_len is not what rejects prompts)."""
    if chunked_context:
        return max_seq_len - 1
    return min(max_seq_len - 1, max_num_tokens)


@dataclass(frozen=True)
class FmhaChoice:
    """The context-FMHA flags an engine can be built with, and why (lines for the plan's explanation)."""

    paged: bool
    fp8: bool
    reasons: tuple[str, ...]


def _sm(sm: str) -> tuple[int, int]:
    major, _, minor = sm.partition(".")
    return int(major), int(minor or 0)


def fmha_for(weights_quant: str, kv_quant: str, sm: str) -> FmhaChoice:
    """Paged and FP8 context FMHA as TensorRT-LLM's builder keeps them (``builder.py::build``, 1.2).

    We ask for both whenever the builder keeps them, and plan them off where it turns them off, so the
    engine equals its plan: FP8 context FMHA needs FP8-family weights on SM 8.9+ and, with paged context
    FMHA, an FP8 KV cache; paged context FMHA (which chunked context and KV reuse need) does not survive an
    FP8 KV cache over non-FP8 weights, nor any INT8 KV cache.
    """
    fp8_family = weights_quant in FP8_FMHA_FORMATS and _sm(sm) >= (8, 9)
    reasons: list[str] = []
    paged = True
    if kv_quant == "int8":
        paged = False
        reasons.append("paged context FMHA off: trtllm-build turns it off for an INT8 KV cache (builder.py), so "
                       "chunked context and KV-cache reuse are off too and prompts must fit max_num_tokens")
    elif kv_quant == "fp8" and not fp8_family:
        paged = False
        what = "unquantized" if weights_quant == "none" else weights_quant
        reasons.append(f"paged context FMHA off: trtllm-build turns it off for an FP8 KV cache over {what} "
                       "weights (FP8 paged context FMHA needs FP8-family weights), so chunked context and KV-cache "
                       "reuse are off too and prompts must fit max_num_tokens; use weights fp8, or kvCache auto, "
                       "to keep them")
    fp8 = fp8_family and kv_quant == "fp8"
    if weights_quant in FP8_FMHA_FORMATS and not fp8 and kv_quant != "fp8":
        reasons.append(f"use_fp8_context_fmha off: with paged context FMHA trtllm-build keeps FP8 context FMHA only "
                       f"with an FP8 KV cache, and kvCache {kv_quant} keeps the KV cache in the model dtype; set "
                       "spec.model.quantization.kvCache: fp8 to have it")
    return FmhaChoice(paged=paged, fp8=fp8, reasons=tuple(reasons))


def builder_refusal(weights_quant: str, kv_quant: str, sm: str) -> str | None:
    """Why trtllm-build raises for this quantization on this GPU (SM 10.x), or None."""
    if (10, 0) <= _sm(sm) < (12, 0) and (weights_quant in SM100_REFUSED_WEIGHTS or kv_quant == "int8"):
        return (f"trtllm-build refuses weights {weights_quant} with KV cache {kv_quant} on SM {sm} (\"INT8/INT4 "
                "quantization is not supported on SM>=100\"): use fp8 or nvfp4 weights and an fp8 or auto KV cache")
    return None


def gemm_plugin_for(weights_quant: str, dtype: str) -> str:
    """BF16/FP16 and weight-only builds use the GEMM plugin; FP8 is faster without it (perf guide)."""
    if weights_quant in ("fp8", "w4a8_awq"):
        return "disable"
    if weights_quant == "nvfp4":
        return "nvfp4"
    return "auto"


def check_build(*, max_input_len: int, max_seq_len: int, max_batch_size: int, max_num_tokens: int,
                opt_num_tokens: int | None, tokens_per_block: int, model_context: int, chunked_context: bool,
                multiple_profiles: bool, use_fp8_context_fmha: bool, weights_quant: str,
                max_attention_window_size: int | None = None) -> tuple[str, ...]:
    """Raise BuildRuleViolation for what trtllm-build refuses or rewrites; return warnings for the rest."""
    problems = [
        *_length_problems(max_input_len, max_seq_len, max_batch_size, model_context),
        *_token_problems(max_input_len, max_seq_len, max_batch_size, max_num_tokens, opt_num_tokens, tokens_per_block,
                         chunked_context, multiple_profiles),
        *_attention_problems(max_seq_len, tokens_per_block, use_fp8_context_fmha, weights_quant,
                             max_attention_window_size),
    ]
    if problems:
        raise BuildRuleViolation("; ".join(problems))
    warnings = []
    if max_num_tokens > MAX_NUM_TOKENS_WARNING:
        warnings.append(f"max_num_tokens {max_num_tokens} > {MAX_NUM_TOKENS_WARNING} (trtllm-build warns)")
    return tuple(warnings)


def _length_problems(max_input_len: int, max_seq_len: int, max_batch_size: int, model_context: int) -> list[str]:
    """Problems with the limits: input within sequence within the model's context, a batch size in range."""
    problems: list[str] = []
    if not 1 <= max_input_len <= max_seq_len:
        problems.append(f"max_input_len {max_input_len} must be between 1 and max_seq_len {max_seq_len}")
    if max_seq_len > model_context:
        problems.append(f"max_seq_len {max_seq_len} exceeds the model's context of {model_context} tokens")
    if not 1 <= max_batch_size <= MAX_BATCH_SIZE_CAP * 2:
        problems.append(f"max_batch_size {max_batch_size} is outside 1..{MAX_BATCH_SIZE_CAP * 2}")
    return problems


def _token_problems(max_input_len: int, max_seq_len: int, max_batch_size: int, max_num_tokens: int,
                    opt_num_tokens: int | None, tokens_per_block: int, chunked_context: bool,
                    multiple_profiles: bool) -> list[str]:
    """Problems with ``max_num_tokens`` and ``opt_num_tokens``, the tokens of one engine iteration."""
    problems: list[str] = []
    if max_num_tokens > max_seq_len * max_batch_size:
        problems.append(f"max_num_tokens {max_num_tokens} exceeds max_seq_len x max_batch_size "
                        f"({max_seq_len * max_batch_size}); trtllm-build would clamp it")
    if max_num_tokens < tokens_per_block:
        problems.append(f"max_num_tokens {max_num_tokens} is below tokens_per_block {tokens_per_block}")
    if not chunked_context and max_num_tokens < max_input_len:
        problems.append(f"without chunked context max_num_tokens {max_num_tokens} must be at least max_input_len "
                        f"{max_input_len}, or prompts in between are rejected")
    if multiple_profiles and opt_num_tokens is not None:
        problems.append("opt_num_tokens cannot be set together with multiple_profiles (trtllm-build refuses)")
    if opt_num_tokens is not None and not 1 <= opt_num_tokens <= max_num_tokens:
        problems.append(f"opt_num_tokens {opt_num_tokens} must be between 1 and max_num_tokens {max_num_tokens}")
    return problems


def _attention_problems(max_seq_len: int, tokens_per_block: int, use_fp8_context_fmha: bool, weights_quant: str,
                        max_attention_window_size: int | None) -> list[str]:
    """Problems with the attention kernels' settings: FP8 context FMHA, the window, the paged-KV block."""
    problems: list[str] = []
    if use_fp8_context_fmha and weights_quant not in FP8_FMHA_FORMATS:
        problems.append(f"use_fp8_context_fmha only applies to {sorted(FP8_FMHA_FORMATS)} weights, "
                        f"not {weights_quant}")
    if max_attention_window_size is not None and max_attention_window_size > max_seq_len:
        problems.append(f"max_attention_window_size {max_attention_window_size} exceeds max_seq_len {max_seq_len}")
    if tokens_per_block < 1 or tokens_per_block & (tokens_per_block - 1):
        problems.append(f"tokens_per_block {tokens_per_block} must be a power of two")
    return problems


__all__ = ["BuildRuleViolation", "TokensChoice", "choose_max_num_tokens", "check_build", "effective_input_limit",
           "gemm_plugin_for", "next_power_of_two", "prev_power_of_two", "DEFAULT_MAX_NUM_TOKENS",
           "MIN_TUNED_MAX_NUM_TOKENS", "MAX_NUM_TOKENS_WARNING", "DEFAULT_TOKENS_PER_BLOCK", "MAX_BATCH_SIZE_CAP",
           "FP8_FMHA_FORMATS", "FP8_FORMATS", "FmhaChoice", "fmha_for", "builder_refusal"]
