"""Rollovers on a local Triton: swap the serving repository's model for the new engine's and reload it.

Triton runs with explicit model control over a *serving repository* of one model (``ensemble``, the name
clients and the readiness check use). A ``RollOut`` copies the engine's model directory from the engine
store (``<store>/<model>/<hash>/triton/ensemble``) into the serving repository, replacing the previous
one with two renames, and asks Triton to load the model (``load_model`` over HTTP, the repository API).
For a loaded model that is a reload: Triton keeps serving the old engine until the new one is ready, so
no request is lost to the switch. The load runs on a thread because it takes a second or two of wall
time (a Python-backend stub starting), during which requests keep flowing.

The rollout is observed like the Kubernetes one: ready only when the load returned, a modelled rollout
duration has passed on the simulated clock, and ``adapters.triton.check_model`` finds the model ready
with a config naming the planned engine (``engine_hash``) and its ``max_seq_len``.

Imperative shell: files and HTTP (tritonclient).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import tritonclient.http as httpclient

from seasonal_build import engine_store, stand_in
from seasonal_engines.adapters import triton
from seasonal_engines.api.status import EngineRef
from seasonal_engines.core import actions, observations, status_codec
from seasonal_engines.core.envelopes import Envelope

LOAD_TIMEOUT_S = 120.0
MODEL_NAME = stand_in.MODEL_NAME


@dataclass
class Rollover:
    """One rollout (or rollback) to ``engine_hash``."""

    engine_hash: str
    envelope: Envelope
    season: str | None
    reason: str | None
    rollback: bool
    started: datetime                    # simulated
    due: datetime                        # simulated: not ready before this
    started_wall: float = field(default_factory=time.time)
    loaded_wall: float | None = None     # when Triton answered the load
    loaded: datetime | None = None       # ... on the simulated clock: traffic meets the engine from then on
    error: str | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.loaded_wall is not None or self.error is not None

    @property
    def load_seconds(self) -> float | None:
        return None if self.loaded_wall is None else self.loaded_wall - self.started_wall


class LocalServing:
    """The Triton side of rollouts: which engine is loaded, and whether a rollout has become ready."""

    def __init__(self, http_url: str, repository: Path, staging: Path, store: Path, model: str,
                 duration: timedelta, sim_at: Callable[[float], datetime]) -> None:
        self.url = http_url.removeprefix("http://")
        self.repository = repository
        self.staging = staging
        self.store = engine_store.EngineStore(store)
        self.model = model
        self.duration = duration
        self.sim_at = sim_at
        self.rollovers: list[Rollover] = []
        repository.mkdir(parents=True, exist_ok=True)
        staging.mkdir(parents=True, exist_ok=True)

    @property
    def current(self) -> Rollover | None:
        return self.rollovers[-1] if self.rollovers else None

    def roll_out(self, action: actions.RollOut, now: datetime) -> Rollover:
        previous = self.current
        if previous is not None and previous._thread is not None:
            previous._thread.join(LOAD_TIMEOUT_S)  # one load at a time: never swap files under a load
        ref = action.engine
        rollover = Rollover(engine_hash=ref.hash, envelope=status_codec.envelope_of(ref), season=ref.season,
                            reason=ref.reason, rollback=action.rollback, started=now, due=now + self.duration)
        self.rollovers.append(rollover)
        engine = self.store.lookup(self.model, ref.hash)
        if engine is None:
            rollover.error = f"engine {ref.hash[:12]} is not in the store {self.store.root}"
            return rollover
        self._place(engine.model_repository / MODEL_NAME)
        rollover._thread = threading.Thread(target=self._load, args=(rollover,), name="triton-load", daemon=True)
        rollover._thread.start()
        return rollover

    def _place(self, source: Path) -> None:
        """Make ``source`` the serving repository's model: copy beside it, then two renames."""
        fresh = self.staging / f"{MODEL_NAME}.new"
        old = self.staging / f"{MODEL_NAME}.old"
        for path in (fresh, old):
            shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(source, fresh)
        live = self.repository / MODEL_NAME
        if live.exists():
            os.rename(live, old)
        os.rename(fresh, live)
        shutil.rmtree(old, ignore_errors=True)

    def _load(self, rollover: Rollover) -> None:
        try:
            client = httpclient.InferenceServerClient(self.url, connection_timeout=LOAD_TIMEOUT_S,
                                                      network_timeout=LOAD_TIMEOUT_S)
            try:
                client.load_model(MODEL_NAME)
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001 - any failure is the rollout's failure, reported as such
            rollover.error = f"Triton did not load the CPU stand-in engine {rollover.engine_hash[:12]}: " \
                             f"{str(exc)[:300]}"
            return
        now = time.time()
        rollover.loaded = self.sim_at(now)
        rollover.loaded_wall = now

    def observe(self, target: EngineRef, now: datetime) -> observations.RolloutObservation | None:
        ro = self.current
        if ro is None or ro.engine_hash != target.hash:
            return None
        if ro.error is not None:
            return observations.RolloutObservation(ro.engine_hash, False, False, False, failed=True, message=ro.error)
        if not ro.finished or now < ro.due:
            return observations.RolloutObservation(ro.engine_hash, False, False, False,
                                                message="Triton is loading the CPU stand-in engine")
        check = triton.check_model(self.url, MODEL_NAME, target)
        return observations.RolloutObservation(ro.engine_hash, deployment_ready=True, model_ready=check.ready,
                                            config_matches=check.config_matches, message=check.message)

    def wait(self, timeout_s: float = 10.0) -> None:
        """Let a load in progress finish (before Triton is stopped)."""
        ro = self.current
        if ro is not None and ro._thread is not None:
            ro._thread.join(timeout_s)


__all__ = ["LocalServing", "Rollover", "MODEL_NAME"]
