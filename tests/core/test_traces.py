"""Trace readers (four public formats, detected from the header) and conversion to OpenMetrics series."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import re
from pathlib import Path

import numpy as np
import pytest

from seasonal_engines.core import presets
from seasonal_engines.traces import TraceFormat, openmetrics, read_trace
from seasonal_engines.traces.readers import Trace

TRACES = Path(__file__).resolve().parents[2] / "examples" / "traces"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("name, text, fmt, ts, inp, out", [
    ("generic.csv", "timestamp_s,input_tokens,output_tokens\n2.5,10,20\n1.0,30,40\n",
     TraceFormat.generic, [1.0, 2.5], [30, 10], [40, 20]),
    ("azure.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n"
     "2023-11-16 18:15:50.9951690,396,109\n", TraceFormat.azure, [1700158546.68059, 1700158550.995169],
     [374, 396], [44, 109]),
    ("burst.csv", "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
     "5,ChatGPT,472,18,490,Conversation log\n9,GPT-4,1087,0,1087,API log\n", TraceFormat.burstgpt,
     [5.0, 9.0], [472, 1087], [18, 0]),
    ("mooncake.jsonl", "\n".join(json.dumps(r) for r in [
        {"timestamp": 0, "input_length": 6955, "output_length": 52, "hash_ids": [1, 2]},
        {"timestamp": 1500, "input_length": 6472, "output_length": 26, "hash_ids": [3]}]) + "\n",
     TraceFormat.mooncake, [0.0, 1.5], [6955, 6472], [52, 26]),
], ids=["generic", "azure", "burstgpt", "mooncake"])
def test_formats_are_detected_and_read(tmp_path: Path, name: str, text: str, fmt: TraceFormat,
                                       ts: list[float], inp: list[int], out: list[int]) -> None:
    t = read_trace(write(tmp_path, name, text))
    assert t.format is fmt
    np.testing.assert_allclose(t.timestamps_s, ts, rtol=0, atol=1e-6)
    assert t.input_tokens.tolist() == inp and t.output_tokens.tolist() == out
    assert t.input_tokens.dtype == np.int64 and t.timestamps_s.dtype == np.float64


@pytest.mark.parametrize("suffix, opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_compressed_files_read_like_plain_ones(tmp_path: Path, suffix: str, opener) -> None:  # type: ignore[no-untyped-def]
    text = "timestamp_s,input_tokens,output_tokens\n2.5,10,20\n1.0,30,40\n"
    with opener(tmp_path / f"t.csv{suffix}", "wt", encoding="utf-8") as f:
        f.write(text)
    plain = read_trace(write(tmp_path, "t.csv", text))
    packed = read_trace(tmp_path / f"t.csv{suffix}")
    assert packed.format is TraceFormat.generic
    assert packed.timestamps_s.tolist() == plain.timestamps_s.tolist() == [1.0, 2.5]
    assert packed.input_tokens.tolist() == [30, 10] and packed.output_tokens.tolist() == [40, 20]


def test_unknown_header_names_the_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown trace header.*timestamp_s,input_tokens,output_tokens"):
        read_trace(write(tmp_path, "x.csv", "time,a,b\n1,2,3\n"))


def test_bad_number_names_the_column(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="input tokens column holds 'many'"):
        read_trace(write(tmp_path, "x.csv", "timestamp_s,input_tokens,output_tokens\n1,many,3\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_trace(tmp_path / "absent.csv")


def test_shared_traces_read_whole_and_sorted() -> None:
    mid = read_trace(TRACES / "servegen_m-mid_14d.csv.xz")
    azure = read_trace(TRACES / "azure2023_conv.csv.xz")
    assert len(mid) == 306_361 and len(azure) == 19_366
    assert np.all(np.diff(mid.timestamps_s) >= 0)
    assert azure.duration_s == pytest.approx(58 * 60, abs=120)


def test_window_and_hours_of_day() -> None:
    t = Trace(np.array([0.0, 3600.0, 7200.0, 86400.0 + 3600.0]), np.array([1, 2, 3, 4]), np.array([5, 6, 7, 8]))
    w = t.window(3600.0, 86400.0)
    assert w.input_tokens.tolist() == [2, 3] and (w.first_s, w.last_s) == (3600.0, 86400.0)
    assert t.hours_of_day(1, 2).input_tokens.tolist() == [2, 4]
    assert t.hours_of_day(23, 1.5).input_tokens.tolist() == [1, 2, 4]  # wraps past midnight
    assert t.shifted(100.0).timestamps_s[0] == 100.0


def parse(text: str) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """series text (name + labels) -> [(timestamp, value)]"""
    out: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([^{ ]+)(\{.*\})? (\S+) (\S+)$", line)
        assert m, line
        out.setdefault((m.group(1), m.group(2) or ""), []).append((float(m.group(4)), float(m.group(3))))
    return out


def test_openmetrics_series_are_cumulative_per_scrape() -> None:
    t = Trace(np.array([0.5, 1.0, 2.5]), np.array([10, 20, 40]), np.array([1, 2, 3]))
    preset = presets.MetricPreset("p", "in", "out", bounds=(15.0, 30.0, float("inf")))
    text = openmetrics.to_text(t, preset, 1.0, labels={"model": 'a"b'}, start_s=0.0, end_s=3.0)
    assert text.endswith("# EOF\n")
    s = parse(text)
    assert s[("in_bucket", '{model="a\\"b",le="15.0"}')] == [(0, 0), (1, 1), (2, 1), (3, 1)]
    assert s[("in_bucket", '{model="a\\"b",le="30.0"}')] == [(0, 0), (1, 2), (2, 2), (3, 2)]
    assert s[("in_bucket", '{model="a\\"b",le="+Inf"}')] == [(0, 0), (1, 2), (2, 2), (3, 3)]
    assert s[("in_sum", '{model="a\\"b"}')][-1] == (3, 70)
    assert s[("out_count", '{model="a\\"b"}')][-1] == (3, 3)


def test_openmetrics_censors_with_an_engine_and_counts_it() -> None:
    t = Trace(np.array([1.0, 1.0, 1.0, 1.0]), np.array([100, 5000, 3000, 10]), np.array([10, 10, 2000, 20]))
    text = openmetrics.to_text(t, presets.SEASONAL, 1.0, labels={"model": "m"}, start_s=0.0, end_s=1.0,
                               engine=openmetrics.Engine(max_input_len=4096, max_seq_len=4096))
    s = parse(text)
    assert s[("seasonal_requests_rejected_length_total", '{model="m"}')] == [(0, 0), (1, 1)]
    assert s[("seasonal_requests_limit_stopped_total", '{model="m"}')] == [(0, 0), (1, 1)]
    assert s[("seasonal_request_input_tokens_count", '{model="m"}')][-1] == (1, 4)  # rejected ones included
    assert s[("seasonal_request_output_tokens_count", '{model="m"}')][-1] == (1, 3)
    assert s[("seasonal_request_output_tokens_sum", '{model="m"}')][-1] == (1, 10 + 1096 + 20)  # clamped
    assert s[("seasonal_request_sequence_tokens_sum", '{model="m"}')][-1] == (1, 110 + 4096 + 30)
    assert s[("seasonal_request_max_tokens_sum", '{model="m"}')][-1] == (1, 2040)


def test_openmetrics_reset_restarts_counts_from_zero() -> None:
    t = Trace(np.array([0.5, 1.5, 2.5, 3.5]), np.array([10, 10, 10, 10]), np.array([1, 1, 1, 1]))
    preset = presets.MetricPreset("p", "in", "out", bounds=(float("inf"),))
    s = parse(openmetrics.to_text(t, preset, 1.0, start_s=0.0, end_s=4.0, resets=[2.2]))
    assert [v for _, v in s[("in_count", "")]] == [0, 1, 2, 1, 2]


def run_trace_cli(argv: list[str]) -> int:
    import argparse

    from seasonal_engines.cli import trace as trace_cli

    parser = argparse.ArgumentParser()
    trace_cli.add_parser(parser.add_subparsers(dest="command"), "trace")
    args = parser.parse_args(["trace", *argv])
    return int(args.run(args))


def test_trace_cli_writes_openmetrics_and_prints_a_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path, "t.csv", "timestamp_s,input_tokens,output_tokens\n"
                + "".join(f"{k * 30},{100 + k},{10 + k}\n" for k in range(100)))
    out = tmp_path / "t.om"
    assert run_trace_cli(["openmetrics", str(src), "-o", str(out), "--preset", "triton-trtllm", "--label",
                          "model=m", "--interval", "5m", "--origin", "2026-01-05T00:00:00Z"]) == 0
    s = parse(out.read_text())
    assert s[("nv_llm_input_token_len_count", '{model="m"}')][-1][1] == 100
    assert s[("nv_llm_input_token_len_count", '{model="m"}')][0][0] == 1767571200.0
    assert run_trace_cli(["profile", str(src), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["samples"] == 100 and doc["sequence_source"] == "joint" and doc["censored_fraction"] is None
    assert doc["rate_rps"] == pytest.approx(100 / (99 * 30))
    with pytest.raises(ValueError, match="NAME=VALUE"):
        run_trace_cli(["openmetrics", str(src), "-o", str(out), "--label", "oops"])
