"""``seasonal quickstart``: the operator's main job on this machine, with no cluster and no GPU.

Starts real Prometheus and real Triton, replays a shared real trace at accelerated speed into the CPU
stand-in engine, and runs the operator's decision core in local mode (``seasonal_engines.local``):
builds are local processes, rollovers load models through Triton's repository API. A live display shows
the run; it ends with a summary table, ``summary.json`` and ``envelope.png``. The shell around
``local.session``: arguments and defaults only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seasonal_engines.local import session, settings

REPO = Path(__file__).resolve().parents[3]
DEFAULT_TRACE = REPO / "examples" / "traces" / "servegen_m-large_14d.csv.xz"
DEFAULT_SPEC = REPO / "examples" / "quickstart.yaml"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(
        name, help="run the operator locally against real Prometheus and Triton (CPU stand-in engine, no GPU)",
        description="Replay a real trace at accelerated speed into a CPU stand-in engine served by a real Triton, "
                    "scraped by a real Prometheus, while the operator's decision core plans, builds (local "
                    "processes) and rolls over (Triton's repository API) engines per season and on drift. Ends "
                    "with a summary table, summary.json and envelope.png in --out. Every process it starts is "
                    "stopped at the end, also on Ctrl-C.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget for the whole run, start-up and "
                   "report included (0.5-60)")
    p.add_argument("--speed", type=float, default=576.0, help="simulated seconds per wall second (576: one "
                   "simulated day in 2.5 minutes)")
    p.add_argument("--days", type=float, help="replay at most this many simulated days; %(default)s: as many as "
                   "--minutes allows")
    p.add_argument("--start-hour", type=float, default=9.0, help="time of day (trace clock) of the first replayed "
                   "request")
    p.add_argument("--start-day", type=int, default=0, help="day of the trace to start on")
    p.add_argument("--out", type=Path, default=Path("quickstart-out"), help="directory for summary.json, "
                   "envelope.png, journal.txt and work/ (logs, engine store, Prometheus data)")
    p.add_argument("--trace", type=Path, default=DEFAULT_TRACE, help="per-request trace to replay")
    p.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="the InferenceService to run")
    p.add_argument("--max-rps", type=float, default=30.0, help="mean requests per wall second sent to the stand-in; "
                   "the trace is subsampled to it and traffic.minSamples scaled alike")
    p.add_argument("--build-minutes", type=float, default=20.0, help="simulated duration of a build")
    p.add_argument("--rollout-minutes", type=float, default=5.0, help="simulated least duration of a rollover")
    p.add_argument("--warmup-minutes", type=float, default=60.0, help="simulated time before the first request, "
                   "for the bootstrap engine")
    p.add_argument("--seed", type=int, default=0, help="seed of the request subsample")
    p.add_argument("--plain", action="store_true", help="plain lines instead of the live panel")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.trace.is_file():
        raise FileNotFoundError(f"--trace {args.trace} does not exist; the example traces live in examples/traces/ "
                                "of the repository (run from a clone), or pass --trace PATH")
    # Absolute: Triton and Prometheus run in directories of their own and resolve relative paths from there.
    chosen = settings.Settings(
        spec_path=args.spec, trace_path=args.trace, out_dir=args.out.expanduser().resolve(), minutes=args.minutes,
        speed=args.speed,
        days=args.days, start_day=args.start_day, start_hour=args.start_hour, max_rps=args.max_rps,
        build_minutes=args.build_minutes, rollout_minutes=args.rollout_minutes, warmup_minutes=args.warmup_minutes,
        seed=args.seed, plain=args.plain)
    return session.run(chosen)
