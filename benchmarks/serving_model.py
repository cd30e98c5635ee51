"""The serving model against NVIDIA's published TensorRT-LLM throughput, and how fast it simulates.

1. Calibration: every row of ``benchmarks/data/trtllm_perf_overview.csv`` (NVIDIA's performance overview,
   trtllm-bench at maximum load) is simulated as the burst trtllm-bench ran; the constants are refitted
   on the rows marked ``fit`` and compared with the committed ones (``core.serving.calibration.FITTED``);
   then the table: published figure, modelled figure and error per row under the committed constants,
   and the median and worst absolute error of the ``held-out`` rows (targets: median <= 15%, worst <= 35%).
2. Speed: the busiest hour of the shared m-large trace simulated on the engine the replay spec plans for
   the whole trace and on the model-max engine, as recorded (one replica) and at production rate (x1000,
   one replica's round-robin share at the replicas the SLO needs). Target: under 5 s for the hour.

    python benchmarks/serving_model.py            # about 30 s on 2 cores
    python benchmarks/serving_model.py --no-speed
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / "data" / "trtllm_perf_overview.csv"
TRACE = REPO / "examples" / "traces" / "servegen_m-large_14d.csv.xz"
SPEC = REPO / "examples" / "replay" / "servegen-m-large.yaml"
TARGET_MEDIAN, TARGET_WORST, TARGET_SECONDS = 0.15, 0.35, 5.0


def calibration() -> int:
    from seasonal_engines.core.serving import calibration as cal

    rows = cal.parse_rows(DATA.read_text(encoding="utf-8"))
    started = time.perf_counter()
    schedules = [cal.schedule(r) for r in rows]
    simulated = time.perf_counter() - started
    fit_rows = [s for s in schedules if s.row.split == "fit"]
    held = [s for s in schedules if s.row.split == "held-out"]
    started = time.perf_counter()
    refit = cal.fit(fit_rows, iterations=1500)
    fitted_s = time.perf_counter() - started
    names = ("gemm", "bandwidth", "attention", "step_s", "allreduce_s")
    print(f"Calibration: {len(rows)} published rows ({len(fit_rows)} fit, {len(held)} held out), simulated in "
          f"{simulated:.1f} s; refit in {fitted_s:.1f} s")
    print("  constant      committed     refit")
    for n, a, b in zip(names, cal.FITTED.as_tuple(), refit.as_tuple()):
        print(f"  {n:12s} {a:10.4g} {b:10.4g}")
    print()
    errs = cal.errors(schedules, cal.FITTED)
    print(f"{'row':44s} {'split':9s} {'published':>10s} {'modelled':>10s} {'error':>8s}   (output tokens/s per GPU)")
    for s, e in zip(schedules, errs):
        print(f"{s.row.label:44s} {s.row.split:9s} {s.row.published:10,.0f} {s.throughput(cal.FITTED):10,.0f} "
              f"{e:+8.1%}")
    print()
    status = 0
    for split in ("fit", "held-out"):
        e = np.abs(np.asarray([err for s, err in zip(schedules, errs) if s.row.split == split]))
        print(f"{split:9s} rows: median |error| {np.median(e):.1%}, worst {np.max(e):.1%}")
        if split == "held-out":
            ok = np.median(e) <= TARGET_MEDIAN and np.max(e) <= TARGET_WORST
            print(f"  target: held-out median <= {TARGET_MEDIAN:.0%} and worst <= {TARGET_WORST:.0%}: "
                  f"{'met' if ok else 'MISSED'}")
            status |= 0 if ok else 1
    by = {}
    for s, err in zip(schedules, errs):
        if s.row.split == "held-out":
            by.setdefault(f"{s.row.model} {s.row.gpu} TP{s.row.tp}", []).append(abs(err))
    for k, v in by.items():
        print(f"  held-out {k:34s} median {np.median(v):.1%}, worst {np.max(v):.1%}")
    return status


def speed() -> int:
    from seasonal_engines.cli import replay as cli
    from seasonal_engines.core import planners, presets
    from seasonal_engines.core.serving import calibration as cal
    from seasonal_engines.core.serving import engines, predictions, requests, simulating
    from seasonal_engines.core.sizing.plans import Plan
    from seasonal_engines.replay import baselines, exports
    from seasonal_engines.traces import read_trace

    trace = read_trace(TRACE)
    spec = cli.load_spec(SPEC, [])
    hour = np.floor(trace.timestamps_s / 3600).astype(np.int64)
    busiest = int(np.bincount(hour).argmax())
    sel = hour == busiest
    profile = exports.uncensored_profile(trace, presets.from_spec(spec.traffic), peak_percentile=0.99)
    planned = Plan.from_json(planners.for_spec(baselines.any_samples(spec))(profile, None).plan)  # type: ignore[union-attr]
    model_max = Plan.from_json(planners.bootstrap_for_spec(spec)().plan)  # type: ignore[union-attr]
    stream = requests.from_arrays(trace.timestamps_s[sel], trace.input_tokens[sel], trace.output_tokens[sel])
    slo = predictions.Slo(spec.rollout.slo.ttft_p99_seconds, spec.rollout.slo.itl_p99_seconds)
    print(f"\nSpeed: hour {busiest} of {TRACE.name} ({int(sel.sum())} requests, the busiest), one replica")
    status = 0
    for name, plan in (("planned", planned), ("model-max", model_max)):
        replica = engines.from_plan(plan)
        started = time.perf_counter()
        out = simulating.simulate(stream, replica, cal.FITTED)
        took = time.perf_counter() - started
        s = predictions.summarise(out)
        print(f"  {name:9s} max_seq_len {replica.limits.max_seq_len:6d}: as recorded  {took:6.2f} s "
              f"({out.iterations:,} iterations; TTFT p99 {s.ttft_p99_s:.2f} s, ITL p99 {s.itl_p99_s * 1e3:.1f} ms)")
        status |= 0 if took < TARGET_SECONDS else 1
        # x1000: the hour at production rate; one replica serves its share at the replicas the SLO needs,
        # for the whole hour (the hour's requests drawn again with fresh Poisson arrivals).
        rate = len(stream) * 1000 / 3600
        found = predictions.replicas_for_slo(stream, rate, replica, slo, start=8)
        r = found.replicas or 1
        n = math.ceil(len(stream) * 1000 / r)
        share = requests.resampled(stream.input_tokens, stream.output_tokens, rate_rps=rate / r, n=n, seed=1)
        started = time.perf_counter()
        out = simulating.simulate(share, replica, cal.FITTED)
        took = time.perf_counter() - started
        print(f"  {'':9s} {'':18s}  x1000, 1 of {r} replicas: {took:6.2f} s ({n:,} requests, "
              f"{out.iterations:,} iterations)")
    print(f"  target: an hour of the shared trace in under {TARGET_SECONDS:g} s: {'met' if not status else 'MISSED'}")
    return status


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-speed", action="store_true", help="only the calibration table")
    args = p.parse_args(argv)
    status = calibration()
    if not args.no_speed:
        status |= speed()
    return status


if __name__ == "__main__":
    sys.exit(main())
