"""Adaptive sizing of discovered seasons: pools of the newest history, order-statistic plans, and the
decision core growing at once, shrinking only with evidence and hysteresis, and holding a first day's
coverage. Pure: the real planner, synthetic histories, the replay's simulated cluster."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from seasonal_engines.api import spec as api
from seasonal_engines.api import validation
from seasonal_engines.api.status import (
    DiscoveredSeason,
    EngineRef,
    EnvelopeStatus,
    InferenceServiceStatus,
    SeasonScheduleStatus,
)
from seasonal_engines.core import (
    actions,
    drift,
    hourly_history,
    observations,
    planners,
    presets,
    reasons,
    resizing,
    status_codec,
)
from seasonal_engines.core import decisions as dc
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.times import rfc3339
from seasonal_engines.core.traffic import TrafficProfile, profile_from_requests
from seasonal_engines.replay import comparing, simulating
from seasonal_engines.replay.world import Durations
from seasonal_engines.traces.readers import Trace

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)
ALL_DAY = api.Season(name="all-day", schedule="0 0 * * *", duration="24h", history=14)


def spec_of(**discovery: Any) -> api.InferenceServiceSpec:
    doc = yaml.safe_load((REPO / "examples" / "llama-3-8b-h100-discovery.yaml").read_text())
    doc["spec"]["seasonDiscovery"].update(discovery)
    doc["spec"]["sizing"] = {"maxBatchSize": 64}
    return validation.parse_manifest(doc)


SPEC = spec_of()


def requests(hours: int, rate: float, median: float, *, end: datetime = NOW, seed: int = 0,
             sigma: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(hours * rate)
    ts = np.sort(rng.uniform(end.timestamp() - hours * 3600 + 1, end.timestamp(), n))
    seq = np.maximum(4, rng.lognormal(math.log(median), sigma, n)).astype(np.int64)
    inp = np.maximum(1, (seq * 0.8).astype(np.int64))
    return ts, inp, seq - inp


def history_of(hours: int, rate: float, median: float, **kw: Any) -> hourly_history.HourlyHistory:
    ts, inp, out = requests(hours, rate, median, **kw)
    return hourly_history.from_requests(NOW, 14 * 24, ts, inp, out, np.ones(len(ts), dtype=bool),
                                        bounds=presets.SEASONAL.bounds)


# --- pools and plans ------------------------------------------------------------------------------


def test_a_pool_takes_the_newest_occurrences_until_it_holds_enough() -> None:
    h = history_of(7 * 24, 500, 1000)  # 12,000 a day
    today = resizing.season_pool(h, ALL_DAY, NOW, active=True, target=10_000)
    assert isinstance(today, TrafficProfile)
    # today's 12 hours (6,000) are not enough: yesterday's whole day is added, nothing older
    assert today.samples == pytest.approx(18_000, rel=0.05)
    assert today.start == datetime(2026, 1, 13, tzinfo=UTC)
    more = resizing.season_pool(h, ALL_DAY, NOW, active=True, target=40_000)
    assert more.samples == pytest.approx(42_000, rel=0.05)
    ahead = resizing.season_pool(h, ALL_DAY, NOW, active=False, target=10_000)
    assert ahead.start == datetime(2026, 1, 13, tzinfo=UTC) and ahead.end <= NOW - timedelta(hours=12)


def test_a_first_day_pools_everything_it_has_seen() -> None:
    h = history_of(5, 200, 1000)
    pool = resizing.season_pool(h, ALL_DAY, NOW, active=True, target=10_000)
    assert isinstance(pool, TrafficProfile) and pool.samples == pytest.approx(1000, abs=2)


def test_order_statistic_sizing_reads_the_largest_request_until_enough_are_seen() -> None:
    policy = api.SizingPolicy()
    few = resizing.tolerance_policy(policy, 500)
    assert few.sequence_quantile > 0.999999            # the largest of 500
    many = resizing.tolerance_policy(policy, 20_000)
    assert 0.999 < many.sequence_quantile < 0.99906    # the 20th largest of 20,000
    assert resizing.confident_policy(policy, 1000, 0.75) is None   # 1,000 cannot bound a p99.9 at 75%
    bound = resizing.confident_policy(policy, 20_000, 0.75)
    assert bound is not None and bound.sequence_quantile > many.sequence_quantile


def test_moves_compare_both_limits() -> None:
    e = Envelope(4096, 8192, 64, 8192)
    assert resizing.compare(e, Envelope(4096, 12288, 64, 8192)) == resizing.Move.up
    assert resizing.compare(e, Envelope(8192, 4096, 64, 8192)) == resizing.Move.up  # either limit larger
    assert resizing.compare(e, Envelope(2048, 8192, 64, 8192)) == resizing.Move.down
    assert resizing.compare(e, Envelope(4096, 8192, 64, 4096)) == resizing.Move.none


def test_shrinking_waits_for_evidence_streak_and_interval() -> None:
    s = resizing.ResizeState()
    kw = dict(consecutive=3, min_interval=timedelta(hours=6), evaluation_interval=timedelta(minutes=5))
    t = NOW
    s, v = resizing.advance(s, resizing.Move.down, now=t, enough=False, **kw)
    assert not v.act and s.shrink_streak == 0 and "too few" in v.message
    for _ in range(2):
        t += timedelta(minutes=5)
        s, v = resizing.advance(s, resizing.Move.down, now=t, enough=True, **kw)
        assert not v.act
    s, v = resizing.advance(s, resizing.Move.down, now=t + timedelta(minutes=1), enough=True, **kw)
    assert not v.act and s.shrink_streak == 2, "a nudge within half an interval does not count"
    t += timedelta(minutes=5)
    s, v = resizing.advance(s, resizing.Move.down, now=t, enough=True, **kw)
    assert v.act
    recent = resizing.ResizeState(shrink_streak=5, last_counted=t, last_resized=t - timedelta(hours=1))
    _, v = resizing.advance(recent, resizing.Move.down, now=t + timedelta(minutes=5), enough=True, **kw)
    assert not v.act and "last resize" in v.message
    _, v = resizing.advance(resizing.ResizeState(), resizing.Move.up, now=t, enough=False, **kw)
    assert v.act, "growing needs neither evidence nor a streak"


# --- the decision core ----------------------------------------------------------------------------


def schedule(**kw: Any) -> SeasonScheduleStatus:
    return SeasonScheduleStatus(seasons=[DiscoveredSeason(name="all-day", schedule="0 0 * * *", duration="24h",
                                                          history=14)],
                                discovered_at=rfc3339(NOW - timedelta(hours=1)), **kw)


def serving(seq: int, inp: int | None = None) -> InferenceServiceStatus:
    ref = EngineRef(hash=f"{seq:064d}", envelope=EnvelopeStatus(max_input_len=inp or seq, max_seq_len=seq,
                                                                 max_batch_size=64, max_num_tokens=8192),
                    season="all-day", generation=1)
    return InferenceServiceStatus(serving_engine=ref, engine_generation=1, engine_history=[ref],
                                  season_schedule=schedule())


def trailing(median: float, seed: int = 1) -> TrafficProfile:
    ts, inp, out = requests(1, 1200, median, seed=seed)
    return profile_from_requests(NOW - timedelta(hours=1), NOW, inp, out, rejected=0, limit_stopped=0)


def decide(status: InferenceServiceStatus, history: hourly_history.HourlyHistory, now: datetime = NOW,
           median: float = 1000) -> actions.Decision:
    obs = observations.Observation(now=now, generation=1, spec=SPEC, spec_error=None, status=status,
                         traffic=trailing(median), history=history, store=frozenset({status.serving_engine.hash}))
    return dc.decide(obs, planners.for_spec(SPEC), planners.bootstrap_for_spec(SPEC))


def test_a_season_whose_history_needs_more_grows_at_once() -> None:
    d = decide(serving(2048), history_of(48, 600, 2000))
    builds = [a for a in d.actions if isinstance(a, actions.StartBuild)]
    assert builds and builds[0].reason == reasons.SEASON_GROWN
    assert builds[0].engine.envelope.max_seq_len > 2048


def test_a_season_whose_history_needs_less_shrinks_after_the_streak_to_the_cautious_plan() -> None:
    h = history_of(48, 600, 1000)
    status, now = serving(32768), NOW
    for i in range(3):
        d = decide(status, h, now)
        builds = [a for a in d.actions if isinstance(a, actions.StartBuild)]
        if i < 2:
            assert not builds, f"shrunk on evaluation {i + 1} of 3"
        status, now = d.status, now + timedelta(minutes=5)
    assert builds and builds[0].reason == reasons.SEASON_SHRUNK
    point = planners.for_spec(SPEC)(resizing.season_pool(h, ALL_DAY, NOW, active=True, target=10_000), "all-day")
    cautious = builds[0].engine.envelope
    assert isinstance(point, planners.PlannedEngine)
    assert point.envelope.max_seq_len <= cautious.max_seq_len < 32768, "it shrinks to the upper bound's plan"
    assert d.status.season_schedule is not None
    assert d.status.season_schedule.last_resized_at == rfc3339(NOW + timedelta(minutes=10))


def test_a_season_with_too_few_requests_never_shrinks() -> None:
    status, now = serving(32768), NOW
    thin = history_of(3, 300, 1000)  # 900 requests: no order statistic covers 99.9% on average
    for _ in range(6):
        d = decide(status, thin, now)
        assert not d.actions
        status, now = d.status, now + timedelta(minutes=5)


def test_discovery_runs_when_due_and_reports_a_changed_schedule_once() -> None:
    status = InferenceServiceStatus()
    h = history_of(3 * 24, 500, 1000)
    d = decide(serving(8192).model_copy(update={"season_schedule": None}), h)
    assert reasons.SEASONS_DISCOVERED in [e.reason for e in d.events]
    found = d.status.season_schedule
    assert found is not None and [s.name for s in found.seasons] == ["all-day"]
    again = decide(d.status, h, NOW + timedelta(hours=2))
    assert reasons.SEASONS_DISCOVERED not in [e.reason for e in again.events]
    assert again.status.season_schedule.discovered_at == found.discovered_at, "not rediscovered before refresh"
    del status


# --- a first day, replayed -------------------------------------------------------------------------


def test_a_first_day_holds_the_coverage_target_and_leaves_the_bootstrap_with_a_margin_then_on_evidence() -> None:
    rng = np.random.default_rng(11)
    start = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    n = 24 * 600
    ts = np.sort(rng.uniform(start, start + 86400, n))
    seq = np.maximum(4, rng.lognormal(math.log(250), 0.6, n)).astype(np.int64)  # Llama-3-8B: 8k context
    inp = np.maximum(1, (seq * 0.7).astype(np.int64))
    trace = Trace(ts, inp, seq - inp)
    spec = spec_of().model_copy(update={"traffic": SPEC.traffic.model_copy(update={"min_samples": 500})})
    c = comparing.compare(trace, spec, simulating.Settings(Durations(1200, 2400, 300)))
    assert c.policy.beyond_envelope_fraction <= 0.001
    assert c.policy.worst_hour_beyond_fraction <= 0.02
    after = [r for r in c.run.rollouts if r.started_s >= trace.first_s]
    assert after, "the bootstrap engine served all day"
    # First the provisional engine: once the trailing window holds traffic.minSamples (a breach can be counted),
    # before the pool bounds a p99.9 at 75% (1,386 requests), at twice the plan of what was seen.
    first = after[0]
    assert first.reason == reasons.SEASON_PROVISIONAL
    build = next(b for b in c.run.builds if b.engine_hash == first.engine_hash)
    seen = int(np.searchsorted(ts, build.started_s))
    assert 500 <= seen < 1386, f"left the bootstrap after {seen} requests"
    assert first.envelope.max_seq_len >= 2 * seq[:seen].max()
    assert first.envelope.max_seq_len < 8192
    # Then only engines planned on enough requests: the cautious plan, none provisional.
    later = [r for r in after[1:] if r.reason == reasons.SEASON_PROVISIONAL]
    assert not later


# --- counted breaches ------------------------------------------------------------------------------


def test_a_counted_breach_needs_more_beyond_than_the_planned_share_leaves_by_chance() -> None:
    p = api.SizingPolicy()  # p99.9: 565 requests should leave 0.565 beyond; P(N <= 3) = 0.9974 >= 0.995
    assert resizing.count_breach(4 / 565, 565, p)
    assert not resizing.count_breach(3 / 565, 565, p)
    assert not resizing.count_breach(None, 565, p) and not resizing.count_breach(0.5, None, p)
    assert not resizing.count_breach(0.5, 0, p)
    # 100,000 requests should leave 100 beyond: 0.2% is a breach, 0.1% is the plan.
    assert resizing.count_breach(0.002, 100_000, p) and not resizing.count_breach(0.001, 100_000, p)


def engine_ref(seq: int) -> EngineRef:
    return EngineRef(hash=f"{seq:064d}", envelope=EnvelopeStatus(max_input_len=seq, max_seq_len=seq, max_batch_size=64,
                                                                 max_num_tokens=8192), season="all-day", generation=1)


def burst(long: int, seed: int = 1) -> TrafficProfile:
    """The trailing hour at 1,200 requests with ``long`` prompts of about 12k tokens among them."""
    ts, inp, out = requests(1, 1200, 1000, seed=seed)
    inp = np.concatenate([inp, np.full(long, 12_000)])
    out = np.concatenate([out, np.full(long, 800)])
    return profile_from_requests(NOW - timedelta(hours=1), NOW, inp, out, rejected=long, limit_stopped=0)


def decide_burst(stored: list[int], long: int, *, streak: int = 0) -> actions.Decision:
    """``streak``: drift's breach streak before this evaluation (2 makes this one confirm the breach)."""
    status = serving(6144)
    status = status.model_copy(update={"engine_history": [status.serving_engine, *map(engine_ref, stored)]})
    if streak:
        state = drift.DriftState(breach_streak=streak, last_evaluated=NOW - timedelta(minutes=5))
        status = status.model_copy(update={"drift": status_codec.drift_status(state, None)})
    store = frozenset({status.serving_engine.hash, *(engine_ref(s).hash for s in stored)})
    obs = observations.Observation(now=NOW, generation=1, spec=SPEC, spec_error=None, status=status,
                                   traffic=burst(long), history=history_of(48, 600, 1000), store=store)
    return dc.decide(obs, planners.for_spec(SPEC), planners.bootstrap_for_spec(SPEC))


