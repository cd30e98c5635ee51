"""Season discovery: from a service's hourly history, the seasons (cron + IANA timezone + duration) that
minimise the mean envelope at the coverage target, or one season when structure does not pay.

Steps, all on the history's per-bucket counts (``core.hourly_history``):

1. **Hour-of-week profile**: every hour of history is placed at its local weekday and hour in
   ``timezone``; per slot the pooled sequence lengths give the sizing quantile and its sampling error, a
   confidence interval from order statistics. At a few hundred requests an hour a slot's p99.9 is about
   its largest request, which is why nothing below is decided from one slot.
2. **Candidates**: the day cut into 1..``max_seasons`` contiguous runs of local hours (wrapping past
   midnight), the same every day; with at least two observed days of each, weekdays and weekends cut
   separately. A candidate season pools every hour of history it covers.
3. **Cost and choice**: a candidate season's envelope is the ladder step its plan reaches (the
   expected-coverage order statistic of its pooled requests, ``tolerance_rank``, with the spec's headroom,
   for prompts and for prompt + output); a thin season (fewer than ``q / (1 - q)`` requests) gets the top
   of the ladder. A candidate's cost is its time-weighted mean envelope times ``1 + churn_penalty x`` its
   season changes per day. Sampling noise is kept out by cross-validation over days: each number of
   seasons is cut on the even days and judged on the odd ones, and the other way round; a cut that only
   fits the noise (or one odd day) of the days it was found on does not lower the envelope of the others,
   so it does not pay. The number of seasons with the least held-out cost wins, one season (the static
   engine) included, and is cut again on all days. With less than ``min_days`` of observed history there is
   only one season.

The chosen seasons are returned with the envelope a plan would build (``planned_step``: the expected-
coverage order statistic, see ``tolerance_rank``) and the occurrences each needs to pool
``tail_requests / (1 - q)`` requests (its ``history``). Pure: numpy and the core, no I/O, no clock.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.api import spec as api
from seasonal_engines.core import histograms, poisson
from seasonal_engines.core.hourly_history import HourlyHistory
from seasonal_engines.core.sizing import limits

DAY_TYPES = {"daily": (0, 1, 2, 3, 4, 5, 6), "weekdays": (0, 1, 2, 3, 4), "weekend": (5, 6)}
_CRON_DAYS = {"daily": "*", "weekdays": "1-5", "weekend": "0,6"}
MAX_SEASONS = 8


# --- the quantile and its sampling error ---------------------------------------------------------


def tolerance_rank(q: float, n: float) -> int | None:
    """The order statistic (1-based, from the smallest) whose expected coverage is at least ``q`` among
    ``n`` requests: ``ceil(q (n + 1))``, since the k-th smallest of n covers k / (n + 1) of the
    distribution on average. None when ``n`` is too small for any (fewer than ``q / (1 - q)``)."""
    n = int(math.floor(n + 1e-9))
    k = math.ceil(q * (n + 1) - 1e-9)
    return k if 1 <= k <= n else None


def value_at_rank(per_bucket: NDArray[Any], bounds: Sequence[float], rank: int, *, upper: bool = True) -> float:
    """The bucket bound where the cumulative count reaches ``rank``: its upper bound (``upper``, never
    below the true order statistic) or its lower one. +Inf when the rank falls in the +Inf bucket."""
    c = np.cumsum(per_bucket)
    if rank < 1 or not len(c) or rank > c[-1] + 1e-9:
        return math.inf if upper else 0.0
    i = int(np.searchsorted(c, rank - 1e-9, side="left"))
    if upper:
        return float(bounds[i])
    return float(bounds[i - 1]) if i > 0 else 0.0


def planned_value(per_bucket: NDArray[Any], bounds: Sequence[float], q: float) -> float:
    """The length a plan sizes to: the expected-coverage order statistic (``tolerance_rank``), read as
    its bucket's upper bound; +Inf when there are too few requests to name one."""
    n = float(np.sum(per_bucket))
    k = tolerance_rank(q, n)
    return math.inf if k is None else value_at_rank(per_bucket, bounds, k)


