"""A conservative sequence-length (input + output) histogram when only the two marginals are known.

Engines limit input + output together (``max_seq_len``), but most exporters only publish the input and
the output histograms separately, and nothing in them says how the two are paired. For any pairing,
``P(I + O <= a + b) >= P(I <= a) + P(O <= b) - 1`` (Fréchet's lower bound), so

    F_seq(s) >= max over a of ( F_in(a) + F_out(s - a) - 1 )

This module evaluates that bound at each bucket bound of the result and returns it as a cumulative
histogram: its quantiles are upper bounds (up to one bucket's width) of the true sequence quantiles,
whatever the pairing. The bound is sharp (Makarov): some pairing of the same marginals attains it, so
nothing tighter can be claimed without joint data. The split ``a`` runs over the input bounds and over
``s`` minus the output bounds, where the piecewise-linear CDFs can reach their maximum. Pure: numpy only.
"""

from __future__ import annotations

import numpy as np

from seasonal_engines.core import histograms
from seasonal_engines.core.histograms import Histogram


def bound_from_marginals(input_hist: Histogram, output_hist: Histogram,
                         bounds: tuple[float, ...] | None = None) -> Histogram:
    """Cumulative histogram whose CDF is the Fréchet lower bound of ``input + output``'s CDF.

    ``bounds`` defaults to the pairwise sums of the finite bounds of both marginals (capped at 256 bounds
    by log-spaced thinning), ending with +Inf. The total equals the input histogram's total.
    """
    total = input_hist.total
    if bounds is None:
        bounds = _default_bounds(input_hist, output_hist)
    out_bounds = np.asarray(bounds, dtype=np.float64)
    if total <= 0:
        return histograms.empty(tuple(out_bounds.tolist()))
    finite = out_bounds[np.isfinite(out_bounds)]
    in_b = np.asarray([b for b in input_hist.bounds if np.isfinite(b)] + [0.0], dtype=np.float64)
    out_b = np.asarray([b for b in output_hist.bounds if np.isfinite(b)] + [0.0], dtype=np.float64)
    # Candidate splits for each s: a at an input knot, or a = s - (output knot).
    splits = np.concatenate([np.broadcast_to(in_b, (len(finite), len(in_b))),
                             finite[:, None] - out_b[None, :]], axis=1)
    splits = np.clip(splits, 0.0, None)
    s = np.broadcast_to(finite[:, None], splits.shape)
    f_in = histograms.coverages(input_hist, splits.ravel()).reshape(splits.shape)
    f_out = histograms.coverages(output_hist, (s - splits).ravel()).reshape(splits.shape)
    lower = np.clip(np.nan_to_num(f_in + f_out - 1.0, nan=0.0), 0.0, 1.0).max(axis=1)
    lower = np.maximum.accumulate(lower)
    counts = [float(x) for x in lower * total]
    if len(finite) < len(out_bounds):
        counts.append(float(total))
    return Histogram(tuple(float(x) for x in out_bounds), tuple(counts))


def _default_bounds(input_hist: Histogram, output_hist: Histogram) -> tuple[float, ...]:
    a = np.asarray([b for b in input_hist.bounds if np.isfinite(b)], dtype=np.float64)
    b = np.asarray([x for x in output_hist.bounds if np.isfinite(x)], dtype=np.float64)
    sums = np.unique(np.concatenate([a, b, (a[:, None] + b[None, :]).ravel()]))
    sums = sums[sums > 0]
    if len(sums) > 256:
        sums = np.unique(np.geomspace(sums[0], sums[-1], 256).round(1))
    return (*(float(x) for x in sums), float("inf"))
