"""The edges the reconciler talks through, as typed Protocols: what a cluster, a traffic source and a Triton
probe must answer, with the values and errors they answer in.

Declared here, below the adapters, so that the reconciler (and the tests' fakes) depend on the contract
and not on an implementation: ``adapters.kubernetes.KubernetesCluster``, ``adapters.prometheus.PrometheusTraffic``
and ``adapters.triton.check_model`` implement them against the real servers; ``tests/cluster_fake.py`` and
``tests/traffic_fake.py`` in memory. Declarations only: no implementation, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from seasonal_engines.api import spec as api
from seasonal_engines.api.status import EngineRef
from seasonal_engines.core import build_jobs, promql
from seasonal_engines.core.hourly_history import HourlyHistory
from seasonal_engines.core.observations import BuildObservation, RolloutObservation
from seasonal_engines.core.presets import MetricPreset
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

# --- the cluster ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldConflict:
    """Another field manager had changed fields we apply; we took them back (reported as an Event)."""

    kind: str
    name: str
    managers: tuple[str, ...]
    fields: tuple[str, ...]

    def describe(self) -> str:
        return (f"{self.kind} {self.name}: {', '.join(self.fields) or 'fields'} had been changed by "
                f"{', '.join(self.managers) or 'another field manager'}; the operator's values were applied again")


class Refused(Exception):
    """A change the operator will not make (not an API error): ``reason`` for the condition."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class StatusConflict(Exception):
    """The object changed since it was read (HTTP 409 on the status write): decide again from a fresh read."""


class Cluster(Protocol):
    """The cluster as one evaluation sees and changes it. Reads answer with values; every change answers the
    field conflicts it met (and overrode). A change the API server refuses raises the client's
    ``ApiException``; one the operator will not make raises ``Refused``."""

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The InferenceService as the API server has it now; None when it is gone."""
        ...

    def write_status(self, body: Mapping[str, Any], status: Mapping[str, Any]) -> str:
        """Replace the status of ``body`` (as read); the new resourceVersion. ``StatusConflict`` when the
        object changed since ``body`` was read."""
        ...

    def build_state(self, namespace: str, job_name: str) -> BuildObservation: ...

    def published_engines(self, namespace: str, service: str) -> frozenset[str]:
        """Engines whose build Job succeeded (full hashes)."""
        ...

    def rollout_state(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any], target: EngineRef,
                      colour: str | None) -> RolloutObservation:
        """Whether every replica runs ``target`` and each one's Triton serves it."""
        ...

    def colour_for(self, owner: Mapping[str, Any], engine_hash: str) -> str:
        """BlueGreen: the colour whose Deployment names ``engine_hash``, else the colour not live."""
        ...

    def start_build(self, namespace: str, manifests: build_jobs.BuildManifests) -> list[FieldConflict]: ...

    def roll_out(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any], engine: EngineRef,
                 colour: str | None) -> list[FieldConflict]: ...

    def apply_service(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any],
                      colour: str | None) -> list[FieldConflict]: ...

    def record_references(self, namespace: str, job: dict[str, Any]) -> list[FieldConflict]: ...


# --- traffic -------------------------------------------------------------------------------------------------


class TrafficSource(Protocol):
    """Where traffic profiles come from (a Prometheus API). Every failure is a ``TrafficUnavailable`` value,
    never an exception; ``queries_sent`` counts the queries, for budgets."""

    queries_sent: int

    def window(self, preset: MetricPreset, matchers: Sequence[promql.Matcher], end: datetime, window_s: float, *,
               min_samples: int = 1, peak_percentile: float = 0.99,
               recent_s: float | None = None) -> TrafficProfile | TrafficUnavailable:
        """The trailing window ending at ``end`` (and its last ``recent_s`` as ``profile.recent``): one query."""
        ...

    def season(self, preset: MetricPreset, matchers: Sequence[promql.Matcher],
               occurrences: Sequence[tuple[datetime, datetime]], *, min_samples: int = 1,
               peak_percentile: float = 0.99) -> TrafficProfile | TrafficUnavailable:
        """A season's past occurrences, summed: one query."""
        ...

    def history(self, preset: MetricPreset, matchers: Sequence[promql.Matcher], end: datetime, hours: int, *,
                step_s: float = promql.HISTORY_STEP_S) -> HourlyHistory | TrafficUnavailable:
        """Hour by hour, the ``hours`` before ``end`` (spec.seasonDiscovery): one range query."""
        ...


# --- Triton --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelCheck:
    ready: bool
    config_matches: bool
    message: str = ""


class TritonProbe(Protocol):
    """Asks the Triton at ``url`` (host:port) whether ``model`` is ready and serves ``engine``; every failure
    is a ``ModelCheck`` with the reason, never an exception."""

    def __call__(self, url: str, model: str, engine: EngineRef) -> ModelCheck: ...


__all__ = ["Cluster", "TrafficSource", "TritonProbe", "FieldConflict", "ModelCheck", "Refused", "StatusConflict"]
