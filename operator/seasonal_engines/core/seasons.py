"""Seasons: which recurring window is active, which comes next, which past windows a season's engine is
planned from, and when its build has to start.

A season starts at every match of its cron schedule, read on the wall clock of its IANA timezone, and
lasts its duration of elapsed time. Pure: ``now`` is always an argument (timezone-aware); croniter and
zoneinfo only compute. No I/O, no clock reads. Every datetime returned is in UTC, because Python
compares two datetimes that share a tzinfo by wall clock, ignoring ``fold``, which is wrong across a
fall-back hour.

Rules, all deterministic:

* **DST** (cron's rules, as cronie applies them): a start whose wall-clock time does not exist (spring
  forward) happens at the transition instant; a start whose wall-clock time happens twice (fall back)
  happens once, on the first pass. Durations are elapsed time: a 10h season lasts 10 real hours across
  a transition.
* **One occurrence at a time**: a season's window ends at the earlier of start + duration and its own
  next start, so windows of one season never overlap and never double-count history.
* **Overlapping seasons**: the season whose current window started most recently is active; equal
  starts go to the season listed first.
* **Next season**: the earliest start strictly after ``now`` of any season, the active season's next
  occurrence included (it is a real upcoming change); equal starts go to the season listed first.
* **History**: ``occurrences`` returns complete windows only (end <= before) unless asked for the
  partial current one: half a window would weight its first hours twice as much as a whole one.
* **No seasons**: one engine follows the trailing window (``trailing_window``); ``active_season`` and
  ``next_season`` return None.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import CroniterError, croniter

from seasonal_engines.api import durations
from seasonal_engines.api.spec import DownsizeWindow, InferenceServiceSpec, Season
from seasonal_engines.core import reasons, times

UTC = UTC
# Wall clock and instant differ by the zone's offset change at most (2h in today's tz database); walking
# the schedule from this far beyond the target on the wall clock cannot miss a start.
_WALL_MARGIN = timedelta(hours=3)
BUILD_DURATION_QUANTILE = 0.95


@dataclass(frozen=True)
class Window:
    """A span of time, ``start <= t < end``: the trailing window, or a downsize window's occurrence."""

    start: datetime
    end: datetime

    def contains(self, t: datetime) -> bool:
        return self.start <= times.utc(t) < self.end

    @property
    def length(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class SeasonWindow(Window):
    """One occurrence of the season ``name``: ``start <= t < end``."""

    name: str = field(kw_only=True)


@dataclass(frozen=True)
class Recurrence:
    """A cron schedule in a timezone with a duration: the shape shared by seasons and downsize windows."""

    schedule: str
    timezone: str
    duration: timedelta

    def __post_init__(self) -> None:
        if not croniter.is_valid(self.schedule):
            raise ValueError(f"schedule {self.schedule!r} is not a valid cron expression "
                             "(five fields, for example '0 8 * * 1-5')")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {self.timezone!r}; use a name such as UTC or "
                             "Europe/Berlin") from None
        if self.duration <= timedelta(0):
            raise ValueError(f"duration must be positive, got {self.duration}")

    @classmethod
    def of(cls, window: Season | DownsizeWindow) -> Recurrence:
        return cls(window.schedule, window.timezone, timedelta(seconds=durations.seconds(window.duration)))

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def starts_before(self, t: datetime, n: int) -> list[datetime]:
        """The last ``n`` starts at or before ``t``, latest first."""
        zone, t = self.zone, times.utc(t, "before")
        it = croniter(self.schedule, t.astimezone(zone).replace(tzinfo=None) + _WALL_MARGIN)
        out: list[datetime] = []
        while len(out) < n:
            start = _instant(self._step(it.get_prev), zone)
            # Two wall-clock starts inside one DST gap name the same instant: keep one.
            if start <= t and (not out or start != out[-1]):
                out.append(start)
        return out

    def starts_after(self, t: datetime, n: int) -> list[datetime]:
        """The next ``n`` starts strictly after ``t``, earliest first."""
        zone, t = self.zone, times.utc(t, "after")
        it = croniter(self.schedule, t.astimezone(zone).replace(tzinfo=None) - _WALL_MARGIN)
        out: list[datetime] = []
        while len(out) < n:
            start = _instant(self._step(it.get_next), zone)
            if start > t and (not out or start != out[-1]):
                out.append(start)
        return out

    def _step(self, move: Any) -> datetime:
        try:
            return move(datetime)  # type: ignore[no-any-return]
        except CroniterError:
            raise ValueError(f"schedule {self.schedule!r} never matches a date (for example 30 February); "
                             "fix its day and month fields") from None

    def window_at(self, t: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence whose window contains ``t``, if any."""
        start = self.starts_before(t, 1)[0]
        end = start + self.duration  # the next start is after t, so it cannot cut this window before t
        return (start, min(end, self.starts_after(start, 1)[0])) if times.utc(t) < end else None

    def windows_before(self, t: datetime, n: int, include_partial: bool = False) -> list[tuple[datetime, datetime]]:
        """The last ``n`` windows ending at or before ``t`` (oldest first); with ``include_partial`` the
        window in progress at ``t``, cut at ``t``, counts as the newest."""
        t = times.utc(t, "before")
        starts = self.starts_before(t, n + 1)  # the newest may still be in progress
        following = [self.starts_after(starts[0], 1)[0], *starts[:-1]]
        out: list[tuple[datetime, datetime]] = []
        for start, nxt in zip(starts, following):
            end = min(start + self.duration, nxt)
            if end <= t:
                out.append((start, end))
            elif include_partial and start < t:
                out.append((start, t))
        return out[:n][::-1]


def _instant(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant a local wall-clock time names, by cron's rules for DST gaps and repeats."""
    first_pass = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first_pass.astimezone(zone).replace(tzinfo=None) == wall:
        return first_pass  # exists; when it happens twice, fold=0 is the first pass
    # In a gap fold=1 reads the wall with the later offset (an instant before the transition) and fold=0
    # with the earlier one (at or after it): the transition lies between; find it to the second.
    lo = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = first_pass
    offset_before = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + timedelta(seconds=int((hi - lo).total_seconds()) // 2)
        if mid.astimezone(zone).utcoffset() == offset_before:
            lo = mid
        else:
            hi = mid
    return hi


# --- which season ------------------------------------------------------------


def active_season(seasons: Sequence[Season], now: datetime) -> SeasonWindow | None:
    """The season whose window contains ``now``: the most recent start wins, then list order."""
    now = times.utc(now)
    best: SeasonWindow | None = None
    for season in seasons:
        window = Recurrence.of(season).window_at(now)
        if window is not None and (best is None or window[0] > best.start):
            best = SeasonWindow(*window, name=season.name)
    return best


def next_season(seasons: Sequence[Season], now: datetime) -> SeasonWindow | None:
    """The earliest season start strictly after ``now`` (the active season's next one included)."""
    now = times.utc(now)
    best: SeasonWindow | None = None
    for season in seasons:
        rec = Recurrence.of(season)
        start = rec.starts_after(now, 1)[0]
        if best is None or start < best.start:
            best = SeasonWindow(start, min(start + rec.duration, rec.starts_after(start, 1)[0]), name=season.name)
    return best


def occurrences(season: Season, before: datetime, n: int, *, include_partial: bool = False) -> list[SeasonWindow]:
    """The season's last ``n`` complete windows ending at or before ``before``, oldest first."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    before = times.utc(before, "before")
    windows = Recurrence.of(season).windows_before(before, n, include_partial)
    return [SeasonWindow(start, end, name=season.name) for start, end in windows]


def trailing_window(now: datetime, window: timedelta) -> Window:
    """The window a season-less service plans from: the last ``window`` up to ``now``."""
    if window <= timedelta(0):
        raise ValueError(f"traffic.window must be positive, got {window}")
    end = times.utc(now)
    return Window(end - window, end)


def season_history_query_windows(season: Season | None, now: datetime, trailing: timedelta, *,
                                 include_partial: bool = False) -> list[tuple[datetime, datetime]]:
    """The (start, end) pairs, UTC and oldest first, whose histogram increases the Prometheus adapter sums
    to build a season's planning profile: ``season.history`` past windows, or the trailing window when
    there is no season. The pairs never overlap, so no request is counted twice."""
    if season is None:
        w = trailing_window(now, trailing)
        return [(w.start, w.end)]
    return [(w.start, w.end) for w in occurrences(season, now, season.history, include_partial=include_partial)]


# --- builds ahead of the window ----------------------------------------------


def lead_time(configured: timedelta, recorded_build_durations_s: Sequence[float]) -> timedelta:
    """How long before a season starts its build begins: the larger of the configured lead time and the
    p95 (nearest rank, so never below a recorded value's rank) of recorded build durations."""
    bad = [d for d in recorded_build_durations_s if not (math.isfinite(d) and d >= 0)]
    if bad:
        raise ValueError(f"recorded build durations must be finite seconds >= 0; got {bad[:3]}")
    if not recorded_build_durations_s:
        return configured
    ordered = sorted(recorded_build_durations_s)
    p95 = ordered[math.ceil(BUILD_DURATION_QUANTILE * len(ordered)) - 1]
    return max(configured, timedelta(seconds=p95))


def lead_time_for(spec: InferenceServiceSpec, recorded_build_durations_s: Sequence[float]) -> timedelta:
    """The lead time of ``spec``'s seasons: ``engine.buildLeadTime`` or longer (``lead_time``). The one place
    it is computed, for ``decide`` and for the shells that fetch profiles ahead of it (``profiles_needed``)."""
    return lead_time(timedelta(seconds=durations.seconds(spec.engine.build_lead_time)), recorded_build_durations_s)


def build_due_at(season: Season, now: datetime, lead: timedelta) -> datetime:
    """When the season's engine build should start: ``now`` while the season is active or within ``lead``
    of its next start; otherwise the next start minus ``lead``."""
    rec = Recurrence.of(season)
    now = times.utc(now)
    if rec.window_at(now) is not None:
        return now
    return max(now, rec.starts_after(now, 1)[0] - lead)


def build_due(season: Season, now: datetime, lead: timedelta) -> bool:
    """Whether the season's engine should exist or be building: from ``lead`` before a start to its end."""
    now = times.utc(now)
    return build_due_at(season, now, lead) <= now


@dataclass(frozen=True)
class SeasonOutlook:
    """What the seasons say at ``now``: for status (activeSeason, nextSeason) and for requeueing."""

    active: SeasonWindow | None
    next: SeasonWindow | None
    due: tuple[str, ...]     # seasons whose engine should exist or be building now, in list order
    reason: str              # SeasonActive, BetweenSeasons or TrailingWindow
    wake_at: datetime | None  # the next instant any of the above changes; None without seasons


def outlook(seasons: Sequence[Season], now: datetime, lead: timedelta) -> SeasonOutlook:
    """Active and next season, the builds due, and when to look again."""
    now = times.utc(now)
    if not seasons:
        return SeasonOutlook(None, None, (), reasons.TRAILING_WINDOW, None)
    active = active_season(seasons, now)
    due = tuple(s.name for s in seasons if build_due(s, now, lead))
    changes: list[datetime] = []
    for season in seasons:
        rec = Recurrence.of(season)
        window = rec.window_at(now)
        if window is not None:
            changes.append(window[1])
        start = rec.starts_after(now, 1)[0]
        changes.append(start)
        if start - lead > now:
            changes.append(start - lead)
    return SeasonOutlook(active=active, next=next_season(seasons, now), due=due,
                         reason=reasons.SEASON_ACTIVE if active else reasons.BETWEEN_SEASONS,
                         wake_at=min(changes))


def names_needed(look: SeasonOutlook) -> tuple[str, ...]:
    """The seasons whose profiles an evaluation reads: the active one, those due, the next; in that order."""
    names = [w.name for w in (look.active,) if w is not None] + list(look.due) + \
        [w.name for w in (look.next,) if w is not None]
    return tuple(dict.fromkeys(names))


def profiles_needed(spec: InferenceServiceSpec, recorded_build_durations_s: Sequence[float],
                    now: datetime) -> list[Season]:
    """The seasons of ``spec.seasons`` whose history profiles ``decide`` reads at ``now`` (active, due,
    next), in spec order: what every shell fetches (and only that) for ``Observation.season_traffic``.
    None with ``spec.seasonDiscovery``, whose seasons are pooled from the hourly history inside ``decide``."""
    look = outlook(spec.seasons, now, lead_time_for(spec, recorded_build_durations_s))
    wanted = set(names_needed(look))
    return [s for s in spec.seasons if s.name in wanted]


__all__ = [
    "Window", "SeasonWindow", "Recurrence", "SeasonOutlook", "active_season", "next_season", "occurrences",
    "trailing_window", "season_history_query_windows", "lead_time", "lead_time_for", "build_due", "build_due_at",
    "outlook", "names_needed", "profiles_needed",
    "BUILD_DURATION_QUANTILE",
]