def confidence_bounds(per_bucket: NDArray[Any], bounds: Sequence[float], q: float,
                      confidence: float) -> tuple[float, float]:
    """A two-sided ``confidence`` interval of the ``q`` quantile from order statistics.

    The number of requests above the true quantile is Binomial(n, 1 - q), close to Poisson(n (1 - q)) in
    the tail. When at least ``j`` requests lie above it with probability ``(1 + confidence) / 2``, the
    j-th largest request is an upper bound; symmetrically for the lower one. Upper is +Inf when even the
    largest request does not bound the quantile (too few requests), lower 0 when the smallest does not."""
    n = float(np.sum(per_bucket))
    if n < 1:
        return 0.0, math.inf
    lam = n * (1.0 - q)
    tail = (1.0 - confidence) / 2.0
    j_low = poisson.poisson_quantile(lam, tail)          # at least this many lie above: upper bound
    j_high = poisson.poisson_quantile(lam, 1.0 - tail)   # at most this many: lower bound
    upper = math.inf if j_low < 1 else value_at_rank(per_bucket, bounds, int(n) - j_low + 1)
    lower = 0.0 if n - j_high < 1 else value_at_rank(per_bucket, bounds, int(n) - j_high, upper=False)
    return lower, upper


def upper_bound(per_bucket: NDArray[Any], bounds: Sequence[float], q: float, confidence: float) -> float:
    """One-sided upper ``confidence`` bound of the ``q`` quantile (see ``confidence_bounds``)."""
    n = float(np.sum(per_bucket))
    if n < 1:
        return math.inf
    j = poisson.poisson_quantile(n * (1.0 - q), 1.0 - confidence)
    return math.inf if j < 1 else value_at_rank(per_bucket, bounds, int(n) - j + 1)


# --- the profile ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WeekProfile:
    """The hour-of-week profile of the sizing quantile in ``timezone``: slot ``weekday * 24 + hour``
    (Monday 0), over the history's hours that landed in each slot."""

    timezone: str
    quantile: float
    confidence: float
    requests: NDArray[Any]      # (168,) pooled requests
    hours: NDArray[Any]         # (168,) hours of history in the slot (with or without requests)
    value: NDArray[Any]         # (168,) PromQL-style quantile of the pooled slot (NaN: no requests)
    lower: NDArray[Any]         # (168,) confidence interval
    upper: NDArray[Any]
    # Per day type (daily, weekdays, weekend): the hour-of-day profile pooled over those days, rows
    # (value, lower, upper) of 24 hours: the pools discovery actually sizes, far tighter than one slot.
    by_hour: dict[str, NDArray[Any]] = field(default_factory=dict)

    def day(self, weekday: int) -> slice:
        return slice(24 * weekday, 24 * weekday + 24)


def local_slots(history: HourlyHistory, tz: str, *, with_days: bool = False) -> Any:
    """Per hour of history its local weekday (Monday 0) and hour in ``tz`` (and, ``with_days``, the local
    date as a day number)."""
    zone = zoneinfo.ZoneInfo(tz)
    wd = np.empty(history.hours, dtype=np.int64)
    hr = np.empty(history.hours, dtype=np.int64)
    day = np.empty(history.hours, dtype=np.int64)
    for i, s in enumerate(history.starts_s.tolist()):
        local = datetime.fromtimestamp(s + 1.0, tz=UTC).astimezone(zone)
        wd[i], hr[i], day[i] = local.weekday(), local.hour, local.toordinal()
    return (wd, hr, day) if with_days else (wd, hr)


