"""Our quantiles equal the real Prometheus' histogram_quantile on the same data, to 1e-9 relative:
on the shared traces backfilled at a 1-minute scrape, and on random (also broken) histograms."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from seasonal_engines.adapters.prometheus import PrometheusTraffic
from seasonal_engines.core import histograms, presets, promql
from seasonal_engines.core.traffic import Dimension, TrafficProfile
from seasonal_engines.traces import openmetrics, read_trace
from tests.testbed.prometheus import instant_query

TRACES = Path(__file__).resolve().parents[2] / "examples" / "traces"
DAY0 = 1767571200.0  # 2026-01-05 00:00 UTC, a Monday
QS = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1.0]


def quantiles_from_prometheus(url: str, expr: str, at: float) -> dict[float, float]:
    """histogram_quantile for every q in QS, batched into one query by tagging each with its q."""
    query = " or ".join(f'label_replace(histogram_quantile({q!r}, {expr}), "q", "{q!r}", "", "")' for q in QS)
    return {float(r["metric"]["q"]): float(r["value"][1]) for r in instant_query(url, query, at=at)}


def assert_close(ours: float, theirs: float, what: str) -> None:
    if math.isnan(theirs):
        assert math.isnan(ours), what
    else:
        assert abs(ours - theirs) <= 1e-9 * abs(theirs), f"{what}: ours {ours!r}, Prometheus {theirs!r}"


@pytest.mark.prometheus
def test_shared_traces_quantiles_equal_histogram_quantile(prometheus_factory) -> None:
    mid = read_trace(TRACES / "servegen_m-mid_14d.csv.xz").window(0, 86400).shifted(DAY0)
    azure = read_trace(TRACES / "azure2023_conv.csv.xz")
    text = openmetrics.to_text(mid, presets.SEASONAL, 60.0, labels={"model": "mid"}).removesuffix("# EOF\n")
    text += openmetrics.to_text(azure, presets.VLLM, 15.0, labels={"model_name": "azure"})
    server = prometheus_factory(text)
    reader = PrometheusTraffic(server.url)
    cases = [("mid", presets.SEASONAL, "model", DAY0 + h * 3600, w) for h in (3, 13, 20, 24)
             for w in (300, 3600, 6 * 3600)]
    cases += [("azure", presets.VLLM, "model_name", azure.first_s + m * 60, w) for m in (20, 58) for w in (600, 3600)]
    compared = 0
    for model, preset, label, at, window in cases:
        matchers = [promql.matcher(label, "=", model)]
        end = datetime.fromtimestamp(at, tz=UTC)
        profile = reader.window(preset, matchers, end, window)
        assert isinstance(profile, TrafficProfile), profile
        for dim, metric in ((Dimension.input, preset.input_metric), (Dimension.output, preset.output_metric)):
            expr = promql.histogram_part(metric, matchers, [promql.Window(end, window)])
            theirs = quantiles_from_prometheus(server.url, expr, at)
            assert set(theirs) == set(QS)
            for q, value in theirs.items():
                assert_close(profile.quantile(dim, q), value, f"{model} {dim.value} q={q} w={window} at={at}")
                compared += 1
    assert compared == len(cases) * 2 * len(QS)
    assert reader.queries_sent == len(cases)  # one query per profile


LES = ["-1", "0", "0.5", "1", "1.0", "2", "3", "10", "1e1", "100", "+Inf", "+Inf"]


@st.composite
def random_histogram(draw: st.DrawFn) -> dict[str, float]:
    les = draw(st.lists(st.sampled_from(LES[:-1]), max_size=7, unique=True))
    if draw(st.integers(0, 9)) > 0:
        les.append("+Inf")
    counts = st.one_of(st.integers(0, 30).map(float), st.floats(0, 1e4, allow_nan=False),
                       st.just(math.nan) if draw(st.integers(0, 19)) == 0 else st.just(0.0))
    return {le: draw(counts) for le in sorted(set(les))}


# Each example starts a Prometheus, so: few examples, no shrinking (the failure message names the histogram).
@pytest.mark.prometheus
@settings(max_examples=3, deadline=None, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(random_histogram(), min_size=60, max_size=60))
def test_random_histograms_equal_histogram_quantile(prometheus_factory, hists: list[dict[str, float]]) -> None:
    at = 1767571200
    lines = []
    for i, h in enumerate(hists):
        for le, count in h.items():
            value = "NaN" if math.isnan(count) else repr(count)
            lines.append(f'rnd_bucket{{h="{i}",le="{le}"}} {value} {at}')
    server = prometheus_factory("\n".join([*lines, "# EOF"]) + "\n")
    raw: dict[str, list[tuple[float, float]]] = {}
    for r in instant_query(server.url, "rnd_bucket", at=at):
        raw.setdefault(r["metric"]["h"], []).append((float(r["metric"]["le"]), float(r["value"][1])))
    for q in (0.0, 0.1, 0.5, 0.9, 0.99, 1.0, -0.5, 1.5):
        theirs = {r["metric"]["h"]: float(r["value"][1])
                  for r in instant_query(server.url, f"histogram_quantile({q}, rnd_bucket)", at=at)}
        assert set(theirs) == set(raw)
        for h, value in theirs.items():
            ours = histograms.histogram_quantile(q, histograms.from_buckets(raw[h]))
            if math.isinf(value):
                assert ours == value
            else:
                assert_close(ours, value, f"h={h} q={q} buckets={sorted(raw[h])}")
