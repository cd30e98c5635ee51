"""The operator's cost: N InferenceServices evaluated against one real Prometheus holding their series.

1. History: every service gets its own slice of the m-mid trace (a different offset each), written as
   the ``seasonal`` exporter's series (input, output and joint sequence histograms in 106 buckets, the two
   censoring counters; labelled ``model="svc-NNN"``) at a 1-minute scrape interval, backfilled with
   ``promtool tsdb create-blocks-from openmetrics`` into one Prometheus. The ``max_tokens`` histogram is
   left out: no query reads it and it would only lengthen the backfill.
2. Evaluation: for each N (default 10, 100, 500) a fresh Python process runs the operator's own
   ``Reconciler.reconcile`` (gather: one PromQL query for the trailing window plus at most one season
   query, cached an hour; decide; apply) for every service, ``--rounds`` times 5 simulated minutes apart,
   against a stand-in cluster whose builds and rollouts complete at once (so the rounds walk through
   Initial build -> rollout -> Serving, then steady evaluations). It reports PromQL queries, operator CPU
   seconds (``time.process_time``) and wall time per evaluation, its peak RSS, and Prometheus' own CPU.
3. Season planning: one service with 4 weeks of 1-minute data (m-large's 14 days twice); the time to
   query a daily season's 28 past occurrences and plan its engine.

    python benchmarks/operator_cost.py                         # about 3.5 min on 2 cores
    python benchmarks/operator_cost.py --rounds 6 --plot docs/benchmarks/operator-cost.png
    python benchmarks/operator_cost.py --services 10,100 --no-season
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
TRACES = REPO / "examples" / "traces"
SERVICE_SPEC = REPO / "examples" / "replay" / "servegen-m-mid.yaml"
SEASON_SPEC = REPO / "examples" / "replay" / "servegen-m-large.yaml"
END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # the instant evaluations start at
SCRAPE_S = 60.0
INTERVAL_S = 300.0
BLOCK_S = 7200.0  # promtool's block length


def _preset() -> Any:
    from seasonal_engines.core import presets

    return dataclasses.replace(presets.SEASONAL, max_tokens_metric=None)


def write_services(path: Path, services: int, minutes: float) -> int:
    """OpenMetrics history of ``services`` services over the last ``minutes`` before END; sample lines."""
    from seasonal_engines.traces import openmetrics, read_trace

    trace = read_trace(TRACES / "servegen_m-mid_14d.csv.xz")
    span = minutes * 60.0
    end = END.timestamp()
    preset = _preset()
    lines = 0
    with path.open("w", encoding="utf-8") as f:
        for i in range(services):
            offset = (i * 2400.0) % (trace.last_s - span - 3600.0)  # 40 minutes apart, wrapping
            piece = trace.window(offset, offset + span).shifted(end - span - offset)
            for line in openmetrics.lines(piece, preset, SCRAPE_S, labels={"model": f"svc-{i:03d}"},
                                          start_s=end - span, end_s=end):
                if line != "# EOF":
                    f.write(line + "\n")
                    lines += not line.startswith("#")
        f.write("# EOF\n")
    return lines


def write_season_history(folder: Path, days: int) -> int:
    """One service with ``days`` of 1-minute data (m-large repeated) ending at END, as one OpenMetrics file
    per 2-hour TSDB block: promtool 2.42 re-reads its whole input for every block it cuts, so one file of
    four weeks (336 blocks) would take it half an hour."""
    from seasonal_engines.traces import Trace, openmetrics, read_trace

    t = read_trace(TRACES / "servegen_m-large_14d.csv.xz")
    period = 14 * 86400.0
    reps = int(np.ceil(days * 86400.0 / period))
    ts = np.concatenate([t.timestamps_s + k * period for k in range(reps)])
    keep = ts < days * 86400.0
    start = END.timestamp() - days * 86400.0
    long = Trace(ts[keep] + start, np.tile(t.input_tokens, reps)[keep], np.tile(t.output_tokens, reps)[keep],
                 start_s=start, end_s=END.timestamp())
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[int, Any] = {}
    family: list[str] = []     # TYPE and HELP of the family being written
    written: dict[int, int] = {}  # chunk -> id of the last family whose header it holds
    family_id = samples = 0
    try:
        for line in openmetrics.lines(long, _preset(), SCRAPE_S, labels={"model": "season-svc"}):
            if line.startswith("#"):
                if line.startswith("# TYPE"):
                    family, family_id = [line], family_id + 1
                elif line != "# EOF":
                    family.append(line)
                continue
            chunk = int(float(line.rsplit(" ", 1)[1]) // BLOCK_S)
            f = files.get(chunk)
            if f is None:
                f = files[chunk] = (folder / f"{chunk}.om").open("w", encoding="utf-8")
            if written.get(chunk) != family_id:
                f.write("\n".join(family) + "\n")
                written[chunk] = family_id
            f.write(line + "\n")
            samples += 1
    finally:
        for f in files.values():
            f.write("# EOF\n")
            f.close()
    return samples


def backfill(source: Path, workdir: Path) -> float:
    """``promtool tsdb create-blocks-from openmetrics`` of one file into ``workdir/tsdb``; the file is removed."""
    from seasonal_engines.adapters import local_prometheus

    started = time.perf_counter()
    data = workdir / "tsdb"
    data.mkdir(parents=True, exist_ok=True)
    tool = local_prometheus.find_binaries().promtool
    done = subprocess.run([str(tool), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"promtool failed on {source.name}: {done.stderr[-2000:]}")
    source.unlink()
    return time.perf_counter() - started


def backfill_folder(folder: Path, workdir: Path) -> float:
    """Backfill every OpenMetrics file of ``folder`` (two promtool processes at a time)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda f: backfill(f, workdir), sorted(folder.glob("*.om"))))
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


