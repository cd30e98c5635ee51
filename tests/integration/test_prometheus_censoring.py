"""Censoring detected end to end: traffic whose true lengths exceed a stand-in engine's limits, exported as
our exporter records it and read back from the real Prometheus, shows a censored share equal to the
rejected and clamped requests, while the served histograms alone hide it."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seasonal_engines.adapters.prometheus import PrometheusTraffic
from seasonal_engines.core import censoring, presets, promql
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.traffic import Dimension, TrafficProfile
from seasonal_engines.traces import openmetrics, read_trace

TRACES = Path(__file__).resolve().parents[2] / "examples" / "traces"
DAY0 = 1767571200.0  # 2026-01-05 00:00 UTC
INTERVAL = 60.0


@pytest.mark.prometheus
def test_too_small_engine_reports_its_censored_share(prometheus_factory) -> None:
    # Evening hours of m-large: the long-prompt season; the stand-in engine is sized for the morning.
    t = read_trace(TRACES / "servegen_m-large_14d.csv.xz").window(18 * 3600, 24 * 3600).shifted(DAY0)
    small = Envelope(max_input_len=1024, max_seq_len=1200, max_batch_size=64, max_num_tokens=8192)
    adm = censoring.admit(t.input_tokens, t.output_tokens, small.max_input_len, small.max_seq_len)
    rejected, stopped = int(adm.rejected.sum()), int(adm.limit_stopped.sum())
    assert rejected > 10 and stopped > 10
    # Scrapes start one interval before the first request, so every series starts at 0 and increase()
    # over the whole span is exact (no extrapolation below zero).
    first = t.first_s - INTERVAL
    last = first + INTERVAL * math.ceil((t.last_s - first) / INTERVAL)  # a scrape after the last request
    text = openmetrics.to_text(t, presets.SEASONAL, INTERVAL, labels={"model": "m"}, start_s=first,
                               end_s=last, engine=openmetrics.Engine(small.max_input_len, small.max_seq_len))
    server = prometheus_factory(text)
    profile = PrometheusTraffic(server.url).window(
        presets.SEASONAL, [promql.matcher("model", "=", "m")], datetime.fromtimestamp(last, tz=UTC),
        last - first + 1)
    assert isinstance(profile, TrafficProfile), profile
    assert profile.samples == pytest.approx(len(t), rel=1e-9)
    assert profile.rejected_requests == pytest.approx(rejected, rel=1e-9)
    assert profile.limit_stopped_requests == pytest.approx(stopped, rel=1e-9)
    assert profile.censored_fraction == pytest.approx((rejected + stopped) / len(t), rel=1e-9)
    # What the engine served never goes past its limit: without the counters the demand would be invisible.
    assert profile.quantile(Dimension.sequence, 1.0) <= small.max_seq_len * 1.1
    assert profile.quantile(Dimension.input, 0.999) > small.max_input_len  # admission still sees the prompts


@pytest.mark.prometheus
def test_presets_without_counters_say_censoring_is_unknown(prometheus_factory) -> None:
    t = read_trace(TRACES / "azure2023_conv.csv.xz")
    server = prometheus_factory(openmetrics.to_text(t, presets.TRITON_TRTLLM, 15.0, labels={"model": "a"}))
    end = datetime.fromtimestamp(t.first_s + 3000, tz=UTC)
    profile = PrometheusTraffic(server.url).window(presets.TRITON_TRTLLM, [promql.matcher("model", "=", "a")],
                                                   end, 2400)
    assert isinstance(profile, TrafficProfile), profile
    assert profile.censored_fraction is None
    assert profile.resolution_limit[Dimension.input] == 1000.0
    assert profile.quantile(Dimension.input, 0.999) == 1000.0  # never finer than the buckets allow
    assert any("stop at 1000 tokens" in n for n in profile.notes)
    assert profile.sequence_source.value == "bound"


@pytest.mark.prometheus
def test_vllm_finish_reason_length_is_only_an_upper_bound(prometheus_factory) -> None:
    t = read_trace(TRACES / "azure2023_conv.csv.xz")
    first = t.first_s - 15.0
    last = first + 15.0 * math.ceil((t.last_s - first) / 15.0)
    engine = openmetrics.Engine(max_input_len=None, max_seq_len=1024)
    adm = censoring.admit(t.input_tokens, t.output_tokens, None, 1024)
    server = prometheus_factory(openmetrics.to_text(t, presets.VLLM, 15.0, labels={"model_name": "v"},
                                                    start_s=first, end_s=last, engine=engine))
    profile = PrometheusTraffic(server.url).window(presets.VLLM, [promql.matcher("model_name", "=", "v")],
                                                   datetime.fromtimestamp(last, tz=UTC), last - first + 1)
    assert isinstance(profile, TrafficProfile), profile
    assert profile.censored_fraction is None  # finished_reason="length" also counts max_tokens stops
    assert profile.censored_upper_bound == pytest.approx(adm.limit_stopped.sum() / len(t), rel=1e-9)
    assert any("upper" in n or "from above" in n for n in profile.notes)
