"""Shift detection: the location and tail tests see the moves they are for, stay quiet when nothing moved
(at about the rate the significance promises), and the binomial tail is exact."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from seasonal_engines.core import histograms, shift_detection
from seasonal_engines.core.shift_detection import Reference, binomial_upper_tail, detect

BOUNDS = histograms.log_buckets()


def lengths(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    return np.exp(rng.normal(np.log(800.0), 1.0, n)) * scale  # prompt-like: median 800, long right tail


def reference(values: np.ndarray) -> Reference:
    h = histograms.from_values(values, BOUNDS)
    finite = [b for b in h.bounds if np.isfinite(b)]
    return Reference(tuple(finite), tuple(float(x) for x in histograms.coverages(h, finite)), float(h.total))


def run(ref: Reference, recent: np.ndarray, significance: float = 0.001, min_effect: float = 0.1):
    return detect([("input", ref, histograms.from_values(recent, BOUNDS))], significance=significance,
                  min_effect=min_effect)


@pytest.mark.parametrize("k, n, p", [(0, 5, 0.3), (3, 10, 0.1), (5, 110, 0.01), (50, 1000, 0.03), (7, 7, 0.5),
                                     (11, 10, 0.2), (4, 40, 0.0), (2, 9, 1.0)])
def test_binomial_upper_tail_is_exact(k: int, n: int, p: float) -> None:
    exact = sum(comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(max(k, 0), n + 1))
    assert binomial_upper_tail(k, n, p) == pytest.approx(exact, rel=1e-9, abs=1e-300)


def test_binomial_upper_tail_normal_branch_is_close_and_monotone() -> None:
    n, p = 300_000, 0.003
    values = [binomial_upper_tail(k, n, p) for k in (850, 900, 950, 1000, 1100)]
    assert values == sorted(values, reverse=True)
    assert values[1] == pytest.approx(0.5, abs=0.02)  # the mean is 900


def test_prompts_doubling_is_a_location_shift_up_from_a_few_dozen_requests() -> None:
    rng = np.random.default_rng(1)
    ref = reference(lengths(rng, 20_000))
    result = run(ref, lengths(rng, 60, scale=2.0))
    assert result is not None and result.shifted and result.up
    best = result.strongest()
    assert best is not None and best.test == "location" and best.observed > 0.6 and best.p_value < 1e-4
    assert "input lengths longer" in best.describe()


def test_prompts_halving_is_a_shift_down() -> None:
    rng = np.random.default_rng(2)
    result = run(reference(lengths(rng, 20_000)), lengths(rng, 80, scale=0.5))
    assert result is not None and result.shifted and not result.up
    assert result.strongest().observed < 0.4  # type: ignore[union-attr]


def test_a_longer_tail_alone_is_seen_by_the_tail_test() -> None:
    rng = np.random.default_rng(3)
    ref = reference(lengths(rng, 50_000))
    recent = lengths(rng, 2000)
    top = recent >= np.quantile(recent, 0.95)
    recent[top] *= 4.0  # the longest 5% four times longer; the bulk is where it was
    result = run(ref, recent)
    assert result is not None and result.shifted and result.up
    tail = next(t for t in result.tests if t.test == "tail")
    location = next(t for t in result.tests if t.test == "location")
    assert tail.significant and tail.observed > 2 * tail.expected and tail.bound is not None
    assert not location.significant


def test_no_move_alarms_about_as_rarely_as_the_significance_says() -> None:
    rng = np.random.default_rng(4)
    ref = reference(lengths(rng, 20_000))
    alarms = sum(bool(run(ref, lengths(rng, 60), significance=0.01).shifted) for _ in range(400))  # type: ignore[union-attr]
    assert alarms <= 12  # at most 1% expected (Bonferroni is conservative); 12 leaves room for chance


def test_a_tiny_move_in_a_huge_sample_is_significant_but_below_the_least_effect() -> None:
    rng = np.random.default_rng(5)
    ref = reference(lengths(rng, 200_000))
    result = run(ref, lengths(rng, 100_000, scale=1.08))
    assert result is not None
    location = next(t for t in result.tests if t.test == "location")
    assert location.p_value < 1e-6 and abs(location.observed - 0.5) < 0.1 and not location.significant


def test_no_test_without_enough_requests_or_shared_buckets() -> None:
    rng = np.random.default_rng(6)
    ref = reference(lengths(rng, 5000))
    assert run(ref, lengths(rng, shift_detection.MIN_REQUESTS - 1, scale=3.0)) is None
    other = histograms.from_values(lengths(rng, 500), (100.5, 1000.5, 10000.5))
    assert detect([("input", ref, other)], significance=0.001, min_effect=0.1) is None
    assert detect([("sequence", ref, None)], significance=0.001, min_effect=0.1) is None


def test_an_unknown_reference_size_counts_the_reference_as_exact() -> None:
    rng = np.random.default_rng(7)
    small = reference(lengths(rng, 300))
    recent = lengths(rng, 300, scale=1.3)
    known = run(small, recent).strongest()  # type: ignore[union-attr]
    exact = run(Reference(small.bounds, small.cdf, 0.0), recent).strongest()  # type: ignore[union-attr]
    assert known is not None and exact is not None and known.test == exact.test == "location"
    assert exact.p_value < known.p_value  # the reference's own noise widens the test when its size is known
