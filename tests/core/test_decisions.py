"""Every transition of the decision core, with a fake planner and synthetic traffic. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from seasonal_engines.api import validation
from seasonal_engines.api.status import EngineRef, EnvelopeStatus, InferenceServiceStatus, Phase
from seasonal_engines.core import actions, build_jobs, observations, planners, reasons
from seasonal_engines.core import conditions as cond
from seasonal_engines.core import decisions as dc
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.traffic import Dimension, TrafficProfile, TrafficUnavailable, profile_from_requests

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)  # a Wednesday, 04:00 in Berlin: night-batch season


def manifest(**spec_updates: Any) -> dict[str, Any]:
    doc = yaml.safe_load((REPO / "examples" / "llama-3-8b-h100-seasons.yaml").read_text())
    doc["spec"].update(spec_updates)
    return doc


def spec_of(doc: dict[str, Any]):
    return validation.parse_manifest(doc)


NO_SEASONS = spec_of(manifest(seasons=[]))
SEASONS = spec_of(manifest())


def traffic(seq_scale: float = 1000.0, n: int = 5000, seed: int = 1, rejected: int | None = 0,
            limit_stopped: int | None = 0) -> TrafficProfile:
    rng = np.random.default_rng(seed)
    inp = np.maximum(1, rng.lognormal(np.log(seq_scale * 0.7), 0.5, n)).astype(np.int64)
    out = np.maximum(1, rng.lognormal(np.log(seq_scale * 0.2), 0.5, n)).astype(np.int64)
    return profile_from_requests(NOW - timedelta(hours=1), NOW, inp, out, rejected=rejected,
                                 limit_stopped=limit_stopped)


def planner(profile: TrafficProfile, season: str | None) -> planners.PlannedEngine:
    """Fake planner: limits at the p99.9 rounded up to a power of two; the hash depends on limits only,
    so seasons whose traffic plans alike share an engine (as the real planner's hash does)."""
    seq = int(2 ** np.ceil(np.log2(max(64.0, profile.quantile(Dimension.sequence, 0.999)))))
    inp = min(seq, int(2 ** np.ceil(np.log2(max(64.0, profile.quantile(Dimension.input, 0.999))))))
    env = Envelope(inp, seq, 64, 8192)
    return planners.PlannedEngine(hash=f"{seq:08d}{inp:08d}" + "0" * 48, envelope=env, season=season,
                            backend="tensorrt", plan={"engine_hash": "x"})


def bootstrap() -> planners.PlannedEngine:
    return planners.PlannedEngine(hash="b" * 64, envelope=Envelope(8192, 8192, 64, 8192), season=None,
                            backend="tensorrt")


def ref(engine: planners.PlannedEngine, **kw: Any) -> EngineRef:
    e = engine.envelope
    return EngineRef(hash=engine.hash, envelope=EnvelopeStatus(max_input_len=e.max_input_len,
                     max_seq_len=e.max_seq_len, max_batch_size=e.max_batch_size, max_num_tokens=e.max_num_tokens),
                     season=engine.season, **kw)


def observe(spec=NO_SEASONS, status: InferenceServiceStatus | None = None, **kw: Any) -> observations.Observation:
    base: dict[str, Any] = dict(now=NOW, generation=1, spec=spec, spec_error=None,
                                status=status or InferenceServiceStatus(), traffic=traffic())
    base.update(kw)
    return observations.Observation(**base)


def run(obs: observations.Observation) -> actions.Decision:
    return dc.decide(obs, planner, bootstrap)


def serving_status(engine: planners.PlannedEngine, **kw: Any) -> InferenceServiceStatus:
    r = ref(engine, generation=1)
    return InferenceServiceStatus(serving_engine=r, engine_generation=1, engine_history=[r],
                                  envelope=engine.envelope.summary(), **kw)


def kinds(d: actions.Decision) -> list[str]:
    """The actions that build and roll (the Service's ``SwitchTraffic`` has tests of its own)."""
    return [type(a).__name__ for a in d.actions if not isinstance(a, actions.SwitchTraffic)]


def reasons_of(d: actions.Decision) -> list[str]:
    return [e.reason for e in d.events]


# --- spec and mode -----------------------------------------------------------------------


def test_invalid_spec_sets_condition_emits_event_and_leaves_serving_alone() -> None:
    engine = planner(traffic(), None)
    d = run(observe(spec=None, spec_error="spec.sizing.inputQuantile: must be < 1", status=serving_status(engine)))
    assert d.actions == ()
    assert d.status.phase == Phase.invalid.value
    c = cond.get(d.status.conditions, cond.SPEC_VALID)
    assert c is not None and c.status == "False" and "inputQuantile" in c.message
    assert reasons_of(d) == [reasons.INVALID_SPEC]
    assert d.status.serving_engine == serving_status(engine).serving_engine


def test_advisory_records_the_plan_and_acts_on_nothing() -> None:
    spec = spec_of(manifest(seasons=[], mode="Advisory"))
    d = run(observe(spec=spec))
    assert d.actions == ()
    assert d.status.phase == Phase.advisory.value
    assert d.status.advised_plan is not None and d.status.advised_plan.hash == planner(traffic(), None).hash
    assert reasons.ADVISED_PLAN in reasons_of(d)
    again = run(observe(spec=spec, status=d.status))
    assert reasons.ADVISED_PLAN not in reasons_of(again), "the same advice is not repeated every evaluation"


# --- first engine ----------------------------------------------------------------------------


def test_first_evaluation_builds_the_planned_engine() -> None:
    d = run(observe())
    assert kinds(d) == ["StartBuild"]
    build = d.actions[0]
    assert isinstance(build, actions.StartBuild) and build.reason == reasons.INITIAL
    assert build.engine.hash == planner(traffic(), None).hash
    assert build.job_name == build_jobs.job_name("llama-3-8b", build.engine.hash)
    assert d.status.phase == Phase.building.value
    assert d.status.build is not None and d.status.target_engine is not None
    assert reasons.BUILD_STARTED in reasons_of(d)


def test_no_traffic_and_no_engine_bootstraps_at_full_context() -> None:
    d = run(observe(traffic=TrafficUnavailable("PrometheusUnreachable", "connection refused")))
    assert kinds(d) == ["StartBuild"] and d.actions[0].reason == reasons.BOOTSTRAP  # type: ignore[union-attr]
    c = cond.get(d.status.conditions, cond.TRAFFIC_AVAILABLE)
    assert c is not None and c.status == "False" and c.reason == "PrometheusUnreachable"


def test_too_few_samples_are_not_planned_from() -> None:
    d = run(observe(traffic=traffic(n=50)))
    assert d.actions[0].reason == reasons.BOOTSTRAP  # type: ignore[union-attr]
    c = cond.get(d.status.conditions, cond.TRAFFIC_AVAILABLE)
    assert c is not None and c.reason == reasons.INSUFFICIENT_TRAFFIC


# --- builds ----------------------------------------------------------------------------------


def building() -> actions.Decision:
    return run(observe())


def test_running_build_waits_and_a_restart_never_starts_a_second_job() -> None:
    first = building()
    b = first.status.build
    assert b is not None
    later = run(observe(now=NOW + timedelta(minutes=10), status=first.status,
                        build=observations.BuildObservation(b.job_name, observations.JobState.running)))
    assert later.actions == ()
    assert later.status.phase == Phase.building.value
    assert later.requeue_after == actions.BUSY_REQUEUE


def test_build_success_rolls_the_target_out_and_records_the_duration() -> None:
    first = building()
    b = first.status.build
    assert b is not None
    d = run(observe(now=NOW + timedelta(minutes=30), status=first.status, store=frozenset({b.engine_hash}),
                    build=observations.BuildObservation(b.job_name, observations.JobState.succeeded)))
    assert kinds(d) == ["RollOut"]
    assert d.actions[0].engine.hash == b.engine_hash  # type: ignore[union-attr]
    assert d.status.phase == Phase.rolling_out.value
    assert d.status.build_durations_seconds == [1800.0]
    assert reasons_of(d)[:2] == [reasons.BUILD_SUCCEEDED, reasons.ROLLOUT_STARTED]


def test_job_gone_after_ttl_but_engine_in_store_counts_as_success() -> None:
    first = building()
    b = first.status.build
    assert b is not None
    d = run(observe(status=first.status, store=frozenset({b.engine_hash}), build=None))
    assert kinds(d) == ["RollOut"]


@pytest.mark.parametrize("attempt, backoff", [(1, timedelta(minutes=2)), (2, timedelta(minutes=4))],
                         ids=["after-one-failure", "after-two"])
def test_a_failed_build_is_retried_after_a_doubling_backoff(attempt: int, backoff: timedelta) -> None:
    status = building().status
    for failures in range(1, attempt + 1):
        b = status.build
        assert b is not None
        failed = run(observe(status=status, build=observations.BuildObservation(
            b.job_name, observations.JobState.failed, "OOMKilled"), now=NOW))
        assert "RollOut" not in kinds(failed)
        assert failed.status.build_failures == failures
        assert failed.status.phase == Phase.degraded.value
        assert reasons.BUILD_FAILED in reasons_of(failed)
        c = cond.get(failed.status.conditions, cond.BUILDING)
        assert c is not None
        assert "OOMKilled" in c.message
        status = failed.status
        if failures < attempt:
            status = run(observe(status=status, now=NOW + timedelta(hours=1))).status  # the retry's build
    soon = run(observe(status=status, now=NOW + backoff - timedelta(seconds=1)))
    assert soon.actions == (), "no retry inside the backoff"
    assert soon.requeue_after == 1.0, "it looks again when the backoff ends"
    later = run(observe(status=status, now=NOW + backoff + timedelta(seconds=1)))
    assert kinds(later) == ["StartBuild"]


def test_builds_stop_after_three_failures_in_a_row() -> None:
    status = building().status
    for _ in range(3):
        b = status.build
        assert b is not None
        status = run(observe(status=status, build=observations.BuildObservation(
            b.job_name, observations.JobState.failed, "OOMKilled"), now=NOW)).status
        assert status.build is None
        status = run(observe(status=status, now=NOW + timedelta(hours=1))).status
    assert status.build_failures == 3
    assert status.build is None, "after three failures in a row builds stop"
    assert run(observe(status=status, now=NOW + timedelta(days=1))).actions == ()


def test_build_past_its_deadline_counts_as_failed() -> None:
    first = building()
    b = first.status.build
    assert b is not None
    d = run(observe(status=first.status, now=NOW + timedelta(hours=3),
                    build=observations.BuildObservation(b.job_name, observations.JobState.running)))
    assert d.status.build is None and d.status.build_failures == 1
    assert "buildDeadline" in (cond.get(d.status.conditions, cond.BUILDING).message)  # type: ignore[union-attr]


def test_spec_change_resets_build_failures() -> None:
    status = InferenceServiceStatus(build_failures=3, observed_generation=1,
                                    last_build_failure_at="2026-11-18T00:00:00Z")
    assert run(observe(status=status)).actions == ()
    assert kinds(run(observe(status=status, generation=2))) == ["StartBuild"]


# --- rollouts --------------------------------------------------------------------------------


def rolling(old: planners.PlannedEngine | None = None) -> tuple[actions.Decision, str]:
    """A rollout under way: of the first engine, or from ``old`` to a larger one drift asked for."""
    if old is None:
        first = building()
        b = first.status.build
        assert b is not None
        d = run(observe(status=first.status, store=frozenset({b.engine_hash}),
                        build=observations.BuildObservation(b.job_name, observations.JobState.succeeded)))
        return d, b.engine_hash
    new = planner(traffic(4000), None)
    status = serving_status(old).model_copy(update={"target_engine": ref(new, reason=reasons.DRIFT_BREACH)})
    d = run(observe(status=status, traffic=traffic(4000), store=frozenset({new.hash, old.hash})))
    assert kinds(d) == ["RollOut"]
    return d, new.hash


def ready(h: str, **kw: Any) -> observations.RolloutObservation:
    base = dict(engine_hash=h, deployment_ready=True, model_ready=True, config_matches=True)
    base.update(kw)
    return observations.RolloutObservation(**base)  # type: ignore[arg-type]


def test_rollout_completes_only_when_triton_reports_the_model_ready() -> None:
    d, h = rolling()
    pods_only = run(observe(status=d.status, store=frozenset({h}), rollout=ready(h, model_ready=False)))
    assert pods_only.status.phase == Phase.rolling_out.value, "pod Ready is not model ready"
    done = run(observe(status=d.status, store=frozenset({h}), rollout=ready(h)))
    assert done.status.phase == Phase.serving.value
    assert done.status.serving_engine is not None and done.status.serving_engine.hash == h
    assert done.status.engine_generation == 1 and done.status.engine_history[0].hash == h
    assert done.status.envelope and "seq" in done.status.envelope
    assert cond.is_true(done.status.conditions, cond.ENGINE_READY)


def test_rollout_timeout_rolls_back_to_the_previous_engine() -> None:
    old = planner(traffic(), None)
    d, h = rolling(old)
    assert d.status.serving_engine.hash == old.hash  # type: ignore[union-attr]
    late = run(observe(status=d.status, store=frozenset({h, old.hash}), traffic=traffic(4000),
                       now=NOW + timedelta(minutes=31), rollout=ready(h, model_ready=False)))
    assert kinds(late) == ["RollOut"]
    back = late.actions[0]
    assert isinstance(back, actions.RollOut) and back.rollback and back.engine.hash == old.hash
    assert reasons.ROLLOUT_FAILED in reasons_of(late)
    assert late.status.serving_engine.hash == old.hash, "nothing changes serving before a rollout completes"  # type: ignore[union-attr]
    restored = run(observe(status=late.status, store=frozenset({h, old.hash}), traffic=traffic(4000),
                           now=NOW + timedelta(minutes=32), rollout=ready(old.hash)))
    assert restored.status.phase == Phase.degraded.value
    assert reasons.ROLLED_BACK in reasons_of(restored)
    assert restored.actions == (), "drift still wants a larger engine, but nothing is retried after a rollback"
    assert h in restored.status.failed_rollouts
    assert restored.status.serving_engine.hash == old.hash  # type: ignore[union-attr]


def test_config_mismatch_is_never_ready() -> None:
    old = planner(traffic(), None)
    d, h = rolling(old)
    bad = run(observe(status=d.status, store=frozenset({h, old.hash}), traffic=traffic(4000),
                      rollout=ready(h, config_matches=False)))
    assert kinds(bad) == ["RollOut"] and bad.actions[0].rollback  # type: ignore[union-attr]


def test_failed_rollback_degrades_and_stops() -> None:
    old = planner(traffic(), None)
    d, h = rolling(old)
    late = run(observe(status=d.status, traffic=traffic(4000), now=NOW + timedelta(minutes=31),
                       rollout=ready(h, deployment_ready=False, failed=True, message="CrashLoopBackOff")))
    worse = run(observe(status=late.status, traffic=traffic(4000), now=NOW + timedelta(minutes=70),
                        rollout=ready(old.hash, deployment_ready=False, failed=True, message="CrashLoopBackOff")))
    assert worse.actions == (), "no rollout after a failed rollback: a person must look"
    assert reasons.ROLLBACK_FAILED in reasons_of(worse)
    assert cond.get(worse.status.conditions, cond.DEGRADED).reason == reasons.ROLLBACK_FAILED  # type: ignore[union-attr]


def test_without_auto_rollback_a_failed_rollout_only_degrades() -> None:
    spec = spec_of(manifest(seasons=[], rollout={"autoRollback": False}))
    old = planner(traffic(), None)
    new = planner(traffic(4000), None)
    status = serving_status(old).model_copy(update={"target_engine": ref(new, reason=reasons.DRIFT_BREACH)})
    rolling_ = run(observe(spec=spec, status=status, traffic=traffic(4000), store=frozenset({new.hash})))
    d = run(observe(spec=spec, status=rolling_.status, traffic=traffic(4000),
                    rollout=ready(new.hash, deployment_ready=False, failed=True, message="ImagePullBackOff")))
    assert "RollOut" not in kinds(d)
    assert cond.is_true(d.status.conditions, cond.DEGRADED)


# --- the Service's traffic ---------------------------------------------------------------------------


BLUE_GREEN = spec_of(manifest(seasons=[], rollout={"strategy": "BlueGreen"}))


def switched(d: actions.Decision) -> list[actions.SwitchTraffic]:
    return [a for a in d.actions if isinstance(a, actions.SwitchTraffic)]


def test_a_rolling_service_is_applied_with_every_build_and_rollout() -> None:
    d, h = rolling()
    assert kinds(d) == ["RollOut"]
    assert switched(d) == [actions.SwitchTraffic(None)], "every pod of the service, applied with the rollout"
    assert switched(building()) == [actions.SwitchTraffic(None)]
    done = run(observe(status=d.status, store=frozenset({h}), rollout=ready(h)))
    assert done.status.serving_engine is not None
    assert switched(done) == [], "a Rolling Service does not move when the engine changes"


def test_blue_green_switches_traffic_once_the_new_colour_serves() -> None:
    first = run(observe(spec=BLUE_GREEN))
    b = first.status.build
    assert b is not None
    assert switched(first) == [], "nothing serves yet: the Service stays where it is"
    started = run(observe(spec=BLUE_GREEN, status=first.status, store=frozenset({b.engine_hash}),
                          build=observations.BuildObservation(b.job_name, observations.JobState.succeeded)))
    assert kinds(started) == ["RollOut"]
    assert switched(started) == [], "traffic waits for the new colour to be ready"
    done = run(observe(spec=BLUE_GREEN, status=started.status, store=frozenset({b.engine_hash}),
                       rollout=ready(b.engine_hash)))
    assert done.status.serving_engine is not None
    assert switched(done) == [actions.SwitchTraffic(done.status.serving_engine)]
    again = run(observe(spec=BLUE_GREEN, status=done.status, store=frozenset({b.engine_hash})))
    assert switched(again) == [], "the same engine serving: no switch"


def test_a_referenced_deployment_brings_its_own_service() -> None:
    ref_spec = spec_of(manifest(seasons=[], serving={"deploymentRef": {"name": "triton"}}))
    assert switched(run(observe(spec=ref_spec))) == []


# --- steady state and drift -----------------------------------------------------------------------


def test_steady_state_is_idempotent() -> None:
    engine = planner(traffic(), None)
    first = run(observe(status=serving_status(engine), store=frozenset({engine.hash})))
    assert first.actions == () and first.status.phase == Phase.serving.value
    second = run(observe(status=first.status, store=frozenset({engine.hash}), now=NOW + timedelta(minutes=5)))
    assert second.actions == () and second.events == ()


def test_confirmed_breach_rebuilds_upward_after_k_evaluations() -> None:
    small = planner(traffic(), None)
    status = serving_status(small)
    grown = traffic(4000)
    for k in range(1, 4):
        d = run(observe(status=status, traffic=grown, now=NOW + timedelta(minutes=5 * k)))
        status = d.status
        if k < 3:
            assert d.actions == (), f"hysteresis: evaluation {k} of 3 must not act"
    assert kinds(d) == ["StartBuild"]
    build = d.actions[0]
    assert isinstance(build, actions.StartBuild) and build.reason == reasons.DRIFT_BREACH
    assert build.engine.envelope.max_seq_len > small.envelope.max_seq_len
    assert cond.is_true(d.status.conditions, cond.DRIFTED)


def test_censored_requests_count_as_a_breach() -> None:
    """An engine's own histograms hide what it rejects; the censoring counters do not."""
    engine = planner(traffic(), None)
    status = serving_status(engine)
    hidden = traffic(rejected=400)  # same lengths, but 8% of requests were refused for length
    for k in range(1, 4):
        d = run(observe(status=status, traffic=hidden, now=NOW + timedelta(minutes=5 * k)))
        status = d.status
    assert d.status.drift is not None and d.status.drift.beyond_fraction >= 0.08  # type: ignore[operator]
    assert cond.is_true(d.status.conditions, cond.DRIFTED)


def test_waste_rebuilds_downward_only_after_the_interval() -> None:
    big = planner(traffic(8000), None)
    status = serving_status(big)
    status = status.model_copy(update={"drift": None})
    for k in range(1, 4):
        d = run(observe(status=status, traffic=traffic(500), now=NOW + timedelta(minutes=5 * k)))
        status = d.status
    assert kinds(d) == ["StartBuild"] and d.actions[0].reason == reasons.DRIFT_WASTE  # type: ignore[union-attr]


# --- seasons -----------------------------------------------------------------------------------


def test_season_start_rolls_to_the_season_engine_from_the_store() -> None:
    night = planner(traffic(4000), "night-batch")
    day = planner(traffic(), "business-hours")
    d = run(observe(spec=SEASONS, status=serving_status(day).model_copy(update={
        "serving_engine": ref(day, generation=1)}), season_traffic={"night-batch": traffic(4000)},
        store=frozenset({night.hash, day.hash})))
    assert d.status.active_season == "night-batch"
    assert kinds(d) == ["RollOut"]
    assert d.actions[0].engine.hash == night.hash  # type: ignore[union-attr]


def test_season_start_without_engine_builds_it() -> None:
    day = planner(traffic(), "business-hours")
    d = run(observe(spec=SEASONS, status=serving_status(day), season_traffic={"night-batch": traffic(4000)},
                    store=frozenset({day.hash})))
    assert kinds(d) == ["StartBuild"] and d.actions[0].reason == reasons.SEASON_START  # type: ignore[union-attr]


def test_seasons_planning_the_same_engine_share_it() -> None:
    day = planner(traffic(), "business-hours")
    d = run(observe(spec=SEASONS, status=serving_status(day), season_traffic={"night-batch": traffic()},
                    store=frozenset({day.hash})))
    assert d.actions == ()
    assert d.status.serving_engine.season == "night-batch"  # type: ignore[union-attr]
    assert reasons.ENGINE_SHARED in reasons_of(d)


def test_next_season_engine_is_prebuilt_within_its_lead_time() -> None:
    # 07:30 Berlin on a Wednesday: night-batch active until 06:00? No: 20:00-06:00, so none active at 07:30;
    # business-hours starts 08:00, inside its 1h lead time.
    now = datetime(2026, 11, 18, 6, 30, tzinfo=UTC)
    night = planner(traffic(4000), "night-batch")
    status = serving_status(night)
    d = run(observe(spec=SEASONS, now=now, status=status, traffic=traffic(4000),
                    season_traffic={"business-hours": traffic(700)}, store=frozenset({night.hash})))
    assert d.status.active_season is None
    assert kinds(d) == ["StartBuild"]
    assert d.actions[0].reason == reasons.SEASON_PREBUILD  # type: ignore[union-attr]
    assert d.status.next_season is not None and d.status.next_season.name == "business-hours"
    assert d.status.next_season.engine_ready is False
    b = d.status.build
    assert b is not None
    done = run(observe(spec=SEASONS, now=now + timedelta(minutes=20), status=d.status, traffic=traffic(4000),
                       season_traffic={"business-hours": traffic(700)}, store=frozenset({night.hash, b.engine_hash}),
                       build=observations.BuildObservation(b.job_name, observations.JobState.succeeded)))
    assert done.actions == (), "a prebuilt engine waits for its season"
    assert done.status.next_season.engine_ready is True  # type: ignore[union-attr]
    assert done.status.phase == Phase.serving.value


def test_requeue_wakes_for_the_next_season_change() -> None:
    d = run(observe(spec=SEASONS, status=serving_status(planner(traffic(), "night-batch")),
                    season_traffic={"night-batch": traffic()}, store=frozenset({planner(traffic(), None).hash})))
    assert d.requeue_after is not None and 0 < d.requeue_after <= 3 * 3600


def with_recent(profile: TrafficProfile, scale: float, n: int = 120, seed: int = 9) -> TrafficProfile:
    """``profile`` whose last minutes (``profile.recent``) hold ``n`` requests ``scale`` times as long."""
    from dataclasses import replace

    from seasonal_engines.core import histograms
    from seasonal_engines.core.traffic import RecentTraffic

    rng = np.random.default_rng(seed)
    inp = np.maximum(1, rng.lognormal(np.log(700.0), 0.5, n)) * scale
    out = np.maximum(1, rng.lognormal(np.log(200.0), 0.5, n)) * scale
    bounds = histograms.log_buckets()
    recent = RecentTraffic(NOW - timedelta(minutes=15), NOW, histograms.from_values(inp, bounds),
                           histograms.from_values(inp + out, bounds))
    return replace(profile, recent=recent)


def test_a_shift_in_lengths_is_reported_not_rebuilt() -> None:
    engine = planner(traffic(), None)
    store = frozenset({engine.hash})
    first = run(observe(status=serving_status(engine), store=store, traffic=with_recent(traffic(), 1.0)))
    shifted = cond.get(first.status.conditions, cond.TRAFFIC_SHIFTED)
    assert shifted is not None and shifted.status == "False" and shifted.reason == reasons.LENGTHS_AS_PLANNED
    assert first.status.drift is not None and first.status.drift.shift is not None
    assert not first.status.drift.shift.confirmed

    second = run(observe(status=first.status, store=store, traffic=with_recent(traffic(), 2.0),
                         now=NOW + timedelta(minutes=5)))
    shifted = cond.get(second.status.conditions, cond.TRAFFIC_SHIFTED)
    assert shifted is not None and shifted.status == "True" and shifted.reason == reasons.LENGTHS_SHIFTED_UP
    assert "longer" in shifted.message and "Reported only" in shifted.message
    assert [(e.type, e.reason) for e in second.events] == [("Normal", reasons.LENGTHS_SHIFTED_UP)]
    assert second.actions == ()  # the engine still covers the trailing window: nothing to build
    s = second.status.drift.shift  # type: ignore[union-attr]
    assert s is not None and s.confirmed and s.direction == "Up" and s.test == "location" and s.p_value < 1e-3

    # a window with no recent part (or too few requests) leaves the condition as it was, and no new Event
    third = run(observe(status=second.status, store=store, traffic=traffic(), now=NOW + timedelta(minutes=10)))
    assert cond.get(third.status.conditions, cond.TRAFFIC_SHIFTED) == shifted
    assert third.events == ()


def test_shift_detection_can_be_turned_off() -> None:
    off = spec_of(manifest(seasons=[], drift={"shift": {"enabled": False}}))
    assert off.shift_window_seconds() is None
    engine = planner(traffic(), None)
    d = run(observe(spec=off, status=serving_status(engine), store=frozenset({engine.hash}),
                    traffic=with_recent(traffic(), 2.0)))
    assert cond.get(d.status.conditions, cond.TRAFFIC_SHIFTED) is None
    assert d.status.drift is not None and d.status.drift.shift is None
