"""Cumulative histograms as Prometheus stores them, and the math PromQL applies to them.

A histogram is a list of upper bounds (``le``, ascending, the last one +Inf) with the cumulative count of
observations at or below each. Quantiles and coverage here interpolate exactly as PromQL's
``histogram_quantile`` does (Prometheus 2.42 ``promql/quantile.go``: sort by ``le``, merge equal bounds,
force counts non-decreasing, linear interpolation inside the bucket, the +Inf bucket answered with the
highest finite bound), so a figure the operator acts on equals the one a person sees in Grafana.
Pure: numpy in, numbers out; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

INF = math.inf


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts. ``bounds[-1]`` is +Inf; ``counts[i]`` counts observations <= ``bounds[i]``."""

    bounds: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def total(self) -> float:
        return float(self.counts[-1]) if self.counts else 0.0

    def arrays(self) -> tuple[NDArray[Any], NDArray[Any]]:
        """``(bounds, counts)`` as float64 arrays."""
        return np.asarray(self.bounds, dtype=np.float64), np.asarray(self.counts, dtype=np.float64)

    def per_bucket(self) -> NDArray[Any]:
        """Observations in each bucket (not cumulative)."""
        counts = np.asarray(self.counts, dtype=np.float64)
        return np.diff(counts, prepend=0.0)

    def __add__(self, other: Histogram) -> Histogram:
        if self.bounds != other.bounds:
            raise ValueError("cannot add histograms with different bucket bounds")
        return Histogram(self.bounds, tuple(float(a + b) for a, b in zip(self.counts, other.counts)))


def empty(bounds: Sequence[float]) -> Histogram:
    """A histogram with no observations on ``bounds`` (+Inf appended when missing)."""
    b = _with_inf(bounds)
    return Histogram(b, (0.0,) * len(b))


def from_buckets(pairs: Iterable[tuple[float, float]]) -> Histogram:
    """A histogram from ``(le, cumulative count)`` pairs in any order, as Prometheus returns them.

    Sorted by bound and equal bounds merged by summing (PromQL's ``coalesceBuckets``). Counts are kept
    as given, non-monotonic ones included: ``histogram_quantile`` repairs them the way PromQL does.
    """
    merged: dict[float, float] = {}
    for le, count in pairs:
        le = float(le)
        merged[le] = merged.get(le, 0.0) + float(count)
    bounds = tuple(sorted(merged))
    return Histogram(bounds, tuple(merged[b] for b in bounds))


def from_values(values: NDArray[Any] | Sequence[float], bounds: Sequence[float]) -> Histogram:
    """Bucket raw observations: ``counts[i]`` is the number of values <= ``bounds[i]`` (+Inf appended
    when missing)."""
    b = np.asarray(_with_inf(bounds), dtype=np.float64)
    v = np.asarray(values, dtype=np.float64).ravel()
    if np.isnan(v).any():
        raise ValueError("values contain NaN; drop or repair them before bucketing")
    # searchsorted(side="left") finds the first bound >= value: Prometheus' `le` (less or equal) rule.
    idx = np.searchsorted(b, v, side="left")
    counts = np.cumsum(np.bincount(idx, minlength=len(b))[: len(b)]).astype(np.float64)
    return Histogram(tuple(float(x) for x in b), tuple(float(x) for x in counts))


def log_buckets(lo: float = 16, hi: float = 131072, max_width: float = 0.1) -> tuple[float, ...]:
    """Log-spaced bounds from ``lo`` to at least ``hi``, each bucket at most ``max_width`` wider than the
    one below, ending with +Inf.

    The steps divide each doubling evenly (8 per octave for 10%), so every power of two times ``lo`` is a
    bound, and bounds are rounded to one decimal so their ``le`` text is short and parses back to the same
    float whatever library printed it.
    """
    if not (lo > 0 and hi > lo):
        raise ValueError(f"log_buckets needs 0 < lo < hi, got lo={lo}, hi={hi}")
    if not max_width > 0:
        raise ValueError(f"log_buckets needs max_width > 0 (a fraction such as 0.1), got {max_width}")
    per_octave = math.ceil(math.log(2) / math.log1p(max_width) - 1e-12)
    steps = math.ceil(per_octave * math.log2(hi / lo) - 1e-9)
    bounds = sorted({round(lo * 2 ** (i / per_octave), 1) for i in range(steps + 1)})
    return (*bounds, INF)


def histogram_quantile(q: float, h: Histogram) -> float:
    """PromQL ``histogram_quantile(q, h)`` for one quantile, bit for bit."""
    return float(quantiles(h, np.asarray([q], dtype=np.float64))[0])