def test_a_counted_breach_rolls_out_the_smallest_stored_engine_that_covers_the_plan_at_once() -> None:
    fresh = planners.for_spec(SPEC)(burst(8), "all-day")
    assert isinstance(fresh, planners.PlannedEngine) and fresh.envelope.max_seq_len > 6144
    stored = [131072, 2 * fresh.envelope.max_seq_len, fresh.envelope.max_seq_len + 4096, 4096]
    d = decide_burst(stored, 8)  # 8 of 1,208 beyond: drift's share test has a streak of one, not three
    assert d.status.drift is not None and d.status.drift.reason == reasons.COVERAGE_BREACH_PENDING
    rollouts = [a for a in d.actions if isinstance(a, actions.RollOut)]
    assert not [a for a in d.actions if isinstance(a, actions.StartBuild)]
    assert rollouts and rollouts[0].engine.envelope.max_seq_len == fresh.envelope.max_seq_len + 4096
    assert rollouts[0].engine.reason == reasons.DRIFT_BREACH


def test_a_counted_breach_with_only_a_larger_stored_engine_rolls_it_out_as_an_interim_engine() -> None:
    fresh = planners.for_spec(SPEC)(burst(8), "all-day")
    assert isinstance(fresh, planners.PlannedEngine)
    too_large = 2 * fresh.envelope.max_seq_len + 1024  # beyond switching.COVER_FACTOR
    d = decide_burst([131072, too_large, 4096], 8)
    rollouts = [a for a in d.actions if isinstance(a, actions.RollOut)]
    assert not [a for a in d.actions if isinstance(a, actions.StartBuild)]
    assert rollouts and rollouts[0].engine.envelope.max_seq_len == too_large  # the smallest that covers
    assert rollouts[0].engine.reason == reasons.BREACH_INTERIM


