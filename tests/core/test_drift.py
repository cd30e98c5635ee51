"""Drift: every transition of the breach/waste/insufficient state machine, the beyond-share lower bound,
the shift score, and the state's round trip through status. Pure: ``now`` is passed in."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seasonal_engines.api import status
from seasonal_engines.api.spec import DownsizeWindow, DriftPolicy
from seasonal_engines.api.status import DriftStatus
from seasonal_engines.core import drift, histograms, reasons, shift_references, status_codec, traffic
from seasonal_engines.core.drift import Direction, DriftKind, DriftState
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
BOUNDS = (128, 256, 512, 1024, 2048, 4096, 8192, 16384)
SERVING = Envelope(max_input_len=2048, max_seq_len=4096, max_batch_size=64, max_num_tokens=8192)
SAME = SERVING
SMALLER = Envelope(max_input_len=1024, max_seq_len=2048, max_batch_size=128, max_num_tokens=8192)  # 2x smaller
LARGER = Envelope(max_input_len=4096, max_seq_len=8192, max_batch_size=32, max_num_tokens=8192)
POLICY = DriftPolicy(breach_fraction=0.01, waste_factor=1.5, consecutive_evaluations=3, min_rebuild_interval="6h")
MIN_SAMPLES = 100


def profile(inputs: list[float], outputs: list[float], *, rejected: float | None = 0.0,
            limit_stopped: float | None = 0.0, bounds: tuple[float, ...] = BOUNDS) -> TrafficProfile:
    """A window whose requests have these lengths (the joint sequence histogram is exact)."""
    i, o = np.asarray(inputs, dtype=float), np.asarray(outputs, dtype=float)
    return traffic.profile_from_histograms(
        NOW - timedelta(hours=1), NOW, histograms.from_values(i, bounds), histograms.from_values(o, bounds),
        histograms.from_values(i + o, bounds), rejected=rejected, limit_stopped=limit_stopped)


def mix(n: int, long_share: float, long_input: float = 3000.0, short_input: float = 400.0,
        output: float = 200.0, **kw: Any) -> TrafficProfile:
    n_long = int(round(n * long_share))
    return profile([long_input] * n_long + [short_input] * (n - n_long), [output] * n, **kw)


FITTING = mix(1000, 0.0)         # everything inside SERVING
BREACHING = mix(1000, 0.05)      # 5% of prompts beyond max_input_len 2048
NOT_ENOUGH = mix(50, 0.5)
INITIAL = DriftState()


def run(traffic_in: TrafficProfile | TrafficUnavailable, state: DriftState = INITIAL, *,
        fresh: Envelope | None = SAME, policy: DriftPolicy = POLICY, now: datetime = NOW,
        interval: timedelta = timedelta(0)) -> tuple[DriftState, drift.DriftVerdict]:
    return drift.evaluate(serving=SERVING, traffic=traffic_in, fresh=fresh, policy=policy, state=state, now=now,
                          min_samples=MIN_SAMPLES, evaluation_interval=interval)


# --- the state machine, transition by transition ------------------------------------

STREAKS = DriftState(breach_streak=2, waste_streak=0, last_evaluated=NOW - timedelta(minutes=5))
WASTING = DriftState(breach_streak=0, waste_streak=2, last_evaluated=NOW - timedelta(minutes=5))
RECENT_REBUILD = NOW - timedelta(hours=1)
OLD_REBUILD = NOW - timedelta(hours=7)

TRANSITIONS = [
    # id, traffic, state before, fresh plan, policy, (kind, reason, rebuild, direction, urgent), (breach, waste)
    ("unavailable-holds", TrafficUnavailable("PrometheusUnreachable", "connection refused"), STREAKS, SAME, POLICY,
     (DriftKind.insufficient, reasons.TRAFFIC_UNAVAILABLE, False, None, False), (2, 0)),
    ("too-few-samples-holds", NOT_ENOUGH, STREAKS, SAME, POLICY,
     (DriftKind.insufficient, reasons.INSUFFICIENT_TRAFFIC, False, None, False), (2, 0)),
    ("stable", FITTING, DriftState(), SAME, POLICY,
     (DriftKind.stable, reasons.WITHIN_ENVELOPE, False, None, False), (0, 0)),
    ("breach-first", BREACHING, DriftState(), LARGER, POLICY,
     (DriftKind.stable, reasons.COVERAGE_BREACH_PENDING, False, None, False), (1, 0)),
    ("breach-second", BREACHING, replace(STREAKS, breach_streak=1), LARGER, POLICY,
     (DriftKind.stable, reasons.COVERAGE_BREACH_PENDING, False, None, False), (2, 0)),
    ("breach-confirmed", BREACHING, STREAKS, LARGER, POLICY,
     (DriftKind.breach, reasons.COVERAGE_BREACH, True, Direction.up, True), (3, 0)),
    ("breach-keeps-firing", BREACHING, replace(STREAKS, breach_streak=7), LARGER, POLICY,
     (DriftKind.breach, reasons.COVERAGE_BREACH, True, Direction.up, True), (8, 0)),
    ("breach-ignores-min-interval", BREACHING, replace(STREAKS, last_rebuild=RECENT_REBUILD), LARGER, POLICY,
     (DriftKind.breach, reasons.COVERAGE_BREACH, True, Direction.up, True), (3, 0)),
    ("breach-without-fresh-plan", BREACHING, STREAKS, None, POLICY,
     (DriftKind.breach, reasons.COVERAGE_BREACH, True, Direction.up, True), (3, 0)),
    ("breach-at-ceiling", BREACHING, STREAKS, SAME, POLICY,
     (DriftKind.breach, reasons.COVERAGE_BREACH_AT_CEILING, False, None, False), (3, 0)),
    ("breach-clears", FITTING, STREAKS, SAME, POLICY,
     (DriftKind.stable, reasons.WITHIN_ENVELOPE, False, None, False), (0, 0)),
    ("breach-k1-acts-at-once", BREACHING, DriftState(), LARGER,
     POLICY.model_copy(update={'consecutive_evaluations': 1}),
     (DriftKind.breach, reasons.COVERAGE_BREACH, True, Direction.up, True), (1, 0)),
    ("breach-from-censoring-only", mix(1000, 0.0, rejected=15.0, limit_stopped=5.0), DriftState(), LARGER,
     POLICY.model_copy(update={'consecutive_evaluations': 1}),
     (DriftKind.breach, reasons.COVERAGE_BREACH, True, Direction.up, True), (1, 0)),
    ("breach-resets-waste", BREACHING, WASTING, SMALLER, POLICY,
     (DriftKind.stable, reasons.COVERAGE_BREACH_PENDING, False, None, False), (1, 0)),
    ("waste-first", FITTING, DriftState(), SMALLER, POLICY,
     (DriftKind.stable, reasons.ENVELOPE_WASTE_PENDING, False, None, False), (0, 1)),
    ("waste-confirmed", FITTING, WASTING, SMALLER, POLICY,
     (DriftKind.waste, reasons.ENVELOPE_WASTEFUL, True, Direction.down, False), (0, 3)),
    ("waste-confirmed-old-rebuild", FITTING, replace(WASTING, last_rebuild=OLD_REBUILD), SMALLER, POLICY,
     (DriftKind.waste, reasons.ENVELOPE_WASTEFUL, True, Direction.down, False), (0, 3)),
    ("waste-waits-for-interval", FITTING, replace(WASTING, last_rebuild=RECENT_REBUILD), SMALLER, POLICY,
     (DriftKind.waste, reasons.REBUILD_INTERVAL_NOT_ELAPSED, False, None, False), (0, 3)),
    ("waste-clears", FITTING, WASTING, SAME, POLICY,
     (DriftKind.stable, reasons.WITHIN_ENVELOPE, False, None, False), (0, 0)),
    ("waste-below-factor", FITTING, WASTING,
     replace(SERVING, max_input_len=1500, max_seq_len=3000), POLICY,   # 1.37x < 1.5x
     (DriftKind.stable, reasons.WITHIN_ENVELOPE, False, None, False), (0, 0)),
    ("waste-one-dimension-enough", FITTING, WASTING, replace(SERVING, max_input_len=1024), POLICY,
     (DriftKind.waste, reasons.ENVELOPE_WASTEFUL, True, Direction.down, False), (0, 3)),
    ("waste-no-fresh-plan-holds", FITTING, WASTING, None, POLICY,
     (DriftKind.stable, reasons.WITHIN_ENVELOPE, False, None, False), (0, 2)),
    ("breach-no-fresh-plan-resets-waste", BREACHING, WASTING, None, POLICY,
     (DriftKind.stable, reasons.COVERAGE_BREACH_PENDING, False, None, False), (1, 0)),
]


@pytest.mark.parametrize("traffic_in, before, fresh, policy, expected, streaks",
                         [t[1:] for t in TRANSITIONS], ids=[t[0] for t in TRANSITIONS])
def test_transition(traffic_in: Any, before: DriftState, fresh: Envelope | None, policy: DriftPolicy,
                    expected: tuple, streaks: tuple[int, int]) -> None:
    after, verdict = run(traffic_in, before, fresh=fresh, policy=policy)
    assert (verdict.kind, verdict.reason, verdict.rebuild, verdict.direction, verdict.urgent) == expected
    assert (after.breach_streak, after.waste_streak) == streaks
    assert verdict.message
    if verdict.kind is DriftKind.insufficient:
        assert after == before  # nothing changes, so nothing is written to status
    else:
        assert after.last_evaluated == NOW and after.beyond_fraction == verdict.beyond_fraction
        assert after.last_rebuild == before.last_rebuild  # acting is the caller's
    if verdict.kind in (DriftKind.breach, DriftKind.waste):
        assert verdict.consecutive == max(streaks)


def test_messages_name_the_figures_people_need() -> None:
    _, verdict = run(BREACHING, STREAKS, fresh=LARGER)
    assert "5.00% of requests beyond the serving envelope (in 2048 / seq 4096 / bs 64)" in verdict.message
    assert "drift.breachFraction 1.00%" in verdict.message
    _, verdict = run(FITTING, replace(WASTING, last_rebuild=RECENT_REBUILD), fresh=SMALLER)
    assert "2.00x" in verdict.message and "drift.minRebuildInterval 6h ends at 2026-06-01T17:00:00Z" in verdict.message


# --- hysteresis and pacing ------------------------------------------------------------


def test_breach_needs_k_evaluations_in_a_row_and_a_gap_starts_over() -> None:
    state, kinds = DriftState(), []
    sequence = [BREACHING, BREACHING, FITTING, BREACHING, BREACHING, NOT_ENOUGH, BREACHING]
    for i, window in enumerate(sequence):
        state, verdict = run(window, state, fresh=LARGER, now=NOW + timedelta(minutes=5 * i))
        kinds.append(verdict.kind)
    # The clear evaluation resets the streak; insufficient traffic holds it (2 before, 3 after).
    assert kinds == [DriftKind.stable] * 5 + [DriftKind.insufficient, DriftKind.breach]


def test_an_evaluation_sooner_than_half_an_interval_does_not_count() -> None:
    interval = timedelta(minutes=5)
    state, _ = run(BREACHING, DriftState(), fresh=LARGER, interval=interval)
    nudged, verdict = run(BREACHING, state, fresh=LARGER, now=NOW + timedelta(seconds=30), interval=interval)
    assert nudged.breach_streak == 1 and nudged.last_evaluated == NOW
    assert verdict.reason == reasons.COVERAGE_BREACH_PENDING and verdict.consecutive == 1
    counted, _ = run(BREACHING, nudged, fresh=LARGER, now=NOW + timedelta(minutes=3), interval=interval)
    assert counted.breach_streak == 2 and counted.last_evaluated == NOW + timedelta(minutes=3)


def test_a_clock_that_went_backwards_does_not_count() -> None:
    state = DriftState(breach_streak=1, last_evaluated=NOW)
    after, _ = run(BREACHING, state, fresh=LARGER, now=NOW - timedelta(minutes=10), interval=timedelta(minutes=5))
    assert after.breach_streak == 1 and after.last_evaluated == NOW


def test_rebuilt_resets_streaks_restarts_the_interval_and_rebases_the_score() -> None:
    state, verdict = run(BREACHING, STREAKS, fresh=LARGER)
    assert verdict.rebuild
    after = state.rebuilt(NOW, BREACHING)
    assert (after.breach_streak, after.waste_streak, after.last_rebuild) == (0, 0, NOW)
    _, verdict = run(BREACHING, after, fresh=LARGER, now=NOW + timedelta(minutes=5))
    assert verdict.score == pytest.approx(0.0, abs=1e-9)  # measured against the traffic it was planned from


def test_rebased_keeps_the_interval_clock() -> None:
    state = DriftState(breach_streak=2, waste_streak=0, last_rebuild=RECENT_REBUILD)
    after = state.rebased(FITTING)
    assert (after.breach_streak, after.last_rebuild) == (0, RECENT_REBUILD)
    assert after.reference == shift_references.ShiftReference.of(FITTING)


# --- downsize window ---------------------------------------------------------------------

NIGHTLY = DownsizeWindow(schedule="0 1 * * *", timezone="Europe/Berlin", duration="4h")


@pytest.mark.parametrize("now, window_start, allowed", [
    (datetime(2026, 6, 1, 12, tzinfo=UTC), datetime(2026, 6, 1, 23, tzinfo=UTC), False),  # next one: 01:00 CEST
    (datetime(2026, 6, 2, 0, 30, tzinfo=UTC), datetime(2026, 6, 1, 23, tzinfo=UTC), True),  # inside
], ids=["outside-names-next-window", "inside-names-current-window"])
def test_downsize_rollout_waits_for_its_window(now: datetime, window_start: datetime, allowed: bool) -> None:
    policy = POLICY.model_copy(update={'downsize_window': NIGHTLY})
    _, verdict = run(FITTING, replace(WASTING, last_evaluated=now - timedelta(minutes=5)), fresh=SMALLER,
                     policy=policy, now=now)
    assert verdict.rebuild and verdict.direction is Direction.down  # build now, roll out in the window
    assert verdict.rollout_window is not None
    assert (verdict.rollout_window.start, verdict.rollout_window.end) == (window_start,
                                                                          window_start + timedelta(hours=4))
    assert "rollout waits for the downsize window" in verdict.message
    assert drift.downsize_allowed(policy, now) is allowed
    assert drift.downsize_allowed(POLICY, now) is True  # no window: any time


# --- the beyond share ------------------------------------------------------------------------


def test_censored_requests_count_even_though_the_histograms_hide_them() -> None:
    hidden = mix(1000, 0.0, rejected=30.0, limit_stopped=10.0)
    share, notes = drift.beyond_fraction(SERVING, hidden)
    assert share == pytest.approx(0.04) and notes == ()


def test_no_censoring_counters_is_said_and_not_counted() -> None:
    share, notes = drift.beyond_fraction(SERVING, mix(1000, 0.02, rejected=None, limit_stopped=None))
    assert share == pytest.approx(0.02)
    assert any("no censoring counters" in n for n in notes)
    # A broader counter (vLLM's finished_reason="length") bounds them from above: said, never counted.
    broad = replace(mix(1000, 0.0, rejected=None, limit_stopped=None), censored_upper_bound=0.03)
    share, notes = drift.beyond_fraction(SERVING, broad)
    assert share == 0.0 and any("no more than 3.00%" in n for n in notes)


def test_a_limit_above_the_top_bucket_adds_nothing_and_is_said() -> None:
    coarse = (128, 256, 512, 1000)  # like the triton-trtllm preset: buckets stop at 1000 tokens
    window = profile([3000.0] * 10 + [400.0] * 990, [200.0] * 1000, bounds=coarse)
    share, notes = drift.beyond_fraction(SERVING, window)
    assert share == 0.0
    assert any("input buckets stop at 1000 tokens" in n for n in notes)
    _, verdict = run(window, DriftState())
    assert "input buckets stop at 1000" in verdict.message


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 12000), st.integers(1, 6000)), min_size=1, max_size=200),
       st.sampled_from([(1024, 2048), (2048, 4096), (4096, 8192), (8192, 16384)]))
def test_beyond_share_is_a_lower_bound_of_the_true_share(requests: list[tuple[int, int]],
                                                          limits: tuple[int, int]) -> None:
    envelope = Envelope(limits[0], limits[1], 8, 8192)
    window = profile([float(i) for i, _ in requests], [float(o) for _, o in requests], bounds=BOUNDS + (32768,))
    true_share = sum(not envelope.fits(i, o) for i, o in requests) / len(requests)
    share, _ = drift.beyond_fraction(envelope, window)
    input_share = sum(i > limits[0] for i, _ in requests) / len(requests)
    sequence_share = sum(i + o > limits[1] for i, o in requests) / len(requests)
    # Limits on bucket bounds make each marginal exact: the verdict is the larger, never above the truth.
    assert share == pytest.approx(max(input_share, sequence_share))
    assert share <= true_share + 1e-12


# --- the shift score ---------------------------------------------------------------------------


def test_shift_score_is_zero_for_the_same_traffic_and_grows_with_the_shift() -> None:
    ref = shift_references.ShiftReference.of(mix(1000, 0.0))
    assert shift_references.shift_score(ref, mix(500, 0.0)) == pytest.approx(0.0, abs=1e-9)
    small = shift_references.shift_score(ref, mix(1000, 0.05))
    large = shift_references.shift_score(ref, mix(1000, 0.5))
    assert small is not None and large is not None and 0 < small < large < 1
    assert shift_references.shift_score(ref, profile([9000.0] * 100, [9000.0] * 100)) == pytest.approx(1.0)


def test_shift_score_needs_shared_buckets() -> None:
    ref = shift_references.ShiftReference.of(mix(1000, 0.0))
    other_layout = profile([400.0] * 100, [200.0] * 100, bounds=(100, 1000, 10000))
    assert shift_references.shift_score(ref, other_layout) is None


def test_a_baseline_without_buckets_is_replaced_by_the_first_traffic() -> None:
    nothing = shift_references.BucketShares((), ())
    empty = shift_references.ShiftReference(nothing, nothing)
    after, _ = run(FITTING, DriftState(reference=empty))
    assert after.reference == shift_references.ShiftReference.of(FITTING)


def test_a_fresh_plan_with_zero_limits_is_refused() -> None:
    with pytest.raises(ValueError, match="fresh plan's limits must be positive"):
        run(FITTING, fresh=Envelope(0, 0, 1, 1))


def test_first_evaluation_adopts_the_traffic_as_the_baseline() -> None:
    after, verdict = run(FITTING, DriftState())
    assert after.reference == shift_references.ShiftReference.of(FITTING)
    assert verdict.score == pytest.approx(0.0, abs=1e-9)
    _, verdict = run(BREACHING, after, fresh=LARGER, now=NOW + timedelta(minutes=5))
    assert verdict.score is not None and verdict.score > 0.01 and "shift score" in verdict.message


def test_shift_score_alone_never_rebuilds() -> None:
    # A big shift that stays inside the envelope: recorded, not acted on.
    state = DriftState().rebased(mix(1000, 0.0, short_input=130.0))
    _, verdict = run(mix(1000, 0.0, short_input=1800.0), state)
    assert verdict.score is not None and verdict.score > 0.9
    assert verdict.kind is DriftKind.stable and not verdict.rebuild


# --- status round trip ----------------------------------------------------------------------------


def round_trip(state: DriftState, verdict: drift.DriftVerdict | None = None) -> tuple[dict[str, Any], DriftState]:
    """``state`` written to status as Kubernetes JSON (no NaN or Inf), and read back."""
    doc = json.loads(json.dumps(status_codec.drift_status(state, verdict).model_dump(
        by_alias=True, exclude_none=True, mode="json"), allow_nan=False))
    return doc, status_codec.drift_state(DriftStatus.model_validate(doc))


def test_state_round_trips_through_status_json() -> None:
    state, verdict = run(BREACHING, replace(STREAKS, last_rebuild=OLD_REBUILD), fresh=LARGER)
    doc, back = round_trip(state, verdict)
    assert doc["state"] == "Breach"
    assert doc["breachStreak"] == 3
    assert doc["lastRebuild"] == "2026-06-01T05:00:00Z"
    assert back == state


def test_no_drift_status_is_the_initial_state() -> None:
    assert status_codec.drift_state(None) == DriftState()
    assert status_codec.drift_state(DriftStatus()) == DriftState()


@pytest.mark.parametrize("doc, field", [
    ({"breachStreak": -1}, "status.drift.breachStreak"),
    ({"wasteStreak": "two"}, "status.drift.wasteStreak"),
    ({"lastRebuild": "yesterday"}, "status.drift.lastRebuild"),
    ({"lastEvaluated": "2026-06-01T12:00:00"}, "status.drift.lastEvaluated"),  # no zone
    ({"score": 2.0}, "status.drift.score"),
    ({"reference": {"input": {"le": [1, 2], "cdf": [0.5]}, "sequence": {"le": [], "cdf": []}}},
     "status.drift.reference.input"),
    ({"reference": {"input": {"le": [2, 1], "cdf": [0.5, 1]}, "sequence": {"le": [], "cdf": []}}},
     "status.drift.reference.input"),
    ({"reference": "gone"}, "status.drift.reference"),
    ({"reference": {"input": {"le": [], "cdf": []}, "sequence": {"le": [], "cdf": []}, "samples": -1}},
     "status.drift.reference.samples"),
], ids=["negative-streak", "text-streak", "bad-time", "naive-time", "score-range", "ragged-reference",
        "unsorted-reference", "reference-not-a-map", "negative-samples"])
def test_malformed_status_names_the_field(doc: dict[str, Any], field: str) -> None:
    # A status drift cannot read is refused when the status is read (and the status starts afresh).
    read, problem = status.read({"drift": doc})
    assert read.drift is None
    assert problem is not None
    assert problem.startswith(field + ":")


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        drift.evaluate(serving=SERVING, traffic=FITTING, fresh=SAME, policy=POLICY, state=DriftState(),
                       now=datetime(2026, 6, 1), min_samples=1)
    with pytest.raises(ValueError, match="traffic.minSamples"):
        drift.evaluate(serving=SERVING, traffic=FITTING, fresh=SAME, policy=POLICY, state=DriftState(),
                       now=NOW, min_samples=0)


# --- shift detection: the recent window against the planning traffic ----------------


def recent_of(p: TrafficProfile, inputs: list[float], outputs: list[float]) -> TrafficProfile:
    i, o = np.asarray(inputs, dtype=float), np.asarray(outputs, dtype=float)
    return replace(p, recent=traffic.RecentTraffic(NOW - timedelta(minutes=15), NOW,
                                                   histograms.from_values(i, BOUNDS),
                                                   histograms.from_values(i + o, BOUNDS)))


def spread(n: int, scale: float = 1.0, seed: int = 0) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    return (list(rng.lognormal(np.log(300.0), 0.8, n) * scale), list(rng.lognormal(np.log(100.0), 0.5, n) * scale))


def test_shift_streak_confirms_after_the_shift_policy_count_and_resets() -> None:
    policy = POLICY.model_copy(update={"shift": POLICY.shift.model_copy(update={"consecutive_evaluations": 2})})
    planning = profile(*spread(5000))
    state = DriftState().rebased(planning)
    assert state.reference is not None and state.reference.samples == 5000
    longer = recent_of(planning, *spread(100, 2.0, seed=1))
    state, v1 = run(longer, state, policy=policy)
    assert v1.shift is not None and v1.shift.shifted and v1.shift_streak == 1 and not v1.shift_confirmed
    state, v2 = run(longer, state, policy=policy, now=NOW + timedelta(minutes=5))
    assert v2.shift_confirmed and v2.shift_streak == 2 and state.shift_streak == 2
    assert v2.kind is DriftKind.stable  # a shift alone is no breach
    state, v3 = run(recent_of(planning, *spread(100, 1.0, seed=2)), state, policy=policy,
                    now=NOW + timedelta(minutes=10))
    assert not v3.shift.shifted and state.shift_streak == 0  # type: ignore[union-attr]
    # no recent part: no test, the streak holds
    held, v4 = run(planning, replace(state, shift_streak=1), policy=policy, now=NOW + timedelta(minutes=15))
    assert v4.shift is None and held.shift_streak == 1
    assert DriftState(shift_streak=3).rebased(planning).shift_streak == 0


def test_shift_state_round_trips_and_old_statuses_still_parse() -> None:
    state = replace(DriftState().rebased(profile(*spread(800))), shift_streak=2)
    doc, back = round_trip(state)
    assert back == state
    del doc["shiftStreak"], doc["reference"]["samples"]  # as an operator before shift detection wrote it
    parsed = status_codec.drift_state(DriftStatus.model_validate(doc))
    assert parsed.shift_streak == 0
    assert parsed.reference is not None
    assert parsed.reference.samples == 0.0
