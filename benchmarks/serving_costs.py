"""GPU-hours per day to serve each shared trace at its SLO: the policy against the best static engine in
hindsight, the model-max engine and the hourly oracle (``seasonal_engines.replay.costs``; MODELLED).

Each trace is replayed through the decision core as in ``benchmarks/replay_traces.py``; then, for every
clock hour and every engine that served in it, the serving model finds the request rate one replica
sustains at the replay spec's ``rollout.slo`` and the hour's replicas follow from the hour's request rate
at production scale (the ServeGen files are published scaled down 1,000x and 5,000x; the Azure trace is
unscaled). With ``--out DIR`` it writes ``serving-costs.json`` and ``serving-costs.png`` there.

    python benchmarks/serving_costs.py                           # about 6 min on 2 cores
    python benchmarks/serving_costs.py --out docs/benchmarks --traces m-large
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
# name -> (trace file, replay spec, the factor that restores the production request rate)
CASES = {
    "m-large": ("servegen_m-large_14d.csv.xz", "examples/replay/servegen-m-large.yaml", 1000.0),
    "m-mid": ("servegen_m-mid_14d.csv.xz", "examples/replay/servegen-m-mid.yaml", 5000.0),
    "azure-conv": ("azure2023_conv.csv.xz", "examples/replay/azure-conv.yaml", 1.0),
}
LABELS = {"policy": "policy", "best_static": "best static (hindsight)", "static_model_max": "model-max",
          "oracle": "oracle (hourly)", "static_model_max_max_utilization": "model-max, max_utilization"}


def cost_case(name: str, sample: int) -> dict[str, Any]:
    from seasonal_engines.cli import replay as cli
    from seasonal_engines.core.serving import predictions
    from seasonal_engines.replay import comparing, costs, simulating
    from seasonal_engines.replay.world import Durations
    from seasonal_engines.traces import read_trace

    trace_file, spec_file, scale = CASES[name]
    spec = cli.load_spec(REPO / spec_file, [])
    if spec.rollout.slo is None:
        raise ValueError(f"{spec_file} has no rollout.slo: GPU-hours are scored at the spec's SLO")
    trace, _ = cli.placed(read_trace(TRACES / trace_file), cli.parse_origin(cli.DEFAULT_ORIGIN))
    started = time.perf_counter()
    c = comparing.compare(trace, spec, simulating.Settings(Durations(20 * 60, 40 * 60, 5 * 60)))
    replayed = time.perf_counter() - started
    slo = predictions.Slo(spec.rollout.slo.ttft_p99_seconds, spec.rollout.slo.itl_p99_seconds)
    started = time.perf_counter()
    result = costs.score(c, spec, costs.CostSettings(slo, rate_scale=scale, sample=sample))
    scored = time.perf_counter() - started
    doc = result.to_json()
    doc.update(trace=trace_file, spec=spec_file, replay_seconds=round(replayed, 1), cost_seconds=round(scored, 1),
               beyond_envelope_fraction={"policy": c.policy.beyond_envelope_fraction,
                                         **{k: v.beyond_envelope_fraction for k, v in c.baseline_scores.items()}},
               hours_s=(result.hour_starts_s - result.hour_starts_s[0]).tolist(),
               hourly_gpus={k: v.hourly_gpus.tolist() for k, v in result.engines.items()})
    return doc


def table(docs: dict[str, dict[str, Any]]) -> str:
    lines = ["| trace (rate scale, SLO) | engine | GPU-hours/day | peak replicas | vs policy |",
             "|---|---|---:|---:|---:|"]
    for name, d in docs.items():
        slo = d["slo"]
        head = (f"{name} (x{d['rate_scale']:g}, TTFT p99 <= {slo['ttft_p99_seconds']:g} s, ITL p99 <= "
                f"{slo['itl_p99_seconds'] * 1e3:g} ms)")
        for i, (engine, e) in enumerate(d["engines"].items()):
            ratio = "1" if engine == "policy" else f"{d['ratios_to_policy'][engine]:.2f}x"
            label = LABELS[engine] + (f" ({d['best_static_max_seq_len']})" if engine == "best_static" else "")
            gh = e["gpu_hours_per_day"]
            lines.append(f"| {head if i == 0 else ''} | {label} | {gh:,.0f} | {e['peak_replicas']} | {ratio} |"
                         if gh is not None else f"| {head if i == 0 else ''} | {label} | n/a | | |")
    return "\n".join(lines)


def plot(docs: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(docs), 1, figsize=(12, 3.6 * len(docs)), squeeze=False)
    colours = {"policy": "tab:blue", "best_static": "tab:green", "static_model_max": "tab:red",
               "oracle": "black", "static_model_max_max_utilization": "tab:orange"}
    for ax, (name, d) in zip(axes[:, 0], docs.items()):
        hours = [h / 3600 for h in d["hours_s"]]
        for engine, gpus in d["hourly_gpus"].items():
            gh = d["engines"][engine]["gpu_hours_per_day"]
            ax.step(hours, gpus, where="post", color=colours[engine], linewidth=1.6 if engine == "policy" else 1.0,
                    linestyle=":" if engine == "static_model_max_max_utilization" else "-",
                    label=f"{LABELS[engine]}: {gh:,.0f} GPU-h/day" if gh is not None else LABELS[engine])
        ax.set_yscale("log")
        ax.set_ylabel("GPUs (modelled)")
        ax.set_xlabel("hours into the trace")
        slo = d["slo"]
        ax.set_title(f"{name}: GPUs to meet TTFT p99 <= {slo['ttft_p99_seconds']:g} s, ITL p99 <= "
                     f"{slo['itl_p99_seconds'] * 1e3:g} ms at x{d['rate_scale']:g} the trace's rate (modelled)",
                     fontsize=10)
        ax.legend(fontsize=8, loc="upper right", ncol=2)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--traces", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    p.add_argument("--out", help="write serving-costs.json and serving-costs.png here")
    p.add_argument("--jobs", type=int, default=2, help="traces scored in parallel")
    p.add_argument("--sample", type=int, default=600, help="requests simulated per capacity probe")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.traces.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        p.error(f"unknown traces {unknown}; choose from {', '.join(CASES)}")
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {n: pool.submit(cost_case, n, args.sample) for n in names}
        docs = {n: futures[n].result() for n in names}
    for n, d in docs.items():
        print(f"{n}: replayed in {d['replay_seconds']} s, costs scored in {d['cost_seconds']} s "
              f"({d['searches']} capacity searches)")
    print()
    print(table(docs))
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        slim = {n: {k: v for k, v in d.items() if k not in ("hours_s", "hourly_gpus")} for n, d in docs.items()}
        (folder / "serving-costs.json").write_text(json.dumps(slim, indent=2) + "\n")
        plot(docs, folder / "serving-costs.png")
        print(f"\nwrote {folder / 'serving-costs.json'} and {folder / 'serving-costs.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
