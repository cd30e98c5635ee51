"""Shift detection: have request lengths moved away from the traffic the serving engine was planned from?

The trailing window dilutes a change: minutes after a step, most of a 1-2 h window is still the old
traffic, so its quantiles and its beyond-share move late. Shift detection looks at a short recent window
(``drift.shift.window``, read in the same query) instead, and asks whether its requests could have been
drawn from the reference (the planning traffic's cumulative shares at the exporter's bucket bounds).
Two tests per dimension (input; sequence when the source has the joint series), on buckets shared with
the reference:

* **location**: each recent request's mid-rank within the reference (the reference's cumulative share
  halfway through the request's bucket), averaged. If nothing moved its expectation is exactly 1/2 and
  its variance ``(1 - sum p^3) / 12`` per request (``p`` the reference's bucket shares; the cube term
  corrects for ties within a bucket), for the recent sample and for the reference's own sample. A score
  past the two-sided critical value *and* a mean at least ``min_effect`` from 1/2 is a shift. It is a
  rank test against a large sample; it sees a move of the whole distribution, such as every prompt
  doubling, from a few dozen requests.
* **tail**: the share of recent requests above the reference's p99 bucket bound against the reference's
  share there, by the exact binomial upper tail, and at least twice that share. It sees the longest
  requests growing while the bulk stays, which leaves the mean rank nearly where it was.

The significance is split evenly across the tests made (Bonferroni). Fewer than ``MIN_REQUESTS`` recent
requests make no test. Pure: numpy and math.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core import histograms
from seasonal_engines.core.histograms import Histogram

MIN_REQUESTS = 20          # below this the location score's normal approximation is poor
TAIL_QUANTILE = 0.99       # the tail test's bound: the reference's first bucket bound at or above p99
TAIL_FACTOR = 2.0          # the tail must at least double to count
_EXACT_BINOMIAL_UP_TO = 200_000


@dataclass(frozen=True)
class Reference:
    """Cumulative shares of one dimension of the planning traffic at its finite bucket bounds."""

    bounds: tuple[float, ...]
    cdf: tuple[float, ...]
    samples: float = 0.0  # requests behind it; 0 when unknown (the reference then counts as exact)


@dataclass(frozen=True)
class ShiftTest:
    """One test's outcome. ``observed``/``expected`` are a mean rank and 1/2 (location), or shares of
    requests above ``bound`` (tail)."""

    dimension: str
    test: str           # "location" or "tail"
    observed: float
    expected: float
    p_value: float
    significant: bool
    up: bool            # the recent requests are longer than the reference's
    bound: float | None = None

    def describe(self) -> str:
        way = "longer" if self.up else "shorter"
        if self.test == "location":
            return (f"{self.dimension} lengths {way}: mean rank {self.observed:.2f} within the planning traffic "
                    f"(0.50 if unchanged), p={self.p_value:.1e}")
        return (f"{self.dimension} tail {way}: {100 * self.observed:.1f}% of recent requests above "
                f"{self.bound:g} tokens, {100 * self.expected:.1f}% in the planning traffic, p={self.p_value:.1e}")


@dataclass(frozen=True)
class ShiftResult:
    samples: float
    tests: tuple[ShiftTest, ...]

    @property
    def shifted(self) -> bool:
        return any(t.significant for t in self.tests)

    @property
    def up(self) -> bool:
        """Longer requests among the significant tests (an upward move outranks a downward one)."""
        return any(t.significant and t.up for t in self.tests)

    def strongest(self) -> ShiftTest | None:
        """The significant test in the shift's direction with the smallest p-value, else the smallest overall."""
        pool = [t for t in self.tests if t.significant and t.up == self.up] or list(self.tests)
        return min(pool, key=lambda t: t.p_value, default=None)