def week_profile(history: HourlyHistory, *, tz: str = "UTC", q: float = 0.999,
                 confidence: float = 0.75) -> WeekProfile:
    """The hour-of-week profile (see ``WeekProfile``) of the history's sequence lengths."""
    wd, hr = local_slots(history, tz)
    slot = wd * 24 + hr
    counts = history.sequence_counts()
    pooled = np.zeros((168, len(history.bounds)))
    np.add.at(pooled, slot, counts)
    hours = np.bincount(slot, minlength=168).astype(np.float64)
    value = np.full(168, np.nan)
    lower = np.full(168, np.nan)
    upper = np.full(168, np.nan)
    def stats(counts: NDArray[Any]) -> tuple[float, float, float]:
        if counts.sum() <= 0:
            return math.nan, math.nan, math.nan
        h = histograms.Histogram(history.bounds, tuple(float(x) for x in np.cumsum(counts)))
        lo, up = confidence_bounds(counts, history.bounds, q, confidence)
        return histograms.histogram_quantile(q, h), lo, up

    for s in range(168):
        value[s], lower[s], upper[s] = stats(pooled[s])
    by_hour = {}
    for name, days in DAY_TYPES.items():
        rows = np.zeros((3, 24))
        for h in range(24):
            rows[:, h] = stats(pooled[[d * 24 + h for d in days]].sum(axis=0))
        by_hour[name] = rows
    return WeekProfile(tz, q, confidence, pooled.sum(axis=1), hours, value, lower, upper, by_hour)


# --- sizing a pool ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizing:
    """What the spec's sizing policy says, as discovery needs it."""

    sequence_quantile: float = 0.999
    input_quantile: float = 0.999
    headroom: float = 0.1
    steps: tuple[int, ...] = tuple(limits.effective_ladder(api.DEFAULT_LADDER, 131072))

    @classmethod
    def of(cls, policy: api.SizingPolicy, max_context: int) -> Sizing:
        return cls(policy.sequence_quantile, policy.input_quantile, policy.headroom,
                   tuple(limits.effective_ladder(policy.ladder, max_context)))

    def step(self, value: float) -> int:
        """The ladder step a length with headroom rounds up to (the top step when unbounded)."""
        if not math.isfinite(value):
            return self.steps[-1]
        return limits.step_at_least(value * (1.0 + self.headroom), self.steps)


def _pool_steps(seq: NDArray[Any], inp: NDArray[Any], bounds: Sequence[float], sizing: Sizing,
                confidence: float) -> tuple[int, int]:
    """(planned step, upper-bound step) of max_seq_len for one pool (never below its max_input_len)."""
    planned = max(sizing.step(planned_value(seq, bounds, sizing.sequence_quantile)),
                  sizing.step(planned_value(inp, bounds, sizing.input_quantile)))
    bound = max(sizing.step(upper_bound(seq, bounds, sizing.sequence_quantile, confidence)),
                sizing.step(upper_bound(inp, bounds, sizing.input_quantile, confidence)))
    return planned, max(bound, planned)


# --- the proposal -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How discovery searches (``spec.seasonDiscovery`` gives them in the operator)."""

    timezone: str = "UTC"
    max_seasons: int = 4
    churn_penalty: float = 0.05   # each season change per day must buy this share of the mean envelope
    confidence: float = 0.75      # of the intervals of the profile and of each season's upper-bound step
    tail_requests: float = 10.0   # requests beyond the quantile a season's plan should pool (its history)
    min_days: float = 2.0         # observed history below which there is one season

    def __post_init__(self) -> None:
        if not 1 <= self.max_seasons <= MAX_SEASONS:
            raise ValueError(f"maxSeasons must be in 1..{MAX_SEASONS}, got {self.max_seasons}")
        if not 0 <= self.churn_penalty <= 1:
            raise ValueError(f"churnPenalty must be in [0, 1], got {self.churn_penalty}")
        if not 0.5 <= self.confidence < 1:
            raise ValueError(f"confidence must be in [0.5, 1), got {self.confidence}")
        if not 1 <= self.tail_requests <= 1000:
            raise ValueError(f"tailRequests must be in [1, 1000], got {self.tail_requests}")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {self.timezone!r}; use a name such as UTC or "
                             "Europe/Berlin") from None