def test_a_counted_breach_that_no_stored_engine_covers_takes_the_largest_above_the_serving_one() -> None:
    fresh = planners.for_spec(SPEC)(burst(8), "all-day")
    assert isinstance(fresh, planners.PlannedEngine) and fresh.envelope.max_seq_len > 7168
    d = decide_burst([4096, 6656, 7168], 8)  # none covers the plan; 7168 serves more of the burst than 6144
    rollouts = [a for a in d.actions if isinstance(a, actions.RollOut)]
    assert rollouts and rollouts[0].engine.envelope.max_seq_len == 7168
    assert rollouts[0].engine.reason == reasons.BREACH_INTERIM


def test_a_counted_breach_with_nothing_larger_stored_waits_for_drifts_streak() -> None:
    assert not decide_burst([4096], 8).actions
    assert not decide_burst([131072], 2).actions, "2 of 1,202 beyond is the planned share's chance"


def test_a_confirmed_breach_rolls_out_an_interim_engine_only_when_it_covers_the_plan() -> None:
    fresh = planners.for_spec(SPEC)(burst(40), "all-day")
    assert isinstance(fresh, planners.PlannedEngine) and fresh.envelope.max_seq_len > 7168
    d = decide_burst([131072, 4096], 40, streak=2)  # 40 of 1,240 beyond for the third evaluation in a row
    assert d.status.drift is not None and d.status.drift.reason == reasons.COVERAGE_BREACH
    rollouts = [a for a in d.actions if isinstance(a, actions.RollOut)]
    assert rollouts and rollouts[0].engine.envelope.max_seq_len == 131072
    assert rollouts[0].engine.reason == reasons.BREACH_INTERIM
    # An engine that serves only part of the burst does not stand in for a confirmed breach: build the plan.
    builds = [a for a in decide_burst([7168], 40, streak=2).actions if isinstance(a, actions.StartBuild)]
    assert builds and builds[0].engine.envelope == fresh.envelope and builds[0].reason == reasons.DRIFT_BREACH


