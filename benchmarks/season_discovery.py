"""Seasons found from history, replayed on traffic they never saw: the policy against the best static engine
in hindsight and the hourly oracle.

Cases (the traces in examples/traces/):

* ``m-large``, ``m-mid``, ``azure-conv``: the whole trace replayed with the spec a user would write, a
  ``seasonDiscovery`` block (examples/replay/*-discovery.yaml): the operator discovers seasons from the
  history it has seen so far, every day, and resizes them between their boundaries. The trace starts
  with no history, so its first day is a cold start.
* ``m-large-24h``, ``m-mid-24h``: the first 24 hours replayed alone (a service's first day).
* ``m-large-suggested``, ``m-mid-suggested``: the seasons ``seasonal seasons suggest`` proposes from the
  trace's first week, written into ``spec.seasons`` (no discovery, no resizing), replayed over both weeks
  and scored on the second week only, which the proposal never saw.

Each prints the policy, the best static engine in hindsight (the smallest ladder step with at most
``sizing.maxBeyondFraction`` of the scored requests beyond), ``static_global`` and the oracle, and checks
the targets: at most 0.1% of requests beyond the envelope and no clock hour above 2%; mean slack at most
the best static engine's and at most 1.25x the oracle's; at most 4 rebuilds and 6 rollovers a day. For
the cases that start cold it also prints the *cold-start floor*: the mean slack of the bootstrap engine
until the earliest moment an engine planned from traffic could serve, then the hourly oracle; no policy
that starts on the bootstrap engine does better.
With ``--out DIR`` it writes the JSON report and the replay plot of each case there (and the hour-of-week
strip of the suggested seasons).

    python benchmarks/season_discovery.py --out docs/benchmarks           # all cases
    python benchmarks/season_discovery.py --cases m-large-24h,m-mid-24h
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TRACES = REPO / "examples" / "traces"
SPECS = {
    "m-large": ("servegen_m-large_14d.csv.xz", "examples/replay/servegen-m-large-discovery.yaml"),
    "m-mid": ("servegen_m-mid_14d.csv.xz", "examples/replay/servegen-m-mid-discovery.yaml"),
    "azure-conv": ("azure2023_conv.csv.xz", "examples/replay/azure-conv-discovery.yaml"),
}
# case -> (trace and spec of, hours replayed (None: all), mode)
CASES: dict[str, tuple[str, float | None, str]] = {
    "m-large": ("m-large", None, "discovery"),
    "m-mid": ("m-mid", None, "discovery"),
    "azure-conv": ("azure-conv", None, "discovery"),
    "m-large-24h": ("m-large", 24.0, "discovery"),
    "m-mid-24h": ("m-mid", 24.0, "discovery"),
    "m-large-suggested": ("m-large", None, "suggested"),
    "m-mid-suggested": ("m-mid", None, "suggested"),
}
FIT_DAYS = 7.0
TARGETS = {"beyond": 0.001, "worst_hour": 0.02, "to_oracle": 1.25, "rebuilds_per_day": 4.0, "rollovers_per_day": 6.0}


def run_case(name: str, out: str | None, build_minutes: str, rollout_minutes: float) -> dict[str, Any]:
    import numpy as np

    from seasonal_engines.cli import replay as cli
    from seasonal_engines.core import hourly_history, planners, presets, season_discovery
    from seasonal_engines.replay import comparing, reports, simulating
    from seasonal_engines.replay.world import Durations
    from seasonal_engines.traces import read_trace

    of, hours, mode = CASES[name]
    trace_file, spec_file = SPECS[of]
    spec = cli.load_spec(REPO / spec_file)
    trace, _ = cli.placed(read_trace(TRACES / trace_file), cli.parse_origin(cli.DEFAULT_ORIGIN))
    if hours is not None:
        trace = trace.window(trace.first_s, trace.first_s + hours * 3600.0)
    lo, hi = cli.build_minutes(build_minutes)
    settings = simulating.Settings(Durations(lo * 60, hi * 60, rollout_minutes * 60))
    score_from = None
    extra: dict[str, Any] = {}
    proposal = None
    if mode == "suggested":
        # What `seasonal seasons suggest --trace FILE` proposes from the first week, as plain spec.seasons.
        fit_end = trace.first_s + FIT_DAYS * 86400.0
        fitted = trace.window(trace.first_s, fit_end)
        preset = presets.from_spec(spec.traffic)
        history = hourly_history.from_requests(
            simulating._utc(fit_end), int(FIT_DAYS * 24), fitted.timestamps_s, fitted.input_tokens,
            fitted.output_tokens, np.ones(len(fitted), dtype=bool), bounds=preset.bounds)
        sd = spec.season_discovery
        assert sd is not None
        proposal = season_discovery.discover(
            history, season_discovery.Sizing.of(spec.sizing, planners.max_context(spec)),
            season_discovery.Settings(timezone=sd.timezone, max_seasons=sd.max_seasons,
                                      churn_penalty=sd.churn_penalty, confidence=sd.confidence),
            with_profile=True)
        spec = spec.model_copy(update={"season_discovery": None, "seasons": proposal.to_seasons()})
        score_from = fit_end
        extra = {"suggested_seasons": [s.model_dump(mode="json", by_alias=True) for s in proposal.to_seasons()],
                 "suggestion": proposal.reason}
    started = time.perf_counter()
    c = comparing.compare(trace, spec, settings, score_from_s=score_from)
    took = time.perf_counter() - started
    doc = reports.report(c.run, c.policy, c.baseline_scores, trace_name=trace_file, spec_name=spec_file,
                         frontier=c.frontier, max_beyond=spec.sizing.max_beyond_fraction,
                         settings={"build_minutes": [lo, hi], "rollout_minutes": rollout_minutes, "case": name,
                                   "hours": hours, "mode": mode, "scored_from": None if score_from is None else
                                   reports._iso(score_from)})
    doc.update(extra)
    doc["replay_seconds"] = round(took, 1)
    # The first day's share of the slack, and how long the bootstrap engine served.
    later = c.hours.starts_s >= c.hours.starts_s[0] + 86400.0
    for key, fit in (("policy", c.policy_fit), ("oracle", c.baseline_fits["oracle"])):
        v = fit.hour_slack[later & np.isfinite(fit.hour_slack)]
        doc.setdefault("mean_slack_after_first_day", {})[key] = round(float(v.mean()), 4) if len(v) else None
    first = trace.first_s if score_from is None else score_from
    left = next((seg.since_s for seg in c.run.timeline if seg.since_s > first
                 and seg.envelope.max_seq_len < c.run.timeline[0].envelope.max_seq_len), None)
    doc["bootstrap_served_hours"] = None if left is None else round((left - first) / 3600.0, 2)
    if score_from is None:
        doc["cold_start_floor"] = cold_start_floor(trace, spec, c, lo, rollout_minutes)
    if out:
        from seasonal_engines.replay import plotting

        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"discovery-{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        what = "seasons suggested from week 1, scored on week 2" if mode == "suggested" else "seasonDiscovery"
        plotting.plot(c, folder / f"discovery-{name}.png", title=f"{trace_file}: {what}"
                      + (f", first {hours:g} h alone" if hours else ""))
        if proposal is not None:
            from seasonal_engines.pictures import season_strip

            season_strip.plot(proposal, folder / f"discovery-{name}-strip.png")
    return doc


def cold_start_floor(trace: Any, spec: Any, c: Any, build_minutes: float, rollout_minutes: float) -> dict[str, Any]:
    """The least mean slack any policy that starts on the bootstrap engine can reach: no engine is planned
    before the trailing window holds ``traffic.minSamples`` requests, so the bootstrap engine serves until
    the evaluation after that request, the shortest build and a rollout; from then on the hourly oracle."""
    import numpy as np

    from seasonal_engines.api import durations
    from seasonal_engines.replay import scoring

    t = trace.timestamps_s
    nth = t[min(spec.traffic.min_samples, len(t)) - 1]
    ready = nth + durations.seconds(spec.traffic.evaluation_interval) + (build_minutes + rollout_minutes) * 60.0
    boot, oracle = c.baselines["static_model_max"], c.baselines["oracle"]
    early = t < ready
    fit = scoring.fit(trace, np.where(early, boot.max_input_len, oracle.max_input_len),
                      np.where(early, boot.max_seq_len, oracle.max_seq_len), c.hours)
    slack = fit.hour_slack[np.isfinite(fit.hour_slack)]
    return {"bootstrap_until_hours": round((ready - t[0]) / 3600.0, 2),
            "mean_slack": round(float(slack.mean()), 4) if len(slack) else None}


def verdicts(doc: dict[str, Any]) -> list[tuple[str, str, bool]]:
    best = doc.get("best_hindsight_static") or {}
    oracle = doc["baselines"]["oracle"]
    out = []

    def check(what: str, value: float | None, limit: float | None, text: str) -> None:
        ok = value is not None and limit is not None and not math.isnan(value) and value <= limit + 1e-12
        out.append((what, text, ok))

    check("beyond", doc["beyond_envelope_fraction"], TARGETS["beyond"],
          f"{doc['beyond_envelope_fraction']:.3%} <= 0.1%")
    w = doc["worst_hour_beyond_fraction"]
    check("worst hour", w, TARGETS["worst_hour"], f"{w:.2%} <= 2%" if w is not None else "n/a")
    s = doc["mean_slack"]
    check("slack vs best static", s, best.get("mean_slack"),
          f"{s:.2f} <= {best.get('mean_slack', float('nan')):.2f} (static {best.get('max_seq_len')})")
    check("slack vs oracle", s, None if oracle["mean_slack"] is None else TARGETS["to_oracle"] * oracle["mean_slack"],
          f"{s:.2f} <= 1.25 x {oracle['mean_slack']:.2f} = {TARGETS['to_oracle'] * oracle['mean_slack']:.2f}")
    check("rebuilds/day", doc["rebuilds_per_day"], TARGETS["rebuilds_per_day"], f"{doc['rebuilds_per_day']:.2f} <= 4")
    check("rollovers/day", doc["rollovers_per_day"], TARGETS["rollovers_per_day"],
          f"{doc['rollovers_per_day']:.2f} <= 6")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    p.add_argument("--out", help="write discovery-<case>.json and .png here")
    p.add_argument("--jobs", type=int, default=2, help="cases replayed in parallel")
    p.add_argument("--build-minutes", default="20-40")
    p.add_argument("--rollout-minutes", type=float, default=5.0)
    args = p.parse_args(argv)
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        p.error(f"unknown cases {unknown}; choose from {', '.join(CASES)}")
    from seasonal_engines.replay import reports

    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {n: pool.submit(run_case, n, args.out, args.build_minutes, args.rollout_minutes) for n in names}
        docs = {n: f.result() for n, f in futures.items()}
    for n in names:
        doc = docs[n]
        print(f"\n=== {n}: {doc['trace']} with {doc['spec']} ({doc['settings']['mode']}"
              + (f", scored from {doc['settings']['scored_from']}" if doc["settings"]["scored_from"] else "")
              + f"; replayed in {doc['replay_seconds']} s) ===")
        if doc.get("suggestion"):
            print("suggested: " + ", ".join(f"{s['name']} ({s['schedule']}, {s['duration']})"
                                            for s in doc["suggested_seasons"]) + f" -- {doc['suggestion']}")
        print(reports.table(doc))
        after = doc["mean_slack_after_first_day"]
        print(f"after the first day: mean slack {after['policy']}, oracle {after['oracle']}; the bootstrap engine "
              f"served the first {doc['bootstrap_served_hours']} h")
        floor = doc.get("cold_start_floor")
        if floor:
            print(f"cold-start floor (the bootstrap engine for the first {floor['bootstrap_until_hours']} h, no plan "
                  f"can serve sooner; then the hourly oracle): mean slack {floor['mean_slack']}")
        for what, text, ok in verdicts(doc):
            print(f"  target {what}: {text}: {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