@dataclass(frozen=True)
class ProposedSeason:
    """One discovered season: local hours ``[start_hour, start_hour + hours)`` on ``day_type`` days."""

    day_type: str        # daily, weekdays or weekend
    start_hour: int
    hours: int
    timezone: str
    history: int         # occurrences its plan pools
    requests: float      # requests of history it covers
    planned_step: int    # max_seq_len a plan from its history reaches
    bound_step: int      # the same from the quantile's upper confidence bound (the cost discovery minimised)

    @property
    def name(self) -> str:
        if self.hours == 24:
            return "all-day" if self.day_type == "daily" else f"{self.day_type}-all-day"
        end = (self.start_hour + self.hours) % 24
        prefix = "hours" if self.day_type == "daily" else self.day_type
        return f"{prefix}-{self.start_hour:02d}-{end:02d}"

    @property
    def schedule(self) -> str:
        return f"0 {self.start_hour} * * {_CRON_DAYS[self.day_type]}"

    def to_season(self) -> api.Season:
        return api.Season(name=self.name, schedule=self.schedule, timezone=self.timezone,
                          duration=f"{self.hours}h", history=self.history)


@dataclass(frozen=True, eq=False)
class Proposal:
    """The chosen seasons, the single-season alternative and why."""

    seasons: tuple[ProposedSeason, ...]
    static: ProposedSeason
    mean_bound: float        # time-weighted mean upper-bound envelope of the proposal
    cost: float              # mean_bound x (1 + churn_penalty x changes per day)
    static_cost: float
    changes_per_day: float
    observed_days: float
    reason: str
    profile: WeekProfile | None = field(default=None, repr=False)

    @property
    def is_static(self) -> bool:
        return len(self.seasons) == 1

    def to_seasons(self) -> list[api.Season]:
        return [s.to_season() for s in self.seasons]


_Cut = tuple[str, int, int]  # (day type, first local hour, hours): one season of a candidate
_WEEK_SHARE = {"daily": 1.0, "weekdays": 5 / 7, "weekend": 2 / 7}  # of the week's days each day type covers


class _Segment(NamedTuple):
    """A candidate season's pool, as the search and the proposal read it."""

    planned: int      # the ladder step a plan from it reaches
    bound: int        # the same from the quantile's upper confidence bound
    requests: float
    sized: float      # the order statistic with headroom, before the ladder rounds it


@dataclass(frozen=True, eq=False)
class _Pools:
    """Per day type and local hour of day, the pooled counts of the whole history (key -1) and of each fold
    of its days (0: even local dates, 1: odd ones), with the observed days of each; segments are memoised
    because the search sizes the same runs of hours many times."""

    bounds: Sequence[float]
    sizing: Sizing
    confidence: float
    tables: dict[int, dict[str, tuple[NDArray[Any], NDArray[Any]]]]
    days: dict[int, dict[str, float]]
    segments: dict[tuple[int, str, int, int], _Segment] = field(default_factory=dict)

    def segment(self, tables: int, t: str, start: int, length: int) -> _Segment:
        """Local hours [start, start+length) on day type t, in the whole history (tables -1) or one fold of
        its days (0, 1). The search compares sized lengths, not steps, because the ladder's steps would make
        a few requests either side of a step look like structure."""
        key = (tables, t, start % 24, length)
        if key not in self.segments:
            hrs = [(start + i) % 24 for i in range(length)]
            seq, inp = self.tables[tables][t]
            s_counts, i_counts = seq[hrs].sum(axis=0), inp[hrs].sum(axis=0)
            self.segments[key] = self._sized(s_counts, i_counts)
        return self.segments[key]

    def _sized(self, s_counts: NDArray[Any], i_counts: NDArray[Any]) -> _Segment:
        sizing = self.sizing
        p, b = _pool_steps(s_counts, i_counts, self.bounds, sizing, self.confidence)
        v = max(planned_value(s_counts, self.bounds, sizing.sequence_quantile),
                planned_value(i_counts, self.bounds, sizing.input_quantile)) * (1.0 + sizing.headroom)
        unbounded = 2.0 * sizing.steps[-1]  # the value of a pool too thin for the quantile: dearer than any step
        return _Segment(p, b, float(i_counts.sum()), min(v, unbounded))


