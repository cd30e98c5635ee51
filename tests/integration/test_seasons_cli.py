"""`seasonal seasons suggest`: from a trace (fitted on the first part, replayed and scored on the held-out
rest) and from a real Prometheus holding the same requests (one range query), with the plot and clean
errors."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from seasonal_engines.adapters.prometheus import PrometheusTraffic
from seasonal_engines.cli import main as cli
from seasonal_engines.core import hourly_history, presets, promql
from seasonal_engines.traces import Trace, openmetrics

DAY0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday
SPEC = {
    "apiVersion": "seasonalengines.io/v1alpha1", "kind": "InferenceService",
    "metadata": {"name": "suggest", "namespace": "test"},
    "spec": {
        "model": {"name": "llama-3.1-8b", "source": {"huggingFace": {"repo": "meta-llama/Llama-3.1-8B-Instruct"}}},
        "hardware": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
        "engine": {"store": {"claimName": "engines"}},
        "traffic": {"prometheusUrl": "http://prometheus:9090", "window": "2h", "evaluationInterval": "30m",
                    "minSamples": 300},
        "sizing": {"maxBatchSize": 64},
    },
}


def day_night_trace(days: int, per_hour: int = 300, seed: int = 2) -> Trace:
    """Long requests from 08:00 to 20:00 UTC, short ones at night."""
    rng = np.random.default_rng(seed)
    ts, seq = [], []
    for h in range(days * 24):
        median = 5000.0 if 8 <= h % 24 < 20 else 700.0
        t = DAY0 + h * 3600 + np.sort(rng.uniform(0, 3599, per_hour))
        ts.append(t)
        seq.append(np.maximum(4, rng.lognormal(math.log(median), 0.5, per_hour)).astype(np.int64))
    s = np.concatenate(seq)
    inp = np.maximum(1, (s * 0.8).astype(np.int64))
    return Trace(np.concatenate(ts), inp, s - inp)


def write_trace(trace: Trace, path: Path) -> Path:
    rows = ["timestamp_s,input_tokens,output_tokens"] + [
        f"{t:.3f},{i},{o}" for t, i, o in zip(trace.timestamps_s, trace.input_tokens, trace.output_tokens)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_suggest_from_a_trace_fits_the_first_part_and_scores_the_rest(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_trace(day_night_trace(8), tmp_path / "trace.csv")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    png = tmp_path / "strip.png"
    code = cli.main(["seasons", "suggest", "--trace", str(trace), "--spec", str(spec), "--holdout", "2d",
                     "--json", "--plot", str(png), "--build-minutes", "20"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert not doc["static"] and len(doc["seasons"]) >= 2, doc["reason"]
    fitted = datetime.fromisoformat(doc["history"]["fitted_until"].replace("Z", "+00:00")).timestamp()
    assert fitted == pytest.approx(DAY0 + 6 * 86400, abs=60)              # six days fitted, two held out
    held = doc["held_out"]
    assert held["method"] == "replay" and held["from"].startswith("2026-01-05")
    assert held["policy"]["requests"] == pytest.approx(2 * 24 * 300, rel=0.01)  # only the last two days
    assert held["best_hindsight_static"]["beyond_envelope_fraction"] <= 0.001
    assert held["policy"]["mean_slack"] < held["best_hindsight_static"]["mean_slack"], held
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for s in doc["seasons"]:
        assert s["timezone"] == "UTC" and s["duration"].endswith("h")


def test_suggest_prints_yaml_that_spec_seasons_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_trace(day_night_trace(4), tmp_path / "trace.csv")
    assert cli.main(["seasons", "suggest", "--trace", str(trace), "--holdout", "0"]) == 0
    out = capsys.readouterr().out
    seasons = yaml.safe_load(out)["seasons"]
    doc = json.loads(json.dumps(SPEC))
    doc["spec"]["seasons"] = seasons
    from seasonal_engines.api import validation

    assert len(validation.parse_manifest(doc).seasons) == len(seasons) >= 2
    assert "nothing scored" in out


def test_suggest_needs_exactly_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["seasons", "suggest"]) == 2
    assert "exactly one of --trace FILE or --prometheus URL" in capsys.readouterr().err


@pytest.mark.prometheus
def test_history_from_a_real_prometheus_equals_the_trace_hour_by_hour(prometheus_factory) -> None:
    """One range query of `increase(...[1h])` every hour gives the hours the requests fell in."""
    trace = day_night_trace(2, per_hour=120)
    text = openmetrics.to_text(trace, presets.SEASONAL, 60.0, labels={"model": "m"})
    server = prometheus_factory(text)
    reader = PrometheusTraffic(server.url)
    end = datetime.fromtimestamp(DAY0 + 40 * 3600, tz=UTC)
    got = reader.history(presets.SEASONAL, [promql.matcher("model", "=", "m")], end, 30)
    assert isinstance(got, hourly_history.HourlyHistory), got
    assert reader.queries_sent == 1
    want = hourly_history.from_requests(end, 30, trace.timestamps_s, trace.input_tokens, trace.output_tokens,
                                        np.ones(len(trace), dtype=bool), bounds=presets.SEASONAL.bounds)
    # increase() sees 59 one-minute steps of each hour and extrapolates them to 60, and a request at an
    # hour's edge may land in the neighbour: within 3% an hour, and the same in total
    np.testing.assert_allclose(got.requests, want.requests, rtol=0.03)
    assert got.requests.sum() == pytest.approx(want.requests.sum(), rel=0.02)
    day = [i for i in range(30) if 8 <= (10 + i) % 24 < 20]
    night = [i for i in range(30) if i not in day]
    q_day = got.pool(day).quantile("sequence", 0.999)
    q_night = got.pool(night).quantile("sequence", 0.999)
    assert q_day > 3 * q_night
    assert got.rejected is not None and got.rejected.sum() == 0


@pytest.mark.prometheus
def test_suggest_from_a_real_prometheus_fits_and_scores_the_held_out_hours(
        prometheus_factory, capsys: pytest.CaptureFixture[str]) -> None:
    trace = day_night_trace(9, per_hour=60)
    server = prometheus_factory(openmetrics.to_text(trace, presets.SEASONAL, 300.0, labels={"model": "m"}))
    at = datetime.fromtimestamp(DAY0 + 9 * 86400, tz=UTC).isoformat()
    code = cli.main(["seasons", "suggest", "--prometheus", server.url, "--selector", 'model="m"', "--at", at,
                     "--history", "9d", "--holdout", "2d", "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert not doc["static"] and len(doc["seasons"]) >= 2, doc["reason"]
    scores = {s["engine"].split(" ")[0]: s for s in doc["held_out"]["scores"]}
    assert {"proposal", "best", "static", "hourly"} <= set(scores)
    assert scores["best"]["beyond_envelope_fraction"] <= 0.001
    assert scores["proposal"]["mean_slack"] < scores["static"]["mean_slack"]
