"""Season discovery on synthetic histories whose structure is known: a day/night pattern is found where it
is, a flat history gives one season, and sampling noise alone never creates seasons. Pure."""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from seasonal_engines.api import spec as api
from seasonal_engines.core import holdout_scores, hourly_history, presets
from seasonal_engines.core import season_discovery as sd

MONDAY = datetime(2026, 1, 5, tzinfo=UTC)
SIZING = sd.Sizing(headroom=0.1)


def history(days: float, rate: float, scale: Callable[[datetime], float], *, seed: int = 0,
            start: datetime = MONDAY) -> hourly_history.HourlyHistory:
    """``days`` of Poisson arrivals at ``rate`` an hour; each hour's prompt+output lengths lognormal with a
    median of ``scale(hour start)`` tokens (prompt 80%, output 20%)."""
    rng = np.random.default_rng(seed)
    hours = int(days * 24)
    ts, inp, out = [], [], []
    for h in range(hours):
        t0 = start + timedelta(hours=h)
        n = rng.poisson(rate)
        seq = np.maximum(2, rng.lognormal(math.log(scale(t0)), 0.6, n)).astype(np.int64)
        ts.append(t0.timestamp() + np.sort(rng.uniform(0, 3599, n)))
        inp.append(np.maximum(1, (seq * 0.8).astype(np.int64)))
        out.append(seq - inp[-1])
    end = start + timedelta(hours=hours)
    t, i, o = np.concatenate(ts), np.concatenate(inp), np.concatenate(out)
    return hourly_history.from_requests(end, hours, t, i, o, np.ones(len(t), dtype=bool),
                                        bounds=presets.SEASONAL.bounds)


def day_night(t: datetime) -> float:
    return 6000.0 if 8 <= t.hour < 20 else 800.0  # long requests by day, short ones at night


def flat(t: datetime) -> float:
    return 2000.0


def test_tolerance_rank_is_the_expected_coverage_order_statistic() -> None:
    assert sd.tolerance_rank(0.999, 998) is None          # no order statistic of 998 covers 99.9% on average
    assert sd.tolerance_rank(0.999, 999) == 999           # the largest of 999 covers 999/1000
    assert sd.tolerance_rank(0.999, 1999) == 1998         # the second largest of 1999
    assert sd.tolerance_rank(0.5, 9) == 5


def test_confidence_bounds_hold_the_true_quantile_and_open_up_when_too_few() -> None:
    rng = np.random.default_rng(3)
    bounds = presets.SEASONAL.bounds
    true = float(np.exp(math.log(1000) + 0.6 * 3.0902))   # p99.9 of lognormal(log 1000, 0.6)
    held = 0
    for _ in range(60):
        values = rng.lognormal(math.log(1000), 0.6, 20_000)
        counts = np.bincount(np.searchsorted(np.asarray(bounds), values), minlength=len(bounds)).astype(float)
        lo, up = sd.confidence_bounds(counts, bounds, 0.999, 0.9)
        held += lo <= true <= up
    assert held >= 48, f"a 90% interval held the true p99.9 in only {held} of 60 samples"
    few = np.zeros(len(bounds))
    few[40] = 500.0
    assert sd.confidence_bounds(few, bounds, 0.999, 0.9)[1] == math.inf  # 500 requests cannot bound a p99.9


def test_a_day_night_pattern_is_found_where_it_is() -> None:
    p = sd.discover(history(7, 500, day_night), SIZING)
    assert not p.is_static, p.reason
    by_hour = {}
    for s in p.seasons:
        for i in range(s.hours):
            by_hour[(s.start_hour + i) % 24] = s.planned_step
    assert all(by_hour[h] > by_hour[3] for h in range(9, 19)), by_hour   # the day's engine is the longer one
    assert all(by_hour[h] == by_hour[3] for h in (0, 1, 2, 4, 5, 6)), by_hour
    assert p.mean_bound < p.static.bound_step


