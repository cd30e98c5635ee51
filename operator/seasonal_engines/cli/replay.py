"""``seasonal replay``: replay a per-request trace through the operator's decision core and score it.

The shell around ``seasonal_engines.replay``: reads the trace and the InferenceService manifest, places a
trace with relative timestamps at ``--origin``, optionally cuts a slice, runs the comparison (policy,
``static_model_max``, ``static_global``, ``oracle``), and prints a table or the JSON document; ``--plot``
writes the envelope-over-time picture. Nothing is decided here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from seasonal_engines.api import spec as api
from seasonal_engines.api import validation
from seasonal_engines.replay import comparing, reports, simulating
from seasonal_engines.replay.world import Durations
from seasonal_engines.traces import Trace, read_trace

DEFAULT_ORIGIN = "2026-01-05T00:00:00Z"  # a Monday, 00:00 UTC: day 0 of a relative trace
RELATIVE_BEFORE_S = 1e9  # timestamps before 2001-09-09 are seconds from the trace's origin, not Unix time


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(
        name, help="replay a trace through the operator's decisions against static and oracle engines",
        description="Replay a per-request trace in simulated time: every evaluation interval the operator's "
                    "decision core sees the trailing window and season histories as the serving engine's "
                    "exporter would have exported them (censored, in the preset's buckets), and builds and "
                    "rollouts take the modelled time. Reports the share of requests beyond the envelope that "
                    "served them, slack (max_seq_len / the hour's p99.9 of input+output), rebuilds and "
                    "rollovers per day, against a static engine at the model's context, one at the whole "
                    "trace's p99.9 and an oracle re-sized every hour.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--trace", type=Path, required=True, help="per-request trace (CSV or JSON lines; see "
                   "`seasonal trace` formats)")
    p.add_argument("--spec", type=Path, required=True, help="InferenceService manifest (YAML) whose policy is "
                   "replayed; examples/replay/ has one per shared trace")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of a table")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="write the envelope-over-time plot")
    p.add_argument("--origin", default=DEFAULT_ORIGIN, help="UTC instant of time 0 for traces with relative "
                   "timestamps (the seasons' cron schedules are read against it)")
    p.add_argument("--from-hour", type=float, default=0.0, help="replay from this many hours after the trace's "
                   "first request")
    p.add_argument("--hours", type=float, help="replay only this many hours (default: to the end)")
    p.add_argument("--build-minutes", default="20-40", help="modelled build duration: MINUTES or MIN-MAX "
                   "(uniform, seeded)")
    p.add_argument("--rollout-minutes", type=float, default=5.0, help="modelled rollout duration")
    p.add_argument("--seed", type=int, default=0, help="seed of the build durations")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a spec field before validation, camelCase path under spec, value in YAML "
                        "(for example sizing.headroom=0.5 or drift.wasteFactor=2; repeatable)")
    p.add_argument("--shift", type=float, action="append", default=[], metavar="HOURS",
                   help="a known shift this many hours after the trace's first request: report how long the "
                        "policy took to act on it (repeatable)")
    p.set_defaults(run=run)


def build_minutes(text: str) -> tuple[float, float]:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*", text)
    if not m:
        raise ValueError(f"--build-minutes {text!r}: expected MINUTES or MIN-MAX, for example 30 or 20-40")
    lo = float(m.group(1))
    hi = float(m.group(2)) if m.group(2) else lo
    if not 0 < lo <= hi:
        raise ValueError(f"--build-minutes {text!r}: durations must be positive and MIN <= MAX")
    return lo, hi


def override(manifest: dict[str, Any], assignment: str) -> None:
    """Set ``spec.<path>`` of a manifest from ``path=value`` (value parsed as YAML); list items by index."""
    path, sep, raw = assignment.partition("=")
    if not sep or not path.strip():
        raise ValueError(f"--set {assignment!r}: expected FIELD=VALUE, for example sizing.headroom=0.5")
    node: Any = manifest.setdefault("spec", {})
    keys = path.strip().split(".")
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ValueError(f"--set {assignment!r}: {'.'.join(keys[:i]) or 'spec'} is a list of {len(node)}; "
                                 f"use an index below {len(node)}")
            key_or_index: Any = int(key)
        else:
            key_or_index = key
        if last:
            node[key_or_index] = yaml.safe_load(raw)
        else:
            if isinstance(node, dict) and key_or_index not in node:
                node[key_or_index] = {}
            node = node[key_or_index]


def load_spec(path: Path, overrides: Sequence[str] = ()) -> api.InferenceServiceSpec:
    """The first InferenceService in a YAML file, ``overrides`` applied, validated (errors name the field)."""
    if not path.is_file():
        raise FileNotFoundError(f"spec file {path} does not exist")
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML ({exc})") from None
    manifests = [d for d in docs if isinstance(d, dict) and d.get("kind") == api.KIND]
    if not manifests:
        raise ValueError(f"{path}: no `kind: {api.KIND}` document; see examples/replay/ for complete manifests")
    manifest = manifests[0]
    for assignment in overrides:
        override(manifest, assignment)
    return validation.parse_manifest(manifest)


def parse_origin(text: str) -> float:
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--origin {text!r} is not an ISO 8601 instant such as {DEFAULT_ORIGIN}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def placed(trace: Trace, origin_s: float) -> tuple[Trace, float]:
    """The trace in Unix seconds and the offset added (0 for traces already in Unix time)."""
    if len(trace) and trace.first_s < RELATIVE_BEFORE_S:
        return trace.shifted(origin_s), origin_s
    return trace, 0.0


def prepare(args: argparse.Namespace) -> tuple[Trace, float]:
    """The slice of the trace to replay, in Unix seconds, and where its first request lies."""
    trace, _ = placed(read_trace(args.trace), parse_origin(args.origin))
    if len(trace) == 0:
        raise ValueError(f"{args.trace}: the trace holds no requests")
    first = float(trace.timestamps_s[0])
    if args.from_hour < 0 or (args.hours is not None and args.hours <= 0):
        raise ValueError("--from-hour must be >= 0 and --hours > 0")
    if args.from_hour > 0 or args.hours is not None:
        lo = first + args.from_hour * 3600.0
        hi = trace.last_s + 1.0 if args.hours is None else lo + args.hours * 3600.0
        trace = trace.window(lo, hi)
        if len(trace) == 0:
            raise ValueError(f"no requests between hour {args.from_hour:g} and "
                             f"{'the end' if args.hours is None else args.from_hour + args.hours:g} of the trace")
    return trace, first


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, args.overrides)
    lo, hi = build_minutes(args.build_minutes)
    if args.rollout_minutes <= 0:
        raise ValueError("--rollout-minutes must be positive")
    trace, first = prepare(args)
    settings = simulating.Settings(Durations(lo * 60.0, hi * 60.0, args.rollout_minutes * 60.0, args.seed))
    c = comparing.compare(trace, spec, settings)
    shifts = [first + h * 3600.0 for h in args.shift]
    doc: dict[str, Any] = reports.report(
        c.run, c.policy, c.baseline_scores, shifts_s=shifts, trace_name=str(args.trace), spec_name=str(args.spec),
        frontier=c.frontier, max_beyond=spec.sizing.max_beyond_fraction,
        settings={"build_minutes": [lo, hi], "rollout_minutes": args.rollout_minutes, "seed": args.seed,
                  "evaluation_interval": spec.traffic.evaluation_interval, "window": spec.traffic.window,
                  "from_hour": args.from_hour, "hours": args.hours, "overrides": list(args.overrides)})
    if args.plot is not None:
        from seasonal_engines.replay import plotting  # matplotlib only when a plot is asked for

        plotting.plot(c, args.plot, title=f"{args.trace.name} replayed with {args.spec.name}")
        doc["plot"] = str(args.plot)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(reports.table(doc))
        if args.plot is not None:
            print(f"plot written to {args.plot}")
    return 0
