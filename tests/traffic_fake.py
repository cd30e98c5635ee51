"""An in-memory ``core.ports.TrafficSource``, for unit tests of the reconciler.

It answers what it was given: the trailing window's profile (or why there is none) for every ``window``
query, a season's profile by season for ``season`` queries (found by the first occurrence asked for), and
counts every query as the real adapter does (``queries_sent``). What a real Prometheus answers is tested
against one in tests/integration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from seasonal_engines.core import ports, promql, reasons
from seasonal_engines.core.hourly_history import HourlyHistory
from seasonal_engines.core.presets import MetricPreset
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

NOTHING = TrafficUnavailable(reasons.NO_DATA, "no series of the preset's metrics in the window")


@dataclass
class FakeTraffic:
    trailing: TrafficProfile | TrafficUnavailable = NOTHING
    # A season's profile, by the start of the newest occurrence it is asked for.
    seasons: Mapping[datetime, TrafficProfile | TrafficUnavailable] = field(default_factory=dict)
    history_answer: HourlyHistory | TrafficUnavailable = NOTHING
    queries_sent: int = 0
    asked: list[str] = field(default_factory=list)  # "window", "season", "history", in order

    def window(self, preset: MetricPreset, matchers: Sequence[promql.Matcher], end: datetime, window_s: float, *,
               min_samples: int = 1, peak_percentile: float = 0.99,
               recent_s: float | None = None) -> TrafficProfile | TrafficUnavailable:
        self._ask("window")
        return self.trailing

    def season(self, preset: MetricPreset, matchers: Sequence[promql.Matcher],
               occurrences: Sequence[tuple[datetime, datetime]], *, min_samples: int = 1,
               peak_percentile: float = 0.99) -> TrafficProfile | TrafficUnavailable:
        self._ask("season")
        return self.seasons.get(occurrences[-1][0], NOTHING) if occurrences else NOTHING

    def history(self, preset: MetricPreset, matchers: Sequence[promql.Matcher], end: datetime, hours: int, *,
                step_s: float = promql.HISTORY_STEP_S) -> HourlyHistory | TrafficUnavailable:
        self._ask("history")
        return self.history_answer

    def _ask(self, what: str) -> None:
        self.queries_sent += 1
        self.asked.append(what)


def _conforms(source: FakeTraffic) -> ports.TrafficSource:
    return source  # mypy checks here that the fake is a ports.TrafficSource