def test_a_flat_history_gives_one_season() -> None:
    p = sd.discover(history(7, 500, flat), SIZING)
    assert p.is_static and p.seasons[0].name == "all-day", p.reason
    season = p.seasons[0].to_season()
    assert (season.schedule, season.duration) == ("0 0 * * *", "24h")


@pytest.mark.parametrize("seed", range(6))
def test_sampling_noise_alone_does_not_create_seasons(seed: int) -> None:
    """A few hundred requests an hour: every hour's p99.9 is about its largest request and swings widely,
    but the history has no structure, so discovery keeps one engine."""
    p = sd.discover(history(7, 300, flat, seed=seed), SIZING)
    assert p.is_static, p.reason


def test_weekends_of_their_own_are_found() -> None:
    def weekend_long(t: datetime) -> float:
        return 8000.0 if t.weekday() >= 5 else 1000.0

    p = sd.discover(history(14, 500, weekend_long), SIZING)
    types = {s.day_type for s in p.seasons}
    assert types == {"weekdays", "weekend"}, p.reason
    weekend = [s for s in p.seasons if s.day_type == "weekend"]
    weekdays = [s for s in p.seasons if s.day_type == "weekdays"]
    assert min(s.planned_step for s in weekend) > max(s.planned_step for s in weekdays)
    for found, season in zip(p.seasons, p.to_seasons(), strict=True):
        assert season.schedule.endswith({"weekdays": "1-5", "weekend": "0,6"}[found.day_type]), season.schedule


def test_too_little_history_gives_one_season_and_says_why() -> None:
    p = sd.discover(history(1, 500, day_night), SIZING)
    assert p.is_static and "fewer than the 2 needed" in p.reason


def test_seasons_follow_the_local_hours_of_their_timezone() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")

    def local_day(t: datetime) -> float:
        return day_night(t.astimezone(berlin))

    p = sd.discover(history(7, 500, local_day), SIZING, sd.Settings(timezone="Europe/Berlin"))
    day = max(p.seasons, key=lambda s: s.planned_step)
    assert day.timezone == "Europe/Berlin"
    assert 7 <= day.start_hour <= 9, day        # 08:00 Berlin, not 07:00 UTC
    for s in p.to_seasons():
        api.Season.model_validate(s.model_dump())  # valid spec seasons: cron, zone, duration


def test_more_requests_per_season_mean_fewer_occurrences_pooled() -> None:
    busy = sd.discover(history(7, 2000, flat), SIZING)
    quiet = sd.discover(history(7, 100, flat), SIZING)
    assert busy.seasons[0].history == 1          # 48,000 a day: one day holds the 10,000 requests wanted
    assert quiet.seasons[0].history == 5         # 2,400 a day: five days


def test_week_profile_has_every_slot_and_its_sampling_error() -> None:
    prof = sd.week_profile(history(7, 500, day_night), q=0.999, confidence=0.9)
    assert prof.requests.shape == (168,) and (prof.requests > 0).all()
    ok = np.isfinite(prof.upper)
    assert not ok.any(), "one hour of 500 requests cannot bound a p99.9"
    day = prof.by_hour["daily"]
    assert np.isfinite(day[2]).all(), "seven days of the same hour can"
    assert (day[1] <= day[0]).all() and (day[0] <= day[2]).all()


def test_held_out_scores_judge_the_proposal_on_hours_it_never_saw() -> None:
    h = history(10, 500, day_night)
    fitted, later = h.slice(0, 7 * 24), h.slice(7 * 24, 10 * 24)
    p = sd.discover(fitted, SIZING)
    scores = {s.name.split(" ")[0]: s for s in holdout_scores.held_out(later, p, SIZING)}
    assert scores["proposal"].mean_slack < scores["static"].mean_slack
    assert scores["best"].beyond <= 0.001
    assert scores["proposal"].changes_per_day == pytest.approx(len(p.seasons), abs=0.5)