# --- the child: N services through the real Reconciler -----------------------------------------


class StandInCluster:
    """A ``core.ports.Cluster`` that answers at once: builds succeed, rollouts are ready, every write is
    accepted (what the benchmark measures is the reconciler and Prometheus, not the API server)."""

    def __init__(self) -> None:
        self.published: dict[str, set[str]] = {}
        self.bodies: dict[tuple[str, str], dict[str, Any]] = {}

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.bodies.get((namespace, name))

    def write_status(self, body: Any, status: Any) -> str:
        return str(body["metadata"].get("resourceVersion") or "1")

    def published_engines(self, namespace: str, service: str) -> frozenset[str]:
        return frozenset(self.published.get(service, set()))

    def build_state(self, namespace: str, job_name: str) -> Any:
        from seasonal_engines.core import observations

        return observations.BuildObservation(job_name, observations.JobState.succeeded)

    def rollout_state(self, spec: Any, owner: Any, engine: Any, colour: Any) -> Any:
        from seasonal_engines.core import observations

        return observations.RolloutObservation(engine.hash, True, True, True)

    def colour_for(self, owner: Any, engine_hash: str) -> str:
        return "blue"

    def start_build(self, namespace: str, manifests: Any) -> list[Any]:
        return []

    def roll_out(self, spec: Any, owner: Any, engine: Any, colour: Any) -> list[Any]:
        return []

    def apply_service(self, spec: Any, owner: Any, colour: Any) -> list[Any]:
        return []

    def record_references(self, namespace: str, job: Any) -> list[Any]:
        return []


