"""``seasonal traffic``: the traffic profile of a Prometheus window, as a table or as JSON (``--json``).

JSON contract for scripts: an object with ``samples``, ``input``, ``output``, ``sequence`` (each with
``p50``, ``p90``, ``p99``, ``p999``), ``rate_rps``, ``peak_rps`` and ``censored_fraction`` (null when the
source cannot tell), plus ``sequence_source``, ``window``, ``preset``, ``notes`` and the censoring counts.
When no profile can be built it prints ``{"error": {"reason", "message"}}`` (or the message) and exits 1.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime
from typing import Any

from seasonal_engines.api import durations
from seasonal_engines.core import presets, promql
from seasonal_engines.core.traffic import Dimension, TrafficProfile, TrafficUnavailable

EXIT_UNAVAILABLE = 1


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help="show the ISL/OSL profile of a Prometheus window",
                              description="Read token-length histograms from Prometheus and show percentiles, "
                              "rates and the censored share of one window.")
    p.add_argument("--prometheus", required=True, metavar="URL", help="Prometheus base URL, e.g. "
                   "http://127.0.0.1:9090")
    p.add_argument("--preset", default="seasonal", choices=[*presets.PRESETS, "custom"],
                   help="metric names to read (default: seasonal, our Triton token exporter)")
    p.add_argument("--input-metric", help="with --preset custom: histogram of prompt tokens (no _bucket)")
    p.add_argument("--output-metric", help="with --preset custom: histogram of generated tokens")
    p.add_argument("--selector", action="append", default=[], metavar='LABEL="VALUE"',
                   help='label matcher added to every query (repeatable; = != =~ !~)')
    p.add_argument("--window", default="1h", help="trailing window, e.g. 15m, 1h, 1d (default 1h)")
    p.add_argument("--at", help="end of the window: RFC 3339 (2026-01-05T12:00:00Z) or Unix seconds; "
                   "default now")
    p.add_argument("--min-samples", type=int, default=1, help="fewer requests than this: insufficient")
    p.add_argument("--peak-percentile", type=float, default=0.99, help="Poisson peak percentile (0.99)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for Prometheus (10)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from seasonal_engines.adapters.prometheus import PrometheusTraffic  # keeps `seasonal --help` fast

    preset = _preset(args)
    matchers = [promql.parse_matcher(s) for s in args.selector]
    window_s = durations.seconds(args.window)
    end = parse_time(args.at) if args.at else datetime.now(UTC)
    if not 0 < args.peak_percentile < 1:
        raise ValueError(f"--peak-percentile must be inside (0, 1), got {args.peak_percentile}")
    result = PrometheusTraffic(args.prometheus, timeout_s=args.timeout).window(
        preset, matchers, end, window_s, min_samples=args.min_samples, peak_percentile=args.peak_percentile)
    if isinstance(result, TrafficUnavailable):
        if args.json:
            print(json.dumps({"error": {"reason": result.reason, "message": result.message}}))
        else:
            print(f"seasonal traffic: {result.reason}: {result.message}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(json.dumps(to_json(result, preset.name), indent=2) if args.json else table(result, preset.name))
    return 0


def _preset(args: argparse.Namespace) -> presets.MetricPreset:
    if args.preset == "custom":
        if not (args.input_metric and args.output_metric):
            raise ValueError("--preset custom needs --input-metric and --output-metric (histogram names "
                             "without _bucket)")
        return presets.custom(args.input_metric, args.output_metric)
    if args.input_metric or args.output_metric:
        raise ValueError("--input-metric/--output-metric are only read with --preset custom")
    return presets.get(args.preset)


def parse_time(text: str) -> datetime:
    """RFC 3339 (``Z`` or an offset) or Unix seconds, as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"--at {text!r} is neither RFC 3339 (2026-01-05T12:00:00Z) nor Unix seconds") from None
    if t.tzinfo is None:
        raise ValueError(f"--at {text!r} has no timezone; add Z or an offset such as +01:00")
    return t.astimezone(UTC)


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def to_json(p: TrafficProfile, preset: str) -> dict[str, Any]:
    """The ``--json`` object (NaN and infinities become null)."""
    def qs(dim: Dimension) -> dict[str, float | None]:
        q = p.quantiles[dim]
        return {"p50": _num(q.p50), "p90": _num(q.p90), "p99": _num(q.p99), "p999": _num(q.p999)}

    return {
        "samples": _num(p.samples),
        "input": qs(Dimension.input),
        "output": qs(Dimension.output),
        "sequence": qs(Dimension.sequence),
        "rate_rps": _num(p.rate_rps),
        "peak_rps": _num(p.peak_rps),
        "censored_fraction": _num(p.censored_fraction),
        "censored_upper_bound": _num(p.censored_upper_bound),
        "rejected_requests": _num(p.rejected_requests),
        "limit_stopped_requests": _num(p.limit_stopped_requests),
        "sequence_source": p.sequence_source.value,
        "window": {"start": p.start.isoformat(), "end": p.end.isoformat()},
        "preset": preset,
        "resolution_limit": {d.value: _num(v) for d, v in p.resolution_limit.items()},
        "notes": list(p.notes),
    }


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


def table(p: TrafficProfile, preset: str) -> str:
    """A readable summary of a profile."""
    span = durations.format_seconds(p.duration_s)
    lines = [f"Traffic {p.start:%Y-%m-%d %H:%M:%S} .. {p.end:%Y-%m-%d %H:%M:%S} UTC ({span}, preset {preset})"]
    censored = "unknown (the source cannot tell)" if p.censored_fraction is None else \
        f"{p.censored_fraction:.2%} (rejected {_fmt(p.rejected_requests or 0)}, " \
        f"limit-stopped {_fmt(p.limit_stopped_requests or 0)})"
    lines.append(f"requests {p.samples:,.0f}   rate {p.rate_rps:.3g} req/s   peak {p.peak_rps:.3g} req/s "
                 f"(Poisson)   censored {censored}")
    lines.append(f"{'tokens':<22}{'p50':>10}{'p90':>10}{'p99':>10}{'p99.9':>10}")
    for dim in Dimension:
        q = p.quantiles[dim]
        label = dim.value + (f" ({p.sequence_source.value})" if dim is Dimension.sequence else "")
        lines.append(f"{label:<22}" + "".join(f"{_fmt(v):>10}" for v in (q.p50, q.p90, q.p99, q.p999)))
    lines.extend(f"note: {n}" for n in p.notes)
    return "\n".join(lines)
