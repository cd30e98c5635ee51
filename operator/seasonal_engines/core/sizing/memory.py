"""GPU memory arithmetic: weights, KV cache per token, activations, and the KV pool left for sequences.

The KV formula is TensorRT-LLM's own (``kvCacheManager.h``): 2 (K and V) x local layers x local KV heads
x head size x bytes of the KV dtype, with tensor parallelism splitting heads and pipeline parallelism
splitting layers. The KV pool is ``kv_cache_free_gpu_mem_fraction`` of what is free after weights,
activations and runtime buffers. Activation and runtime figures are estimates (labelled so); weight and KV
figures are exact up to scale tensors. Pure arithmetic: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from seasonal_engines.core.sizing.gpus import GIB, GpuFacts
from seasonal_engines.core.sizing.models import ModelFacts, local_kv_heads

# Bytes per weight of each quantization format, scales included: AWQ keeps one FP16 scale per 128 weights,
# NVFP4 one FP8 scale per 16. Embeddings and the LM head stay in the model dtype in every recipe.
BYTES_PER_WEIGHT: dict[str, float] = {
    "none": 2.0, "fp8": 1.0, "int8_sq": 1.0, "int8_wo": 1.0, "int4_wo": 0.5,
    "int4_awq": 0.5 + 2 / 128, "w4a8_awq": 0.5 + 2 / 128, "nvfp4": 0.5 + 1 / 16,
}
DTYPE_BYTES: dict[str, int] = {"bfloat16": 2, "float16": 2}
KV_BYTES: dict[str, int | None] = {"auto": None, "fp8": 1, "int8": 1}  # None: the model dtype

# Estimate: CUDA context, cuBLAS/TensorRT workspaces, decoder and NCCL buffers. Real figures vary by 0.5-1 GiB.
RUNTIME_OVERHEAD_BYTES = 2 * GIB
# Estimate: activation bytes per scheduled token, as multiples of hidden size and (per-rank) MLP width.
_ACT_HIDDEN_MULTIPLE = 10
_ACT_MLP_MULTIPLE = 3


def kv_dtype_bytes(dtype: str, kv_quant: str) -> int:
    if kv_quant not in KV_BYTES:
        raise ValueError(f"unknown KV cache quantization {kv_quant!r}: use one of {', '.join(KV_BYTES)}")
    explicit = KV_BYTES[kv_quant]
    return explicit if explicit is not None else DTYPE_BYTES[dtype]


def weight_bytes(model: ModelFacts, dtype: str, weights_quant: str) -> int:
    """Bytes of all weights of the model (every rank together)."""
    if weights_quant not in BYTES_PER_WEIGHT:
        raise ValueError(f"unknown weight quantization {weights_quant!r}: use one of {', '.join(BYTES_PER_WEIGHT)}")
    base = DTYPE_BYTES[dtype]
    embeddings = min(model.embedding_parameters, model.parameter_count)
    body = model.parameter_count - embeddings
    per_weight = base if weights_quant == "none" else BYTES_PER_WEIGHT[weights_quant]
    return int(math.ceil(body * per_weight + embeddings * base))


def weight_bytes_per_gpu(model: ModelFacts, dtype: str, weights_quant: str, tp: int, pp: int) -> int:
    """Weights one GPU holds: the total split over tp x pp ranks."""
    return int(math.ceil(weight_bytes(model, dtype, weights_quant) / (tp * pp)))


def kv_bytes_per_token(model: ModelFacts, dtype: str, kv_quant: str, tp: int = 1, pp: int = 1) -> int:
    """KV cache bytes one token occupies on one GPU: 2 x layers/pp x KV heads/tp x head_dim x bytes."""
    layers = math.ceil(model.num_layers / pp)
    return 2 * layers * local_kv_heads(model, tp) * model.head_dim * kv_dtype_bytes(dtype, kv_quant)


def activation_bytes(model: ModelFacts, *, max_num_tokens: int, max_batch_size: int, tp: int) -> int:
    """Estimate of the activation workspace fixed at build time: linear in ``max_num_tokens`` (packed input),
    plus the FP32 logits of one token per scheduled sequence."""
    mlp_width = model.intermediate_size * max(1, model.experts_per_token if model.num_experts > 1 else 1) / tp
    per_token = (_ACT_HIDDEN_MULTIPLE * model.hidden_size + _ACT_MLP_MULTIPLE * mlp_width) * 2
    logits = max_batch_size * model.vocab_size * 4 / tp
    return int(math.ceil(max_num_tokens * per_token + logits))


@dataclass(frozen=True)
class MemoryBudget:
    """How one GPU's memory divides. All figures in bytes per GPU except the token counts."""

    gpu_bytes: int
    weights_bytes: int
    activation_bytes: int
    runtime_overhead_bytes: int
    free_bytes: int                  # after weights, activations and runtime buffers (may be negative)
    kv_pool_bytes: int               # free_bytes x kv_cache_free_gpu_mem_fraction, whole blocks
    kv_bytes_per_token: int
    kv_pool_tokens: int
    tokens_per_block: int

    @property
    def fits(self) -> bool:
        return self.kv_pool_tokens > 0

    def sequences_at(self, seq_len: float) -> int:
        """How many sequences of ``seq_len`` tokens the pool holds (each rounded up to whole blocks)."""
        blocks = max(1, math.ceil(seq_len / self.tokens_per_block))
        return self.kv_pool_tokens // (blocks * self.tokens_per_block)


def budget(model: ModelFacts, gpu: GpuFacts, *, dtype: str, weights_quant: str, kv_quant: str, tp: int, pp: int,
           max_num_tokens: int, max_batch_size: int, free_fraction: float, tokens_per_block: int) -> MemoryBudget:
    """The memory budget of one GPU for a build with these limits."""
    weights = weight_bytes_per_gpu(model, dtype, weights_quant, tp, pp)
    acts = activation_bytes(model, max_num_tokens=max_num_tokens, max_batch_size=max_batch_size, tp=tp)
    free = gpu.memory_bytes - weights - acts - RUNTIME_OVERHEAD_BYTES
    per_token = kv_bytes_per_token(model, dtype, kv_quant, tp, pp)
    pool_tokens = 0
    if free > 0:
        pool_tokens = int(free * free_fraction) // per_token
        pool_tokens -= pool_tokens % tokens_per_block  # the runtime allocates whole blocks
    return MemoryBudget(
        gpu_bytes=gpu.memory_bytes, weights_bytes=weights, activation_bytes=acts,
        runtime_overhead_bytes=RUNTIME_OVERHEAD_BYTES, free_bytes=free, kv_pool_bytes=pool_tokens * per_token,
        kv_bytes_per_token=per_token, kv_pool_tokens=pool_tokens, tokens_per_block=tokens_per_block,
    )


__all__ = ["BYTES_PER_WEIGHT", "DTYPE_BYTES", "KV_BYTES", "RUNTIME_OVERHEAD_BYTES", "MemoryBudget", "budget",
           "weight_bytes", "weight_bytes_per_gpu", "kv_bytes_per_token", "kv_dtype_bytes", "activation_bytes"]
