"""histogram_quantile and coverage: PromQL semantics, checked against an independent scalar transliteration
of Prometheus 2.42's bucketQuantile and against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seasonal_engines.core import histograms
from seasonal_engines.core.histograms import Histogram

INF = math.inf


def reference_quantile(q: float, pairs: list[tuple[float, float]]) -> float:
    """Prometheus 2.42 promql/quantile.go bucketQuantile, line by line, in plain Python."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -INF
    if q > 1:
        return INF
    buckets = sorted(pairs, key=lambda p: p[0])
    if not buckets or buckets[-1][0] != INF:
        return math.nan
    coalesced: list[list[float]] = []
    for le, c in buckets:  # coalesceBuckets
        if coalesced and coalesced[-1][0] == le:
            coalesced[-1][1] += c
        else:
            coalesced.append([le, c])
    top = coalesced[0][1]  # ensureMonotonic: the running maximum starts at the first count (even NaN)
    for b in coalesced[1:]:
        if b[1] > top:
            top = b[1]
        elif b[1] < top:
            b[1] = top
    if len(coalesced) < 2:
        return math.nan
    observations = coalesced[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    lo, hi = 0, len(coalesced) - 1  # sort.Search(len-1, count >= rank)
    while lo < hi:
        mid = (lo + hi) // 2
        if not coalesced[mid][1] >= rank:
            lo = mid + 1
        else:
            hi = mid
    b = lo
    if b == len(coalesced) - 1:
        return coalesced[-2][0]
    if b == 0 and coalesced[0][0] <= 0:
        return coalesced[0][0]
    start, end, count = 0.0, coalesced[b][0], coalesced[b][1]
    if b > 0:
        start = coalesced[b - 1][0]
        count -= coalesced[b - 1][1]
        rank -= coalesced[b - 1][1]
    with np.errstate(divide="ignore", invalid="ignore"):  # Go float division: 0/0 is NaN, x/0 is Inf
        return float(start + (end - start) * (np.float64(rank) / np.float64(count)))


def same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


H = Histogram((1.0, 2.0, 4.0, INF), (10.0, 30.0, 40.0, 50.0))


@pytest.mark.parametrize("q, expected", [
    (0.0, 0.0),            # rank 0 lands in the first bucket, interpolated from 0
    (0.1, 0.5),            # 5 of 10 in (0, 1]
    (0.2, 1.0),
    (0.4, 1.5),            # rank 20: 10 of 20 in (1, 2]
    (0.7, 3.0),            # rank 35: 5 of 10 in (2, 4]
    (0.8, 4.0),
    (0.9, 4.0),            # rank 45 falls in +Inf: the highest finite bound
    (1.0, 4.0),
    (-0.1, -INF), (1.1, INF),
], ids=lambda v: str(v))
def test_known_values(q: float, expected: float) -> None:
    assert histograms.histogram_quantile(q, H) == expected


@pytest.mark.parametrize("h, why", [
    (Histogram((1.0, 2.0), (1.0, 2.0)), "no +Inf bucket"),
    (Histogram((INF,), (5.0,)), "fewer than two buckets"),
    (Histogram((1.0, INF), (0.0, 0.0)), "no observations"),
    (Histogram((), ()), "no buckets"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_nan_cases(h: Histogram, why: str) -> None:
    assert math.isnan(histograms.histogram_quantile(0.5, h)), why


def test_nan_quantile_is_nan() -> None:
    assert math.isnan(histograms.histogram_quantile(math.nan, H))


def test_non_monotonic_counts_are_repaired_like_promql() -> None:
    broken = Histogram((1.0, 2.0, 4.0, INF), (10.0, 8.0, 40.0, 50.0))  # 8 < 10: forced up to 10
    assert histograms.histogram_quantile(0.5, broken) == reference_quantile(0.5, list(zip(broken.bounds,
                                                                                          broken.counts)))
    assert histograms.histogram_quantile(0.2, broken) == 1.0  # rank 10 reached at le=1 already


def test_equal_bounds_coalesce_by_summing() -> None:
    h = histograms.from_buckets([(2.0, 5.0), (1.0, 3.0), (2.0, 5.0), (INF, 12.0)])
    assert h.bounds == (1.0, 2.0, INF)
    assert h.counts == (3.0, 10.0, 12.0)


def test_first_bound_at_or_below_zero_returns_it() -> None:
    h = Histogram((-1.0, 0.0, 5.0, INF), (4.0, 6.0, 10.0, 10.0))
    assert histograms.histogram_quantile(0.1, h) == -1.0


bound_values = st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 10.0, 16.0, 100.0, 1000.0, INF])
count_values = st.one_of(st.integers(0, 50).map(float), st.floats(0, 1e6, allow_nan=False))


@st.composite
def raw_histograms(draw: st.DrawFn) -> list[tuple[float, float]]:
    pairs = draw(st.lists(st.tuples(bound_values, count_values), min_size=0, max_size=8))
    if draw(st.booleans()):
        pairs.append((INF, draw(count_values)))
    return pairs


@settings(max_examples=300, deadline=None)
@given(raw_histograms(), st.lists(st.floats(-0.2, 1.2) | st.sampled_from([0.0, 1.0, 0.5]), min_size=1,
                                  max_size=6))
def test_vectorised_equals_scalar_reference(pairs: list[tuple[float, float]], qs: list[float]) -> None:
    h = histograms.from_buckets(pairs)
    got = histograms.quantiles(h, qs)
    for q, g in zip(qs, got):
        assert same(float(g), reference_quantile(q, pairs)), (q, pairs)


@settings(max_examples=100, deadline=None)
@given(raw_histograms(), st.floats(0, 1))
def test_unsorted_histogram_gives_the_same_answer(pairs: list[tuple[float, float]], q: float) -> None:
    if len({p[0] for p in pairs}) != len(pairs):
        return  # a Histogram value needs unique bounds; from_buckets covers duplicates
    shuffled = Histogram(tuple(p[0] for p in reversed(pairs)), tuple(p[1] for p in reversed(pairs)))
    assert same(histograms.histogram_quantile(q, shuffled), reference_quantile(q, pairs))


def test_coverage_inverts_the_quantile_inside_buckets() -> None:
    for x in (0.25, 1.0, 1.5, 3.0, 3.99):
        c = histograms.coverage(H, x)
        assert histograms.histogram_quantile(c, H) == pytest.approx(x, rel=1e-12)


def test_coverage_is_conservative_above_the_last_finite_bound() -> None:
    assert histograms.coverage(H, 4.0) == pytest.approx(0.8)
    assert histograms.coverage(H, 1e9) == pytest.approx(0.8)  # the +Inf bucket counts as beyond any limit
    assert histograms.coverage(H, INF) == 1.0
    assert histograms.coverage(H, -1.0) == 0.0
    assert math.isnan(histograms.coverage(Histogram((1.0, INF), (0.0, 0.0)), 1.0))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 200_000), min_size=1, max_size=200), st.floats(1, 300_000))
