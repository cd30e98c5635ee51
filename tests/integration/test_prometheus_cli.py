"""`seasonal traffic` against the real Prometheus (table and the --json contract), selector values that try
to inject PromQL, and a season's history summed in one query."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from seasonal_engines.adapters.prometheus import PrometheusTraffic
from seasonal_engines.core import presets, promql
from seasonal_engines.core.traffic import Dimension, TrafficProfile, TrafficUnavailable
from seasonal_engines.traces import openmetrics
from seasonal_engines.traces.readers import Trace

DAY0 = 1767571200.0  # 2026-01-05 00:00 UTC
WEIRD = 'llama "3" \\ 8b\nx"} or vector(1) #'


def trace(n: int, start: float, span: float, seed: int) -> Trace:
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.uniform(start + 1, start + span, n))
    return Trace(ts, rng.integers(20, 4000, n), rng.integers(1, 900, n), start_s=start, end_s=start + span)


def seasonal(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "seasonal_engines", "traffic", *args], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.prometheus
def test_cli_json_contract_and_table(prometheus_factory) -> None:
    t = trace(2000, DAY0, 3600, 1)
    server = prometheus_factory(openmetrics.to_text(t, presets.SEASONAL, 30.0, labels={"model": "m"}))
    end = datetime.fromtimestamp(DAY0 + 3600, tz=UTC)
    common = ["--prometheus", server.url, "--preset", "seasonal", "--selector", 'model="m"', "--window", "1h"]
    out = seasonal([*common, "--at", end.isoformat().replace("+00:00", "Z"), "--json"])
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    for key in ("samples", "input", "output", "sequence", "rate_rps", "peak_rps", "censored_fraction"):
        assert key in doc
    for dim in ("input", "output", "sequence"):
        assert set(doc[dim]) >= {"p50", "p90", "p99", "p999"}
    expected = PrometheusTraffic(server.url).window(presets.SEASONAL, [promql.matcher("model", "=", "m")], end, 3600)
    assert isinstance(expected, TrafficProfile)
    assert doc["samples"] == expected.samples
    assert doc["sequence"]["p99"] == expected.quantile(Dimension.sequence, 0.99)
    assert doc["censored_fraction"] == 0.0 and doc["sequence_source"] == "joint"
    unix = seasonal([*common, "--at", str(int(DAY0 + 3600)), "--json"])
    assert json.loads(unix.stdout)["samples"] == doc["samples"]
    table = seasonal([*common, "--at", str(int(DAY0 + 3600))])
    assert table.returncode == 0 and "p99.9" in table.stdout and "sequence (joint)" in table.stdout


@pytest.mark.prometheus
def test_cli_errors_are_clean(prometheus_factory) -> None:
    server = prometheus_factory()
    bad = seasonal(["--prometheus", server.url, "--selector", "model=m"])
    assert bad.returncode == 2 and 'label="value"' in bad.stderr and "Traceback" not in bad.stderr
    empty = seasonal(["--prometheus", server.url, "--json"])
    assert empty.returncode == 1 and json.loads(empty.stdout)["error"]["reason"] == "NoData"


@pytest.mark.prometheus
def test_selector_values_cannot_inject_promql(prometheus_factory) -> None:
    weird = trace(500, DAY0, 3600, 2)
    other = trace(700, DAY0, 3600, 3)
    text = openmetrics.to_text(weird, presets.SEASONAL, 60.0, labels={"model": WEIRD}).removesuffix("# EOF\n")
    text += openmetrics.to_text(other, presets.SEASONAL, 60.0, labels={"model": "other"})
    server = prometheus_factory(text)
    reader = PrometheusTraffic(server.url)
    end = datetime.fromtimestamp(DAY0 + 3600, tz=UTC)
    exact = reader.window(presets.SEASONAL, [promql.matcher("model", "=", WEIRD)], end, 3600)
    assert isinstance(exact, TrafficProfile), exact
    whole = reader.window(presets.SEASONAL, [promql.matcher("model", "=~", ".+")], end, 3600)
    assert isinstance(whole, TrafficProfile)
    assert exact.samples < whole.samples  # only the weird series, nothing injected
    for attack in ('m"} or vector(1) or x{a="', "m\"}) or sum(up) #", '\\"}'):
        result = reader.window(presets.SEASONAL, [promql.matcher("model", "=", attack)], end, 3600)
        assert isinstance(result, TrafficUnavailable) and result.reason == "NoData", result


@pytest.mark.prometheus
def test_season_history_is_the_sum_of_its_occurrences(prometheus_factory) -> None:
    parts = [trace(300 + 100 * k, DAY0 + k * 86400 + 8 * 3600, 4 * 3600, 10 + k) for k in range(3)]
    # each day: series from 07:00 to 13:00 (the occurrence 08-12 plus margins), one-minute scrapes
    text = "".join(openmetrics.to_text(p, presets.SEASONAL, 60.0, labels={"model": "m"},
                                       start_s=DAY0 + k * 86400 + 7 * 3600, end_s=DAY0 + k * 86400 + 13 * 3600)
                   .removesuffix("# EOF\n") for k, p in enumerate(parts)) + "# EOF\n"
    server = prometheus_factory(text)
    reader = PrometheusTraffic(server.url)
    m = [promql.matcher("model", "=", "m")]
    occurrences = [(datetime.fromtimestamp(DAY0 + k * 86400 + 8 * 3600, tz=UTC),
                    datetime.fromtimestamp(DAY0 + k * 86400 + 12 * 3600, tz=UTC)) for k in range(3)]
    season = reader.season(presets.SEASONAL, m, occurrences)
    assert reader.queries_sent == 1
    singles = [reader.window(presets.SEASONAL, m, e, (e - s).total_seconds()) for s, e in occurrences]
    assert isinstance(season, TrafficProfile) and all(isinstance(s, TrafficProfile) for s in singles)
    assert season.samples == pytest.approx(sum(s.samples for s in singles), rel=1e-12)  # type: ignore[union-attr]
    summed = np.sum([s.input.counts for s in singles], axis=0)  # type: ignore[union-attr]
    np.testing.assert_allclose(season.input.counts, summed, rtol=1e-12)
    assert season.rate_rps == pytest.approx(season.samples / (3 * 4 * 3600))
    assert season.end - season.start == timedelta(days=2, hours=4)


@pytest.mark.prometheus
def test_the_recent_window_comes_back_with_the_trailing_window_from_one_query(prometheus_factory) -> None:
    base = trace(3000, DAY0, 3600, 4)
    late = base.timestamps_s >= DAY0 + 2700  # the last 15 minutes: prompts four times longer
    longer = Trace(base.timestamps_s, np.where(late, base.input_tokens * 4, base.input_tokens), base.output_tokens,
                   start_s=DAY0, end_s=DAY0 + 3600)
    server = prometheus_factory(openmetrics.to_text(longer, presets.SEASONAL, 30.0, labels={"model": "m"}))
    reader = PrometheusTraffic(server.url)
    m = [promql.matcher("model", "=", "m")]
    end = datetime.fromtimestamp(DAY0 + 3600, tz=UTC)
    profile = reader.window(presets.SEASONAL, m, end, 3600, recent_s=900)
    assert reader.queries_sent == 1
    assert isinstance(profile, TrafficProfile) and profile.recent is not None
    alone = reader.window(presets.SEASONAL, m, end, 900)
    assert isinstance(alone, TrafficProfile)
    assert profile.recent.input.counts == alone.input.counts  # the same PromQL, evaluated alongside
    assert profile.recent.sequence is not None and profile.recent.sequence.counts == alone.sequence.counts
    assert profile.recent.end == end and profile.recent.start == end - timedelta(minutes=15)
    assert 0 < profile.recent.samples < profile.samples
    assert alone.quantile(Dimension.input, 0.5) > 2 * profile.quantile(Dimension.input, 0.5)  # the late, longer part
    assert reader.window(presets.SEASONAL, m, end, 3600).recent is None  # asked for nothing, gets nothing