def decide_after_interim(served: timedelta) -> actions.Decision:
    interim = engine_ref(131072).model_copy(update={"reason": reasons.BREACH_INTERIM,
                                                     "rolled_out_at": rfc3339(NOW - served)})
    status = serving(6144).model_copy(update={"serving_engine": interim,
                                              "engine_history": [interim, engine_ref(6144)]})
    obs = observations.Observation(now=NOW, generation=1, spec=SPEC, spec_error=None, status=status,
                                   traffic=burst(8), history=history_of(48, 600, 1000),
                                   store=frozenset({interim.hash, engine_ref(6144).hash}))
    return dc.decide(obs, planners.for_spec(SPEC), planners.bootstrap_for_spec(SPEC))


def test_an_interim_engine_gives_way_to_the_breach_plan_once_the_window_holds_what_it_served() -> None:
    fresh = planners.for_spec(SPEC)(burst(8), "all-day")
    assert isinstance(fresh, planners.PlannedEngine)
    # drift.consecutiveEvaluations (3) x traffic.evaluationInterval (5m) after it began serving: build the plan.
    builds = [a for a in decide_after_interim(timedelta(minutes=15)).actions if isinstance(a, actions.StartBuild)]
    assert builds and builds[0].engine.envelope == fresh.envelope and builds[0].reason == reasons.DRIFT_BREACH
    # Sooner, the window holds too little of what the interim engine served; past the window (1h), none of it:
    # the interim engine is then the season's engine, for resizing to bring down.
    assert not decide_after_interim(timedelta(minutes=10)).actions
    assert not decide_after_interim(timedelta(minutes=61)).actions