def test_coverage_is_monotone_and_inverse(values: list[int], x: float) -> None:
    h = histograms.from_values(np.asarray(values), histograms.log_buckets())
    c = histograms.coverages(h, [x, x * 1.5])
    assert 0.0 <= c[0] <= c[1] <= 1.0
    q = histograms.histogram_quantile(float(c[0]), h)
    if 0 < c[0] < h.counts[-2] / h.total:
        assert q <= x * (1 + 1e-9)  # the quantile at a limit's coverage never exceeds the limit


def test_from_values_uses_less_or_equal() -> None:
    h = histograms.from_values(np.array([1, 2, 2, 3, 100]), [2, 3, INF])
    assert h.bounds == (2.0, 3.0, INF)
    assert h.counts == (3.0, 4.0, 5.0)
    assert histograms.from_values([5.0], [1.0]).bounds == (1.0, INF)  # +Inf appended
    with pytest.raises(ValueError, match="NaN"):
        histograms.from_values([math.nan], [1.0])
    with pytest.raises(ValueError, match="ascending"):
        histograms.from_values([1.0], [2.0, 1.0])


def test_log_buckets_layout() -> None:
    b = histograms.log_buckets()
    finite = np.asarray(b[:-1])
    assert b[-1] == INF and finite[0] == 16 and finite[-1] == 131072
    assert np.all(finite[1:] / finite[:-1] <= 1.1)  # each bucket at most 10% wider than the last bound
    assert {16.0 * 2**k for k in range(14)} <= set(b)  # octaves are bounds
    assert len(b) < 120
    coarse = histograms.log_buckets(lo=10, hi=1000, max_width=0.5)
    assert coarse[0] == 10 and coarse[-2] >= 1000 and coarse[-1] == INF
    with pytest.raises(ValueError, match="lo < hi"):
        histograms.log_buckets(lo=10, hi=5)
