"""The quickstart run: start the servers, replay the trace, evaluate, show progress, clean up, report.

Order of a run: real Triton (explicit model control, an empty serving repository) and real Prometheus
(scraping Triton's metrics port every second) on loopback ports; the simulated clock starts a warm-up
before the first replayed request, long enough for the decision core to build and roll out the
bootstrap engine (nothing serves and nothing was observed yet); then the trace's requests are sent as
their simulated arrival times come, and the InferenceService is evaluated every
``traffic.evaluationInterval`` of simulated time (more often while a build or rollout is under way).

The run stops at the time budget (``minutes``, less a reserve for stopping and reporting) or at the end
of the requested span, whichever comes first. Whatever happens (an error, Ctrl-C, SIGTERM), every process
it started is stopped: the servers and any build still running. Then it writes ``summary.json``, the
journal and ``envelope.png`` under the output directory and prints the summary table.

Imperative shell: processes, files, network, signals, the clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from seasonal_engines.adapters import local_prometheus, local_triton
from seasonal_engines.adapters.prometheus import PrometheusTraffic
from seasonal_engines.api import durations
from seasonal_engines.api.spec import InferenceServiceSpec
from seasonal_engines.core import presets, promql, seasons
from seasonal_engines.local import display as displays
from seasonal_engines.local import plotting, summary, timing, workload
from seasonal_engines.local.builds import LocalBuilds
from seasonal_engines.local.reconciling import LocalReconciler
from seasonal_engines.local.replaying import Replayer
from seasonal_engines.local.serving import MODEL_NAME, LocalServing
from seasonal_engines.local.settings import ORIGIN, Settings, load_spec
from seasonal_engines.traces import read_trace

RESERVE_S = 12.0        # the end of the budget, kept for stopping servers and writing the report
TICK_S = 0.02
DISPLAY_EVERY_S = 0.25
MIN_EVALUATION_GAP_S = 0.2
RATE_WINDOW_S = 5.0
MARKER = ".seasonal-quickstart"
MIN_WINDOW_WALL_S = 6.0  # the trailing window must hold several of Prometheus' one-second scrapes


def _prepare(out_dir: Path) -> Path:
    """``out_dir`` and a fresh ``out_dir/work`` (removed first only when an earlier quickstart made it and no
    other quickstart still uses it)."""
    work = out_dir / "work"
    marker = work / MARKER
    if work.exists():
        if not marker.exists():
            raise ValueError(f"--out {out_dir}: {work} exists and was not made by the quickstart; choose another "
                             "--out or remove it")
        owner = marker.read_text().split()[0] if marker.read_text().strip() else ""
        if owner.isdigit() and int(owner) != os.getpid() and Path(f"/proc/{owner}").exists():
            raise ValueError(f"--out {out_dir}: another quickstart (pid {owner}) is using it; wait for it or choose "
                             "another --out")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    marker.write_text(f"{os.getpid()} made this with `seasonal quickstart`; the next run into the same --out "
                      "removes it\n")
    return work


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _interrupts() -> Iterator[None]:
    """Ctrl-C, SIGTERM and a closed terminal all stop a run the same way (KeyboardInterrupt), so the same
    clean-up runs; set explicitly, since a shell starts background jobs with SIGINT ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Clean-up is not cut short by a second Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@dataclass
class _Run:
    """Everything one run started, so that it can be stopped and reported."""

    settings: Settings
    spec: InferenceServiceSpec
    work: Path
    begin_wall: float
    display: displays.Display
    triton: local_triton.TritonServer | None = None
    prometheus: local_prometheus.PrometheusServer | None = None
    clock: timing.SimClock | None = None
    load: workload.Workload | None = None
    builds: LocalBuilds | None = None
    serving: LocalServing | None = None
    reconciler: LocalReconciler | None = None
    replayer: Replayer | None = None
    traffic_from: datetime | None = None
    stopped_at: datetime | None = None
    min_samples: tuple[int, int] = (0, 0)
    prometheus_counted: float | None = None


def run(settings: Settings, display: displays.Display | None = None) -> int:
    """Run the quickstart; the exit code: 0 done, 1 no engine ever served, 130 interrupted."""
    with _interrupts():
        try:
            return _run(settings, display)
        except KeyboardInterrupt:  # before anything was started, or while reporting
            return 130


