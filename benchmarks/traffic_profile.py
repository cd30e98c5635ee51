"""Benchmark: PromQL queries and time per traffic-profile evaluation, on 4 weeks of 1-minute data.

Backfills the real Prometheus (test bed) with the series our exporter would have written for one service
over ``--days`` days at a one-minute scrape (the ServeGen m-mid trace, repeated to cover the span), then
times the three evaluations the operator makes: a trailing 1h window, a season's history (the same
10-hour window over its last 4 weekly occurrences) and the whole span at once. Prints the query count and
the median wall time of each (targets: at most 2 queries, at most 1 s).

promtool writes one TSDB block per 2 hours of backfill; a Prometheus that has been running for weeks holds
compacted blocks instead, and queries spanning many small blocks are several times slower. So the script
waits (up to 3 minutes) for Prometheus' own compaction after it starts, as production would have it.

    python benchmarks/traffic_profile.py [--days 28] [--interval 60] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from seasonal_engines.adapters import local_prometheus
from seasonal_engines.adapters.prometheus import PrometheusTraffic
from seasonal_engines.core import presets, promql
from seasonal_engines.core.traffic import Dimension, TrafficProfile
from seasonal_engines.traces import openmetrics, read_trace
from seasonal_engines.traces.readers import Trace

TRACES = Path(__file__).resolve().parents[1] / "examples" / "traces"
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
DAY = 86400.0


def long_trace(days: int) -> Trace:
    """m-mid (14 days) repeated until it covers ``days`` days, placed at START."""
    base = read_trace(TRACES / "servegen_m-mid_14d.csv.xz")
    span = 14 * DAY
    reps = int(np.ceil(days * DAY / span))
    ts = np.concatenate([base.timestamps_s + k * span for k in range(reps)]) + START.timestamp()
    inp = np.tile(base.input_tokens, reps)
    out = np.tile(base.output_tokens, reps)
    keep = ts < START.timestamp() + days * DAY
    return Trace(ts[keep], inp[keep], out[keep], start_s=START.timestamp(), end_s=START.timestamp() + days * DAY)


def backfill(trace: Trace, days: int, interval: float, data_dir: Path) -> int:
    """One promtool run per day (promtool re-reads its input once per 2h block, so big files crawl)."""
    preset = presets.SEASONAL
    samples = 0
    for d in range(days):
        lo = START.timestamp() + d * DAY
        # each day's file holds the cumulative series from lo to the last scrape before the next day
        text = openmetrics.to_text(trace, preset, interval, labels={"model": "bench"}, start_s=lo,
                                   end_s=lo + DAY - interval)
        samples += sum(1 for line in text.splitlines() if not line.startswith("#"))
        local_prometheus.backfill_openmetrics(text, data_dir)
        print(f"\r  backfilled day {d + 1}/{days}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return samples


def blocks(data_dir: Path) -> int:
    return sum(1 for p in data_dir.iterdir() if p.is_dir() and len(p.name) == 26)  # ULID-named block dirs


def wait_for_compaction(data_dir: Path, timeout_s: float = 180.0) -> int:
    """Wait until Prometheus has compacted the backfilled 2-hour blocks (it starts about a minute in)."""
    first = last = blocks(data_dir)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(5)
        now = blocks(data_dir)
        if now < first and now == last:
            return now
        last = now
    return last


def timed(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--interval", type=float, default=60.0, help="scrape interval, seconds")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data-dir", type=Path, help="keep the backfilled TSDB here and reuse it on later runs "
                    "(default: a temporary directory)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="traffic-bench-") as tmp:
        work = args.data_dir or Path(tmp)
        marker = work / f"backfilled-{args.days}d-{args.interval:g}s"
        trace = long_trace(args.days)
        if not marker.exists():
            t0 = time.perf_counter()
            samples = backfill(trace, args.days, args.interval, work / "tsdb")
            marker.write_text(str(samples))
            print(f"backfill took {time.perf_counter() - t0:.0f} s")
        samples = int(marker.read_text())
        print(f"data: {len(trace):,} requests over {args.days} days, {samples:,} samples at "
              f"{args.interval:g} s scrapes, one service")
        server = local_prometheus.start_prometheus(work)
        try:
            before = blocks(work / "tsdb")
            after = wait_for_compaction(work / "tsdb") if before > 40 else before
            print(f"TSDB blocks: {before} after backfill, {after} after Prometheus' compaction")
            reader = PrometheusTraffic(server.url, timeout_s=60)
            sel = [promql.matcher("model", "=", "bench")]
            end = START + timedelta(days=args.days) - timedelta(minutes=1)
            weekday = START + timedelta(days=7 * ((args.days - 1) // 7))
            occurrences = [(weekday - timedelta(days=7 * k) + timedelta(hours=8),
                            weekday - timedelta(days=7 * k) + timedelta(hours=18)) for k in range(4)]
            # business hours on the last 20 weekdays (cron "0 8 * * 1-5", history 20)
            days = [START + timedelta(days=d) for d in range(args.days - 1, -1, -1)]
            weekdays = [(d + timedelta(hours=8), d + timedelta(hours=18)) for d in days if d.weekday() < 5][:20]
            evaluations = {
                "trailing 1h window": lambda: reader.window(presets.SEASONAL, sel, end, 3600),
                "season history (4 x 10h)": lambda: reader.season(presets.SEASONAL, sel, occurrences),
                "season history (20 x 10h)": lambda: reader.season(presets.SEASONAL, sel, weekdays),
                f"one {args.days}d window": lambda: reader.window(presets.SEASONAL, sel, end, args.days * DAY - 120),
            }
            print(f"{'evaluation':<28}{'queries':>8}{'median s':>10}{'requests':>12}{'seq p99.9':>11}")
            worst_q, worst_t = 0, 0.0
            for name, fn in evaluations.items():
                before = reader.queries_sent
                seconds, profile = timed(fn, args.repeat)
                queries = (reader.queries_sent - before) // args.repeat
                if not isinstance(profile, TrafficProfile):
                    print(f"{name:<28} unavailable: {profile}")
                    return 1
                worst_q, worst_t = max(worst_q, queries), max(worst_t, seconds)
                print(f"{name:<28}{queries:>8}{seconds:>10.3f}{profile.samples:>12,.0f}"
                      f"{profile.quantile(Dimension.sequence, 0.999):>11,.0f}")
            print(f"worst: {worst_q} queries per evaluation (target <= 2), {worst_t:.3f} s (target <= 1 s): "
                  + ("OK" if worst_q <= 2 and worst_t <= 1.0 else "MISSED"))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