def evaluate(url: str, services: int, rounds: int) -> dict[str, Any]:
    from seasonal_engines.core import actions
    from seasonal_engines.reconciling import Reconciler

    manifest = yaml.safe_load(SERVICE_SPEC.read_text())
    bodies = []
    for i in range(services):
        m = copy.deepcopy(manifest)
        m["metadata"].update(name=f"svc-{i:03d}", uid=f"00000000-0000-0000-0000-{i:012d}", generation=1)
        m["spec"]["traffic"]["prometheusUrl"] = url
        m["spec"]["traffic"]["selector"] = [{"label": "model", "value": f"svc-{i:03d}"}]
        m["status"] = {}
        bodies.append(m)
    clock = {"now": END}
    cluster = StandInCluster()
    rec = Reconciler(cluster=cluster, clock=lambda: clock["now"])
    per_round = []
    for r in range(rounds):
        clock["now"] = END + timedelta(seconds=r * INTERVAL_S)
        cpu, wall, queries, phases = [], [], [], {}
        for body in bodies:
            q0 = sum(p.queries_sent for p in rec.sources.values())
            c0, w0 = time.process_time(), time.perf_counter()
            out = rec.reconcile(body)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            queries.append(sum(p.queries_sent for p in rec.sources.values()) - q0)
            for a in out.decision.actions:
                if isinstance(a, actions.StartBuild):
                    cluster.published.setdefault(body["metadata"]["name"], set()).add(a.engine.hash)
            if out.status is not None:
                body["status"] = out.status
            phase = str(body["status"].get("phase"))
            phases[phase] = phases.get(phase, 0) + 1
        per_round.append({"round": r + 1, "phases": phases, "queries_max": max(queries),
                          "queries_mean": float(np.mean(queries)), "cpu_ms_mean": 1e3 * float(np.mean(cpu)),
                          "cpu_ms_p95": 1e3 * float(np.quantile(cpu, 0.95)), "wall_ms_mean": 1e3 * float(np.mean(wall)),
                          "round_wall_s": float(np.sum(wall)), "round_cpu_s": float(np.sum(cpu))})
    return {"services": services, "rounds": per_round,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def season_plan(url: str) -> dict[str, Any]:
    from seasonal_engines.adapters.prometheus import PrometheusTraffic
    from seasonal_engines.api import validation
    from seasonal_engines.core import planners, promql, seasons

    manifest = yaml.safe_load(SEASON_SPEC.read_text())
    season_doc = manifest["spec"]["seasons"][1]
    season_doc["history"] = 28
    spec = validation.parse_manifest(manifest)
    season = spec.seasons[1]
    source = PrometheusTraffic(url, timeout_s=120.0)
    windows = seasons.season_history_query_windows(season, END, timedelta(hours=1))
    matchers = (promql.matcher("model", "=", "season-svc"),)
    out = []
    for _ in range(3):  # the first reads blocks from disk; later ones show the warm cost
        c0, w0 = time.process_time(), time.perf_counter()
        profile = source.season(_preset(), matchers, windows, min_samples=1)
        q_wall, q_cpu = time.perf_counter() - w0, time.process_time() - c0
        c1, w1 = time.process_time(), time.perf_counter()
        plan = planners.for_spec(spec)(profile, season.name)  # type: ignore[arg-type]
        out.append({"query_wall_s": q_wall, "query_cpu_s": q_cpu, "plan_wall_s": time.perf_counter() - w1,
                    "plan_cpu_s": time.process_time() - c1})
    return {"occurrences": len(windows), "samples": getattr(profile, "samples", None),
            "envelope": getattr(getattr(plan, "envelope", None), "summary", lambda: str(plan))(), "runs": out}


# --- the parent ------------------------------------------------------------------------------


def child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--services", default="10,100,500", help="comma-separated service counts")
    p.add_argument("--rounds", type=int, default=4, help="evaluation rounds, 5 simulated minutes apart (round 3 "
                   "on is the steady state)")
    p.add_argument("--history-minutes", type=float, default=70.0, help="history per service (window 1h)")
    p.add_argument("--season-days", type=int, default=28, help="days of 1-minute data for the season plan")
    p.add_argument("--no-season", action="store_true", help="skip the season-planning measurement")
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the scaling curve")
    p.add_argument("--child-evaluate", nargs=3, metavar=("URL", "N", "ROUNDS"), help=argparse.SUPPRESS)
    p.add_argument("--child-season", metavar="URL", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child_evaluate:
        url, n, rounds = args.child_evaluate
        print(json.dumps(evaluate(url, int(n), int(rounds))))
        return 0
    if args.child_season:
        print(json.dumps(season_plan(args.child_season)))
        return 0

    from seasonal_engines.adapters import local_prometheus

    counts = sorted(int(x) for x in args.services.split(",") if x.strip())
    work = Path(tempfile.mkdtemp(prefix="seasonal-cost-"))
    result: dict[str, Any] = {"services": [], "season": None}
    try:
        t0 = time.perf_counter()
        fleet_om, season_om = work / "fleet.om", work / "season-history"
        with ThreadPoolExecutor(2) as pool:  # promtool runs in its own process: the two overlap
            fleet = pool.submit(lambda: (write_services(fleet_om, counts[-1], args.history_minutes),
                                         backfill(fleet_om, work / "fleet")))
            season = None if args.no_season else pool.submit(
                lambda: (write_season_history(season_om, args.season_days),
                         backfill_folder(season_om, work / "season")))
            fleet_lines, fleet_backfill = fleet.result()
            season_lines, season_backfill = season.result() if season else (0, 0.0)
        result["history"] = {"fleet_samples": fleet_lines, "season_samples": season_lines,
                             "prepare_s": round(time.perf_counter() - t0, 1),
                             "fleet_backfill_s": round(fleet_backfill, 1),
                             "season_backfill_s": round(season_backfill, 1)}
        server = local_prometheus.start_prometheus(work / "fleet")
        try:
            for n in counts:
                before = cpu_seconds(server.process.pid)
                r = child(["--child-evaluate", server.url, str(n), str(args.rounds)])
                prom_cpu = cpu_seconds(server.process.pid) - before
                r["prometheus_cpu_ms_per_evaluation"] = 1e3 * prom_cpu / (n * args.rounds)
                r["prometheus_rss_mb"] = rss_mb(server.process.pid)
                result["services"].append(r)
        finally:
            server.stop()
        if not args.no_season:
            server = local_prometheus.start_prometheus(work / "season")
            try:
                before = cpu_seconds(server.process.pid)
                result["season"] = child(["--child-season", server.url])
                result["season"]["prometheus_cpu_s"] = (cpu_seconds(server.process.pid) - before) / 3
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_result(result)
    if args.plot:
        plot(result, args.plot)
    return 0


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["services"]
    n = [r["services"] for r in rows]
    op = [r["rounds"][-1]["round_cpu_s"] for r in rows]
    wall = [r["rounds"][-1]["round_wall_s"] for r in rows]
    prom = [r["prometheus_cpu_ms_per_evaluation"] * r["services"] / 1e3 for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2), constrained_layout=True)
    ax.plot(n, wall, "o-", label="operator wall per round")
    ax.plot(n, op, "s-", label="operator CPU per round")
    ax.plot(n, prom, "^-", label="Prometheus CPU per round")
    ax.axhline(INTERVAL_S, color="grey", ls="--", lw=1, label="5-minute interval (one core)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("InferenceServices evaluated")
    ax.set_ylabel("seconds per evaluation round")
    ax.set_title("operator cost: one steady-state evaluation of every service")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_result(result: dict[str, Any]) -> None:
    h = result["history"]
    print(f"history: {h['fleet_samples']:,} samples for the fleet, {h['season_samples']:,} for the season "
          f"service; generated and backfilled in {h['prepare_s']} s")
    print("\nper evaluation (steady state = the last round; round 1 adds the Initial build, season queries "
          "come once an hour per season):")
    header = (f"{'services':>8} {'queries max':>11} {'queries mean':>12} {'op CPU ms':>9} {'op CPU p95':>10} "
              f"{'wall ms':>7} {'prom CPU ms':>11} {'round wall s':>12} {'op RSS MB':>9} {'svc/core @5m':>12}")
    print(header)
    print("-" * len(header))
    for r in result["services"]:
        last = r["rounds"][-1]
        allq = max(x["queries_max"] for x in r["rounds"])
        meanq = float(np.mean([x["queries_mean"] for x in r["rounds"]]))
        per_core = INTERVAL_S / (last["cpu_ms_mean"] / 1e3)
        print(f"{r['services']:>8} {allq:>11} {meanq:>12.2f} {last['cpu_ms_mean']:>9.1f} {last['cpu_ms_p95']:>10.1f} "
              f"{last['wall_ms_mean']:>7.1f} {r['prometheus_cpu_ms_per_evaluation']:>11.1f} "
              f"{last['round_wall_s']:>12.2f} {r['rss_mb']:>9.0f} {per_core:>12,.0f}")
    for r in result["services"]:
        print(f"  {r['services']} services, by round: " + "; ".join(
            f"r{x['round']} {x['cpu_ms_mean']:.1f} ms CPU, {x['queries_mean']:.2f} q, {x['phases']}"
            for x in r["rounds"]))
    s = result["season"]
    if s:
        runs = "; ".join(f"query {x['query_wall_s']:.2f} s wall / {x['query_cpu_s']:.2f} s CPU, plan "
                         f"{x['plan_wall_s'] * 1e3:.0f} ms" for x in s["runs"])
        print(f"\nseason plan from {s['occurrences']} daily occurrences (4 weeks of 1-minute data, "
              f"{s['samples']:,.0f} requests): {runs}; Prometheus CPU {s['prometheus_cpu_s']:.2f} s per plan; "
              f"engine {s['envelope']}")


if __name__ == "__main__":
    sys.exit(main())