def detect(references: Sequence[tuple[str, Reference, Histogram | None]], *, significance: float,
           min_effect: float) -> ShiftResult | None:
    """Test each ``(dimension, reference, recent histogram)``; None when no test could be made."""
    usable = [(d, r, h) for d, r, h in references
              if h is not None and h.total >= MIN_REQUESTS and r.bounds and _common(r, h)]
    if not usable:
        return None
    alpha = significance / (2 * len(usable))
    tests: list[ShiftTest] = []
    for dim, ref, h in usable:
        shares = _shares(ref, h)  # once per dimension: both tests read the same buckets
        tests.append(_location(dim, ref, shares, alpha, min_effect))
        tail = _tail(dim, shares, alpha)
        if tail is not None:
            tests.append(tail)
    return ShiftResult(float(max(h.total for _, _, h in usable if h is not None)), tuple(tests))


def _common(ref: Reference, h: Histogram) -> list[float]:
    mine = set(ref.bounds)
    return [b for b in h.bounds if b in mine]  # bounds of one exporter layout compare exactly


def _shares(ref: Reference, h: Histogram) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], float]:
    """Reference cumulative shares and recent per-bucket counts on the shared bounds (+Inf appended)."""
    common = _common(ref, h)
    by_bound = dict(zip(ref.bounds, ref.cdf))
    f = np.maximum.accumulate(np.clip([by_bound[b] for b in common], 0.0, 1.0))
    n = float(h.total)
    cum = np.clip(histograms.coverages(h, common), 0.0, 1.0) * n
    counts = np.diff(np.concatenate([[0.0], np.maximum.accumulate(cum), [n]]))
    return np.asarray(common, dtype=np.float64), f, np.clip(counts, 0.0, None), n


_Shares = tuple[NDArray[Any], NDArray[Any], NDArray[Any], float]  # bounds, reference cdf, recent counts, recent total


def _location(dim: str, ref: Reference, shares: _Shares, alpha: float, min_effect: float) -> ShiftTest:
    _, f, counts, n = shares
    edges = np.concatenate([[0.0], f, [1.0]])
    mid_rank = (edges[:-1] + edges[1:]) / 2
    p = np.diff(edges)
    mean = float((counts * mid_rank).sum() / n)
    per_request = max((1.0 - float((p ** 3).sum())) / 12.0, 1e-12)
    spread = math.sqrt(per_request * (1.0 / n + (1.0 / ref.samples if ref.samples > 0 else 0.0)))
    z = (mean - 0.5) / spread
    p_value = math.erfc(abs(z) / math.sqrt(2))
    return ShiftTest(dim, "location", mean, 0.5, p_value,
                     p_value < alpha and abs(mean - 0.5) >= min_effect, mean > 0.5)


def _tail(dim: str, shares: _Shares, alpha: float) -> ShiftTest | None:
    bounds, f, counts, n = shares
    at = np.flatnonzero((f >= TAIL_QUANTILE) & (f < 1.0))
    if not len(at):
        return None  # the reference's p99 lies in its top bucket: nothing above it to compare
    i = int(at[0])
    expected = 1.0 - float(f[i])
    above = float(counts[i + 1:].sum())
    p_value = binomial_upper_tail(round(above), round(n), expected)
    observed = above / n
    return ShiftTest(dim, "tail", observed, expected, p_value,
                     p_value < alpha and observed >= TAIL_FACTOR * expected, observed > expected,
                     bound=float(bounds[i]))


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): exact (log space) up to a few hundred thousand trials, a normal
    approximation with continuity correction beyond."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    if n > _EXACT_BINOMIAL_UP_TO:
        sd = math.sqrt(n * p * (1 - p))
        return 0.5 * math.erfc((k - 0.5 - n * p) / (sd * math.sqrt(2)))
    first = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
             + k * math.log(p) + (n - k) * math.log1p(-p))
    i = np.arange(k, n, dtype=np.float64)  # pmf(i + 1) / pmf(i) = (n - i) / (i + 1) * p / (1 - p)
    steps = np.log((n - i) / (i + 1)) + math.log(p) - math.log1p(-p)
    log_pmf = first + np.concatenate([[0.0], np.cumsum(steps)])
    top = float(log_pmf.max())
    return float(min(1.0, math.exp(top) * np.exp(log_pmf - top).sum()))


__all__ = ["Reference", "ShiftTest", "ShiftResult", "detect", "binomial_upper_tail", "MIN_REQUESTS"]
