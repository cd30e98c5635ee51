"""The simulated cluster a replay runs against: build Jobs that take time, rollouts that take time, an
engine store, and the engine each request meets.

It plays the part of Kubernetes and Triton for ``core.decisions.decide``: it answers the build and rollout
observations the reconciler would gather, and applies ``StartBuild`` and ``RollOut`` actions. A build
succeeds ``build duration`` after it starts (drawn per build from a seeded uniform range) and its engine
joins the store; a rollout is ready ``rollout duration`` after it starts. Traffic moves to the new engine
at the instant its rollout is ready (the rolling update is modelled as one switch at its end). Builds and
rollouts never fail here: the replay measures sizing, not failure handling.

No I/O and no clock: every method takes the simulated time in seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from seasonal_engines.api.status import InferenceServiceStatus
from seasonal_engines.core import actions, observations, status_codec
from seasonal_engines.core.envelopes import Envelope


@dataclass(frozen=True)
class Durations:
    """How long the world takes, in seconds: builds uniformly in ``[build_min_s, build_max_s]``."""

    build_min_s: float = 1200.0
    build_max_s: float = 2400.0
    rollout_s: float = 300.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.build_min_s <= self.build_max_s:
            raise ValueError(f"build duration range must be positive and ordered, got {self.build_min_s:g}-"
                             f"{self.build_max_s:g} s")
        if self.rollout_s <= 0:
            raise ValueError(f"rollout duration must be positive, got {self.rollout_s:g} s")


@dataclass(frozen=True)
class BuildRecord:
    """One build the decision core started."""

    started_s: float
    done_s: float
    engine_hash: str
    envelope: Envelope
    reason: str
    season: str | None


@dataclass(frozen=True)
class RolloutRecord:
    """One rollout the decision core started; ``ready_s`` is when traffic moved to the engine."""

    started_s: float
    ready_s: float
    engine_hash: str
    envelope: Envelope
    reason: str | None
    rollback: bool


@dataclass(frozen=True)
class Segment:
    """From ``since_s`` on, requests meet ``envelope`` (until the next segment)."""

    since_s: float
    envelope: Envelope
    engine_hash: str


@dataclass
class World:
    """Builds, rollouts, the store and what serves, as the simulation advances."""

    durations: Durations = field(default_factory=Durations)
    store: set[str] = field(default_factory=set)
    builds: list[BuildRecord] = field(default_factory=list)
    rollouts: list[RolloutRecord] = field(default_factory=list)
    timeline: list[Segment] = field(default_factory=list)
    _jobs: dict[str, BuildRecord] = field(default_factory=dict)
    _rollout: RolloutRecord | None = None
    _rollout_serves: bool = False  # the current rollout's engine already serves
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.durations.seed)

    @property
    def serving(self) -> Segment | None:
        return self.timeline[-1] if self.timeline else None

    # --- time -------------------------------------------------------------------------------

    def advance(self, now_s: float) -> None:
        """Finish what is due at or before ``now_s``: built engines join the store, ready rollouts serve."""
        for job in self._jobs.values():
            if job.done_s <= now_s:
                self.store.add(job.engine_hash)
        ro = self._rollout
        if ro is not None and ro.ready_s <= now_s and not self._rollout_serves:
            self.timeline.append(Segment(ro.ready_s, ro.envelope, ro.engine_hash))
            self._rollout_serves = True

    def next_event_after(self, now_s: float) -> float | None:
        """The next instant something changes by itself (a build finishing, a rollout becoming ready)."""
        times = [j.done_s for j in self._jobs.values() if j.done_s > now_s]
        if self._rollout is not None and self._rollout.ready_s > now_s:
            times.append(self._rollout.ready_s)
        return min(times) if times else None

    # --- what the reconciler would gather --------------------------------------------------

    def build_observation(self, status: InferenceServiceStatus, now_s: float) -> observations.BuildObservation | None:
        if status.build is None:
            return None
        job = self._jobs.get(status.build.job_name)
        if job is None:
            return observations.BuildObservation(status.build.job_name, observations.JobState.missing)
        state = observations.JobState.succeeded if job.done_s <= now_s else observations.JobState.running
        return observations.BuildObservation(status.build.job_name, state)

    def rollout_observation(self, status: InferenceServiceStatus,
                            now_s: float) -> observations.RolloutObservation | None:
        ro = self._rollout
        if status.rollout is None or ro is None or ro.engine_hash != status.rollout.engine_hash:
            return None
        ready = ro.ready_s <= now_s
        return observations.RolloutObservation(ro.engine_hash, deployment_ready=ready, model_ready=ready,
                                            config_matches=True)

    # --- applying the decision ---------------------------------------------------------------

    def apply(self, decided: tuple[actions.Action, ...], now_s: float) -> None:
        """Builds and rollouts; engine references have no store to be recorded in here, and the traffic
        moves with the rollout itself (``Segment``)."""
        for action in decided:
            if isinstance(action, actions.StartBuild):
                took = self._rng.uniform(self.durations.build_min_s, self.durations.build_max_s)
                record = BuildRecord(now_s, now_s + took, action.engine.hash, action.engine.envelope,
                                     action.reason, action.engine.season)
                self._jobs[action.job_name] = record
                self.builds.append(record)
            elif isinstance(action, actions.RollOut):
                record_ro = RolloutRecord(now_s, now_s + self.durations.rollout_s, action.engine.hash,
                                          status_codec.envelope_of(action.engine), action.engine.reason,
                                          action.rollback)
                self._rollout = record_ro
                self._rollout_serves = False
                self.rollouts.append(record_ro)


__all__ = ["Durations", "World", "BuildRecord", "RolloutRecord", "Segment"]
