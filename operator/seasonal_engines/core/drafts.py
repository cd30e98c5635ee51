"""The decision being written: the status as it changes during one evaluation, and the actions, Events and
requeue times collected on the way, made into a ``Decision`` once at the end (kopf's collect-then-apply).
Every step of ``core.decisions`` writes through a ``Draft``. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from seasonal_engines.api.status import ConditionStatus, Phase
from seasonal_engines.core import actions
from seasonal_engines.core import conditions as cond
from seasonal_engines.core.observations import Observation


def _status_word(value: bool | None) -> str:
    if value is None:
        return ConditionStatus.unknown.value
    return ConditionStatus.true.value if value else ConditionStatus.false.value


class Draft:
    """The status being written and the effects collected on the way; applied once at the end."""

    def __init__(self, obs: Observation):
        self.obs = obs
        self.status = obs.status
        self.actions: list[actions.Action] = []
        self.events: list[actions.Event] = []
        self.requeue: list[float] = []

    def set(self, **updates: Any) -> None:
        self.status = self.status.model_copy(update=updates)

    def condition(self, type_: str, value: bool | None, reason: str, message: str, *,
                  event: str | None = None) -> None:
        """Set a condition; when it changes (status or reason) emit an Event of type ``event``."""
        old = cond.get(self.status.conditions, type_)
        changed = old is None or old.reason != reason or old.status != _status_word(value)
        self.set(conditions=cond.set_condition(self.status.conditions, type_, value, reason, message,
                                               now=self.obs.now, generation=self.obs.generation))
        if event and changed:
            self.emit(event, reason, message)

    def emit(self, type_: str, reason: str, message: str) -> None:
        self.events.append(actions.Event(type_, reason, message))

    def done(self, phase: Phase) -> actions.Decision:
        self.set(phase=phase, observed_generation=self.obs.generation)
        return actions.Decision(self.status, tuple(self.actions), tuple(self.events),
                                min(self.requeue) if self.requeue else None)


__all__ = ["Draft"]