def shrinks_within_the_interval(reason: str) -> bool:
    """Whether an engine of 32768 chosen for ``reason``, serving and last resized 2 h ago (under
    drift.minRebuildInterval, 6h), shrinks to the cautious plan of a history far below it in 3 evaluations."""
    h = history_of(48, 600, 1000)
    status = serving(32768)
    ref = status.serving_engine.model_copy(update={"reason": reason,
                                                   "rolled_out_at": rfc3339(NOW - timedelta(hours=2))})
    status = status.model_copy(update={"serving_engine": ref, "engine_history": [ref], "season_schedule":
                                       schedule(last_resized_at=rfc3339(NOW - timedelta(hours=2)))})
    now, builds = NOW, []
    for _ in range(3):
        d = decide(status, h, now)
        builds += [a for a in d.actions if isinstance(a, actions.StartBuild)]
        status, now = d.status, now + timedelta(minutes=5)
    return bool(builds) and builds[0].reason == reasons.SEASON_SHRUNK


def test_an_interim_engine_that_outlives_its_window_shrinks_without_the_minimum_interval() -> None:
    shrinks = shrinks_within_the_interval
    assert shrinks(reasons.BREACH_INTERIM)
    assert not shrinks(reasons.DRIFT_BREACH), "a breach engine waits for drift.minRebuildInterval (6h)"