def _pools(history: HourlyHistory, sizing: Sizing, settings: Settings) -> _Pools:
    """The history's hours placed at their local weekday and hour, pooled whole and per fold of its days."""
    wd, hr, day = local_slots(history, settings.timezone, with_days=True)
    seq, inp = history.sequence_counts(), history.input
    # hours before any traffic are not history
    live = np.arange(history.hours) >= history.hours - history.observed_hours()
    hours_of = {-1: live, 0: live & (day % 2 == 0), 1: live & (day % 2 == 1)}
    tables = {k: {t: _hour_tables(seq, inp, wd, hr, m, DAY_TYPES[t]) for t in DAY_TYPES} for k, m in hours_of.items()}
    days = {k: {t: _days(wd[m], DAY_TYPES[t]) for t in DAY_TYPES} for k, m in hours_of.items()}
    return _Pools(history.bounds, sizing, settings.confidence, tables, days)


def discover(history: HourlyHistory, sizing: Sizing, settings: Settings | None = None, *,
             with_profile: bool = False) -> Proposal:
    """The seasons for this history (see the module docstring)."""
    settings = settings or Settings()
    pools = _pools(history, sizing, settings)
    static = _season(pools, settings, ("daily", 0, 24))
    profile = week_profile(history, tz=settings.timezone, q=sizing.sequence_quantile,
                           confidence=settings.confidence) if with_profile else None
    days = history.observed_hours() / 24.0
    if days < settings.min_days or settings.max_seasons == 1:
        why = (f"{days:.1f} days of history, fewer than the {settings.min_days:g} needed to tell seasons apart"
               if days < settings.min_days else "maxSeasons is 1")
        cost = pools.segment(-1, "daily", 0, 24).sized
        return Proposal((static,), static, float(static.planned_step), cost, cost, 0.0, days, f"one season: {why}",
                        profile)

    judged = _held_out_costs(pools, _structures(pools, settings.max_seasons), settings.churn_penalty)
    cost, _, chosen_structure = min(judged)
    static_cost = next(c for c, _, st in judged if st == (1,))
    cuts = _merged(_fit(pools, -1, chosen_structure) or [("daily", 0, 24)],
                   lambda t, a, n: pools.segment(-1, t, a, n).planned)
    chosen = tuple(_season(pools, settings, cut) for cut in cuts)
    mean = _mean_envelope(pools, -1, cuts, rounded=True)
    per_day = _cut_changes_per_day(cuts)
    if len(chosen) == 1:
        reason = (f"one season: no cut of the day into at most {settings.max_seasons} seasons, fitted on half "
                  f"of the {days:.0f} days, lowers the other half's mean envelope by more than its churn penalty")
    else:
        reason = (f"{len(chosen)} seasons: mean envelope {mean:,.0f} tokens against {static.planned_step} for one "
                  f"engine; fitted on half of the {days:.0f} days they lower the other half's by "
                  f"{1 - cost / static_cost:.0%} after the churn penalty ({per_day:.2g} season changes a day)")
    return Proposal(chosen, static, mean, cost, static_cost, per_day, days, reason, profile)


def _season(pools: _Pools, settings: Settings, cut: _Cut) -> ProposedSeason:
    """The season of a cut, with the occurrences its plan pools to see ``tail_requests`` beyond the quantile
    (at most 52, and no more than the day type's observed days)."""
    t, start, length = cut
    planned, bound, requests, _ = pools.segment(-1, t, start, length)
    days_seen = pools.days[-1][t]
    per_occurrence = requests / max(1.0, days_seen)
    need = settings.tail_requests / (1.0 - pools.sizing.sequence_quantile)
    occurrences = int(min(52, max(1, math.ceil(need / per_occurrence) if per_occurrence > 0 else 52)))
    occurrences = min(occurrences, max(1, int(math.ceil(days_seen or 1))))
    return ProposedSeason(t, start % 24, length, settings.timezone, occurrences, requests, planned, bound)


