"""The operator's settings: one object, built once from the command line (``seasonal run``) and passed in.

Nothing in the operator reads the environment or keeps module-level state: ``cli.run`` builds an
``OperatorSettings``, the handlers receive it through kopf's ``memo``, and the reconciler and adapters get
the parts they need as arguments. Every field has a default, a unit and a bound (``check()`` enforces the
bounds, so a bad flag fails at start-up with the flag's name). Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seasonal_engines.core import build_jobs


@dataclass(frozen=True)
class LoopSettings:
    """How often objects are looked at."""

    tick_seconds: float = 15.0
    """Timer period per InferenceService; an evaluation runs only when the core's requeue time or
    traffic.evaluationInterval is due, so this bounds latency, not load. Bounds 0.1..300."""
    watch_timeout_seconds: int = 300
    """Server-side timeout of kopf's watch requests, after which the watch is re-established. 10..3600."""
    workers: int = 8
    """Threads running synchronous handlers (one evaluation per object at a time). 1..64."""
    status_conflict_retries: int = 3
    """Re-evaluations when a status write meets a newer object (HTTP 409). 1..10."""


@dataclass(frozen=True)
class PrometheusSettings:
    """How Prometheus is asked."""

    timeout_seconds: float = 10.0
    """One deadline for a whole request (connect, send, every read). 0.5..120."""
    max_reply_bytes: int = 16 * 1024 * 1024
    """Largest answer read; a longer one is refused as garbage before it is parsed. 64 KiB..256 MiB."""


@dataclass(frozen=True)
class TritonSettings:
    """How each new pod's Triton is asked whether it serves the planned engine."""

    timeout_seconds: float = 5.0
    """Connect and read timeout of one readiness check. 0.5..60."""


@dataclass(frozen=True)
class PeeringSettings:
    """Several replicas: kopf peering elects one active operator."""

    name: str | None = None
    """Peering object name shared by the replicas; None with standalone."""
    standalone: bool = True
    priority: int = 0
    """kopf pauses every replica whose priority is not the highest; equal priorities pause all of them,
    so each replica must get its own (``seasonal run --priority auto`` derives one from the pod name)."""
    lifetime_seconds: int = 60
    """How long a silent peer counts as alive: the standby takes over this long after the active replica
    died. 5..600."""


@dataclass(frozen=True)
class ListenSettings:
    """Where the operator listens; loopback-only or all interfaces is the user's choice."""

    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9090
    """0 turns the metrics endpoint off."""
    liveness_url: str | None = "http://0.0.0.0:8080/healthz"


@dataclass(frozen=True)
class OperatorSettings:
    loop: LoopSettings = field(default_factory=LoopSettings)
    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)
    triton: TritonSettings = field(default_factory=TritonSettings)
    peering: PeeringSettings = field(default_factory=PeeringSettings)
    listen: ListenSettings = field(default_factory=ListenSettings)
    jobs: build_jobs.JobSettings = field(default_factory=build_jobs.JobSettings)
    namespaces: tuple[str, ...] = ()
    """Namespaces watched; empty: all of them."""

    def check(self) -> OperatorSettings:
        """Self, or ValueError naming the setting out of its bounds."""
        for path, value, low, high in _bounds(self):
            if not low <= value <= high:
                raise ValueError(f"{path} must be within {low}..{high}, got {value}")
        if not self.peering.standalone and not self.peering.name:
            raise ValueError("peering.name is required unless standalone")
        return self


def _bounds(s: OperatorSettings) -> list[tuple[str, Any, Any, Any]]:
    return [
        ("loop.tick_seconds", s.loop.tick_seconds, 0.1, 300),
        ("loop.watch_timeout_seconds", s.loop.watch_timeout_seconds, 10, 3600),
        ("loop.workers", s.loop.workers, 1, 64),
        ("loop.status_conflict_retries", s.loop.status_conflict_retries, 1, 10),
        ("prometheus.timeout_seconds", s.prometheus.timeout_seconds, 0.5, 120),
        ("prometheus.max_reply_bytes", s.prometheus.max_reply_bytes, 64 * 1024, 256 * 1024 * 1024),
        ("triton.timeout_seconds", s.triton.timeout_seconds, 0.5, 60),
        ("peering.lifetime_seconds", s.peering.lifetime_seconds, 5, 600),
        ("peering.priority", s.peering.priority, -(2 ** 31), 2 ** 31 - 1),
        ("listen.metrics_port", s.listen.metrics_port, 0, 65535),
    ]


__all__ = ["OperatorSettings", "LoopSettings", "PrometheusSettings", "TritonSettings", "PeeringSettings",
           "ListenSettings"]
