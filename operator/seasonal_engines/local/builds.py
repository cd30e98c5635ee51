"""Build Jobs as local processes: each ``StartBuild`` runs the real build entrypoint for the CPU stand-in.

``python -m seasonal_build build --plan plan.json --store STORE --backend cpu-stand-in`` is what the build
Job runs in the cluster, with the backend switched to the stand-in (the plan and its hash stay the
operator's). A stand-in builds in about a second, so the build is given a modelled duration on the
simulated clock (20 simulated minutes by default): the Job counts as running until both the process has
exited and that much simulated time has passed, and only then does its engine count as published. A
process that exits non-zero is a failed Job, its log's last lines the message.

Imperative shell: files and processes (``adapters.local_processes``: own process group, log file,
stopped at exit).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from seasonal_build import engine_store
from seasonal_engines.adapters import local_processes
from seasonal_engines.core import actions, observations
from seasonal_engines.core.envelopes import Envelope

FAILURE_TAIL_CHARS = 600


@dataclass
class LocalBuild:
    """One build process and what the run needs to know about it."""

    job_name: str
    engine_hash: str
    reason: str
    season: str | None
    envelope: Envelope
    started: datetime            # simulated
    due: datetime                # simulated: not done before this, however fast the process
    process: local_processes.LocalProcess = field(repr=False)
    started_wall: float = field(default_factory=time.time)
    finished_wall: float | None = None
    exit_code: int | None = None

    def poll(self) -> None:
        if self.exit_code is None:
            code = self.process.popen.poll()
            if code is not None:
                self.exit_code = code
                self.finished_wall = time.time()
                # Forget it now, while its process-group id cannot have been reused by anyone else.
                self.process.stop(grace_s=0.1)

    @property
    def process_seconds(self) -> float | None:
        return None if self.finished_wall is None else self.finished_wall - self.started_wall


class LocalBuilds:
    """Starts and observes builds; ``published(now)`` is the engine store as the decision core may see it."""

    def __init__(self, store: Path, workdir: Path, model: str, duration: timedelta) -> None:
        self.store = engine_store.EngineStore(store)
        self.workdir = workdir
        self.model = model
        self.duration = duration
        self.builds: list[LocalBuild] = []
        self._by_job: dict[str, LocalBuild] = {}

    def start(self, action: actions.StartBuild, now: datetime) -> LocalBuild:
        attempt = sum(1 for b in self.builds if b.job_name == action.job_name) + 1
        stem = f"{action.job_name}-{attempt}"
        plan_path = self.workdir / "plans" / f"{stem}.json"
        plan_path.parent.mkdir(parents=True, exist_ok=True)
        plan_path.write_text(json.dumps(dict(action.engine.plan), indent=2, sort_keys=True) + "\n")
        command = [sys.executable, "-m", "seasonal_build", "build", "--plan", str(plan_path),
                   "--store", str(self.store.root), "--backend", "cpu-stand-in",
                   "--work-dir", str(self.workdir / "scratch")]
        process = local_processes.start_process(f"build {stem}", command, self.workdir / "logs" / f"{stem}.log")
        build = LocalBuild(job_name=action.job_name, engine_hash=action.engine.hash, reason=action.reason,
                           season=action.engine.season, envelope=action.engine.envelope, started=now,
                           due=now + self.duration, process=process)
        self.builds.append(build)
        self._by_job[action.job_name] = build
        return build

    def poll(self) -> None:
        for build in self.builds:
            build.poll()

    def observe(self, job_name: str, now: datetime) -> observations.BuildObservation:
        build = self._by_job.get(job_name)
        if build is None:
            return observations.BuildObservation(job_name, observations.JobState.missing)
        build.poll()
        if build.exit_code is None:
            return observations.BuildObservation(job_name, observations.JobState.running)
        if build.exit_code != 0:
            tail = build.process.log_tail(FAILURE_TAIL_CHARS).strip().splitlines()
            why = tail[-1] if tail else "no output"
            return observations.BuildObservation(job_name, observations.JobState.failed,
                                              f"build process exited {build.exit_code}: {why}")
        if now < build.due:
            return observations.BuildObservation(job_name, observations.JobState.running)
        return observations.BuildObservation(job_name, observations.JobState.succeeded)

    def done(self, build: LocalBuild, now: datetime) -> bool:
        build.poll()
        return build.exit_code == 0 and now >= build.due

    def published(self, now: datetime) -> set[str]:
        """Hashes of engines built in this run whose modelled build is over and that the store holds."""
        out = set()
        for build in self.builds:
            if self.done(build, now) and self.store.lookup(self.model, build.engine_hash) is not None:
                out.add(build.engine_hash)
        return out

    def stop_all(self) -> None:
        """Stop builds still running (a finished one was let go when it was seen to finish)."""
        for build in self.builds:
            build.poll()
            if build.exit_code is None:
                build.process.stop(grace_s=3.0)


__all__ = ["LocalBuilds", "LocalBuild"]
