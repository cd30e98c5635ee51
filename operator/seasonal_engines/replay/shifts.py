"""Traces with known changes, for measuring drift detection: steps, ramps, and a stationary control.

* ``step``: from ``at_s`` on, every prompt is ``factor`` times longer (every input quantile, p99 included,
  scales by ``factor``).
* ``ramp``: the factor grows linearly from 1 at ``start_s`` to ``factor`` at ``end_s`` and stays there.
* ``stationary``: the trace's arrival times (its daily and weekly rate cycle) with lengths drawn from
  the whole trace's (input, output) pairs, independent of time: nothing drifts, so every drift rebuild
  is a false trigger. ``rate_scale`` draws more (or fewer) arrivals from the same rate shape.

Pure: seeded numpy, traces in and out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.traces.readers import Trace

JITTER_S = 300.0  # arrivals drawn for a higher rate scatter this far around an original one


def _scaled_inputs(trace: Trace, factors: NDArray[Any]) -> Trace:
    inp = np.maximum(1, np.rint(trace.input_tokens * factors)).astype(np.int64)
    return Trace(trace.timestamps_s, inp, trace.output_tokens, trace.format, trace.first_s, trace.last_s)


def step(trace: Trace, at_s: float, factor: float) -> Trace:
    """Prompts ``factor`` times longer from ``at_s`` on."""
    if factor <= 0:
        raise ValueError(f"shift factor must be positive, got {factor}")
    return _scaled_inputs(trace, np.where(trace.timestamps_s >= at_s, factor, 1.0))


def ramp(trace: Trace, start_s: float, end_s: float, factor: float) -> Trace:
    """Prompts scaled by a factor rising linearly from 1 at ``start_s`` to ``factor`` at ``end_s``."""
    if factor <= 0:
        raise ValueError(f"shift factor must be positive, got {factor}")
    if end_s <= start_s:
        raise ValueError(f"a ramp must end after it starts, got {start_s} .. {end_s}")
    progress = np.clip((trace.timestamps_s - start_s) / (end_s - start_s), 0.0, 1.0)
    return _scaled_inputs(trace, 1.0 + (factor - 1.0) * progress)


def stationary(trace: Trace, seed: int = 0, rate_scale: float = 1.0) -> Trace:
    """The trace's rate shape with time-invariant lengths (see the module docstring)."""
    if len(trace) == 0:
        raise ValueError("cannot resample an empty trace")
    if rate_scale <= 0:
        raise ValueError(f"rate_scale must be positive, got {rate_scale}")
    rng = np.random.default_rng(seed)
    n = len(trace)
    if rate_scale == 1.0:
        ts = trace.timestamps_s.copy()
    else:
        m = max(1, int(round(n * rate_scale)))
        base = trace.timestamps_s[rng.integers(0, n, m)]
        ts = np.sort(np.clip(base + rng.uniform(-JITTER_S, JITTER_S, m), trace.first_s, trace.last_s))
    pick = rng.integers(0, n, len(ts))
    return Trace(ts, trace.input_tokens[pick].copy(), trace.output_tokens[pick].copy(), trace.format,
                 trace.first_s, trace.last_s)


__all__ = ["step", "ramp", "stationary"]
