"""What an engine's limits do to the traffic it serves, and so to the histograms it can export.

A prompt longer than ``max_input_len`` is rejected before generation; an output that would take the
sequence past ``max_seq_len`` stops there. An exporter behind the engine therefore never sees demand
above the limits ("censoring"). Our exporter records at admission instead: every request's input length
(rejected ones included), the output actually produced, and two counters (rejected for length, stopped by
the engine's limit). ``admit`` computes all of these for known true lengths, which is how traces are
turned into what a deployment of a given engine would export, and how tests check the censored share.
Pure: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, eq=False)
class Admission:
    """Per-request outcome under an engine's limits."""

    rejected: NDArray[Any]        # bool: prompt longer than max_input_len, never ran
    limit_stopped: NDArray[Any]   # bool: ran, but the output stopped at max_seq_len
    served_output: NDArray[Any]   # int64: tokens actually generated (0 when rejected)

    @property
    def censored(self) -> NDArray[Any]:
        return cast(NDArray[Any], self.rejected | self.limit_stopped)

    @property
    def censored_fraction(self) -> float:
        n = len(self.rejected)
        return float(self.censored.sum() / n) if n else float("nan")


def admit(input_tokens: NDArray[Any], output_tokens: NDArray[Any], max_input_len: int | NDArray[Any] | None,
          max_seq_len: int | NDArray[Any] | None) -> Admission:
    """Outcome of each request (true lengths) on an engine with these limits (None: unlimited)."""
    inp = np.asarray(input_tokens, dtype=np.int64)
    out = np.asarray(output_tokens, dtype=np.int64)
    if inp.shape != out.shape:
        raise ValueError("input_tokens and output_tokens must have the same shape")
    rejected = inp > max_input_len if max_input_len is not None else np.zeros(inp.shape, dtype=bool)
    if max_seq_len is not None:
        room = np.maximum(max_seq_len - inp, 0)
        stopped = ~rejected & (out > room)
        served = np.where(stopped, room, out)
    else:
        stopped = np.zeros(inp.shape, dtype=bool)
        served = out.copy()
    served = np.where(rejected, 0, served)
    return Admission(rejected=rejected, limit_stopped=stopped, served_output=served)