def quantiles(h: Histogram, qs: NDArray[Any] | Sequence[float]) -> NDArray[Any]:
    """PromQL ``histogram_quantile`` for many quantiles of one histogram at once (vectorised)."""
    q = np.asarray(qs, dtype=np.float64)
    out = np.full(q.shape, np.nan)
    out[q < 0] = -INF
    out[q > 1] = INF
    ok = (q >= 0) & (q <= 1)
    if not ok.any():
        return out
    prepared = _prepare(h)
    if prepared is None:
        return out  # no +Inf bucket, fewer than two buckets or no observations: NaN, as PromQL
    b, c = prepared
    n = len(b)
    total = c[-1]
    rank = q[ok] * total
    if np.isnan(c).any():
        idx = np.array([_go_search(c, n - 1, r) for r in rank], dtype=np.int64)
    else:
        idx = np.searchsorted(c[: n - 1], rank, side="left")  # first bucket whose count >= rank
    in_inf = idx == n - 1
    safe = np.minimum(idx, n - 2)
    end = b[safe]
    prev = safe > 0
    start = np.where(prev, b[np.maximum(safe - 1, 0)], 0.0)
    below = np.where(prev, c[np.maximum(safe - 1, 0)], 0.0)
    count = c[safe] - below
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # Go float semantics: inf, NaN
        value = start + (end - start) * ((rank - below) / count)
    # The first bucket of a histogram whose first bound is <= 0 has no lower edge to interpolate from.
    value = np.where((safe == 0) & (b[0] <= 0), b[0], value)
    value = np.where(in_inf, b[n - 2], value)
    out[ok] = value
    return out


def coverage(h: Histogram, limit: float) -> float:
    """Share of observations at or below ``limit``, with ``histogram_quantile``'s interpolation (its inverse
    wherever the quantile is interior). NaN when the histogram has no observations.

    Above the highest finite bound nothing is known, so observations in the +Inf bucket count as beyond
    every finite limit: coverage never claims more than the buckets show.
    """
    return float(coverages(h, np.asarray([limit], dtype=np.float64))[0])


def coverages(h: Histogram, limits: NDArray[Any] | Sequence[float]) -> NDArray[Any]:
    """``coverage`` for many limits at once (vectorised)."""
    x = np.asarray(limits, dtype=np.float64)
    prepared = _prepare(h)
    if prepared is None or np.isnan(prepared[1]).any():
        return np.full(x.shape, np.nan)
    b, c = prepared
    n = len(b)
    total = c[-1]
    idx = np.searchsorted(b, x, side="left")  # first bound >= limit
    safe = np.minimum(idx, n - 1)
    prev = safe > 0
    start = np.where(prev, b[np.maximum(safe - 1, 0)], np.minimum(0.0, b[0]))
    below = np.where(prev, c[np.maximum(safe - 1, 0)], 0.0)
    end = b[safe]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip((x - start) / (end - start), 0.0, 1.0)
        inside = below + (c[safe] - below) * frac
    inside = np.where((safe == 0) & (b[0] <= 0), c[0], inside)  # first bucket has no lower edge
    inside = np.where(np.isinf(end), below, inside)  # +Inf bucket: nothing known above the last finite bound
    inside = np.where(np.isposinf(x), total, inside)
    inside = np.where(x < np.minimum(0.0, b[0]), 0.0, inside)
    return cast(NDArray[Any], inside / total)


def _prepare(h: Histogram) -> tuple[NDArray[Any], NDArray[Any]] | None:
    """Sorted, coalesced, monotonic ``(bounds, counts)``; None where PromQL answers NaN for every q."""
    if not h.bounds:
        return None
    b, c = h.arrays()
    if np.any(b[1:] <= b[:-1]):  # unsorted or repeated bounds: sort and coalesce like PromQL
        hh = from_buckets(zip(b.tolist(), c.tolist()))
        b, c = hh.arrays()
    if not np.isposinf(b[-1]):
        return None
    # ensureMonotonic: each count is raised to the largest count below it; NaN counts stay NaN. Prometheus
    # 2.42 seeds the running maximum with the first count, so a NaN first count disables the repair.
    if not np.isnan(c[0]):
        c = np.where(np.isnan(c), np.nan, np.fmax.accumulate(c))
    if len(b) < 2 or c[-1] == 0:
        return None
    return b, c


def _go_search(c: NDArray[Any], n: int, rank: float) -> int:
    """Go's ``sort.Search(n, c[i] >= rank)``: the same binary search, so NaN counts land where PromQL's do."""
    i, j = 0, n
    while i < j:
        mid = (i + j) >> 1
        if not c[mid] >= rank:
            i = mid + 1
        else:
            j = mid
    return i


def _with_inf(bounds: Sequence[float]) -> tuple[float, ...]:
    b = tuple(float(x) for x in bounds)
    if any(y <= x for x, y in zip(b, b[1:])):
        raise ValueError(f"bucket bounds must be strictly ascending, got {list(b)[:8]}...")
    return b if b and math.isinf(b[-1]) and b[-1] > 0 else (*b, INF)
