"""Time as the core reads and writes it: UTC instants, and RFC 3339 text in the form Kubernetes writes.

The one place that formats and parses the times kept in status (conditions, builds, rollouts, drift,
the discovered schedule) and in messages. Pure: no clock reads; ``now`` is always someone's argument.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc(t: datetime, field: str = "now") -> datetime:
    """``t`` in UTC; a naive datetime is refused because it names no instant."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{field} must be timezone-aware (for example datetime.now(timezone.utc)), got {t!r}")
    return t.astimezone(UTC)


def rfc3339(t: datetime) -> str:
    """UTC, second precision, 'Z' suffix: the form Kubernetes writes. ``t`` must be timezone-aware."""
    return utc(t, "time").strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time as status holds it ('Z' or an offset); the status models check the form when read."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


__all__ = ["utc", "rfc3339", "parse_time"]