def _structures(pools: _Pools, max_seasons: int) -> list[tuple[int, ...]]:
    """The numbers of seasons to try: (k,) for one cut of every day, (weekday k, weekend k) when every fold
    holds a weekday and a weekend day to judge weekday and weekend cuts on."""
    structures: list[tuple[int, ...]] = [(k,) for k in range(1, max_seasons + 1)]
    if min(pools.days[f][t] for f in (0, 1) for t in ("weekdays", "weekend")) >= 1:
        structures += [(k_wd, k_we) for k_wd in range(1, max_seasons)
                       for k_we in range(1, max_seasons - k_wd + 1)]
    return structures


def _held_out_costs(pools: _Pools, structures: list[tuple[int, ...]],
                    churn_penalty: float) -> list[tuple[float, int, tuple[int, ...]]]:
    """(held-out cost, seasons, structure) of each structure that can be cut on both folds. Each is fitted
    on one half of the days and judged on the other, both ways round: a cut that only fits the noise of the
    days it was found on does not lower the envelope of the others."""
    judged = []
    for structure in structures:
        held = []
        for f in (0, 1):
            cuts = _fit(pools, 1 - f, structure)
            if cuts is None:
                break
            held.append(_mean_envelope(pools, f, cuts))
        if len(held) == 2:
            judged.append((float(np.mean(held)) * (1.0 + churn_penalty * _changes_per_day(structure)),
                           sum(structure), structure))
    return judged


def _fit(pools: _Pools, tables: int, structure: tuple[int, ...]) -> list[_Cut] | None:
    """The cut of the day (per day type) with the least mean sized length on these tables; None when no cut
    into that many seasons exists."""
    if len(structure) == 1:
        k = structure[0]
        if k == 1:
            return [("daily", 0, 24)]
        _, cuts = _best_daily(lambda a, n: pools.segment(tables, "daily", a, n).sized, k)
        return None if cuts is None else [("daily", a, n) for a, n in cuts]
    out: list[_Cut] = []
    for t, k in zip(("weekdays", "weekend"), structure):
        _, cuts = _best_linear(lambda a, n, t=t: pools.segment(tables, t, a, n).sized, k)
        if cuts is None:
            return None
        out += [(t, a, n) for a, n in cuts]
    return out


def _mean_envelope(pools: _Pools, tables: int, cuts: list[_Cut], *, rounded: bool = False) -> float:
    """Time-weighted over the week (sized lengths, or ladder steps when ``rounded``)."""
    return sum(_WEEK_SHARE[t] * n / 24.0 * _envelope(pools.segment(tables, t, a, n), rounded) for t, a, n in cuts)


def _envelope(segment: _Segment, rounded: bool) -> float:
    return segment.planned if rounded else segment.sized


def _changes_per_day(structure: tuple[int, ...]) -> float:
    """Season changes a day of a structure (see ``_structures``)."""
    if len(structure) == 1:
        return 0.0 if structure[0] == 1 else float(structure[0])
    k_wd, k_we = structure
    return (5 * k_wd + 2 * k_we) / 7.0 if k_wd + k_we > 2 else 2 / 7.0  # a switch at each day-type change


def _cut_changes_per_day(cuts: list[_Cut]) -> float:
    """Season changes a day of the merged cuts, whose structure may differ from the one fitted."""
    if len(cuts) == 1:
        return 0.0
    if {t for t, _, _ in cuts} == {"daily"}:
        return float(len(cuts))
    return _changes_per_day((sum(t == "weekdays" for t, _, _ in cuts), sum(t == "weekend" for t, _, _ in cuts)))


def _merged(cuts: list[_Cut], step: Callable[[str, int, int], int]) -> list[_Cut]:
    """Neighbouring seasons of one day type whose plans reach the same ladder step are one season (a cut
    the ladder cannot see buys nothing but churn); weekday and weekend seasons of one step each are one."""
    out: list[_Cut] = []
    for t in ("daily", "weekdays", "weekend"):
        runs = _neighbours_merged(t, sorted([c for c in cuts if c[0] == t], key=lambda c: c[1]), step)
        if t == "daily":
            runs = _joined_across_midnight(runs, step)
        out += [(t, a % 24, n) for a, n in runs]
    days = {t for t, _, _ in out}
    if days == {"weekdays", "weekend"} and len(out) == 2 and step(*out[0]) == step(*out[1]):
        return [("daily", 0, 24)]
    return out


