"""How many sequences an engine runs at once, how many arrive at the peak, and how many replicas that takes.

The latency model is an ESTIMATE, stated here so nobody mistakes it for a measurement:
- time to first token = prefill FLOPs of the mean prompt (2 x active parameters x tokens) at 50% of the
  GPUs' dense BF16 throughput;
- inter-token latency = one read of the per-GPU weights at 70% of memory bandwidth (decode is
  bandwidth-bound at the batch sizes that matter);
- request latency = TTFT + mean output tokens x ITL; peak concurrency = peak request rate x request
  latency (Little's law).
KV capacity is exact given the memory budget. Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seasonal_engines.core.histograms import Histogram
from seasonal_engines.core.sizing import rules
from seasonal_engines.core.sizing.gpus import GpuFacts
from seasonal_engines.core.sizing.memory import MemoryBudget
from seasonal_engines.core.sizing.models import ModelFacts

PREFILL_EFFICIENCY = 0.5   # share of dense BF16 FLOP/s prefill reaches (estimate)
DECODE_EFFICIENCY = 0.7    # share of memory bandwidth a decode step reaches (estimate)


def histogram_mean(h: Histogram) -> float:
    """Mean of a bucketed distribution, each bucket at its midpoint (the +Inf bucket at the last finite bound).

    Prometheus' ``_sum`` would be exact, but a profile carries only buckets; the error is below half a bucket.
    """
    bounds = np.asarray(h.bounds, dtype=np.float64)
    per = np.diff(np.asarray(h.counts, dtype=np.float64), prepend=0.0).clip(min=0.0)
    total = per.sum()
    if total <= 0:
        return 0.0
    finite = bounds[np.isfinite(bounds)]
    upper = np.where(np.isfinite(bounds), bounds, finite[-1] if len(finite) else 0.0)
    lower = np.concatenate([[0.0], upper[:-1]])
    return float((per * (lower + upper) / 2).sum() / total)


@dataclass(frozen=True)
class Latency:
    ttft_seconds: float
    itl_seconds: float
    request_seconds: float


def estimate_latency(model: ModelFacts, gpu: GpuFacts, *, weights_bytes_per_gpu: int, tp: int, pp: int,
                     mean_input: float, mean_output: float) -> Latency:
    """The labelled estimate of the module docstring. Pipeline stages run one after another, so PP adds no
    speed to a single request: every stage's weights are read per token."""
    ttft = 2.0 * model.active_parameter_count * mean_input / (tp * gpu.bf16_dense_flops * PREFILL_EFFICIENCY)
    itl = weights_bytes_per_gpu * pp / (gpu.memory_bandwidth_bytes_per_s * DECODE_EFFICIENCY)
    return Latency(ttft, itl, ttft + mean_output * itl)


def kv_tokens(model: ModelFacts, seq_len: float) -> int:
    """KV tokens a sequence holds: with a sliding window, never more than the window."""
    tokens = int(math.ceil(seq_len))
    return min(tokens, model.sliding_window) if model.sliding_window else tokens


@dataclass(frozen=True)
class BatchChoice:
    max_batch_size: int
    reason: str


def choose_max_batch_size(*, concurrent_p50: int, peak_concurrency: float, fixed: int | None) -> BatchChoice:
    """KV-limited concurrency at the median length, rounded down to a power of two (the tuning guide sweeps
    powers of two), capped at 2048, raised to cover the peak concurrency when the KV pool holds it."""
    if fixed is not None:
        return BatchChoice(fixed, f"max_batch_size = {fixed}: fixed by sizing.maxBatchSize")
    base = min(rules.prev_power_of_two(max(1, concurrent_p50)), rules.MAX_BATCH_SIZE_CAP)
    reason = (f"max_batch_size = {base}: the KV pool holds {concurrent_p50} sequences of the median length, "
              f"rounded down to a power of two (cap {rules.MAX_BATCH_SIZE_CAP})")
    peak = math.ceil(peak_concurrency)
    if peak > base and concurrent_p50 >= peak:
        raised = min(rules.next_power_of_two(peak), rules.MAX_BATCH_SIZE_CAP)
        return BatchChoice(raised, f"max_batch_size = {raised}: raised to cover the peak concurrency of {peak} "
                                   f"sequences, which the KV pool holds at the median length")
    return BatchChoice(base, reason)


@dataclass(frozen=True)
class Capacity:
    concurrent_p50: int
    concurrent_p99: int
    replica_concurrency: int
    replicas: int
    scheduler_policy: str
    reasons: tuple[str, ...]


def capacity(budget: MemoryBudget, model: ModelFacts, *, seq_p50: float, seq_p99: float, max_seq_len: int,
             max_batch_size: int, peak_concurrency: float) -> Capacity:
    """Sequences per replica, replicas for the peak, and the scheduler policy that admits the peak."""
    c50 = budget.sequences_at(kv_tokens(model, seq_p50))
    c99 = budget.sequences_at(kv_tokens(model, seq_p99))
    per_replica = max(1, min(max_batch_size, c99))
    replicas = max(1, math.ceil(peak_concurrency / per_replica - 1e-9))
    reasons = [f"replicas = {replicas}: peak concurrency {peak_concurrency:.1f} / {per_replica} sequences one "
               f"replica sustains at the p99 length ({seq_p99:,.0f} tokens)"]
    worst_case = budget.sequences_at(kv_tokens(model, max_seq_len))
    share = peak_concurrency / replicas
    if worst_case >= min(share, max_batch_size):
        policy = "guaranteed_no_evict"
        reasons.append(f"batch_scheduler_policy = guaranteed_no_evict: even at max_seq_len the KV pool holds "
                       f"{worst_case} sequences, enough for each replica's peak share ({share:.1f})")
    else:
        policy = "max_utilization"
        reasons.append(f"batch_scheduler_policy = max_utilization: reserving max_seq_len per request would admit "
                       f"only {worst_case} sequences, below each replica's peak share ({share:.1f}); requests "
                       "may pause under pressure instead of queueing")
    return Capacity(c50, c99, per_replica, replicas, policy, tuple(reasons))


def choose_opt_num_tokens(*, peak_concurrency_per_replica: float, max_num_tokens: int,
                          tokens_per_block: int) -> int:
    """The optimisation point of the engine's single TensorRT profile: the tokens of a typical iteration at
    the peak, one per decoding sequence, as a power of two within [tokens_per_block, max_num_tokens]."""
    typical = rules.next_power_of_two(max(1.0, peak_concurrency_per_replica))
    return max(min(typical, max_num_tokens), min(tokens_per_block, max_num_tokens))


__all__ = ["histogram_mean", "Latency", "estimate_latency", "kv_tokens", "BatchChoice", "choose_max_batch_size",
           "Capacity", "capacity", "choose_opt_num_tokens", "PREFILL_EFFICIENCY", "DECODE_EFFICIENCY"]
