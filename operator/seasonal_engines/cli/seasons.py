"""``seasonal seasons suggest``: seasons for ``spec.seasons`` found from a trace or a Prometheus window,
scored on a held-out last part of that history.

The shell around ``core.season_discovery``: reads the history (a per-request trace, placed at
``--origin`` when its timestamps are relative, or one range query to Prometheus), fits the seasons on all
but the last ``--holdout`` of it, prints them as the YAML of ``spec.seasons``, and scores them on the
held-out part, which the fit never saw: with a trace by replaying the whole history through the decision
core with those seasons (``replay.comparing``, only the held-out requests scored) against the best static
engine in hindsight and the hourly oracle; with Prometheus from the held-out hours' histograms
(``season_discovery.held_out``: engines fixed, no build times). ``--plot`` draws the hour-of-week strip.
Nothing is decided here.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from seasonal_engines.api import durations
from seasonal_engines.api import spec as api
from seasonal_engines.core import holdout_scores, hourly_history, planners, presets, promql, season_discovery
from seasonal_engines.core.hourly_history import HourlyHistory

DEFAULT_MANIFEST: dict[str, Any] = {
    "apiVersion": f"{api.GROUP}/{api.VERSION}", "kind": api.KIND,
    "metadata": {"name": "suggested", "namespace": "default"},
    "spec": {
        "model": {"name": "llama-3.1-8b", "source": {"huggingFace": {"repo": "meta-llama/Llama-3.1-8B-Instruct"}}},
        "hardware": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
        "engine": {"store": {"claimName": "engine-store"}},
        "traffic": {"prometheusUrl": "http://prometheus-operated.monitoring:9090", "minSamples": 500},
        "sizing": {"maxBatchSize": 256},
    },
}
MAX_HOLDOUT_S = 7 * 86400.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="find seasons from a trace or Prometheus history and score them on held-out "
                                  "traffic")
    actions = p.add_subparsers(dest="seasons_command", metavar="ACTION")
    s = actions.add_parser(
        "suggest", help="propose spec.seasons from history",
        description="Profile the sizing quantile hour by hour of the week with its sampling error, cut the day "
                    "into the seasons that lower the mean envelope by more than their churn (or keep one "
                    "engine), print them as spec.seasons YAML, and score them on the held-out last part of "
                    "the history against the best static engine in hindsight and the hourly oracle.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = s.add_argument_group("history (one of --trace or --prometheus)")
    src.add_argument("--trace", type=Path, help="per-request trace (CSV or JSON lines)")
    src.add_argument("--prometheus", metavar="URL", help="Prometheus base URL")
    src.add_argument("--selector", action="append", default=[], metavar='LABEL="VALUE"',
                     help="label matcher of the service's series, with --prometheus (repeatable)")
    src.add_argument("--preset", default=None, help="metric preset with --prometheus (default: the spec's)")
    src.add_argument("--at", help="end of the Prometheus history: RFC 3339 or Unix seconds (default: now)")
    src.add_argument("--origin", default="2026-01-05T00:00:00Z", help="UTC instant of time 0 for traces with "
                     "relative timestamps (a Monday, so weekdays are the trace's)")
    src.add_argument("--history", help="how much history to read (7d..28d); default: the whole trace up to "
                     "28d, or 14d from Prometheus")
    src.add_argument("--holdout", help="the last part of the history held out for scoring (default: half of "
                     "it, at most 7d; 0 to fit on everything and score nothing)")
    d = s.add_argument_group("discovery")
    d.add_argument("--timezone", default="UTC", help="IANA timezone of the seasons' hours")
    d.add_argument("--max-seasons", type=int, default=4, help="most seasons a day is cut into (1..8)")
    d.add_argument("--churn-penalty", type=float, default=0.05, help="share of the mean envelope each season "
                   "change per day must save")
    d.add_argument("--confidence", type=float, default=0.75, help="confidence of the intervals drawn and of "
                   "each season's upper-bound envelope")
    d.add_argument("--spec", type=Path, help="InferenceService manifest whose model, hardware, sizing and "
                   "traffic are used (default: Llama-3.1-8B on one H100, sizing defaults)")
    o = s.add_argument_group("output")
    o.add_argument("--plot", type=Path, metavar="FILE.png", help="write the hour-of-week strip")
    o.add_argument("--json", action="store_true", help="print JSON instead of YAML and a table")
    o.add_argument("--build-minutes", default="20-40", help="modelled build duration in the replay")
    o.add_argument("--rollout-minutes", type=float, default=5.0, help="modelled rollout duration")
    s.set_defaults(run=run_suggest)
    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(run=usage)


def load_spec(path: Path | None) -> api.InferenceServiceSpec:
    from seasonal_engines.api import validation
    from seasonal_engines.cli import replay as replay_cli

    if path is not None:
        spec = replay_cli.load_spec(path)
    else:
        spec = validation.parse_manifest(json.loads(json.dumps(DEFAULT_MANIFEST)))
    # The proposal replaces the seasons (or discovery) of the given spec.
    return spec.model_copy(update={"seasons": [], "season_discovery": None})


def run_suggest(args: argparse.Namespace) -> int:
    if bool(args.trace) == bool(args.prometheus):
        raise ValueError("give exactly one of --trace FILE or --prometheus URL")
    spec = load_spec(args.spec)
    settings = season_discovery.Settings(timezone=api.known_timezone(args.timezone), max_seasons=args.max_seasons,
                                         churn_penalty=args.churn_penalty, confidence=args.confidence)
    sizing = season_discovery.Sizing.of(spec.sizing, planners.max_context(spec))
    if args.trace:
        return _from_trace(args, spec, sizing, settings)
    return _from_prometheus(args, spec, sizing, settings)


def _split(total_s: float, history: str | None, holdout: str | None, default_history_s: float) -> tuple[float, float]:
    """(history, holdout) seconds, checked."""
    hist_s = durations.seconds(history) if history else default_history_s
    if history and not 7 * 86400 <= hist_s <= 28 * 86400:
        raise ValueError(f"--history must be from 7d to 28d, got {history}")
    hist_s = min(hist_s, total_s)
    hold_s = (0.0 if holdout in ("0", "0s") else durations.seconds(holdout)) if holdout else \
        min(MAX_HOLDOUT_S, hist_s / 2)
    if hold_s >= hist_s:
        raise ValueError(f"--holdout {holdout} leaves nothing of the {durations.format_seconds(hist_s)} of history "
                         "to fit on")
    return hist_s, hold_s


def _from_trace(args: argparse.Namespace, spec: api.InferenceServiceSpec, sizing: season_discovery.Sizing,
                settings: season_discovery.Settings) -> int:
    from seasonal_engines.cli import replay as replay_cli
    from seasonal_engines.traces import read_trace

    trace, _ = replay_cli.placed(read_trace(args.trace), replay_cli.parse_origin(args.origin))
    if len(trace) == 0:
        raise ValueError(f"{args.trace}: the trace holds no requests")
    end_s = trace.last_s
    hist_s, hold_s = _split(end_s - trace.first_s, args.history, args.holdout, 28 * 86400.0)
    start_s = end_s - hist_s
    fit_end_s = end_s - hold_s
    fitted = trace.window(start_s, fit_end_s)
    preset = presets.from_spec(spec.traffic)
    hours = max(1, math.ceil((fit_end_s - start_s) / 3600.0 - 1e-9))
    history = hourly_history.from_requests(
        _utc(fit_end_s), hours, fitted.timestamps_s, fitted.input_tokens, fitted.output_tokens,
        np.ones(len(fitted), dtype=bool), bounds=preset.bounds)
    proposal = season_discovery.discover(history, sizing, settings, with_profile=True)
    doc = _proposal_doc(proposal, history, start_s, fit_end_s, end_s, str(args.trace))
    if hold_s > 0:
        doc["held_out"] = _replayed(args, spec, proposal, trace.window(start_s, end_s + 1.0), fit_end_s)
    return _emit(args, proposal, doc)


def _replayed(args: argparse.Namespace, spec: api.InferenceServiceSpec, proposal: season_discovery.Proposal,
              trace: Any, score_from_s: float) -> dict[str, Any]:
    """The proposal replayed over the whole history, only the held-out part scored."""
    from seasonal_engines.cli import replay as replay_cli
    from seasonal_engines.replay import comparing, reports, simulating
    from seasonal_engines.replay.world import Durations

    seasoned = spec.model_copy(update={"seasons": proposal.to_seasons()})
    lo, hi = replay_cli.build_minutes(args.build_minutes)
    c = comparing.compare(trace, seasoned, simulating.Settings(Durations(lo * 60, hi * 60, args.rollout_minutes * 60)),
                          score_from_s=score_from_s)
    report = reports.report(c.run, c.policy, c.baseline_scores, frontier=c.frontier,
                            max_beyond=spec.sizing.max_beyond_fraction, trace_name=str(args.trace))
    keys = ("requests", "beyond_envelope_fraction", "worst_hour_beyond_fraction", "mean_slack", "p95_slack",
            "rebuilds_per_day", "rollovers_per_day")
    return {"method": "replay", "from": report["start"], "to": report["end"],
            "policy": {k: report[k] for k in keys}, "baselines": report["baselines"],
            "best_hindsight_static": report["best_hindsight_static"], "slack_ratio": report["slack_ratio"],
            "builds_by_reason": report["builds_by_reason"], "rollovers_by_reason": report["rollovers_by_reason"]}


def _from_prometheus(args: argparse.Namespace, spec: api.InferenceServiceSpec, sizing: season_discovery.Sizing,
                     settings: season_discovery.Settings) -> int:
    from seasonal_engines.adapters.prometheus import PrometheusTraffic
    from seasonal_engines.cli import traffic as traffic_cli

    preset = presets.get(args.preset) if args.preset else presets.from_spec(spec.traffic)
    matchers = [promql.parse_matcher(s) for s in args.selector]
    end = traffic_cli.parse_time(args.at) if args.at else datetime.now(UTC)
    hist_s, hold_s = _split(28 * 86400.0, args.history, args.holdout, 14 * 86400.0)
    hours = int(hist_s // 3600)
    answer = PrometheusTraffic(args.prometheus).history(preset, matchers, end, hours)
    if not isinstance(answer, HourlyHistory):
        print(f"seasonal seasons suggest: {answer.reason}: {answer.message}", file=sys.stderr)
        return 1
    held = int(hold_s // 3600)
    fitted = answer.slice(0, hours - held)
    proposal = season_discovery.discover(fitted, sizing, settings, with_profile=True)
    e = end.timestamp()
    doc = _proposal_doc(proposal, fitted, e - hist_s, e - held * 3600.0, e, args.prometheus)
    if held > 0:
        scores = holdout_scores.held_out(answer.slice(hours - held, hours), proposal, sizing,
                                           max_beyond=spec.sizing.max_beyond_fraction)
        doc["held_out"] = {"method": "histograms (engines fixed, no build times)", "scores": [
            {"engine": s.name, "max_seq_len": s.max_seq_len, "beyond_envelope_fraction": round(s.beyond, 6),
             "worst_hour_beyond_fraction": round(s.worst_hour_beyond, 6), "mean_slack": round(s.mean_slack, 4),
             "changes_per_day": round(s.changes_per_day, 3)} for s in scores]}
    return _emit(args, proposal, doc)


def _proposal_doc(proposal: season_discovery.Proposal, history: HourlyHistory, start_s: float, fit_end_s: float,
                  end_s: float, source: str) -> dict[str, Any]:
    return {
        "source": source, "history": {"from": _iso(start_s), "fitted_until": _iso(fit_end_s), "to": _iso(end_s),
                                      "observed_hours": history.observed_hours(),
                                      "requests": float(history.requests.sum())},
        "seasons": [s.to_season().model_dump(mode="json", by_alias=True) for s in proposal.seasons],
        "static": proposal.is_static, "reason": proposal.reason,
        "planned_max_seq_len": {s.name: s.planned_step for s in proposal.seasons},
        "static_max_seq_len": proposal.static.planned_step,
        "mean_envelope_at_bound": round(proposal.mean_bound, 1), "static_envelope_at_bound": proposal.static.bound_step,
    }


def _emit(args: argparse.Namespace, proposal: season_discovery.Proposal, doc: dict[str, Any]) -> int:
    if args.plot is not None:
        from seasonal_engines.pictures import season_strip

        season_strip.plot(proposal, args.plot)
        doc["plot"] = str(args.plot)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    h = doc["history"]
    print(f"# seasons fitted on {h['from']} .. {h['fitted_until']} ({h['observed_hours']} h with traffic, "
          f"{h['requests']:,.0f} requests) of {doc['source']}")
    print(f"# {proposal.reason}")
    print("# planned max_seq_len: " + ", ".join(f"{k} {v}" for k, v in doc["planned_max_seq_len"].items())
          + f" (one engine: {doc['static_max_seq_len']})")
    print(yaml.safe_dump({"seasons": doc["seasons"]}, sort_keys=False).rstrip())
    held = doc.get("held_out")
    if held is None:
        print("\n(no held-out part: nothing scored)")
    elif held["method"] == "replay":
        print(f"\nheld out {held['from']} .. {held['to']}, replayed with these seasons "
              "(the fitted part is the seasons' history, only the held-out requests are scored):")
        print(_table(held))
    else:
        print(f"\nheld out {h['fitted_until']} .. {h['to']}, from the hours' histograms (engines fixed, no build "
              "times):")
        print(_table_scores(held["scores"]))
    if "plot" in doc:
        print(f"\nplot written to {doc['plot']}")
    return 0


def _table(held: dict[str, Any]) -> str:
    rows: list[tuple[str, dict[str, Any]]] = [("proposal", held["policy"])]
    best = held.get("best_hindsight_static")
    if best:
        rows.append((f"best static {best['max_seq_len']}", best))
    for name in ("static_global", "oracle"):
        if name in held["baselines"]:
            rows.append((name, held["baselines"][name]))
    out = [f"{'engine':<20} {'beyond':>8} {'worst hour':>10} {'mean slack':>10} {'rebuilds/d':>10} {'rollovers/d':>11}"]
    for name, r in rows:
        out.append(f"{name:<20} {_pct(r.get('beyond_envelope_fraction')):>8} "
                   f"{_pct(r.get('worst_hour_beyond_fraction'), 2):>10} {_num(r.get('mean_slack')):>10} "
                   f"{_num(r.get('rebuilds_per_day')):>10} {_num(r.get('rollovers_per_day')):>11}")
    ratio = held.get("slack_ratio") or {}
    out.append(f"slack of the proposal / best static {_num(ratio.get('to_best_hindsight_static'))}, "
               f"/ oracle {_num(ratio.get('to_oracle'))}")
    return "\n".join(out)


def _table_scores(scores: list[dict[str, Any]]) -> str:
    out = [f"{'engine':<20} {'beyond':>8} {'worst hour':>10} {'mean slack':>10} {'changes/d':>10}"]
    for r in scores:
        out.append(f"{r['engine']:<20} {_pct(r['beyond_envelope_fraction']):>8} "
                   f"{_pct(r['worst_hour_beyond_fraction'], 2):>10} {_num(r['mean_slack']):>10} "
                   f"{_num(r['changes_per_day']):>10}")
    return "\n".join(out)


def _pct(v: Any, digits: int = 3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.{digits}f}%"


def _num(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"


def _utc(t_s: float) -> datetime:
    return datetime.fromtimestamp(t_s, tz=UTC)


def _iso(t_s: float) -> str:
    return _utc(t_s).isoformat().replace("+00:00", "Z")


__all__ = ["add_parser", "run_suggest", "DEFAULT_MANIFEST", "load_spec"]