def _neighbours_merged(t: str, cuts: list[_Cut], step: Callable[[str, int, int], int]) -> list[list[int]]:
    """[start, hours] runs of one day type's cuts (sorted by start), each adjacent one at the same step as
    the run so far joined to it."""
    merged: list[list[int]] = []
    for _, a, n in cuts:
        if merged and step(t, merged[-1][0], merged[-1][1]) == step(t, a, n) and merged[-1][0] + merged[-1][1] == a:
            merged[-1][1] += n
        else:
            merged.append([a, n])
    return merged


def _joined_across_midnight(runs: list[list[int]], step: Callable[[str, int, int], int]) -> list[list[int]]:
    """Daily runs with the last joined to the first when it ends where the first starts at the same step."""
    if len(runs) > 1 and step("daily", *runs[0]) == step("daily", *runs[-1]) \
            and (runs[-1][0] + runs[-1][1]) % 24 == runs[0][0]:
        last = runs.pop()
        runs[0] = [last[0], last[1] + runs[0][1]]  # the run across midnight
    return runs


def _days(wd: NDArray[Any], types: tuple[int, ...]) -> float:
    """Observed days of these weekdays (hours seen / 24)."""
    return float(np.isin(wd, types).sum()) / 24.0


def _hour_tables(seq: NDArray[Any], inp: NDArray[Any], wd: NDArray[Any], hr: NDArray[Any], live: NDArray[Any],
                 types: tuple[int, ...]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Per local hour of day, the pooled sequence and input counts of the day type's hours."""
    m = np.isin(wd, types) & live
    s = np.zeros((24, seq.shape[1]))
    i = np.zeros((24, inp.shape[1]))
    np.add.at(s, hr[m], seq[m])
    np.add.at(i, hr[m], inp[m])
    return s, i


def _best_daily(cost: object, k: int) -> tuple[float, list[tuple[int, int]] | None]:
    """The cut of the circular day into ``k`` runs of hours with the least mean bound (runs wrap midnight)."""
    best_total, best_cuts = math.inf, None
    for offset in range(24):
        total, cuts = _linear_dp(cost, k, offset)
        if cuts is not None and total < best_total - 1e-9:
            best_total, best_cuts = total, cuts
    return best_total / 24.0, best_cuts


def _best_linear(cost: object, k: int) -> tuple[float, list[tuple[int, int]] | None]:
    """The cut of the day from midnight to midnight into ``k`` runs (day types do not wrap)."""
    total, cuts = _linear_dp(cost, k, 0)
    return total / 24.0, cuts


def _linear_dp(cost: object, k: int, offset: int) -> tuple[float, list[tuple[int, int]] | None]:
    """Exactly ``k`` runs covering hours offset..offset+23, minimising the sum of length x bound."""
    f = cost  # (start, length) -> bound step
    inf = math.inf
    best = [[inf] * (k + 1) for _ in range(25)]
    back: list[list[int]] = [[-1] * (k + 1) for _ in range(25)]
    best[0][0] = 0.0
    for j in range(1, 25):
        for m in range(1, min(k, j) + 1):
            for i in range(m - 1, j):
                if best[i][m - 1] == inf:
                    continue
                v = best[i][m - 1] + (j - i) * f(offset + i, j - i)  # type: ignore[operator]
                if v < best[j][m] - 1e-9:
                    best[j][m], back[j][m] = v, i
    if best[24][k] == inf:
        return inf, None
    cuts, j, m = [], 24, k
    while m > 0:
        i = back[j][m]
        cuts.append(((offset + i) % 24, j - i))
        j, m = i, m - 1
    return best[24][k], cuts[::-1]


__all__ = ["Settings", "Sizing", "Proposal", "ProposedSeason", "WeekProfile", "discover", "week_profile",
           "tolerance_rank", "planned_value", "confidence_bounds", "upper_bound", "value_at_rank", "local_slots",
           "DAY_TYPES", "MAX_SEASONS"]