def _run(settings: Settings, display: displays.Display | None) -> int:
    settings.check()
    begin = time.time()
    spec = load_spec(settings.spec_path)
    window_s = durations.seconds(spec.traffic.window)
    if window_s / settings.speed < MIN_WINDOW_WALL_S:
        raise ValueError(f"--speed {settings.speed:g} squeezes traffic.window {spec.traffic.window} into "
                         f"{window_s / settings.speed:.1f} s of wall time, too few one-second Prometheus scrapes; use "
                         f"--speed {window_s / MIN_WINDOW_WALL_S:.0f} or less")
    local_prometheus.find_binaries()      # fail before starting anything when a binary is missing
    local_triton.locate_tritonserver()
    trace = read_trace(settings.trace_path)
    work = _prepare(settings.out_dir)
    r = _Run(settings, spec, work, begin, display or displays.choose(settings.plain))
    interrupted = False
    try:
        _start(r, trace)
        r.display.start("Seasonal Engines quickstart: CPU stand-in engine, real Prometheus and Triton, no GPU")
        _loop(r)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with _uninterrupted():
            _stop(r)
    if r.replayer is None:
        return 130 if interrupted else 1
    doc = _report(r, interrupted)
    if interrupted:
        return 130
    return 0 if any(ro["serving_from"] for ro in doc["rollovers"]) else 1


def _start(r: _Run, trace: Any) -> None:
    s = r.settings
    (r.work / "serving").mkdir()
    r.triton = local_triton.start_triton(r.work / "serving", r.work / "triton", model_control="explicit")
    r.prometheus = local_prometheus.start_prometheus(r.work / "prometheus", scrape_targets=[r.triton.metrics_url],
                                                     scrape_interval="1s")
    keep = workload.keep_share(workload.mean_rate(trace), s.speed, s.max_rps)
    used = workload.scaled_min_samples(r.spec.traffic.min_samples, keep)
    r.min_samples = (r.spec.traffic.min_samples, used)
    r.spec = r.spec.model_copy(update={"traffic": r.spec.traffic.model_copy(
        update={"prometheus_url": r.prometheus.url, "min_samples": used})})
    r.traffic_from = s.origin + timedelta(days=s.start_day, hours=s.start_hour)
    now = time.time()
    r.clock = timing.SimClock(now, r.traffic_from - timedelta(minutes=s.warmup_minutes), s.speed)
    end = r.clock.sim_at(r.begin_wall + s.minutes * 60 - RESERVE_S)
    if s.days is not None:
        end = min(end, r.traffic_from + timedelta(days=s.days))
    end = min(end, s.origin + timedelta(seconds=trace.last_s))
    if end <= r.traffic_from + timedelta(minutes=10):
        raise ValueError(f"--minutes {s.minutes:g} leaves no time for traffic after the {s.warmup_minutes:g}-minute "
                         f"warm-up at --speed {s.speed:g}; give more minutes or a higher speed")
    r.stopped_at = end
    r.load = workload.select(trace, (r.traffic_from - s.origin).total_seconds(), (end - s.origin).total_seconds(),
                             keep, s.seed)
    store = r.work / "store"
    r.builds = LocalBuilds(store, r.work / "builds", r.spec.model.name, timedelta(minutes=s.build_minutes))
    r.serving = LocalServing(r.triton.http_url, r.work / "serving", r.work / "staging", store, r.spec.model.name,
                             timedelta(minutes=s.rollout_minutes), r.clock.sim_at)
    r.reconciler = LocalReconciler(r.spec, r.clock, PrometheusTraffic(r.prometheus.url, timeout_s=5.0), r.builds,
                                   r.serving, data_since=r.clock.sim0, origin=s.origin)
    r.replayer = Replayer(r.load, r.triton.grpc_url, MODEL_NAME)


