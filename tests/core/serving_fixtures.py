"""Small replicas with round numbers, for hand-computed serving-model cases."""

from __future__ import annotations

from seasonal_engines.core.serving import costs
from seasonal_engines.core.serving.engines import EngineLimits, Replica, Scheduler

# Every share 1 and no fixed costs: an iteration costs exactly what the hardware below says.
EXACT = costs.Efficiency(gemm=1.0, bandwidth=1.0, attention=1.0, step_s=0.0, allreduce_s=0.0)


def flat_hardware(iteration_s: float = 1e-3, kv_token_s: float = 0.0) -> costs.Hardware:
    """Every iteration reads 'weights' for ``iteration_s``; each KV token a generating request attends to
    adds ``kv_token_s``; compute is free."""
    return costs.Hardware(linear_flops_per_token=0.0, head_flops_per_token=0.0, attention_flops_per_pair=0.0,
                          weight_bytes=iteration_s * 1e12, kv_bytes_per_token=kv_token_s * 1e12,
                          gemm_flops=1e12, attention_flops=1e12, bandwidth=1e12, tp=1, pp=1, layers=1,
                          allreduce_bytes_per_token=0.0, link_bytes_per_s=1e9)


def replica(*, max_input_len: int = 64, max_seq_len: int = 64, max_batch_size: int = 8, max_num_tokens: int = 64,
            kv_pool_tokens: int = 1024, tokens_per_block: int = 16,
            scheduler: Scheduler = Scheduler.guaranteed_no_evict, chunked_context: bool = True,
            hardware: costs.Hardware | None = None) -> Replica:
    limits = EngineLimits(max_input_len=max_input_len, max_seq_len=max_seq_len, max_batch_size=max_batch_size,
                          max_num_tokens=max_num_tokens, kv_pool_tokens=kv_pool_tokens,
                          tokens_per_block=tokens_per_block, scheduler=scheduler, chunked_context=chunked_context)
    return Replica(limits, hardware or flat_hardware())
