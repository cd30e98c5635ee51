"""Traffic profiles from per-request lengths and from bucket counts: quantiles, joint vs bounded sequence,
rates and the Poisson peak, censoring."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seasonal_engines.core import censoring, histograms, poisson, sequences, traffic
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.traffic import Dimension, SequenceSource

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def lengths(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.lognormal(6.5, 1.0, n).astype(np.int64) + 1, rng.lognormal(5.0, 1.0, n).astype(np.int64) + 1)


def test_profile_from_requests_is_joint_and_close_to_exact_quantiles() -> None:
    inp, out = lengths(50_000)
    p = traffic.profile_from_requests(T0, T0 + timedelta(hours=1), inp, out)
    assert p.sequence_source is SequenceSource.joint
    assert p.samples == 50_000 and p.rate_rps == pytest.approx(50_000 / 3600)
    for dim, values in ((Dimension.input, inp), (Dimension.output, out), (Dimension.sequence, inp + out)):
        for q in (0.5, 0.9, 0.99, 0.999):
            exact = float(np.quantile(values, q))
            # within one bucket: the exporter's layout is at most 10% wide per bucket
            assert p.quantile(dim, q) == pytest.approx(exact, rel=0.1), (dim, q)
    assert p.quantiles[Dimension.sequence].p99 == p.quantile(Dimension.sequence, 0.99)
    assert p.coverage(Dimension.sequence, p.quantile(Dimension.sequence, 0.99)) == pytest.approx(0.99)
    assert p.censored_fraction is None


def test_mismatched_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        traffic.profile_from_requests(T0, T0 + timedelta(hours=1), np.ones(3), np.ones(4))


def test_empty_window_is_refused() -> None:
    inp, out = lengths(10)
    with pytest.raises(ValueError, match="end after it starts"):
        traffic.profile_from_requests(T0, T0, inp, out)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from(["independent", "comonotone", "antitone"]))
def test_bound_sequence_never_under_states_the_joint_quantiles(seed: int, pairing: str) -> None:
    inp, out = lengths(5000, seed)
    if pairing == "comonotone":
        inp, out = np.sort(inp), np.sort(out)
    elif pairing == "antitone":
        inp, out = np.sort(inp), np.sort(out)[::-1]
    b = histograms.log_buckets()
    joint = histograms.from_values(inp + out, b)
    bound = sequences.bound_from_marginals(histograms.from_values(inp, b), histograms.from_values(out, b), b)
    assert bound.total == joint.total
    assert np.all(np.diff(bound.counts) >= 0)
    for q in (0.5, 0.9, 0.99, 0.999):
        # conservative: the bound's quantile is at least the true one, up to one bucket's width
        assert histograms.histogram_quantile(q, bound) >= histograms.histogram_quantile(q, joint) / 1.1


def test_profile_without_joint_series_reports_the_bound() -> None:
    inp, out = lengths(20_000)
    b = histograms.log_buckets()
    p = traffic.profile_from_histograms(T0, T0 + timedelta(hours=1), histograms.from_values(inp, b),
                                        histograms.from_values(out, b))
    assert p.sequence_source is SequenceSource.bound
    assert any("bound" in n for n in p.notes)
    assert p.quantile(Dimension.sequence, 0.99) >= float(np.quantile(inp + out, 0.99))


@pytest.mark.parametrize("lam, p", [(0.5, 0.99), (3.0, 0.9), (20.0, 0.99), (250.0, 0.999), (1000.0, 0.5)])
def test_poisson_quantile_matches_the_cdf(lam: float, p: float) -> None:
    k = poisson.poisson_quantile(lam, p)
    cdf = lambda n: sum(math.exp(-lam + i * math.log(lam) - math.lgamma(i + 1)) for i in range(n + 1))  # noqa: E731
    assert cdf(k) >= p - 1e-12
    assert k > 0  # every case here needs at least one
    assert cdf(k - 1) < p  # and k is the smallest that reaches p


def test_peak_rate_is_the_poisson_point_per_second() -> None:
    assert poisson.peak_rate(0.0) == 0.0
    assert poisson.peak_rate(10.0, 0.99) == 18.0  # P(N<=17)=0.9857, P(N<=18)=0.9928 for Poisson(10)
    assert poisson.peak_rate(10.0, 0.99, interval_s=10.0) == pytest.approx(12.4)  # Poisson(100): 124
    rng = np.random.default_rng(1)
    simulated = np.quantile(rng.poisson(40.0, 200_000), 0.99)
    assert poisson.peak_rate(40.0, 0.99) == simulated
    with pytest.raises(ValueError, match="percentile"):
        poisson.peak_rate(1.0, 1.0)


def test_admission_counts_rejected_and_limit_stopped_requests() -> None:
    env = Envelope(max_input_len=2048, max_seq_len=4096, max_batch_size=8, max_num_tokens=8192)
    inp = np.array([100, 3000, 2000, 2048, 4000])
    out = np.array([50, 10, 3000, 2048, 1])
    adm = censoring.admit(inp, out, env.max_input_len, env.max_seq_len)
    assert adm.rejected.tolist() == [False, True, False, False, True]
    assert adm.limit_stopped.tolist() == [False, False, True, False, False]
    assert adm.served_output.tolist() == [50, 0, 2096, 2048, 0]
    fits = [env.fits(int(i), int(o)) for i, o in zip(inp, out)]
    assert adm.censored.tolist() == [not f for f in fits]  # agrees with Envelope.fits


def test_censored_share_of_a_too_small_engine() -> None:
    inp, out = lengths(30_000, seed=3)
    env = Envelope(max_input_len=1024, max_seq_len=2048, max_batch_size=64, max_num_tokens=8192)
    adm = censoring.admit(inp, out, env.max_input_len, env.max_seq_len)
    expected = (adm.rejected.sum() + adm.limit_stopped.sum()) / len(inp)
    assert 0.05 < expected < 0.5  # the engine really is too small for this traffic
    p = traffic.profile_from_requests(T0, T0 + timedelta(hours=1), inp, adm.served_output,
                                      rejected=int(adm.rejected.sum()), limit_stopped=int(adm.limit_stopped.sum()))
    assert p.censored_fraction == pytest.approx(expected, rel=1e-12)
    # what the engine served never shows sequences beyond its limit: the censoring the counters reveal
    served_seq = (inp + adm.served_output)[~adm.rejected]
    assert served_seq.max() <= env.max_seq_len


def test_one_counter_only_gives_a_lower_bound_note() -> None:
    inp, out = lengths(100)
    p = traffic.profile_from_requests(T0, T0 + timedelta(hours=1), inp, out, rejected=5)
    assert p.censored_fraction == pytest.approx(0.05)
    assert any("lower bound" in n for n in p.notes)


def test_profile_from_300k_requests_is_fast_enough_for_replays() -> None:
    inp, out = lengths(300_000)
    p = traffic.profile_from_requests(T0, T0 + timedelta(days=14), inp, out)
    assert p.samples == 300_000