def _loop(r: _Run) -> None:
    assert r.clock and r.reconciler and r.replayer and r.stopped_at and r.load is not None
    clock, reconciler, replayer = r.clock, r.reconciler, r.replayer
    interval = durations.seconds(r.spec.traffic.evaluation_interval)
    next_evaluation = next_display = 0.0
    noted = 0
    sent_at: deque[tuple[float, int]] = deque()
    while True:
        now = time.time()
        sim = clock.sim_at(now)
        if sim >= r.stopped_at:
            r.stopped_at = sim
            break
        replayer.dispatch_until((sim - r.settings.origin).total_seconds())
        if now >= next_evaluation:
            decision = reconciler.evaluate(sim)
            wait = min(interval, decision.requeue_after) if decision.requeue_after else interval
            next_evaluation = time.time() + max(MIN_EVALUATION_GAP_S, clock.wall_seconds(wait))
        for entry in reconciler.journal[noted:]:
            r.display.note(timing.clock_text(entry.at, r.settings.origin), entry)
        noted = len(reconciler.journal)
        if now >= next_display:
            sent = replayer.counts()["sent"]
            sent_at.append((now, sent))
            while sent_at and sent_at[0][0] < now - RATE_WINDOW_S:
                sent_at.popleft()
            r.display.update(_snapshot(r, sim, now, sent_at))
            next_display = now + DISPLAY_EVERY_S
        time.sleep(TICK_S)


def _snapshot(r: _Run, sim: datetime, now: float, sent_at: deque[tuple[float, int]]) -> displays.Snapshot:
    assert r.replayer and r.reconciler and r.clock and r.serving and r.load is not None and r.traffic_from
    counts = r.replayer.counts()
    status = r.reconciler.status
    dt = sent_at[-1][0] - sent_at[0][0] if len(sent_at) > 1 else 0.0
    wall_rps = (sent_at[-1][1] - sent_at[0][1]) / dt if dt > 0 else 0.0
    trace_rph = wall_rps * 3600.0 / r.clock.speed / r.load.keep
    t = status.traffic
    d = status.drift
    drift = "-" if d is None else d.state + (f", {d.beyond_fraction:.2%} beyond the envelope" if d.beyond_fraction
                                              is not None else "") + (
        f", breach {d.breach_streak}/{r.spec.drift.consecutive_evaluations}" if d.breach_streak else "")
    loaded = [ro for ro in r.serving.rollovers if ro.loaded is not None]
    serving = "nothing loaded yet"
    if loaded:
        now_serving = loaded[-1]
        season = now_serving.season
        if status.serving_engine is not None and status.serving_engine.hash == now_serving.engine_hash:
            season = status.serving_engine.season  # seasons that plan the same engine share it
        serving = f"{now_serving.engine_hash[:12]} ({now_serving.envelope.summary()}) for " \
                  f"{season or 'the trailing window'}"
    busy = ""
    if status.build is not None:
        busy = f"building {status.build.engine_hash[:12]} for {status.build.season or 'the trailing window'} " \
               f"({status.build.reason})"
    elif status.rollout is not None:
        busy = f"rolling over to {status.rollout.engine_hash[:12]}"
    nxt = status.next_season
    return displays.Snapshot(
        clock=timing.clock_text(sim, r.settings.origin),
        stage="warm-up: bootstrap engine before traffic" if sim < r.traffic_from else "replaying",
        wall_s=now - r.begin_wall, budget_s=r.settings.minutes * 60, speed=r.clock.speed,
        sent=counts["sent"], answered=counts["answered"], limit_stopped=counts["limit_stopped"],
        rejected=counts["rejected"], unavailable=counts["unavailable"], in_flight=counts["in_flight"],
        wall_rps=wall_rps, trace_rph=trace_rph, samples=t.samples if t else None,
        p99=t.sequence.p99 if t else None, p999=t.sequence.p999 if t else None,
        season=status.active_season,
        next_season=None if nxt is None else f"{nxt.name} at "
        f"{timing.clock_text(datetime.fromisoformat(nxt.starts_at.replace('Z', '+00:00')), r.settings.origin)}",
        phase=status.phase, drift=drift, serving=serving, busy=busy)


