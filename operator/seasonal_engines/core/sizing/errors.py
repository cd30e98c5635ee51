"""Why a plan cannot be made, as typed errors whose message says what to change.

Every error is a ``ValueError`` (bad input, not a bug), carries a CamelCase ``reason`` for status
conditions, and names the field and the fix in its message. Pure data: no I/O.
"""

from __future__ import annotations


class PlanningError(ValueError):
    """Base of every planning error. ``reason`` is a CamelCase constant for conditions and events."""

    reason = "PlanningFailed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownPreset(PlanningError):
    """A model or GPU name that is neither a preset nor described by explicit facts."""

    reason = "UnknownPreset"


class InvalidModelConfig(PlanningError):
    """A Hugging Face ``config.json`` (or explicit architecture) that lacks or contradicts a needed field."""

    reason = "InvalidModelConfig"


class UnsupportedQuantization(PlanningError):
    """A quantization the GPU or the backend cannot run (for example FP8 on an A100)."""

    reason = "UnsupportedQuantization"


class InvalidParallelism(PlanningError):
    """A tensor/pipeline split the model's shape does not allow."""

    reason = "InvalidParallelism"


class InsufficientTraffic(PlanningError):
    """Too few observed requests to plan from: the planner refuses rather than guesses."""

    reason = "InsufficientTraffic"

    def __init__(self, message: str, *, samples: float = 0.0, min_samples: int = 0) -> None:
        super().__init__(message)
        self.samples = samples
        self.min_samples = min_samples


class ModelDoesNotFit(PlanningError):
    """The model's weights, activations and at least one full-length sequence of KV cache exceed the GPU.

    ``smallest_tp`` and ``lightest_quantization`` name what would fit (None when nothing tried fits).
    """

    reason = "ModelDoesNotFit"

    def __init__(self, message: str, *, needed_bytes: int, available_bytes: int,
                 smallest_tp: int | None, lightest_quantization: str | None) -> None:
        super().__init__(message)
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes
        self.smallest_tp = smallest_tp
        self.lightest_quantization = lightest_quantization


__all__ = [
    "PlanningError", "UnknownPreset", "InvalidModelConfig", "UnsupportedQuantization", "InvalidParallelism",
    "InsufficientTraffic", "ModelDoesNotFit",
]
