"""Whether a model can run on a GPU at a given dtype, quantization and TP/PP, and what would fit if not.

Checks, each raising a planning error that names the fix: the quantization needs tensor cores the GPU has
(FP8 from SM 8.9, NVFP4 from SM 10.0); the TP split divides the attention heads; and weights, activations,
runtime buffers and the KV cache of at least one full-length sequence fit in the GPU's memory. When they
do not, ``ModelDoesNotFit`` names the smallest TP and the lightest quantization that would.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from seasonal_engines.core.sizing import memory
from seasonal_engines.core.sizing.errors import InvalidParallelism, ModelDoesNotFit, UnsupportedQuantization
from seasonal_engines.core.sizing.gpus import GIB, GpuFacts
from seasonal_engines.core.sizing.models import ModelFacts

TP_CHOICES = (1, 2, 4, 8)  # one node; beyond 8 the KV heads of every preset stop splitting
# Lighter formats tried in order when the chosen one does not fit (first the least lossy).
_LIGHTER_WITH_FP8 = ("fp8", "int4_awq")
_LIGHTER_WITHOUT_FP8 = ("int8_wo", "int4_awq")


def check_quantization(gpu: GpuFacts, weights_quant: str, kv_quant: str) -> None:
    """UnsupportedQuantization when the GPU lacks the tensor cores a format needs."""
    if weights_quant not in memory.BYTES_PER_WEIGHT:
        raise UnsupportedQuantization(f"unknown weight quantization {weights_quant!r}: use one of "
                                      f"{', '.join(memory.BYTES_PER_WEIGHT)}")
    if kv_quant not in memory.KV_BYTES:
        raise UnsupportedQuantization(f"unknown KV cache quantization {kv_quant!r}: use one of "
                                      f"{', '.join(memory.KV_BYTES)}")
    major = int(gpu.sm.split(".")[0])
    if weights_quant == "nvfp4" and major < 10:
        raise UnsupportedQuantization(f"nvfp4 needs a Blackwell GPU (SM 10.0+); {gpu.product} is SM {gpu.sm}: "
                                      "use fp8 or int4_awq in spec.model.quantization.weights")
    if not gpu.fp8:
        if weights_quant in ("fp8", "w4a8_awq"):
            raise UnsupportedQuantization(
                f"{weights_quant} weights need FP8 tensor cores (SM 8.9+); {gpu.product} is SM {gpu.sm}: set "
                "spec.model.quantization.weights to int8_sq, int8_wo or int4_awq, or use an H100/H200/L40S/L4")
        if kv_quant == "fp8":
            raise UnsupportedQuantization(
                f"an FP8 KV cache needs FP8 support (SM 8.9+); {gpu.product} is SM {gpu.sm}: set "
                "spec.model.quantization.kvCache to int8 or auto")


def check_parallelism(model: ModelFacts, tp: int, pp: int) -> None:
    """InvalidParallelism when the heads or layers cannot be split as asked."""
    if tp < 1 or pp < 1:
        raise InvalidParallelism(f"tensor and pipeline parallel sizes must be at least 1, got tp={tp} pp={pp}")
    if not valid_tp(model, tp):
        choices = [t for t in TP_CHOICES if valid_tp(model, t)]
        raise InvalidParallelism(f"tp={tp} does not split {model.name}'s {model.num_attention_heads} attention "
                                 f"heads and {model.num_key_value_heads} KV heads evenly: use one of {choices}")
    if pp > model.num_layers:
        raise InvalidParallelism(f"pp={pp} exceeds {model.name}'s {model.num_layers} layers")


def valid_tp(model: ModelFacts, tp: int) -> bool:
    kv = model.num_key_value_heads
    return model.num_attention_heads % tp == 0 and (kv % tp == 0 or tp % kv == 0)


@dataclass(frozen=True)
class FitQuery:
    """Everything memory depends on, besides the TP and quantization being varied."""

    model: ModelFacts
    gpu: GpuFacts
    dtype: str
    kv_quant: str
    pp: int
    kv_tokens_per_sequence: int     # KV tokens one full-length sequence needs (sliding window applied)
    max_num_tokens: int
    max_batch_size: int
    free_fraction: float
    tokens_per_block: int

    def budget(self, weights_quant: str, tp: int) -> memory.MemoryBudget:
        return memory.budget(self.model, self.gpu, dtype=self.dtype, weights_quant=weights_quant,
                             kv_quant=self.kv_quant, tp=tp, pp=self.pp, max_num_tokens=self.max_num_tokens,
                             max_batch_size=self.max_batch_size, free_fraction=self.free_fraction,
                             tokens_per_block=self.tokens_per_block)

    def fits(self, weights_quant: str, tp: int) -> bool:
        return self.budget(weights_quant, tp).sequences_at(self.kv_tokens_per_sequence) >= 1


def require_fit(q: FitQuery, weights_quant: str, tp: int) -> memory.MemoryBudget:
    """The memory budget when it holds one full-length sequence; ModelDoesNotFit naming the way out otherwise."""
    b = q.budget(weights_quant, tp)
    if b.sequences_at(q.kv_tokens_per_sequence) >= 1:
        return b
    smallest_tp = next((t for t in TP_CHOICES if t > tp and valid_tp(q.model, t) and q.fits(weights_quant, t)),
                       None)
    lighter = _LIGHTER_WITH_FP8 if q.gpu.fp8 else _LIGHTER_WITHOUT_FP8
    current = memory.BYTES_PER_WEIGHT[weights_quant] if weights_quant != "none" else 2.0
    lightest = next((f for f in lighter if memory.BYTES_PER_WEIGHT[f] < current and q.fits(f, tp)), None)
    kv_one = q.kv_tokens_per_sequence * b.kv_bytes_per_token / q.free_fraction
    needed = b.weights_bytes + b.activation_bytes + b.runtime_overhead_bytes + int(kv_one)
    message = (f"{q.model.name} does not fit on {q.gpu.product} ({q.gpu.memory_gib:.1f} GiB) at tp={tp}, "
               f"pp={q.pp}, {q.dtype} with weights {weights_quant}: it needs {b.weights_bytes / GIB:.1f} GiB of "
               f"weights, {(b.activation_bytes + b.runtime_overhead_bytes) / GIB:.1f} GiB of activations and "
               f"runtime buffers and {kv_one / GIB:.1f} GiB of KV cache for one {q.kv_tokens_per_sequence}-token "
               f"sequence per GPU ({needed / GIB:.1f} GiB).")
    fixes = []
    if smallest_tp is not None:
        fixes.append(f"the smallest tensor parallelism that fits is tp={smallest_tp} "
                     f"(--tp {smallest_tp}, spec.model.tensorParallelSize: {smallest_tp})")
    if lightest is not None:
        fixes.append(f"the lightest quantization that fits at tp={tp} is {lightest} "
                     f"(--quant {lightest}, spec.model.quantization.weights: {lightest})")
    if fixes:
        text = "; ".join(fixes)
        message += " " + text[0].upper() + text[1:] + "."
    else:
        message += (f" Nothing up to tp={TP_CHOICES[-1]} or {lighter[-1]} fits: use a GPU with more memory, "
                    "more pipeline stages, or shorter limits (a lower sequence quantile).")
    raise ModelDoesNotFit(message, needed_bytes=needed, available_bytes=q.gpu.memory_bytes,
                          smallest_tp=smallest_tp, lightest_quantization=lightest)


__all__ = ["check_quantization", "check_parallelism", "valid_tp", "FitQuery", "require_fit", "TP_CHOICES"]
