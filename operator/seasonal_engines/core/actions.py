"""What goes out of the decision core: a ``Decision`` (the status to write, the actions for the shell to
carry out, the Events to post, when to look again). Data only: the shells apply it, nothing here does.
"""

from __future__ import annotations

from dataclasses import dataclass

from seasonal_engines.api.status import EngineRef, InferenceServiceStatus
from seasonal_engines.core import engine_references, planners

BUSY_REQUEUE = 15.0  # seconds between looks while a build or rollout is under way


@dataclass(frozen=True)
class StartBuild:
    engine: planners.PlannedEngine
    reason: str
    job_name: str
    attempt: int = 1  # numbers the Job: every attempt gets a new one


@dataclass(frozen=True)
class RollOut:
    engine: EngineRef
    previous: EngineRef | None
    rollback: bool = False


@dataclass(frozen=True)
class SwitchTraffic:
    """Point the Service clients use at ``engine``'s pods: for BlueGreen the colour that runs it, once it
    serves; ``None`` (Rolling, Recreate) is every pod of the service, applied with each build or rollout so
    that the Service exists before anything serves."""

    engine: EngineRef | None


@dataclass(frozen=True)
class RecordReferences:
    """Record in the engine store which engines this InferenceService holds on to (gc keeps them)."""

    references: engine_references.EngineReferences


Action = StartBuild | RollOut | SwitchTraffic | RecordReferences


@dataclass(frozen=True)
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    status: InferenceServiceStatus
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None


__all__ = ["StartBuild", "RollOut", "SwitchTraffic", "RecordReferences", "Action", "Event", "Decision",
           "BUSY_REQUEUE"]