# --- provisional engines ---------------------------------------------------------------------------


def decide_young(status: InferenceServiceStatus, history: hourly_history.HourlyHistory, now: datetime,
                 *, window: int = 1200) -> actions.Decision:
    """A young service: its season's history is ``history``, its trailing window holds ``window`` requests."""
    ts, inp, out = requests(1, window, 300, seed=3)
    traffic = profile_from_requests(now - timedelta(hours=1), now, inp, out, rejected=0, limit_stopped=0)
    obs = observations.Observation(now=now, generation=1, spec=SPEC, spec_error=None, status=status,
                                   traffic=traffic, history=history, store=frozenset({status.serving_engine.hash}))
    return dc.decide(obs, planners.for_spec(SPEC), planners.bootstrap_for_spec(SPEC))


def test_a_young_season_leaves_the_bootstrap_engine_for_twice_its_plan_after_the_streak() -> None:
    young = history_of(1, 1200, 300)  # 1,200 requests: a plan, but too few to bound the p99.9 at 75%
    pool = resizing.season_pool(young, ALL_DAY, NOW, active=True, target=10_000)
    assert isinstance(planners.cautious_for_spec(SPEC)(pool, "all-day"), planners.PlanRefused)
    plan = planners.for_spec(SPEC)(pool, "all-day")
    assert isinstance(plan, planners.PlannedEngine)
    status = serving(131072)
    ref = status.serving_engine.model_copy(update={"reason": reasons.BOOTSTRAP})
    status, now = status.model_copy(update={"serving_engine": ref, "engine_history": [ref]}), NOW
    for i in range(3):
        d = decide_young(status, young, now)
        builds = [a for a in d.actions if isinstance(a, actions.StartBuild)]
        if i < 2:
            assert not builds, f"left the bootstrap engine on evaluation {i + 1} of 3"
        status, now = d.status, now + timedelta(minutes=5)
    assert builds and builds[0].reason == reasons.SEASON_PROVISIONAL
    e = builds[0].engine.envelope
    _, inp, out = requests(1, 1200, 300)  # the history's requests
    assert 2 * (inp + out).max() <= e.max_seq_len < 131072 and 2 * inp.max() <= e.max_input_len
    assert e.max_seq_len > plan.envelope.max_seq_len


def test_a_young_season_stays_on_the_bootstrap_engine_while_no_breach_could_be_counted() -> None:
    young = history_of(1, 1200, 300)
    status = serving(131072)
    for i in range(6):
        d = decide_young(status, young, NOW + timedelta(minutes=5 * i), window=400)  # under minSamples
        assert not [a for a in d.actions if isinstance(a, actions.StartBuild)]
        status = d.status


def test_a_provisional_engine_gives_way_to_the_cautious_plan_without_the_minimum_interval() -> None:
    shrinks = shrinks_within_the_interval
    assert shrinks(reasons.SEASON_PROVISIONAL)
    assert not shrinks(reasons.SEASON_GROWN), "a planned engine waits for drift.minRebuildInterval (6h)"


def test_a_provisional_engine_grows_with_the_margin_when_its_plan_needs_more() -> None:
    young = history_of(1, 1200, 500)  # a plan above what the provisional engine of 1024 serves
    plan = planners.for_spec(SPEC)(resizing.season_pool(young, ALL_DAY, NOW, active=True, target=10_000), "all-day")
    assert isinstance(plan, planners.PlannedEngine) and plan.envelope.max_seq_len > 1024
    status = serving(1024)
    ref = status.serving_engine.model_copy(update={"reason": reasons.SEASON_PROVISIONAL})
    d = decide_young(status.model_copy(update={"serving_engine": ref, "engine_history": [ref]}), young, NOW)
    builds = [a for a in d.actions if isinstance(a, actions.StartBuild)]
    assert builds and builds[0].reason == reasons.SEASON_PROVISIONAL
    _, inp, out = requests(1, 1200, 500)
    assert builds[0].engine.envelope.max_seq_len >= 2 * (inp + out).max() > plan.envelope.max_seq_len
