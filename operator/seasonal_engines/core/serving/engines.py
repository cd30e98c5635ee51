"""What the serving model simulates: one replica's engine limits, KV pool, scheduler and hardware.

``EngineLimits`` holds the numbers TensorRT-LLM's batch manager works with (the build's limits, the KV
pool in tokens, ``tokens_per_block``, the capacity-scheduler policy, chunked context); ``Replica`` adds
the cost model's view of the hardware. ``from_plan`` reads both from a ``core.sizing`` plan, so a
prediction is always of the engine the planner would build. Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from seasonal_engines.core.serving import costs
from seasonal_engines.core.sizing.plans import Plan

MAX_TOKENS_BOUND = 1 << 22      # no engine limit in tokens is larger (4M)
MAX_BATCH_BOUND = 1 << 16


class Scheduler(str, Enum):
    """``batch_scheduler_policy`` (Triton) / ``capacity_scheduler_policy`` (LLM API)."""

    guaranteed_no_evict = "guaranteed_no_evict"  # reserve prompt + max output per request at admission
    max_utilization = "max_utilization"          # allocate as tokens arrive; pause the newest under pressure


@dataclass(frozen=True)
class EngineLimits:
    """One replica's limits, in tokens or requests."""

    max_input_len: int
    max_seq_len: int
    max_batch_size: int
    max_num_tokens: int
    kv_pool_tokens: int
    tokens_per_block: int = 32
    scheduler: Scheduler = Scheduler.guaranteed_no_evict
    chunked_context: bool = True

    def __post_init__(self) -> None:
        for name, hi in (("max_input_len", MAX_TOKENS_BOUND), ("max_seq_len", MAX_TOKENS_BOUND),
                         ("max_batch_size", MAX_BATCH_BOUND), ("max_num_tokens", MAX_TOKENS_BOUND),
                         ("kv_pool_tokens", 1 << 40), ("tokens_per_block", 4096)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
                raise ValueError(f"engine limit {name} must be an integer in [1, {hi}], got {v!r}")
        if self.max_input_len > self.max_seq_len:
            raise ValueError(f"max_input_len ({self.max_input_len}) must not exceed max_seq_len "
                             f"({self.max_seq_len})")
        object.__setattr__(self, "scheduler", Scheduler(self.scheduler))

    @property
    def kv_blocks(self) -> int:
        return self.kv_pool_tokens // self.tokens_per_block

    def to_json(self) -> dict[str, Any]:
        return {"max_input_len": self.max_input_len, "max_seq_len": self.max_seq_len,
                "max_batch_size": self.max_batch_size, "max_num_tokens": self.max_num_tokens,
                "kv_pool_tokens": self.kv_pool_tokens, "tokens_per_block": self.tokens_per_block,
                "scheduler": self.scheduler.value, "chunked_context": self.chunked_context}


@dataclass(frozen=True)
class Replica:
    """An engine on its GPUs: what one replica of a deployment is."""

    limits: EngineLimits
    hardware: costs.Hardware

    @property
    def gpus(self) -> int:
        return self.hardware.gpus


def limits_from_plan(plan: Plan) -> EngineLimits:
    """The batch manager's limits for ``plan``: build limits, KV pool, and the runtime's scheduler settings
    (the PyTorch backend's LLM API defaults to guaranteed_no_evict)."""
    b, rt = plan.build, plan.runtime
    scheduler = rt.get("batch_scheduler_policy", Scheduler.guaranteed_no_evict.value)
    chunked = bool(rt.get("enable_chunked_context", rt.get("enable_chunked_prefill", True)))
    return EngineLimits(max_input_len=b.max_input_len, max_seq_len=b.max_seq_len, max_batch_size=b.max_batch_size,
                        max_num_tokens=b.max_num_tokens, kv_pool_tokens=max(1, plan.predictions.kv_pool_tokens),
                        tokens_per_block=b.tokens_per_block, scheduler=Scheduler(scheduler), chunked_context=chunked)


def from_plan(plan: Plan) -> Replica:
    hw = costs.hardware(plan.model, plan.gpu, dtype=plan.dtype, weights_quant=plan.weights_quant,
                        kv_quant=plan.kv_quant, tp=plan.tp, pp=plan.pp)
    return Replica(limits_from_plan(plan), hw)


__all__ = ["Scheduler", "EngineLimits", "Replica", "limits_from_plan", "from_plan"]
