"""The calibration of the serving model: NVIDIA's rows as committed, trtllm-bench's settings as its source
states them, and a fit that finds the constants behind a table."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from seasonal_engines.core.serving import calibration as cal
from seasonal_engines.core.serving import costs
from seasonal_engines.core.sizing import gpus, models

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "benchmarks" / "data" / "trtllm_perf_overview.csv"


def rows() -> list[cal.Row]:
    return cal.parse_rows(DATA.read_text(encoding="utf-8"))


def test_the_committed_rows_cover_both_models_on_two_gpus_with_a_held_out_half() -> None:
    rs = rows()
    assert {(r.model, r.gpu) for r in rs} == {("llama-3.1-8b", "h100-sxm-80gb"), ("llama-3.1-8b", "h200-141gb"),
                                             ("llama-3.1-70b", "h100-sxm-80gb"), ("llama-3.1-70b", "h200-141gb")}
    for key in {(r.model, r.gpu) for r in rs}:
        splits = {r.split for r in rs if (r.model, r.gpu) == key}
        assert splits == {"fit", "held-out"}, key
    assert all("perf-overview" in r.source for r in rs), "every figure names the page it comes from"


def test_per_gpu_figures_are_the_published_totals_divided_by_the_gpus() -> None:
    lines = [line for line in DATA.read_text().splitlines() if not line.startswith("#")]
    for rec in csv.DictReader(lines):
        gpus_ = int(rec["tp"]) * int(rec["pp"])
        assert float(rec["published_per_gpu"]) * gpus_ == pytest.approx(float(rec["published_total"]))


def test_a_bad_row_is_refused_with_its_line() -> None:
    header = "model,gpu,tp,pp,isl,osl,weights,kv_cache,published_per_gpu,published_total,requests,split,source"
    with pytest.raises(ValueError, match="row 2"):
        cal.parse_rows(header + "\nllama-3.1-8b,h100,1,1,128,128,fp8,fp8,100,100,10,training,x\n")


@pytest.mark.parametrize("isl, osl, expected", [
    # tensorrt_llm/bench/build/tuning.py by hand for Llama-3.1-8B FP8 (KV FP8) on one H100 (79.65 GiB):
    # 64 KiB/token, 7.48 GiB of weights, 0.9 of the rest: 532 requests of 2000 tokens -> bs 640 (x128),
    # tokens 1064 -> 2048 (the floor), and 1000 + 640 < 2048 keeps it.
    (1000, 1000, (640, 2048)),
    # 48.4 requests of 22000 tokens -> bs 64 (the floor); without chunked prefill 20000 + 64 tokens.
    (20000, 2000, (64, 20064)),
])
def test_bench_limits_follow_trtllm_bench(isl: int, osl: int, expected: tuple[int, int]) -> None:
    got = cal.bench_limits(models.preset("llama-3.1-8b"), gpus.preset("h100"), weights="fp8", kv_cache="fp8", tp=1,
                           pp=1, isl=isl, osl=osl)
    assert got == expected


def test_the_committed_constants_predict_two_published_rows_within_fifteen_percent() -> None:
    picked = [r for r in rows() if (r.model, r.gpu, r.tp, r.isl, r.osl) in {
        ("llama-3.1-8b", "h100-sxm-80gb", 1, 1000, 1000), ("llama-3.1-70b", "h100-sxm-80gb", 2, 2048, 2048)}]
    assert len(picked) == 2
    for r in picked:
        s = cal.schedule(r)
        assert s.throughput(cal.FITTED) == pytest.approx(r.published, rel=0.15), r.label


def test_the_fit_finds_the_constants_behind_a_table() -> None:
    truth = costs.Efficiency(gemm=0.6, bandwidth=0.7, attention=0.5, step_s=0.002, allreduce_s=2e-5)
    base = [r for r in rows() if r.isl in (128, 2048, 20000) and r.osl in (128, 2048) and r.tp == 1][:6]
    small = [dataclasses.replace(r, requests=min(r.requests, 300)) for r in base]
    schedules = [cal.schedule(r) for r in small]
    synthetic = [dataclasses.replace(s, row=dataclasses.replace(s.row, published=s.throughput(truth)))
                 for s in schedules]
    found = cal.fit(synthetic, iterations=2000)
    assert np.max(np.abs(cal.errors(synthetic, found))) < 0.01


def test_nelder_mead_finds_the_minimum_of_a_bowl() -> None:
    best = cal.nelder_mead(lambda x: float(((x - np.array([0.3, 0.7])) ** 2).sum()), np.array([0.5, 0.5]))
    assert best == pytest.approx([0.3, 0.7], abs=1e-4)


def test_efficiency_outside_its_bounds_is_refused() -> None:
    with pytest.raises(ValueError, match="gemm"):
        costs.Efficiency(gemm=1.5, bandwidth=0.5, attention=0.5, step_s=0.0, allreduce_s=0.0)
    with pytest.raises(ValueError, match="step_s"):
        costs.Efficiency(gemm=0.5, bandwidth=0.5, attention=0.5, step_s=1.0, allreduce_s=0.0)
