"""The hourly history: which hour a request lands in, what a pool of hours sums to, and that a Prometheus
range answer and per-request lengths give the same history. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from seasonal_engines.core import hourly_history as hh
from seasonal_engines.core import presets
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

END = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)
BOUNDS = presets.SEASONAL.bounds


def build(ts: list[float], inp: list[int], out: list[int], hours: int = 4, ran: list[bool] | None = None,
          stopped: list[bool] | None = None) -> hh.HourlyHistory:
    n = len(ts)
    return hh.from_requests(END, hours, np.asarray(ts), np.asarray(inp), np.asarray(out),
                            np.asarray(ran if ran is not None else [True] * n), bounds=BOUNDS,
                            limit_stopped=np.asarray(stopped if stopped is not None else [False] * n))


def test_each_request_lands_in_the_hour_whose_increase_counts_it() -> None:
    e = END.timestamp()
    h = build([e, e - 1, e - 3600, e - 3601, e - 4 * 3600, e + 1], [100] * 6, [10] * 6)
    # (e-1h, e] is the last hour: a request exactly at e counts there, one at e-1h in the hour before;
    # one at e-4h is outside the 4 hours, one after e has not happened.
    assert h.requests.tolist() == [0.0, 0.0, 2.0, 2.0]
    assert h.starts_s[-1] == e - 3600 and h.hours == 4


def test_a_pool_sums_its_hours_with_censoring() -> None:
    e = END.timestamp()
    h = build([e - 10, e - 20, e - 4000, e - 5000], [100, 5000, 200, 300], [50, 0, 60, 10],
              ran=[True, False, True, True], stopped=[True, False, False, False])
    p = h.pool([3])
    assert isinstance(p, TrafficProfile)
    assert p.samples == 2 and p.rejected_requests == 1 and p.limit_stopped_requests == 1
    assert p.censored_fraction == pytest.approx(1.0)
    assert p.sequence.total == 1, "a rejected request never ran: it is absent from the sequence histogram"
    both = h.pool([2, 3])
    assert isinstance(both, TrafficProfile) and both.samples == 4
    assert (both.end - both.start) == timedelta(hours=2)
    assert isinstance(h.pool([0]), TrafficUnavailable)


def test_rows_within_windows_take_the_hours_mostly_inside() -> None:
    h = build([], [], [], hours=6)
    rows = h.rows_within([(END - timedelta(hours=3, minutes=20), END - timedelta(minutes=40))])
    assert rows == [[3, 4]]  # hours starting 3h and 2h before the end; the last hour is mostly outside


def test_a_range_answer_gives_the_same_history_as_the_requests() -> None:
    rng = np.random.default_rng(5)
    e = END.timestamp()
    ts = np.sort(rng.uniform(e - 4 * 3600 + 1, e, 400))
    inp = rng.integers(10, 6000, 400)
    out = rng.integers(1, 600, 400)
    h = hh.from_requests(END, 4, ts, inp, out, np.ones(400, dtype=bool), bounds=BOUNDS)
    # What `increase(x_bucket[1h])` answers at each hour's end: cumulative counts per bucket bound.
    series = {}
    for part, counts in (("input", h.input), ("output", h.output), ("sequence", h.sequence)):
        assert counts is not None
        cum = np.cumsum(counts, axis=1)
        series[part] = [(le, [(e - 3600 * (3 - r), float(cum[r, b])) for r in range(4)]) for b, le in enumerate(BOUNDS)]
    again = hh.from_series(END, 4, series, {"rejected": [(e, 0.0)]})
    assert isinstance(again, hh.HourlyHistory)
    for a, b in ((again.input, h.input), (again.output, h.output), (again.sequence, h.sequence)):
        np.testing.assert_allclose(a, b)
    assert again.rejected is not None and again.rejected.sum() == 0 and again.limit_stopped is None


def test_a_range_answer_with_nan_or_without_inf_is_refused_as_a_value() -> None:
    e = END.timestamp()
    nan = hh.from_series(END, 2, {"input": [(float("inf"), [(e, float("nan"))])],
                                  "output": [(float("inf"), [(e, 1.0)])]}, {})
    assert isinstance(nan, TrafficUnavailable) and nan.reason == "NaNInData"
    no_inf = hh.from_series(END, 2, {"input": [(10.0, [(e, 1.0)])], "output": [(10.0, [(e, 1.0)])]}, {})
    assert isinstance(no_inf, TrafficUnavailable) and no_inf.reason == "MalformedHistogram"


def test_a_slice_is_a_history_of_its_own() -> None:
    e = END.timestamp()
    h = build([e - 10, e - 4000, e - 8000], [100, 200, 300], [1, 1, 1], hours=4)
    first = h.slice(0, 2)
    assert first.hours == 2 and first.end == END - timedelta(hours=2)
    assert first.requests.tolist() == [0.0, 1.0]
    assert h.observed_hours() == 3
