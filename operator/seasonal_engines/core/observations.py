"""What comes into the decision core: one ``Observation`` of the world, gathered by a shell (the reconciler,
the local mode, the replay) before ``core.decisions.decide`` runs. Data only: no I/O, no decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from seasonal_engines.api.spec import InferenceServiceSpec
from seasonal_engines.api.status import InferenceServiceStatus
from seasonal_engines.core.hourly_history import HourlyHistory
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable


class JobState(str, Enum):
    running = "Running"
    succeeded = "Succeeded"
    failed = "Failed"
    missing = "Missing"  # no Job of that name (deleted, or garbage-collected after its TTL)


@dataclass(frozen=True)
class BuildObservation:
    job_name: str
    state: JobState
    message: str = ""
    unschedulable: str = ""     # the scheduler's word while the build pod waits for a node (Pending)


@dataclass(frozen=True)
class RolloutObservation:
    """What the cluster says about the rollout of ``engine_hash``."""

    engine_hash: str
    deployment_ready: bool      # every replica updated and available on the new engine
    model_ready: bool           # every new pod's Triton reports the model ready
    config_matches: bool        # ... with a model config that matches the plan
    failed: bool = False        # the Deployment gave up (ProgressDeadlineExceeded, crash loops)
    message: str = ""
    unschedulable: str = ""     # the scheduler's word while a new pod waits for a node (no free GPU)


@dataclass(frozen=True)
class Observation:
    now: datetime
    generation: int
    spec: InferenceServiceSpec | None
    spec_error: str | None
    status: InferenceServiceStatus
    traffic: TrafficProfile | TrafficUnavailable                  # the trailing window
    # The profiles of the seasons ``core.seasons.profiles_needed`` names (spec.seasons only), by season.
    season_traffic: Mapping[str, TrafficProfile | TrafficUnavailable] = field(default_factory=dict)
    store: frozenset[str] = frozenset()                           # complete engines in the store
    build: BuildObservation | None = None
    rollout: RolloutObservation | None = None
    status_problem: str | None = None   # why the stored status could not be read (``status`` starts afresh)
    owner: str | None = None            # "<namespace>/<name>", for the engine store's references
    # spec.seasonDiscovery only: the hourly history seasons are discovered and planned from
    # (season_traffic is then built here from it, not gathered).
    history: HourlyHistory | TrafficUnavailable | None = None


__all__ = ["Observation", "BuildObservation", "RolloutObservation", "JobState"]
