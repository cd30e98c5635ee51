"""Drift detection on a real trace: how fast the policy acts on a known shift, and how often it acts on none.

Scenarios (each a replay through the operator's decision core, ``seasonal_engines.replay``):

* ``stationary``: 14 days with m-large's arrival times and lengths drawn independently of time
  (``replay.shifts.stationary``): every drift rollout after the first day is a false trigger (the first
  day is the cold start from the model-max engine and a few hundred requests).
* ``step``: prompts twice as long (ISL p99 x2) from day 7, 14:00 on, injected into the real m-large trace;
  9 days replayed. Detection delay = shift to the first drift build or rollout, in minutes and in
  evaluations; also when the new engine took the traffic.
* ``ramp``: the same x2, reached linearly over 6 hours.
* ``step-stationary``: the step injected into the stationary trace (nothing else moves).

The two stationary scenarios run at each ``--rate-scales`` (arrivals per hour x scale; the shared trace is
ServeGen's production traffic scaled down 1000 times), which shows how detection and false triggers
depend on traffic volume.

    python benchmarks/drift_detection.py                       # about 1 min on 2 cores
    python benchmarks/drift_detection.py --rate-scales 1,10,30 --spec examples/replay/servegen-m-large.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TRACE = REPO / "examples" / "traces" / "servegen_m-large_14d.csv.xz"
DEFAULT_SPEC = "examples/replay/servegen-m-large.yaml"
DAY = 86400.0
SHIFT_AT = 7 * DAY + 14 * 3600.0   # seconds from the trace's day 0, 00:00
REPLAY_DAYS = 9.0
FACTOR = 2.0
RAMP_S = 6 * 3600.0


def scenario(kind: str, spec_file: str, rate_scale: float, seed: int, overrides: list[str]) -> dict[str, Any]:
    from seasonal_engines.cli import replay as cli
    from seasonal_engines.replay import reports, shifts, simulating
    from seasonal_engines.traces import read_trace

    spec = cli.load_spec(REPO / spec_file, overrides)
    origin = cli.parse_origin(cli.DEFAULT_ORIGIN)
    real, _ = cli.placed(read_trace(TRACE), origin)
    day0 = origin
    shift = day0 + SHIFT_AT
    if kind == "stationary":
        trace = shifts.stationary(real, seed=seed, rate_scale=rate_scale)
        shift_list: list[float] = []
    else:
        base = real if kind in ("step", "ramp") else shifts.stationary(real, seed=seed, rate_scale=rate_scale)
        base = base.window(base.first_s, day0 + REPLAY_DAYS * DAY)
        trace = shifts.ramp(base, shift, shift + RAMP_S, FACTOR) if kind == "ramp" else \
            shifts.step(base, shift, FACTOR)
        shift_list = [shift]
    started = time.perf_counter()
    run = simulating.replay(trace, spec)
    took = time.perf_counter() - started
    det = [d.to_json(run.interval_s) for d in reports.detections(run, shift_list)]
    return {
        "scenario": kind, "rate_scale": rate_scale, "seed": seed if "stationary" in kind else None,
        "requests": len(trace),
        "requests_per_hour": round(len(trace) / max(trace.duration_s / 3600.0, 1e-9), 1),
        "days": round(trace.duration_s / DAY, 2), "evaluations": len(run.evaluations),
        "drift_rollovers": reports.drift_rollovers(run),
        "drift_rollovers_after_day_1": reports.drift_rollovers(run, after_s=run.start_s + DAY),
        "shift_reports": reports.shift_reports(run),
        "shift_reports_after_day_1": reports.shift_reports(run, after_s=run.start_s + DAY),
        "drift_rollovers_before_shift": None if not shift_list else
        sum(1 for r in run.rollouts_in_trace() if r.reason in reports.DRIFT_REASONS and r.started_s < shift),
        "detections": det, "replay_seconds": round(took, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spec", default=DEFAULT_SPEC, help="InferenceService manifest replayed")
    p.add_argument("--rate-scales", default="1", help="comma-separated arrival-rate scales for the stationary "
                   "scenarios")
    p.add_argument("--scenarios", default="stationary,step,ramp,step-stationary")
    p.add_argument("--seeds", default="0", help="comma-separated seeds of the stationary resampling (each seed "
                   "is one more replay of the stationary scenarios)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a spec field (as `seasonal replay --set`), e.g. traffic.window=30m")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    kinds = [k.strip() for k in args.scenarios.split(",") if k.strip()]
    scales = [float(s) for s in args.rate_scales.split(",") if s.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    jobs: list[tuple[str, float, int]] = []
    for k in kinds:
        if k not in ("stationary", "step", "ramp", "step-stationary"):
            p.error(f"unknown scenario {k!r}")
        jobs += [(k, s, seed) for s in scales for seed in seeds] if k in ("stationary", "step-stationary") \
            else [(k, 1.0, 0)]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(scenario, *zip(*[(k, args.spec, s, seed, args.overrides) for k, s, seed in jobs])))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"spec {args.spec} {' '.join(args.overrides)}; shift: prompts x{FACTOR:g} at day {int(SHIFT_AT // DAY)} "
          f"{(SHIFT_AT % DAY) / 3600:.0f}:00 (ramp over {RAMP_S / 3600:.0f} h)")
    header = (f"{'scenario':16} {'seed':>4} {'rate':>5} {'req/h':>8} {'days':>5} {'drift rollovers':>15} "
              f"{'after day 1':>11} {'shift reports':>13} {'after day 1':>11} {'reported min':>12} "
              f"{'report evals':>12} {'delay min':>9} {'delay evals':>11} {'serving after min':>17}")
    print(header)
    print("-" * len(header))
    for r in results:
        d = r["detections"][0] if r["detections"] else None
        serving = None
        if d and d["serving_at"] and d["shift_at"]:
            from datetime import datetime

            serving = (datetime.fromisoformat(d["serving_at"].replace("Z", "+00:00"))
                       - datetime.fromisoformat(d["shift_at"].replace("Z", "+00:00"))).total_seconds() / 60
        delay = "-" if d is None else ("never" if d["delay_minutes"] is None else f"{d['delay_minutes']:.0f}")
        evals = "-" if d is None or d["delay_evaluations"] is None else str(d["delay_evaluations"])
        seed = "-" if r["seed"] is None else str(r["seed"])
        rep_min = "-" if d is None else ("never" if d["shift_report_minutes"] is None else
                                         f"{d['shift_report_minutes']:.0f}")
        rep_evals = "-" if d is None or d["shift_report_evaluations"] is None else str(d["shift_report_evaluations"])
        print(f"{r['scenario']:16} {seed:>4} {r['rate_scale']:>5g} {r['requests_per_hour']:>8,.0f} {r['days']:>5} "
              f"{r['drift_rollovers']:>15} {r['drift_rollovers_after_day_1']:>11} {r['shift_reports']:>13} "
              f"{r['shift_reports_after_day_1']:>11} {rep_min:>12} {rep_evals:>12} {delay:>9} {evals:>11} "
              f"{'-' if serving is None else f'{serving:.0f}':>17}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
