"""The cost of one in-flight-batching iteration: model, GPU, quantization and parallelism in; seconds out.

One iteration runs every scheduled token through the linear layers once (context chunks and one token per
generating request), the LM head for the tokens that are sampled, attention over the KV cache, and two
tensor-parallel all-reduces per layer. Its time is the sum of

* a fixed ``step_s`` (scheduling, sampling, kernel launches);
* the linear layers as a roofline: the larger of their FLOPs at ``gemm`` x peak dense throughput and one
  read of the GPU's weights at ``bandwidth`` x peak memory bandwidth (decode is weight-bound, prefill
  compute-bound);
* generation attention, memory-bound: every generating request reads its whole KV cache;
* context attention, compute-bound: ``4 x layers x heads x head_dim`` FLOPs per (query, key) pair at
  ``attention`` x peak;
* the all-reduces: ``allreduce_s`` latency each plus the activations over the GPU interconnect.

FP8 GEMMs (fp8, int8 SmoothQuant, W4A8 on an FP8-capable GPU) run at twice the dense BF16 rate, as the
datasheets give it; weight-only formats (int4/int8 weight-only, AWQ) compute in BF16 and only read fewer
bytes. Pipeline stages are modelled as running one after another (no pipelining gain). The five
efficiency constants are fitted to NVIDIA's published measurements (``calibration``). A MODEL, not a
measurement: everything derived from it is labelled modelled. Pure arithmetic, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core.sizing import gpus as gpu_facts
from seasonal_engines.core.sizing import memory
from seasonal_engines.core.sizing.gpus import GpuFacts
from seasonal_engines.core.sizing.models import ModelFacts

# GEMM inputs in 8 bits: these formats use the FP8/INT8 tensor cores (twice the BF16 rate) where the GPU has them.
EIGHT_BIT_GEMM_FORMATS = frozenset({"fp8", "int8_sq", "w4a8_awq", "nvfp4"})
# Formats whose engines run context attention in FP8 (trtllm-build's use_fp8_context_fmha).
FP8_ATTENTION_FORMATS = frozenset({"fp8", "w4a8_awq", "nvfp4"})
ACTIVATION_BYTES = 2  # all-reduced activations stay in the model dtype


@dataclass(frozen=True)
class Efficiency:
    """The cost model's named constants. Shares are of the datasheet peak; times in seconds."""

    gemm: float          # share of peak dense tensor FLOP/s the linear layers reach when compute-bound
    bandwidth: float     # share of peak memory bandwidth reached reading weights and KV cache
    attention: float     # share of peak dense FLOP/s reached by context attention
    step_s: float        # fixed cost of one iteration
    allreduce_s: float   # latency of one tensor-parallel all-reduce

    def __post_init__(self) -> None:
        for name in ("gemm", "bandwidth", "attention"):
            v = getattr(self, name)
            if not 0 < v <= 1:
                raise ValueError(f"efficiency {name} must be in (0, 1], got {v}")
        if not 0 <= self.step_s <= 0.1:
            raise ValueError(f"efficiency step_s must be within [0, 0.1] s, got {self.step_s}")
        if not 0 <= self.allreduce_s <= 1e-3:
            raise ValueError(f"efficiency allreduce_s must be within [0, 1e-3] s, got {self.allreduce_s}")

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        return (self.gemm, self.bandwidth, self.attention, self.step_s, self.allreduce_s)


@dataclass(frozen=True)
class Hardware:
    """One replica as the cost model sees it. FLOPs and bytes per GPU unless the name says otherwise."""

    linear_flops_per_token: float      # 2 x parameters of the linear layers in the blocks (whole model)
    head_flops_per_token: float        # 2 x vocab x hidden: the LM head, per sampled token (whole model)
    attention_flops_per_pair: float    # 4 x layers x query heads x head_dim, per (query, key) pair
    weight_bytes: float                # weights one GPU reads per iteration (all stages, sequentially)
    kv_bytes_per_token: float          # KV cache bytes of one token on one GPU, all stages
    gemm_flops: float                  # peak dense FLOP/s of one GPU for the linear layers' format
    attention_flops: float             # peak dense FLOP/s of one GPU for context attention
    bandwidth: float                   # peak memory bandwidth of one GPU, bytes/s
    tp: int
    pp: int
    layers: int
    allreduce_bytes_per_token: float   # activations one token all-reduces per all-reduce
    link_bytes_per_s: float            # GPU interconnect, per direction

    @property
    def gpus(self) -> int:
        return self.tp * self.pp


