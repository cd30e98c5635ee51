"""The engine sizing planner: from a traffic profile, a model and a GPU to a TensorRT-LLM build plan.

Modules: ``models`` and ``gpus`` (facts and presets), ``memory`` (weights, KV, activations), ``limits``
(quantile -> headroom -> ladder with a coverage guarantee), ``rules`` (trtllm-build constraints),
``capacity`` (concurrency, latency estimate, replicas), ``fitting`` (does it fit, and what would),
``checkpoints`` (conversion or quantization step, per converter family), ``identity`` (engine hash), ``plans``
(the Plan and plan.json), ``planning`` (the ``plan`` function), ``build_resources`` (the build pod's memory, CPU
and scratch), ``errors``. Everything here is pure: no I/O.
"""

from seasonal_engines.core.sizing.errors import (
    InsufficientTraffic,
    ModelDoesNotFit,
    PlanningError,
    UnknownPreset,
    UnsupportedQuantization,
)
from seasonal_engines.core.sizing.planning import plan, plan_for_spec
from seasonal_engines.core.sizing.plans import Plan

__all__ = ["plan", "plan_for_spec", "Plan", "PlanningError", "InsufficientTraffic", "ModelDoesNotFit",
           "UnknownPreset", "UnsupportedQuantization"]