def _stop(r: _Run) -> None:
    """Stop everything that was started, in order; never raises."""
    steps: list[tuple[str, Any]] = [("display", r.display.stop)]
    if r.replayer is not None:
        steps.append(("replayer", r.replayer.close))
    if r.serving is not None:
        steps.append(("loads", r.serving.wait))
    if r.builds is not None:
        steps.append(("builds", r.builds.stop_all))
    if r.prometheus is not None and r.replayer is not None:
        steps.append(("count", lambda: _count(r)))
    if r.triton is not None:
        steps.append(("triton", r.triton.stop))
    if r.prometheus is not None:
        steps.append(("prometheus", r.prometheus.stop))
    for name, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - keep stopping the rest
            print(f"seasonal quickstart: stopping {name} failed: {exc}")


def _count(r: _Run) -> None:
    """How many requests Prometheus saw the stand-in count (after one more scrape)."""
    assert r.prometheus is not None
    time.sleep(1.5)
    preset = presets.from_spec(r.spec.traffic)
    query = f"sum({promql.selector(preset.input_metric + '_count', promql.from_spec(r.spec.traffic.selector))})"
    result = local_prometheus.instant_query(r.prometheus.url, query, timeout_s=5.0)
    r.prometheus_counted = float(result[0]["value"][1]) if result else 0.0


def _season_samples(spec: InferenceServiceSpec, start: datetime, end: datetime) -> list[tuple[datetime, str | None]]:
    out: list[tuple[datetime, str | None]] = []
    t = start
    while t <= end:
        window = seasons.active_season(spec.seasons, t)
        name = window.name if window else None
        if not out or out[-1][1] != name:
            out.append((t, name))
        t += timedelta(minutes=10)
    return out


def _report(r: _Run, interrupted: bool) -> dict[str, Any]:
    assert r.replayer and r.reconciler and r.builds and r.serving and r.load is not None and r.clock
    assert r.traffic_from and r.stopped_at
    s = r.settings
    out = s.out_dir
    paths = {"summary": str(out / "summary.json"), "png": str(out / "envelope.png"),
             "journal": str(out / "journal.txt"), "logs": str(r.work)}
    builds = [summary.BuildFact(b.engine_hash, b.reason, b.season, b.envelope, b.started, b.process_seconds,
                                b.exit_code) for b in r.builds.builds]
    rollovers = [summary.RolloverFact(ro.engine_hash, ro.reason, ro.season, ro.envelope, ro.rollback, ro.started,
                                      ro.loaded, ro.load_seconds, ro.error) for ro in r.serving.rollovers]
    traffic_to = max(r.traffic_from, min(r.stopped_at, r.clock.sim_at(time.time())))
    doc = summary.document(
        workload=r.load, outcomes=r.replayer.outcomes.copy(), origin=s.origin, traffic_from=r.traffic_from,
        traffic_to=traffic_to, speed=s.speed, min_samples=r.min_samples, builds=builds, rollovers=rollovers,
        prometheus_counted=r.prometheus_counted, breach_fraction=r.spec.drift.breach_fraction,
        wall_seconds=time.time() - r.begin_wall, interrupted=interrupted, paths=paths)
    doc["journal"] = [{"at": e.at.isoformat(), "clock": timing.clock_text(e.at, s.origin), "kind": e.kind,
                       "text": e.text} for e in r.reconciler.journal]
    (out / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "journal.txt").write_text("".join(f"[{j['clock']}] {j['text']}\n" for j in doc["journal"]))
    plot_from = min(r.clock.sim0, r.traffic_from)
    plotting.plot(out / "envelope.png", workload=r.load, outcomes=r.replayer.outcomes.copy(), origin=s.origin,
                  start=plot_from, end=traffic_to, segments=summary.segments(rollovers), builds=builds,
                  evaluations=r.reconciler.evaluations,
                  season_at=_season_samples(r.spec, plot_from, traffic_to),
                  title=f"CPU stand-in engine envelope against the replayed requests "
                        f"({s.trace_path.name}, ×{s.speed:.0f}, {r.load.keep:.0%} of requests)")
    r.display.summary(summary.table_rows(doc), summary.engine_rows(doc, s.origin),
                      [("summary", paths["summary"]), ("picture", paths["png"]), ("journal", paths["journal"]),
                       ("server and build logs", paths["logs"])])
    return doc


__all__ = ["Settings", "run", "load_spec", "ORIGIN"]