def hardware(model: ModelFacts, gpu: GpuFacts, *, dtype: str, weights_quant: str, kv_quant: str, tp: int = 1,
             pp: int = 1) -> Hardware:
    """The cost model's view of ``model`` on ``tp x pp`` GPUs of kind ``gpu`` with this quantization."""
    if tp < 1 or pp < 1:
        raise ValueError(f"tensor and pipeline parallel sizes must be at least 1, got tp={tp} pp={pp}")
    embeddings = min(model.embedding_parameters, model.parameter_count)
    head = model.vocab_size * model.hidden_size
    active = model.active_parameter_count
    linear = max(0, active - embeddings)
    eight_bit = weights_quant in EIGHT_BIT_GEMM_FORMATS and gpu.fp8
    fp8_attention = weights_quant in FP8_ATTENTION_FORMATS and gpu.fp8
    # Weights each GPU streams per iteration: every stage's share, since the stages run one after another.
    weights = memory.weight_bytes(model, dtype, weights_quant) / tp
    kv = memory.kv_bytes_per_token(model, dtype, kv_quant, tp, 1)
    return Hardware(
        linear_flops_per_token=2.0 * linear, head_flops_per_token=2.0 * head,
        attention_flops_per_pair=4.0 * model.num_layers * model.num_attention_heads * model.head_dim,
        weight_bytes=float(weights), kv_bytes_per_token=float(kv),
        gemm_flops=gpu.bf16_dense_flops * (2.0 if eight_bit else 1.0),
        attention_flops=gpu.bf16_dense_flops * (2.0 if fp8_attention else 1.0),
        bandwidth=gpu.memory_bandwidth_bytes_per_s, tp=tp, pp=pp, layers=model.num_layers,
        allreduce_bytes_per_token=float(model.hidden_size * ACTIVATION_BYTES * 2 * (tp - 1) / tp),
        link_bytes_per_s=gpu_facts.interconnect_bytes_per_s(gpu))


@dataclass(frozen=True)
class Work:
    """What one iteration computes. ``kv_tokens`` and ``pairs`` are totals over the iteration."""

    tokens: int          # tokens through the linear layers
    sampled: int         # tokens through the LM head
    kv_tokens: float     # KV tokens read by generation attention
    pairs: float         # (query, key) pairs of context attention


class CostModel:
    """Seconds per iteration for one replica under one set of efficiency constants."""

    def __init__(self, hw: Hardware, eff: Efficiency):
        self.hw, self.eff = hw, eff
        tp = hw.tp
        self._per_token_s = hw.linear_flops_per_token / (tp * hw.gemm_flops * eff.gemm)
        self._per_sampled_s = hw.head_flops_per_token / (tp * hw.gemm_flops * eff.gemm)
        self._weights_s = hw.weight_bytes / (hw.bandwidth * eff.bandwidth)
        self.kv_token_s = hw.kv_bytes_per_token / (hw.bandwidth * eff.bandwidth)
        self._pair_s = hw.attention_flops_per_pair / (tp * hw.attention_flops * eff.attention)
        if tp > 1:
            self._comm_fixed_s = 2 * hw.layers * eff.allreduce_s
            self._comm_token_s = 2 * hw.layers * hw.allreduce_bytes_per_token / hw.link_bytes_per_s
        else:
            self._comm_fixed_s = self._comm_token_s = 0.0

    def fixed_s(self, tokens: int, sampled: int) -> float:
        """Everything of an iteration with ``tokens`` scheduled tokens except its attention."""
        linear = max(tokens * self._per_token_s + sampled * self._per_sampled_s, self._weights_s)
        comm = self._comm_fixed_s + tokens * self._comm_token_s if tokens else 0.0
        return self.eff.step_s + linear + comm

    def seconds(self, w: Work) -> float:
        return self.fixed_s(w.tokens, w.sampled) + w.kv_tokens * self.kv_token_s + w.pairs * self._pair_s

    def price(self, iterations: NDArray[Any], tokens: NDArray[Any], sampled: NDArray[Any], kv_tokens: NDArray[Any],
              pairs: NDArray[Any]) -> float:
        """Seconds of a recorded schedule (``simulating.WorkLog`` rows: ``kv_tokens`` and ``pairs`` are row
        totals, the rest per iteration): the same sum ``seconds`` makes, vectorised."""
        linear = np.maximum(tokens * self._per_token_s + sampled * self._per_sampled_s, self._weights_s)
        comm = np.where(tokens > 0, self._comm_fixed_s + tokens * self._comm_token_s, 0.0)
        fixed = iterations * (self.eff.step_s + linear + comm)
        return float(fixed.sum() + self.kv_token_s * kv_tokens.sum() + self._pair_s * pairs.sum())

    def decode_run_s(self, n: int, kv_tokens: float, k: int) -> float:
        """``k`` generation-only iterations of ``n`` requests whose KV holds ``kv_tokens`` at the first: each
        iteration adds ``n`` KV tokens, so the time is an arithmetic series."""
        return k * (self.fixed_s(n, n) + kv_tokens * self.kv_token_s) + self.kv_token_s * n * k * (k - 1) / 2

    def decode_iterations_until(self, n: int, kv_tokens: float, seconds: float) -> int:
        """The first ``k >= 1`` whose ``decode_run_s`` reaches ``seconds``: the iteration an arrival falls in."""
        a = self.fixed_s(n, n) + kv_tokens * self.kv_token_s
        b = self.kv_token_s * n
        if seconds <= a:
            return 1
        if b <= 0:
            return max(1, math.ceil(seconds / a - 1e-12))
        # k*a + b*k*(k-1)/2 >= seconds  <=>  (b/2) k^2 + (a - b/2) k - seconds >= 0
        half = b / 2
        k = math.ceil((-(a - half) + math.sqrt((a - half) ** 2 + 4 * half * seconds)) / (2 * half) - 1e-9)
        k = max(1, k)
        while k > 1 and self.decode_run_s(n, kv_tokens, k - 1) >= seconds:
            k -= 1
        while self.decode_run_s(n, kv_tokens, k) < seconds:
            k += 1
        return k


__all__ = ["Efficiency", "Hardware", "hardware", "Work", "CostModel", "EIGHT_BIT_GEMM_FORMATS",
           "FP8_ATTENTION_FORMATS"]
