"""The local quickstart end to end: a shortened run (``--minutes 1``) with real Prometheus, real Triton and
the CPU stand-in engine, and an interrupted run that must leave nothing behind.

The shortened run starts at 09:00 of the trace's day 0 and replays about six simulated hours, so it
crosses the 12:00 season boundary of ``examples/quickstart.yaml``. The decision core builds and rolls out
the bootstrap engine during the warm-up, then the first-half season's engine once the trailing window
holds enough requests, and decides again at 12:00, through local build processes and Triton's
repository API. The pure arithmetic of the local mode
(clock mapping, subsampling) is checked first, without servers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from seasonal_engines.core import traffic
from seasonal_engines.local import replaying, timing, workload
from seasonal_engines.local.workload import Outcome
from seasonal_engines.traces import read_trace

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO / "examples" / "traces" / "servegen_m-large_14d.csv.xz"
DAY0 = datetime(2026, 1, 5, tzinfo=UTC)


# --- the pure parts -------------------------------------------------------------------------------


def test_the_clock_maps_simulated_windows_onto_the_wall_clock_and_back() -> None:
    clock = timing.SimClock(wall0=1_000_000.0, sim0=DAY0 + timedelta(hours=8), speed=600.0)
    assert clock.sim_at(1_000_006.0) == DAY0 + timedelta(hours=9)
    assert clock.wall_at(DAY0 + timedelta(hours=10)) == pytest.approx(1_000_012.0)
    assert clock.wall_seconds(7200) == pytest.approx(12.0)
    # A window before the data begins is dropped; one across the start is cut there.
    windows = [(DAY0, DAY0 + timedelta(hours=2)), (DAY0 + timedelta(hours=7), DAY0 + timedelta(hours=9))]
    (only,) = clock.wall_windows(windows, since=DAY0 + timedelta(hours=8))
    assert only[0].timestamp() == pytest.approx(1_000_000.0) and only[1].timestamp() == pytest.approx(1_000_006.0)


def test_a_profile_read_at_wall_time_gets_the_simulated_window_and_rate() -> None:
    clock = timing.SimClock(wall0=1_000_000.0, sim0=DAY0, speed=600.0)
    wall_start = datetime.fromtimestamp(1_000_000.0, tz=UTC)
    wall_end = datetime.fromtimestamp(1_000_012.0, tz=UTC)  # 12 wall seconds = 2 simulated hours
    n = 720
    wall = traffic.profile_from_requests(wall_start, wall_end, np.full(n, 100), np.full(n, 50))
    assert wall.rate_rps == pytest.approx(60.0)
    sim = timing.to_simulated(wall, clock, peak_percentile=0.99)
    assert (sim.start, sim.end) == (DAY0, DAY0 + timedelta(hours=2))
    assert sim.rate_rps == pytest.approx(0.1)
    assert sim.samples == n and sim.quantiles == wall.quantiles


def test_the_replay_keeps_a_seeded_share_and_scales_min_samples_alike() -> None:
    trace = read_trace(TRACE)
    keep = workload.keep_share(workload.mean_rate(trace), speed=576.0, max_wall_rps=30.0)
    assert 0.3 < keep < 0.5  # ~0.12 requests/s in the trace, ~71/s at one day in 2.5 minutes
    a = workload.select(trace, 9 * 3600, 15 * 3600, keep, seed=0)
    b = workload.select(trace, 9 * 3600, 15 * 3600, keep, seed=0)
    full = trace.window(9 * 3600, 15 * 3600)
    assert np.array_equal(a.at_s, b.at_s) and abs(len(a) / len(full) - keep) < 0.05
    assert a.at_s.min() >= 9 * 3600 and a.at_s.max() < 15 * 3600 and np.all(np.diff(a.at_s) >= 0)
    assert workload.scaled_min_samples(300, keep) == int(np.ceil(300 * keep))
    assert workload.scaled_min_samples(300, 0.01) == workload.MIN_SAMPLES_FLOOR
    with pytest.raises(ValueError, match="--start-hour"):
        workload.select(trace, 20 * 86400, 21 * 86400, keep)


def test_triton_errors_are_told_apart() -> None:
    assert replaying.classify_error("[StatusCode.INTERNAL] Prompt length (9000) exceeds maximum input length "
                                    "(6143). [cpu-stand-in]") == Outcome.rejected
    assert replaying.classify_error("Request for unknown model: 'ensemble' is not found") == Outcome.unavailable
    assert replaying.classify_finish(b"engine_limit") == Outcome.limit_stopped
    assert replaying.classify_finish(b"length") == Outcome.answered


# --- a shortened quickstart, end to end --------------------------------------------------------------


def quickstart(out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "seasonal_engines", "quickstart", "--out", str(out), "--trace", str(TRACE),
            "--plain", *args]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (a run's output directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, dict]:
    out = tmp_path_factory.mktemp("quickstart")
    # A relative --out, as the README runs it: Triton and Prometheus run in directories of their own. How
    # long it takes is a figure, not a test: summary.json keeps it (wall_seconds) and the summary prints it.
    result = subprocess.run(quickstart(Path(out.name), "--minutes", "1"), capture_output=True, text=True,
                            timeout=150, cwd=out.parent)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result, out, json.loads((out / "summary.json").read_text())


@pytest.mark.prometheus
@pytest.mark.triton
def test_real_prometheus_counted_every_request_the_real_triton_served(finished) -> None:
    _, _, doc = finished
    req = doc["requests"]
    assert req["sent"] > 300 and req["skipped"] == 0
    reached = req["answered"] + req["limit_stopped"] + req["rejected"]
    assert reached == req["sent"] - req["unavailable"] and req["unavailable"] == 0
    # The stand-in counts each request at admission; Prometheus scraped that from Triton.
    assert doc["prometheus_counted"] == reached


@pytest.mark.prometheus
@pytest.mark.triton
def test_the_bootstrap_and_the_seasons_engine_were_built_and_rolled_over(finished) -> None:
    _, out, doc = finished
    assert doc["simulated"]["from_text"] == "day 0 09:00"
    assert doc["simulated"]["to"] > (DAY0 + timedelta(hours=12, minutes=30)).isoformat()
    assert [b["exit_code"] for b in doc["builds"]] == [0] * len(doc["builds"])
    assert doc["builds"][0]["reason"] == "Bootstrap"
    served = [r for r in doc["rollovers"] if r["serving_from"]]
    assert served[0]["reason"] == "Bootstrap" and served[0]["serving_from"] < (DAY0 + timedelta(hours=9)).isoformat()
    # Once the trailing window holds minSamples requests, the active season gets an engine sized to them.
    sized = served[1]
    assert sized["reason"] == "SeasonStart" and sized["season"] == "first-half"
    assert sized["envelope"]["max_seq_len"] < served[0]["envelope"]["max_seq_len"] / 4
    # At 12:00 the second half begins: it gets its own engine, or shares the serving one when it plans the same.
    journal = (out / "journal.txt").read_text()
    assert "season second-half begins" in journal
    shared = f"season second-half plans the serving engine {sized['engine_hash'][:12]}" in journal
    own = [r for r in served[2:] if r["season"] == "second-half"]
    if shared:
        assert not own, "a shared engine is relabelled, not rolled out again"
    else:
        assert own, "the second half is served by an engine planned for it"
    # Each served engine is a CPU stand-in published in the store, and Triton loaded it through the
    # repository API (explicit model control): one successful load per rollover.
    for r in served:
        manifest = json.loads((out / "work" / "store" / "llama-3.1-8b" / r["engine_hash"]
                               / "manifest.json").read_text())
        assert manifest["backend"] == "cpu-stand-in"
    log = "".join(p.read_text(errors="replace") for p in (out / "work" / "triton").glob("tritonserver-*.log"))
    assert re.search(r"model_control_mode\s*\|\s*MODE_EXPLICIT", log)
    assert len(re.findall(r"successfully loaded 'ensemble'", log)) == len(served)


@pytest.mark.prometheus
@pytest.mark.triton
def test_it_reports_a_summary_a_journal_and_a_picture_of_the_stand_in(finished) -> None:
    result, out, doc = finished
    png = (out / "envelope.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 30_000
    journal = (out / "journal.txt").read_text()
    assert "build started: CPU stand-in engine" in journal and "season second-half begins" in journal
    assert "Summary" in result.stdout and "CPU stand-in engine" in result.stdout
    assert doc["engine"] == "CPU stand-in engine (not a TensorRT-LLM engine)"
    # It never calls the stand-in a TensorRT-LLM engine.
    assert not re.search(r"(?<!not a )TensorRT-LLM engine", result.stdout + journal)


@pytest.mark.prometheus
@pytest.mark.triton
def test_no_process_outlives_a_finished_run(finished) -> None:
    _, out, _ = finished
    assert processes_mentioning(str(out)) == []


@pytest.mark.prometheus
@pytest.mark.triton
def test_ctrl_c_stops_every_process_it_started(tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(quickstart(out, "--minutes", "3"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=REPO)
    seen = []
    try:
        deadline = time.monotonic() + 40
        assert proc.stdout is not None
        for line in proc.stdout:  # the bootstrap engine serving: Triton runs with a model (and its stub)
            seen.append(line)
            if "serving: CPU stand-in engine" in line or time.monotonic() > deadline:
                break
        assert any("serving: CPU stand-in engine" in line for line in seen), "".join(seen)
        assert any("tritonserver" in p for p in processes_mentioning(str(out)))
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, "".join(seen) + rest
    assert processes_mentioning(str(out)) == []
    assert json.loads((out / "summary.json").read_text())["interrupted"] is True
