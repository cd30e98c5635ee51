"""Replay figures on tiny traces with answers known by hand: beyond the envelope, slack, churn."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seasonal_engines.replay import scoring
from seasonal_engines.traces import Trace

H = 3600.0


def trace(times: list[float], inputs: list[int], outputs: list[int]) -> Trace:
    return Trace(np.asarray(times, dtype=np.float64), np.asarray(inputs, dtype=np.int64),
                 np.asarray(outputs, dtype=np.int64))


def limits(n: int, max_input_len: int, max_seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, max_input_len, dtype=np.int64), np.full(n, max_seq_len, dtype=np.int64)


def test_a_request_exactly_at_the_limits_fits_and_one_token_more_does_not() -> None:
    t = trace([0, 1, 2, 3], [100, 101, 60, 60], [0, 0, 40, 41])
    f = scoring.fit(t, *limits(4, 100, 100), min_hour_requests=1)
    # 101 > max_input_len: rejected; 60 + 41 > max_seq_len: stopped at the limit
    assert f.beyond.tolist() == [False, True, False, True]
    assert scoring.score(f, days=1, rebuilds=0, rollovers=0).beyond_envelope_fraction == 0.5


def test_slack_is_the_served_max_seq_len_over_the_hours_p999() -> None:
    n = 100
    t = trace([i * 10.0 for i in range(n)], [900] * n, [100] * n)  # every request is 1000 tokens
    f = scoring.fit(t, *limits(n, 2000, 2000), min_hour_requests=1)
    assert f.hours.p999.tolist() == [1000.0]
    assert f.hour_slack.tolist() == [2.0]


def test_slack_of_an_hour_served_by_two_engines_is_the_request_weighted_mean() -> None:
    t = trace([0, 10, 20, 30], [500] * 4, [500] * 4)  # p99.9 = 1000
    mil = np.asarray([4096] * 4)
    msl = np.asarray([1000, 1000, 3000, 3000])
    f = scoring.fit(t, mil, msl, min_hour_requests=1)
    assert f.hour_slack.tolist() == [2.0]


def test_worst_hour_and_p95_slack_come_from_separate_clock_hours() -> None:
    # hour 0: 4 requests, 1 beyond; hour 1: 4 requests, none beyond
    times = [0, 1, 2, 3, H, H + 1, H + 2, H + 3]
    t = trace(times, [10, 10, 10, 500, 10, 10, 10, 10], [10] * 8)
    f = scoring.fit(t, *limits(8, 100, 200), min_hour_requests=1)
    s = scoring.score(f, days=0.5, rebuilds=2, rollovers=3)
    assert s.requests == 8
    assert s.beyond_envelope_fraction == pytest.approx(1 / 8)
    assert s.worst_hour_beyond_fraction == pytest.approx(1 / 4)
    assert s.rebuilds_per_day == 4.0 and s.rollovers_per_day == 6.0
    hour_p999 = f.hours.p999
    assert hour_p999[1] == pytest.approx(20.0)
    assert s.mean_slack == pytest.approx(np.mean(200 / hour_p999))


def test_thin_hours_are_left_out_of_slack_and_worst_hour() -> None:
    times = [0.0] * 1 + [H + i for i in range(60)]
    t = trace(times, [5000] + [100] * 60, [0] * 61)
    f = scoring.fit(t, *limits(61, 1000, 1000), min_hour_requests=50)
    s = scoring.score(f, days=1, rebuilds=0, rollovers=0)
    assert math.isnan(f.hour_beyond[0]) and math.isnan(f.hour_slack[0])
    assert s.worst_hour_beyond_fraction == 0.0  # the rejected request's hour has one request only
    assert s.beyond_envelope_fraction == pytest.approx(1 / 61)  # ...but it still counts overall
    assert s.mean_slack == pytest.approx(10.0)


def test_json_has_the_contract_keys_and_no_nan() -> None:
    t = trace([0.0], [10], [10])
    f = scoring.fit(t, *limits(1, 100, 100))  # one request: no hour qualifies
    doc = scoring.score(f, days=1, rebuilds=0, rollovers=0).to_json()
    assert {"requests", "beyond_envelope_fraction", "mean_slack", "rebuilds_per_day", "rollovers_per_day"} <= set(doc)
    assert doc["mean_slack"] is None and doc["worst_hour_beyond_fraction"] is None


def test_limits_must_align_with_the_trace() -> None:
    t = trace([0.0, 1.0], [10, 10], [10, 10])
    with pytest.raises(ValueError, match="per request"):
        scoring.fit(t, *limits(1, 100, 100))
