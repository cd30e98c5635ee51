"""Which engines an InferenceService holds on to, so that garbage collection never deletes one that serves
or may serve: the serving engine, the rollback targets (the last engines served before it), the engine
being built or rolled out, and every season's planned engine. Pure: status in, references out.

The operator records them in the engine store (``<store>/<model>/.refs/<namespace>.<name>.json``, through
a small Job that mounts the store; ``core.build_jobs.references_job``) whenever they change, and
``seasonal engines gc`` / ``seasonal_build.engine_store.collect`` keep what any record names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from seasonal_engines.api.status import InferenceServiceStatus

ROLLBACK_TARGETS = 2  # engines served before the serving one that a rollback may return to


@dataclass(frozen=True)
class EngineReferences:
    owner: str                                # "<namespace>/<name>"
    model: str
    serving: str | None = None
    history: tuple[str, ...] = ()             # rollback targets and the engine in flight
    seasons: dict[str, str] = field(default_factory=dict)  # season name -> planned engine
    keep: int = 5                             # spec.engine.store.keep: unreferenced engines gc keeps

    def hashes(self) -> set[str]:
        return {h for h in (self.serving, *self.history, *self.seasons.values()) if h}

    def to_json(self) -> dict[str, Any]:
        return {"owner": self.owner, "model": self.model, "serving": self.serving, "history": list(self.history),
                "seasons": dict(sorted(self.seasons.items())), "keep": self.keep}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]


def of_status(status: InferenceServiceStatus, *, owner: str, model: str, keep: int) -> EngineReferences:
    serving = status.serving_engine.hash if status.serving_engine else None
    previous = [e.hash for e in status.engine_history if e.hash != serving][:ROLLBACK_TARGETS]
    in_flight = [h for h in (status.target_engine.hash if status.target_engine else None,
                             status.rollout.previous_hash if status.rollout else None,
                             status.build.engine_hash if status.build else None) if h]
    history = tuple(h for h in dict.fromkeys([*previous, *in_flight]) if h != serving)  # ordered, no repeats
    seasons = {s.season: s.hash for s in status.season_engines}
    if status.next_season is not None and status.next_season.engine_hash:
        seasons[status.next_season.name] = status.next_season.engine_hash
    return EngineReferences(owner=owner, model=model, serving=serving, history=history, seasons=seasons, keep=keep)


__all__ = ["EngineReferences", "of_status", "ROLLBACK_TARGETS"]
