"""Status conditions, as the Kubernetes API conventions describe them.

One helper upserts a condition by type, stamps ``observedGeneration`` and moves ``lastTransitionTime``
only when the status actually flips, so that a no-op evaluation writes an identical status. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from seasonal_engines.api.status import Condition, ConditionStatus
from seasonal_engines.core import times

SPEC_VALID = "SpecValid"
TRAFFIC_AVAILABLE = "TrafficAvailable"
ENGINE_READY = "EngineReady"
BUILDING = "Building"
ROLLING_OUT = "RollingOut"
DRIFTED = "Drifted"
TRAFFIC_SHIFTED = "TrafficShifted"
ROLLOUT_BLOCKED = "RolloutBlocked"
SEASONS_DISCOVERED = "SeasonsDiscovered"
DEGRADED = "Degraded"
SYNCED = "Synced"  # the last evaluation's changes to the cluster were accepted by the API server

# The order conditions appear in status, so that diffs and `kubectl describe` stay stable.
ORDER = (SPEC_VALID, TRAFFIC_AVAILABLE, ENGINE_READY, BUILDING, ROLLING_OUT, ROLLOUT_BLOCKED, DRIFTED,
         TRAFFIC_SHIFTED, SEASONS_DISCOVERED, DEGRADED, SYNCED)


def rfc3339(t: datetime) -> str:
    """UTC, second precision, 'Z' suffix: the form Kubernetes writes. ``t`` must be timezone-aware."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def set_condition(conditions: Sequence[Condition], type_: str, status: bool | None, reason: str, message: str,
                  *, now: datetime, generation: int | None) -> list[Condition]:
    """Conditions with ``type_`` set; ``status`` None means Unknown."""
    value = ConditionStatus.unknown if status is None else (ConditionStatus.true if status else
                                                            ConditionStatus.false)
    old = next((c for c in conditions if c.type == type_), None)
    flipped = old is None or old.status != value.value
    new = Condition(
        type=type_, status=value, reason=reason, message=message[:4096],
        last_transition_time=times.rfc3339(now) if flipped or old is None else old.last_transition_time,
        observed_generation=generation,
    )
    rest = [c for c in conditions if c.type != type_]
    return sorted([*rest, new], key=lambda c: ORDER.index(c.type) if c.type in ORDER else len(ORDER))


def get(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    c = get(conditions, type_)
    return c is not None and c.status == ConditionStatus.true.value
