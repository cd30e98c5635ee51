"""Seasons: active and next season, DST-correct occurrences, history windows, build lead time and due
times. Pure: every test passes ``now`` in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seasonal_engines.api.spec import Season
from seasonal_engines.core import reasons, seasons
from seasonal_engines.core.seasons import Recurrence, SeasonWindow

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def season(name: str, schedule: str, duration: str, tz: str = "UTC", history: int = 4) -> Season:
    return Season(name=name, schedule=schedule, timezone=tz, duration=duration, history=history)


CHAT = season("chat", "0 8 * * *", "10h")      # 08:00-18:00 UTC daily
NIGHT = season("night", "0 20 * * *", "10h")    # 20:00-06:00 UTC daily
EARLY = season("early", "0 6 * * *", "4h")      # 06:00-10:00 UTC: overlaps chat


def at(*args: int, tz: timezone | ZoneInfo = UTC) -> datetime:
    return datetime(*args, tzinfo=tz)


# --- active and next season ----------------------------------------------------


@pytest.mark.parametrize("listed, now, expected", [
    ([CHAT, NIGHT], at(2026, 6, 1, 12), ("chat", at(2026, 6, 1, 8), at(2026, 6, 1, 18))),
    ([CHAT, NIGHT], at(2026, 6, 2, 3), ("night", at(2026, 6, 1, 20), at(2026, 6, 2, 6))),
    ([CHAT, NIGHT], at(2026, 6, 1, 18), None),           # end is exclusive
    ([CHAT, NIGHT], at(2026, 6, 1, 8), ("chat", at(2026, 6, 1, 8), at(2026, 6, 1, 18))),  # start inclusive
    ([CHAT, NIGHT], at(2026, 6, 1, 19), None),           # between seasons
    ([CHAT, EARLY], at(2026, 6, 1, 9), ("chat", at(2026, 6, 1, 8), at(2026, 6, 1, 18))),  # latest start wins
    ([EARLY, CHAT], at(2026, 6, 1, 7), ("early", at(2026, 6, 1, 6), at(2026, 6, 1, 10))),
    ([CHAT, season("chat2", "0 8 * * *", "2h")], at(2026, 6, 1, 9),
     ("chat", at(2026, 6, 1, 8), at(2026, 6, 1, 18))),  # equal starts: the one listed first
    ([season("chat2", "0 8 * * *", "2h"), CHAT], at(2026, 6, 1, 9),
     ("chat2", at(2026, 6, 1, 8), at(2026, 6, 1, 10))),
    ([], at(2026, 6, 1, 12), None),
], ids=["day", "night-past-midnight", "end-exclusive", "start-inclusive", "between", "overlap-latest-wins",
        "overlap-only-early", "tie-list-order", "tie-list-order-reversed", "no-seasons"])
def test_active_season(listed: list[Season], now: datetime, expected: tuple | None) -> None:
    window = seasons.active_season(listed, now)
    assert (None if window is None else (window.name, window.start, window.end)) == expected


@pytest.mark.parametrize("listed, now, expected", [
    ([CHAT, NIGHT], at(2026, 6, 1, 12), ("night", at(2026, 6, 1, 20))),
    ([CHAT, NIGHT], at(2026, 6, 1, 21), ("chat", at(2026, 6, 2, 8))),
    ([CHAT], at(2026, 6, 1, 12), ("chat", at(2026, 6, 2, 8))),    # the active season's next occurrence
    ([CHAT], at(2026, 6, 1, 8), ("chat", at(2026, 6, 2, 8))),     # strictly after now
    ([CHAT, season("chat2", "0 8 * * *", "2h")], at(2026, 6, 1, 12), ("chat", at(2026, 6, 2, 8))),
    ([season("chat2", "0 8 * * *", "2h"), CHAT], at(2026, 6, 1, 12), ("chat2", at(2026, 6, 2, 8))),
], ids=["other-season", "tomorrow", "same-season-again", "strictly-after", "tie-first", "tie-first-reversed"])
def test_next_season(listed: list[Season], now: datetime, expected: tuple) -> None:
    window = seasons.next_season(listed, now)
    assert window is not None and (window.name, window.start) == expected
    assert window.end == window.start + (timedelta(hours=2) if window.name == "chat2" else timedelta(hours=10))


def test_no_seasons_has_no_next_season() -> None:
    assert seasons.next_season([], at(2026, 6, 1)) is None


def test_weekday_season_skips_the_weekend() -> None:
    weekdays = season("office", "0 9 * * 1-5", "8h", tz="Europe/Berlin")
    friday_evening = at(2026, 6, 5, 18, tz=BERLIN)
    nxt = seasons.next_season([weekdays], friday_evening)
    assert nxt is not None and nxt.start == at(2026, 6, 8, 9, tz=BERLIN)  # Monday
    assert seasons.active_season([weekdays], at(2026, 6, 6, 10, tz=BERLIN)) is None  # Saturday


# --- DST --------------------------------------------------------------------------


@pytest.mark.parametrize("schedule, tz, after, expected_local", [
    # Europe/Berlin springs forward 2026-03-29 02:00 -> 03:00: 02:30 does not exist, it starts at 03:00.
    ("30 2 * * *", BERLIN, at(2026, 3, 27, 12, tz=BERLIN),
     ["2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]),
    # Berlin falls back 2026-10-25 03:00 -> 02:00: 02:30 happens twice, the season starts once (first pass).
    ("30 2 * * *", BERLIN, at(2026, 10, 23, 12, tz=BERLIN),
     ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
    # A start away from the transition keeps its wall-clock time; its UTC instant moves by an hour.
    ("0 8 * * *", BERLIN, at(2026, 3, 28, 12, tz=BERLIN),
     ["2026-03-29T08:00:00+02:00", "2026-03-30T08:00:00+02:00", "2026-03-31T08:00:00+02:00"]),
    # America/New_York springs forward 2026-03-08 02:00 -> 03:00.
    ("30 2 * * *", NEW_YORK, at(2026, 3, 6, 12, tz=NEW_YORK),
     ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
    # New York falls back 2026-11-01 02:00 -> 01:00: 01:30 once, on the first (EDT) pass.
    ("30 1 * * *", NEW_YORK, at(2026, 10, 30, 12, tz=NEW_YORK),
     ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
], ids=["berlin-spring-gap", "berlin-fall-repeat", "berlin-wall-clock-kept", "newyork-spring-gap",
        "newyork-fall-repeat"])
def test_starts_across_dst(schedule: str, tz: ZoneInfo, after: datetime, expected_local: list[str]) -> None:
    rec = Recurrence(schedule, str(tz), timedelta(hours=1))
    starts = rec.starts_after(after, 3)
    assert [s.astimezone(tz).isoformat() for s in starts] == expected_local
    assert all(s.tzinfo is UTC for s in starts)
    # Walking backwards finds the same starts.
    assert rec.starts_before(starts[-1], 3)[::-1] == starts


@pytest.mark.parametrize("tz, when, hours", [
    (BERLIN, at(2026, 10, 25, 5, tz=BERLIN), 25), (BERLIN, at(2026, 3, 29, 5, tz=BERLIN), 23),
    (NEW_YORK, at(2026, 11, 1, 5, tz=NEW_YORK), 25), (NEW_YORK, at(2026, 3, 8, 5, tz=NEW_YORK), 23),
], ids=["berlin-fall", "berlin-spring", "newyork-fall", "newyork-spring"])
def test_hourly_starts_across_dst_are_unique_and_ordered(tz: ZoneInfo, when: datetime, hours: int) -> None:
    rec = Recurrence("0 * * * *", str(tz), timedelta(minutes=30))
    day = rec.starts_before(when.replace(hour=0) + timedelta(days=1), 48)
    local_day = [s for s in day if s.astimezone(tz).date() == when.date()]
    # One start per wall-clock hour that exists: 23 on spring day (02:00 lands on 03:00 once), 24 in fall.
    assert len(local_day) == (23 if hours == 23 else 24)
    assert local_day == sorted(set(local_day), reverse=True)


def test_duration_is_elapsed_time_across_a_transition() -> None:
    midnight = season("batch", "0 0 * * *", "10h", tz="Europe/Berlin")
    window = seasons.active_season([midnight], at(2026, 3, 29, 9, 30, tz=BERLIN))
    assert window is not None
    assert window.start == at(2026, 3, 28, 23)   # 00:00 CET
    assert window.end == at(2026, 3, 29, 9)      # ten real hours: 11:00 CEST on the wall
    assert window.end.astimezone(BERLIN).hour == 11


def test_season_windows_in_local_time_across_dst() -> None:
    office = season("office", "0 8 * * *", "10h", tz="Europe/Berlin", history=3)
    got = seasons.occurrences(office, at(2026, 3, 31, 0, tz=BERLIN), 3)
    assert [(w.start, w.end) for w in got] == [
        (at(2026, 3, 28, 7), at(2026, 3, 28, 17)),   # CET
        (at(2026, 3, 29, 6), at(2026, 3, 29, 16)),   # CEST from here on
        (at(2026, 3, 30, 6), at(2026, 3, 30, 16)),
    ]


# --- history windows ------------------------------------------------------------------


def test_occurrences_are_complete_windows_oldest_first() -> None:
    got = seasons.occurrences(CHAT, at(2026, 6, 3, 12), 2)  # the 3 June window is in progress
    assert got == [SeasonWindow(at(2026, 6, 1, 8), at(2026, 6, 1, 18), name="chat"),
                   SeasonWindow(at(2026, 6, 2, 8), at(2026, 6, 2, 18), name="chat")]


def test_occurrences_may_include_the_partial_window_cut_at_before() -> None:
    got = seasons.occurrences(CHAT, at(2026, 6, 3, 12), 2, include_partial=True)
    assert [(w.start, w.end) for w in got] == [(at(2026, 6, 2, 8), at(2026, 6, 2, 18)),
                                               (at(2026, 6, 3, 8), at(2026, 6, 3, 12))]


def test_a_window_that_ends_exactly_at_before_is_complete() -> None:
    got = seasons.occurrences(CHAT, at(2026, 6, 3, 18), 1)
    assert got[0].end == at(2026, 6, 3, 18)


def test_occurrence_is_cut_at_the_next_start_when_dst_shortens_the_gap() -> None:
    # Daily 01:30 for 23h30m: the spring day is 23h long, so that window must stop at the next start.
    long_days = Recurrence("30 1 * * *", "Europe/Berlin", timedelta(hours=23, minutes=30))
    windows = long_days.windows_before(at(2026, 4, 2, tz=BERLIN), 4)
    assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:]))
    # 29 March 01:30 CET to 30 March 01:30 CEST is 23h: cut there instead of 23h30m later.
    assert (at(2026, 3, 29, 0, 30), at(2026, 3, 29, 23, 30)) in windows


@pytest.mark.parametrize("schedule", ["0 8 * * *", "30 2 * * *", "0 */6 * * *", "15 9 * * 1-5", "0 0 1 * *"])
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
@settings(max_examples=15, deadline=None)
@given(offset_h=st.integers(min_value=0, max_value=24 * 365), n=st.integers(min_value=1, max_value=6))
def test_history_windows_never_overlap_and_end_before(schedule: str, tz: str, offset_h: int, n: int) -> None:
    rec = Recurrence(schedule, tz, timedelta(hours=3))
    before = at(2026, 1, 1) + timedelta(hours=offset_h, minutes=17)
    windows = rec.windows_before(before, n)
    assert len(windows) == n
    assert all(start < end <= before for start, end in windows)
    assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:]))
    assert all(end - start <= timedelta(hours=3) for start, end in windows)


def test_history_query_windows_for_a_season_and_for_the_trailing_window() -> None:
    chat = season("chat", "0 8 * * *", "10h", history=3)
    now = at(2026, 6, 4, 12)
    assert seasons.season_history_query_windows(chat, now, timedelta(hours=1)) == [
        (at(2026, 6, d, 8), at(2026, 6, d, 18)) for d in (1, 2, 3)]
    assert seasons.season_history_query_windows(None, now, timedelta(hours=1)) == [(at(2026, 6, 4, 11), now)]


def test_trailing_window_is_the_seasonless_mode() -> None:
    now = at(2026, 6, 4, 12, tz=BERLIN)
    window = seasons.trailing_window(now, timedelta(hours=2))
    assert window == seasons.Window(now - timedelta(hours=2), now)
    assert window.contains(now - timedelta(minutes=1))
    assert not window.contains(now)
    assert (window.start.tzinfo, window.start, window.end) == (UTC, at(2026, 6, 4, 8), at(2026, 6, 4, 10))
    out = seasons.outlook([], now, timedelta(hours=1))
    assert (out.active, out.next, out.due, out.reason, out.wake_at) == (None, None, (), reasons.TRAILING_WINDOW,
                                                                        None)


# --- lead time and builds due --------------------------------------------------------


@pytest.mark.parametrize("configured_s, recorded, expected_s", [
    (3600, [], 3600),
    (3600, [600, 1200], 3600),
    (600, [1200], 1200),
    (600, [100] * 19 + [5000], 600),          # nearest rank: the 19th of 20 is still 100
    (60, [100] * 18 + [4000, 5000], 4000),    # 19th of 20
    (60, list(range(1, 101)), 95),
    (60, [300.5, 200.25], 300.5),             # few builds: p95 is the longest
], ids=["none-recorded", "configured-larger", "recorded-larger", "one-outlier-ignored", "p95-nearest-rank",
        "hundred", "few-builds-take-max"])
def test_lead_time(configured_s: float, recorded: list[float], expected_s: float) -> None:
    assert seasons.lead_time(timedelta(seconds=configured_s), recorded) == timedelta(seconds=expected_s)


@pytest.mark.parametrize("recorded", [[-1.0], [float("nan")], [float("inf")]], ids=["negative", "nan", "inf"])
def test_lead_time_refuses_bad_durations(recorded: list[float]) -> None:
    with pytest.raises(ValueError, match="recorded build durations"):
        seasons.lead_time(timedelta(hours=1), recorded)


@pytest.mark.parametrize("now, due, due_at", [
    (at(2026, 6, 1, 5), False, at(2026, 6, 1, 6)),        # 3h before: not yet, due at start - 2h
    (at(2026, 6, 1, 6), True, at(2026, 6, 1, 6)),         # exactly lead time before
    (at(2026, 6, 1, 7, 59), True, at(2026, 6, 1, 7, 59)),
    (at(2026, 6, 1, 12), True, at(2026, 6, 1, 12)),       # inside the window
    (at(2026, 6, 1, 18), False, at(2026, 6, 2, 6)),       # window over: next one
], ids=["before-lead", "at-lead", "inside-lead", "active", "after-end"])
def test_build_due(now: datetime, due: bool, due_at: datetime) -> None:
    assert seasons.build_due(CHAT, now, timedelta(hours=2)) is due
    assert seasons.build_due_at(CHAT, now, timedelta(hours=2)) == due_at


def test_outlook_reports_active_next_due_and_when_to_look_again() -> None:
    out = seasons.outlook([CHAT, NIGHT], at(2026, 6, 1, 17), timedelta(hours=2))
    assert out.active is not None and out.active.name == "chat"
    assert out.next is not None and (out.next.name, out.next.start) == ("night", at(2026, 6, 1, 20))
    assert out.due == ("chat",)                      # night's build is due at 18:00
    assert out.reason == reasons.SEASON_ACTIVE
    assert out.wake_at == at(2026, 6, 1, 18)         # chat ends and night's build falls due
    between = seasons.outlook([CHAT, NIGHT], at(2026, 6, 1, 18, 30), timedelta(hours=2))
    assert (between.active, between.due, between.reason) == (None, ("night",), reasons.BETWEEN_SEASONS)
    assert between.wake_at == at(2026, 6, 1, 20)


# --- bad input ------------------------------------------------------------------------


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        seasons.active_season([CHAT], datetime(2026, 6, 1, 12))


@pytest.mark.parametrize("schedule, tz, duration, match", [
    ("every day", "UTC", timedelta(hours=1), "not a valid cron expression"),
    ("0 8 * * *", "Mars/Olympus", timedelta(hours=1), "unknown IANA timezone"),
    ("0 8 * * *", "UTC", timedelta(0), "duration must be positive"),
], ids=["cron", "timezone", "duration"])
def test_recurrence_refuses_bad_input(schedule: str, tz: str, duration: timedelta, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Recurrence(schedule, tz, duration)


def test_a_schedule_that_never_matches_names_the_fix() -> None:
    with pytest.raises(ValueError, match="never matches a date"):
        Recurrence("0 0 30 2 *", "UTC", timedelta(hours=1)).starts_after(at(2026, 1, 1), 1)


def test_occurrences_needs_at_least_one() -> None:
    with pytest.raises(ValueError, match="n must be at least 1"):
        seasons.occurrences(CHAT, at(2026, 6, 1), 0)
