"""The schedule ``spec.seasonDiscovery`` keeps in status: when to discover again, what changed, and the
season profiles the decision core plans from.

``rediscover`` runs ``core.season_discovery.discover`` once the last discovery is ``refresh`` old (or
there is none), and reports a change of seasons as an Event; the schedule therefore never changes more
often than ``refresh``. ``in_force`` turns the status back into spec seasons. ``profiles`` builds the
pooled profile of each season that matters now from the hourly history (``core.resizing.season_pool``).
Pure: values in, values out; ``now`` is an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pydantic

from seasonal_engines.api import durations
from seasonal_engines.api import spec as api
from seasonal_engines.api.status import DiscoveredSeason, SeasonScheduleStatus
from seasonal_engines.core import resizing, season_discovery, times
from seasonal_engines.core.hourly_history import HourlyHistory
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable


def settings_of(sd: api.SeasonDiscovery) -> season_discovery.Settings:
    return season_discovery.Settings(timezone=sd.timezone, max_seasons=sd.max_seasons,
                                     churn_penalty=sd.churn_penalty, confidence=sd.confidence,
                                     tail_requests=sd.tail_requests)


def due(old: SeasonScheduleStatus | None, now: datetime, refresh_s: float) -> bool:
    """Whether discovery should run again: never ran, or ran ``refresh`` ago or more."""
    if old is None:
        return True
    return times.utc(now) - times.parse_time(old.discovered_at) >= timedelta(seconds=refresh_s)


@dataclass(frozen=True)
class Rediscovery:
    """What one evaluation's discovery step decided."""

    status: SeasonScheduleStatus | None   # the schedule to keep in status
    ran: bool = False                     # discovery ran (it was due and there was history)
    changed: str | None = None            # the seasons changed: the Event's message
    unavailable: str | None = None        # it was due but there is no history: why


def rediscover(sd: api.SeasonDiscovery, sizing: season_discovery.Sizing, old: SeasonScheduleStatus | None,
               history: HourlyHistory | TrafficUnavailable | None, now: datetime) -> Rediscovery:
    """The schedule to keep in status, and whether it changed (see ``Rediscovery``)."""
    if not due(old, now, durations.seconds(sd.refresh)):
        return Rediscovery(old)
    if not isinstance(history, HourlyHistory):
        why = history.message if isinstance(history, TrafficUnavailable) else "no history was read"
        return Rediscovery(old, unavailable=f"seasons not discovered: {why}; " + (
            "the schedule in force stays" if old else "one engine follows the trailing window"))
    proposal = season_discovery.discover(history, sizing, settings_of(sd))
    found = [DiscoveredSeason(name=s.name, schedule=s.schedule, timezone=s.timezone, duration=f"{s.hours}h",
                              history=s.history, planned_max_seq_len=s.planned_step) for s in proposal.seasons]
    changed = old is None or _key(old.seasons) != _key(found)
    status = SeasonScheduleStatus(
        seasons=found, discovered_at=times.rfc3339(now), history_hours=history.observed_hours(),
        requests=round(float(history.requests.sum()), 3), mean_envelope=round(proposal.mean_bound, 1),
        static_envelope=proposal.static.bound_step, message=proposal.reason[:1024],
        shrink_streak=old.shrink_streak if old is not None and not changed else 0,
        last_counted_at=old.last_counted_at if old is not None else None,
        last_resized_at=old.last_resized_at if old is not None else None)
    if not changed:
        return Rediscovery(status, ran=True)
    names = ", ".join(f"{s.name} ({s.schedule} {s.timezone}, {s.duration})" for s in found)
    return Rediscovery(status, ran=True, changed=f"seasons discovered from {status.history_hours} h of history: "
                                                 f"{names}. {proposal.reason}")


def _key(found: Iterable[DiscoveredSeason]) -> list[tuple[str, str, str, str, int]]:
    return [(s.name, s.schedule, s.timezone, s.duration, s.history) for s in found]


def in_force(status: SeasonScheduleStatus | None) -> list[api.Season]:
    """The discovered seasons as spec seasons; none when there is no schedule or it cannot be read."""
    if status is None:
        return []
    try:
        return [api.Season(name=s.name, schedule=s.schedule, timezone=s.timezone, duration=s.duration,
                           history=s.history) for s in status.seasons]
    except pydantic.ValidationError:
        return []  # a schedule this operator cannot read is discovered again at the next refresh


def profiles(spec: api.InferenceServiceSpec, found: Sequence[api.Season], wanted: Iterable[str],
             history: HourlyHistory | TrafficUnavailable | None, now: datetime,
             active: str | None) -> dict[str, TrafficProfile | TrafficUnavailable]:
    """The pooled profile of each season named in ``wanted``."""
    if not isinstance(history, HourlyHistory):
        return {}
    target = resizing.discovery_target(spec)
    names = set(wanted)
    return {s.name: resizing.season_pool(history, s, now, active=s.name == active, target=target,
                                         peak_percentile=spec.traffic.peak_percentile)
            for s in found if s.name in names}


YOUNG_HOURS = 24  # a service younger than this re-reads its history every evaluation (its first day)


def history_ttl_s(history: HourlyHistory | TrafficUnavailable | None, evaluation_interval_s: float) -> float:
    """How long a read history stays good: an hour, or one evaluation interval while the service's first
    day runs (its pools are everything it has seen, and they must grow before requests are rejected)."""
    if isinstance(history, HourlyHistory) and history.observed_hours() >= YOUNG_HOURS:
        return 3600.0
    return max(1.0, evaluation_interval_s)


def resize_state(status: SeasonScheduleStatus | None) -> resizing.ResizeState:
    if status is None:
        return resizing.ResizeState()
    return resizing.ResizeState(status.shrink_streak,
                                times.parse_time(status.last_counted_at) if status.last_counted_at else None,
                                times.parse_time(status.last_resized_at) if status.last_resized_at else None)


def with_resize_state(status: SeasonScheduleStatus | None,
                      state: resizing.ResizeState) -> SeasonScheduleStatus | None:
    if status is None:
        return None
    return status.model_copy(update={
        "shrink_streak": state.shrink_streak,
        "last_counted_at": times.rfc3339(state.last_counted) if state.last_counted else None,
        "last_resized_at": times.rfc3339(state.last_resized) if state.last_resized else None})


__all__ = ["Rediscovery", "due", "rediscover", "in_force", "profiles", "resize_state", "with_resize_state",
           "settings_of", "history_ttl_s", "YOUNG_HOURS"]
