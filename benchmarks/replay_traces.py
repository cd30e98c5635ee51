"""Replay the shared traces through the operator's decision core and compare with static and oracle engines.

Prints, per trace, the policy's figures against ``static_model_max``, ``static_global`` and ``oracle``
(see ``seasonal_engines.replay.scoring`` for the definitions) and checks the issue's targets: at most
0.1% of requests beyond the envelope, mean slack at most 1.25, at most 4 rebuilds a day, and better
coverage than ``static_global`` at equal or lower slack, and mean slack against the best static engine in
hindsight (``best_hindsight_static``). With ``--out DIR`` it also writes the JSON
report and the plot of each trace there (docs/benchmarks.md uses ``--out docs/benchmarks``).

    python benchmarks/replay_traces.py                      # the three shared traces, under a minute on 2 cores
    python benchmarks/replay_traces.py --out docs/benchmarks --traces m-large
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
TRACES = REPO / "examples" / "traces"
# name -> (trace file, replay spec)
CASES = {
    "m-large": ("servegen_m-large_14d.csv.xz", "examples/replay/servegen-m-large.yaml"),
    "m-mid": ("servegen_m-mid_14d.csv.xz", "examples/replay/servegen-m-mid.yaml"),
    "azure-conv": ("azure2023_conv.csv.xz", "examples/replay/azure-conv.yaml"),
}
TARGETS = {"beyond_envelope_fraction": 0.001, "mean_slack": 1.25, "rebuilds_per_day": 4.0}


def replay_case(name: str, out: str | None, build_minutes: str, rollout_minutes: float,
                overrides: list[str]) -> dict[str, Any]:
    from seasonal_engines.cli import replay as cli
    from seasonal_engines.replay import comparing, reports, simulating
    from seasonal_engines.replay.world import Durations
    from seasonal_engines.traces import read_trace

    trace_file, spec_file = CASES[name]
    spec = cli.load_spec(REPO / spec_file, overrides)
    trace, _ = cli.placed(read_trace(TRACES / trace_file), cli.parse_origin(cli.DEFAULT_ORIGIN))
    lo, hi = cli.build_minutes(build_minutes)
    started = time.perf_counter()
    c = comparing.compare(trace, spec, simulating.Settings(Durations(lo * 60, hi * 60, rollout_minutes * 60)))
    took = time.perf_counter() - started
    doc = reports.report(c.run, c.policy, c.baseline_scores, trace_name=trace_file, spec_name=spec_file,
                         frontier=c.frontier, max_beyond=spec.sizing.max_beyond_fraction,
                         settings={"build_minutes": [lo, hi], "rollout_minutes": rollout_minutes,
                                   "overrides": overrides})
    doc["replay_seconds"] = round(took, 1)
    if out:
        from seasonal_engines.replay import plotting

        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"replay-{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        plotting.plot(c, folder / f"replay-{name}.png", title=f"{trace_file} replayed with {spec_file}")
    return doc


def verdicts(doc: dict[str, Any]) -> list[str]:
    out = []
    for key, limit in TARGETS.items():
        v = doc[key]
        out.append(f"{key} {v:.4g} {'<=' if v is not None and v <= limit else '>'} {limit:g}: "
                   f"{'met' if v is not None and v <= limit else 'MISSED'}")
    g = doc["baselines"]["static_global"]
    better = doc["beyond_envelope_fraction"] < g["beyond_envelope_fraction"] and doc["mean_slack"] <= g["mean_slack"]
    best = doc.get("best_hindsight_static")
    if best:
        ok = doc["mean_slack"] <= best["mean_slack"]
        out.append(f"mean slack vs the best static engine in hindsight ({best['max_seq_len']}, beyond "
                   f"{best['beyond_envelope_fraction']:.3%}): {doc['mean_slack']:.2f} vs {best['mean_slack']:.2f}: "
                   f"{'met' if ok else 'MISSED'}")
    out.append(f"coverage vs static_global: beyond {doc['beyond_envelope_fraction']:.3%} vs "
               f"{g['beyond_envelope_fraction']:.3%} at slack {doc['mean_slack']:.2f} vs {g['mean_slack']:.2f}: "
               f"{'met' if better else 'MISSED'}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--traces", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    p.add_argument("--out", help="write replay-<trace>.json and .png here")
    p.add_argument("--jobs", type=int, default=2, help="traces replayed in parallel")
    p.add_argument("--build-minutes", default="20-40")
    p.add_argument("--rollout-minutes", type=float, default=5.0)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a field of every replayed spec (as `seasonal replay --set`), "
                        "e.g. sizing.headroom=0.5")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.traces.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        p.error(f"unknown traces {unknown}; choose from {', '.join(CASES)}")
    from seasonal_engines.replay import reports

    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {n: pool.submit(replay_case, n, args.out, args.build_minutes, args.rollout_minutes,
                                 args.overrides) for n in names}
        docs = {n: f.result() for n, f in futures.items()}
    for n in names:
        doc = docs[n]
        sets = f", {' '.join(args.overrides)}" if args.overrides else ""
        print(f"\n=== {n}: {CASES[n][0]} with {CASES[n][1]}{sets} (replayed in {doc['replay_seconds']} s) ===")
        print(reports.table(doc))
        for line in verdicts(doc):
            print("  target: " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
