"""Simulated time against wall time, for the local quickstart.

The decision core runs on trace time ("simulated": day 0 00:00 of the trace is a fixed date) while
Prometheus stores wall-clock samples, because it scrapes a Triton that receives the replayed requests
now. ``SimClock`` maps one onto the other at a constant speed (simulated seconds per wall second), so
every window the core asks about (the trailing window, a season's past occurrences) becomes the wall
window that holds its requests, and every profile read at wall time is put back on the simulated clock
(its window, rate and peak rate) before the core sees it.

Pure: no I/O and no clock; wall times come in as Unix seconds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from seasonal_engines.core import poisson
from seasonal_engines.core.traffic import TrafficProfile


@dataclass(frozen=True)
class SimClock:
    """``sim0`` happens at wall time ``wall0``; afterwards simulated time runs ``speed`` times faster."""

    wall0: float
    sim0: datetime
    speed: float

    def __post_init__(self) -> None:
        if self.sim0.tzinfo is None:
            raise ValueError(f"sim0 {self.sim0} has no timezone; pass an aware UTC datetime")
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f"speed must be a positive number of simulated seconds per wall second, got "
                             f"{self.speed}")

    def sim_at(self, wall_s: float) -> datetime:
        """The simulated instant at wall time ``wall_s``."""
        return self.sim0 + timedelta(seconds=(wall_s - self.wall0) * self.speed)

    def wall_at(self, sim: datetime) -> float:
        """The wall time (Unix seconds) of the simulated instant ``sim``."""
        return self.wall0 + (sim - self.sim0).total_seconds() / self.speed

    def wall_datetime(self, sim: datetime) -> datetime:
        return datetime.fromtimestamp(self.wall_at(sim), tz=UTC)

    def wall_seconds(self, sim_seconds: float) -> float:
        """How long ``sim_seconds`` of simulated time take on the wall clock."""
        return sim_seconds / self.speed

    def wall_windows(self, windows: Sequence[tuple[datetime, datetime]],
                     since: datetime) -> list[tuple[datetime, datetime]]:
        """Simulated ``(start, end)`` windows as wall windows, cut at ``since`` (when data begins):
        a window that ends before it is dropped, since Prometheus cannot hold anything for it."""
        out = []
        for start, end in windows:
            start = max(start, since)
            if end <= start:
                continue
            out.append((self.wall_datetime(start), self.wall_datetime(end)))
        return out


def to_simulated(profile: TrafficProfile, clock: SimClock, peak_percentile: float) -> TrafficProfile:
    """A profile read over wall windows, put on the simulated clock: window ends, covered time, the rate
    and the Poisson peak rate (the counts and quantiles do not depend on the clock)."""
    start = clock.sim_at(profile.start.timestamp())
    end = clock.sim_at(profile.end.timestamp())
    covered_wall = profile.samples / profile.rate_rps if profile.rate_rps > 0 else profile.duration_s
    covered = covered_wall * clock.speed
    rate = profile.samples / covered if covered > 0 else 0.0
    return dataclasses.replace(profile, start=start, end=end, rate_rps=float(rate),
                               peak_rps=float(poisson.peak_rate(rate, peak_percentile)))


def clock_text(sim: datetime, origin: datetime) -> str:
    """``day 1 14:05``: simulated time as days since the trace's day 0 and the time of day."""
    elapsed = sim - origin
    day = math.floor(elapsed.total_seconds() / 86400)
    return f"day {day} {sim:%H:%M}"


def hours_since(sim: datetime, origin: datetime) -> float:
    return (sim - origin).total_seconds() / 3600.0


__all__ = ["SimClock", "to_simulated", "clock_text", "hours_since"]
