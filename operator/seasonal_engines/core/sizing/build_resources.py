"""What a build pod needs besides GPUs: host memory, CPU and scratch disk, from the plan it builds.

Estimates, each with its reason (a line for the Job's annotation and the docs):

* scratch: the Hugging Face download (weights in the checkpoint's dtype, only what conversion reads:
  no ``original/`` weights) unless the model comes from a PVC, plus the TensorRT-LLM checkpoint (the
  planned weights, quantized), plus 10% and 8 GiB for tokenizer, caches and trtllm-build's timing cache;
* host memory: the larger of the checkpoint step (it holds the source model in host memory, plus one
  converted rank) and trtllm-build (``--workers`` builds every rank at once; each holds its rank's
  weights and TensorRT's copy while serialising), plus 8 GiB of runtime; at least 32 GiB. A BF16 70B
  conversion thus asks for about 180 GiB, not the 64 GiB a fixed request would give;
* CPU: 8 cores for one or two GPUs, 4 per GPU beyond (the parallel per-rank builds), twice that as
  the limit.

Pure: plan.json in, quantities out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seasonal_engines.core.sizing.gpus import GIB

RUNTIME_BYTES = 8 * GIB
MIN_MEMORY_BYTES = 32 * GIB
SCRATCH_MARGIN = 0.10
SCRATCH_EXTRA_BYTES = 8 * GIB
SOURCE_BYTES_PER_PARAMETER = {"bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class BuildResources:
    cpu_request: int
    cpu_limit: int
    memory_bytes: int                 # request and limit: a build that outgrows its estimate fails loudly
    scratch_bytes: int
    reasons: tuple[str, ...]

    @property
    def memory(self) -> str:
        return gib(self.memory_bytes)

    @property
    def scratch(self) -> str:
        return gib(self.scratch_bytes)


def gib(n: int) -> str:
    """A Kubernetes quantity in whole GiB, rounded up."""
    return f"{max(1, math.ceil(n / GIB))}Gi"


def build_resources(plan: Mapping[str, Any]) -> BuildResources:
    """Requests and limits for the build pod of ``plan`` (plan.json as a dict)."""
    model = plan["model"]
    arch = model.get("architecture") or {}
    params = int(arch.get("parameter_count") or 0)
    if params <= 0:
        raise ValueError("plan.model.architecture.parameter_count is required to size the build pod; regenerate "
                         "the plan with this operator version")
    world = int(model.get("tp", 1)) * int(model.get("pp", 1))
    source_bytes = params * SOURCE_BYTES_PER_PARAMETER.get(str(model.get("dtype", "bfloat16")), 2)
    predictions = plan.get("predictions") or {}
    checkpoint_bytes = int(predictions.get("weights_bytes_total") or source_bytes)
    downloads = "huggingFace" in (model.get("source") or {})
    scratch = checkpoint_bytes + (source_bytes if downloads else 0)
    scratch = int(scratch * (1 + SCRATCH_MARGIN)) + SCRATCH_EXTRA_BYTES
    convert = source_bytes + checkpoint_bytes // world
    build = int(1.5 * checkpoint_bytes)
    memory = max(MIN_MEMORY_BYTES, max(convert, build) + RUNTIME_BYTES)
    cpu = 8 if world <= 2 else 4 * world
    reasons = (
        f"scratch {gib(scratch)}: " + (f"download {gib(source_bytes)} + " if downloads else "model from a PVC, no "
                                       "download; ") + f"TensorRT-LLM checkpoint {gib(checkpoint_bytes)} + 10% + 8Gi",
        f"memory {gib(memory)}: the larger of conversion (source {gib(source_bytes)} + one rank "
        f"{gib(checkpoint_bytes // world)}) and trtllm-build ({world} rank(s) at once, 1.5 x {gib(checkpoint_bytes)}), "
        "+ 8Gi",
        f"cpu {cpu} (limit {2 * cpu}): {world} GPU(s)",
    )
    return BuildResources(cpu_request=cpu, cpu_limit=2 * cpu, memory_bytes=memory, scratch_bytes=scratch,
                          reasons=reasons)


__all__ = ["BuildResources", "build_resources", "gib"]
