"""``seasonal trace``: work with per-request traces (generic CSV, Azure, BurstGPT, Mooncake JSONL).

``seasonal trace openmetrics TRACE -o FILE`` writes the histogram series an exporter would have produced
(any preset's names and buckets, at a scrape interval, optionally censored by an engine's limits), ready for
``promtool tsdb create-blocks-from openmetrics FILE DIR``. ``seasonal trace profile TRACE`` prints the
trace's profile (joint sequence lengths, exact up to bucket width) as a table or JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from seasonal_engines.api import durations
from seasonal_engines.cli.traffic import parse_time, table, to_json
from seasonal_engines.core import presets, traffic
from seasonal_engines.traces import openmetrics, read_trace
from seasonal_engines.traces.readers import Trace, to_datetime


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help="convert or summarise per-request traces",
                              description="Per-request traces: convert to Prometheus series, or summarise.")
    sub = p.add_subparsers(dest="trace_command", metavar="ACTION", required=True)

    om = sub.add_parser("openmetrics", help="write histogram series for promtool backfill")
    _common(om)
    om.add_argument("-o", "--output", required=True, help="OpenMetrics file to write")
    om.add_argument("--preset", default="seasonal", choices=list(presets.PRESETS),
                    help="metric names and bucket layout (default seasonal)")
    om.add_argument("--interval", default="1m", help="scrape interval, e.g. 15s, 1m (default 1m)")
    om.add_argument("--label", action="append", default=[], metavar="NAME=VALUE",
                    help="label on every series, e.g. model=llama-3-8b (repeatable)")
    om.add_argument("--max-input-len", type=int, help="censor with an engine: prompts longer are rejected")
    om.add_argument("--max-seq-len", type=int, help="censor with an engine: outputs stop at this sequence length")
    om.set_defaults(run=run_openmetrics)

    pr = sub.add_parser("profile", help="print a trace's ISL/OSL profile")
    _common(pr)
    pr.add_argument("--peak-percentile", type=float, default=0.99, help="Poisson peak percentile (0.99)")
    pr.add_argument("--json", action="store_true", help="print JSON (the `seasonal traffic --json` object)")
    pr.set_defaults(run=run_profile)
    return p


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file (format detected from its header)")
    p.add_argument("--origin", help="for traces with relative timestamps: the instant (RFC 3339 or Unix "
                   "seconds) their time 0 is placed at")
    p.add_argument("--hours", metavar="FROM-TO", help="only requests in these hours of day, e.g. 18-24 or 22-6")


def _load(args: argparse.Namespace) -> Trace:
    t = read_trace(args.trace)
    if args.origin:
        t = t.shifted(parse_time(args.origin).timestamp())
    if args.hours:
        try:
            lo, hi = (float(x) for x in args.hours.split("-"))
        except ValueError:
            raise ValueError(f"--hours {args.hours!r} is not FROM-TO in hours, e.g. 18-24") from None
        t = t.hours_of_day(lo, hi)
    if len(t) == 0:
        raise ValueError(f"{args.trace}: no requests (after --hours)")
    return t


def run_openmetrics(args: argparse.Namespace) -> int:
    t = _load(args)
    labels = {}
    for item in args.label:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--label {item!r} is not NAME=VALUE")
        labels[key] = value
    engine = openmetrics.Engine(args.max_input_len, args.max_seq_len)
    n = openmetrics.write(args.output, t, presets.get(args.preset), durations.seconds(args.interval),
                          labels=labels, engine=engine)
    print(f"wrote {n:,} samples of {len(t):,} requests to {args.output}", file=sys.stderr)
    return 0


def run_profile(args: argparse.Namespace) -> int:
    t = _load(args)
    start, end = to_datetime(t.first_s), to_datetime(t.last_s)
    if end <= start:
        raise ValueError(f"{args.trace}: the trace covers no time (one timestamp)")
    covered = None
    if args.hours:  # rates over the selected hours only
        lo, hi = (float(x) for x in args.hours.split("-"))
        covered = (end - start).total_seconds() * (((hi - lo) % 24 or 24) / 24)
    p = traffic.profile_from_requests(start, end, t.input_tokens, t.output_tokens,
                                      peak_percentile=args.peak_percentile, covered_s=covered)
    print(json.dumps(to_json(p, "trace"), indent=2) if args.json else table(p, "trace"))
    return 0
