"""The replay drives the operator's own decision core against a simulated world: builds and rollouts take
their modelled time, traffic moves to an engine when its rollout is ready, drift acts on known shifts."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from seasonal_engines.api import validation
from seasonal_engines.core import actions, planners, presets, reasons, seasons
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.replay import exports, reports, shifts, simulating
from seasonal_engines.replay.world import Durations, World
from seasonal_engines.traces import Trace

T0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
H = 3600.0

MANIFEST: dict[str, Any] = {
    "apiVersion": "seasonalengines.io/v1alpha1", "kind": "InferenceService",
    "metadata": {"name": "replayed", "namespace": "test"},
    "spec": {
        "model": {"name": "llama-3.1-8b", "source": {"huggingFace": {"repo": "meta-llama/Llama-3.1-8B-Instruct"}}},
        "hardware": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
        "engine": {"store": {"claimName": "engines"}},
        "traffic": {"prometheusUrl": "http://prometheus:9090", "window": "30m", "evaluationInterval": "5m",
                    "minSamples": 200},
        "sizing": {"maxBatchSize": 64},
        "drift": {"breachFraction": 0.005, "wasteFactor": 2, "consecutiveEvaluations": 3,
                  "minRebuildInterval": "1h"},
    },
}


def spec(**seasons_or_none: Any):  # type: ignore[no-untyped-def]
    doc = copy.deepcopy(MANIFEST)
    doc["spec"].update(seasons_or_none)
    return validation.parse_manifest(doc)


def synthetic(hours: float, per_hour: int = 1500, seed: int = 1) -> Trace:
    rng = np.random.default_rng(seed)
    n = int(hours * per_hour)
    ts = np.sort(rng.uniform(T0, T0 + hours * H, n))
    inp = np.clip(rng.lognormal(6.5, 0.8, n), 1, 6000).astype(np.int64)
    out = np.clip(rng.lognormal(5.0, 0.7, n), 1, 1500).astype(np.int64)
    return Trace(ts, inp, out, start_s=T0, end_s=T0 + hours * H)


FAST = simulating.Settings(Durations(1200.0, 1200.0, 300.0))


# --- the world ----------------------------------------------------------------------------------


def planned(h: str, size: int) -> planners.PlannedEngine:
    return planners.PlannedEngine(h, Envelope(size, size, 8, 8192), None, "tensorrt")


def test_a_build_completes_after_its_duration_and_a_rollout_serves_when_ready() -> None:
    w = World(Durations(600.0, 600.0, 120.0))
    w.apply((actions.StartBuild(planned("a" * 16, 4096), reasons.INITIAL, "job-a"),), 1000.0)
    assert w.next_event_after(1000.0) == 1600.0
    w.advance(1599.0)
    assert "a" * 16 not in w.store
    w.advance(1600.0)
    assert "a" * 16 in w.store
    from seasonal_engines.core import status_codec

    ref = status_codec.engine_ref(planned("a" * 16, 4096))
    w.apply((actions.RollOut(ref, None),), 1600.0)
    w.advance(1700.0)
    assert w.serving is None                      # not ready before rollout_s
    w.advance(1720.0)
    assert w.serving is not None and w.serving.since_s == 1720.0 and w.serving.envelope.max_seq_len == 4096
    w.advance(5000.0)
    assert len(w.timeline) == 1                  # served once, not again at every later look


def test_build_durations_are_drawn_from_the_range_reproducibly() -> None:
    def durations(seed: int) -> list[float]:
        w = World(Durations(1200.0, 2400.0, 300.0, seed))
        for i in range(20):
            w.apply((actions.StartBuild(planned(f"{i:016x}", 4096), reasons.INITIAL, f"job-{i}"),), 0.0)
        return [b.done_s for b in w.builds]

    first = durations(0)
    assert all(1200.0 <= d <= 2400.0 for d in first)
    assert first == durations(0) and first != durations(1)


# --- season history as the reconciler would query it --------------------------------------------


def test_season_histories_are_the_windows_the_reconciler_would_query() -> None:
    s = spec(seasons=[{"name": "day", "schedule": "0 8 * * 1-5", "timezone": "Europe/Berlin", "duration": "10h",
                       "history": 3},
                      {"name": "night", "schedule": "0 20 * * *", "duration": "10h", "history": 2}])
    t = synthetic(24 * 9, per_hour=2)
    served = exports.ServedTrace(t)
    profiles = simulating._SeasonProfiles(s, presets.SEASONAL, served, t.first_s, t.last_s)
    rng = np.random.default_rng(3)
    for now in rng.uniform(t.first_s, t.last_s, 40):
        at = datetime.fromtimestamp(now, tz=UTC)
        for season in s.seasons:
            expected = [(a.timestamp(), b.timestamp()) for a, b in
                        seasons.season_history_query_windows(season, at, timedelta(hours=1))]
            got = [w for w in profiles._occurrences[season.name] if w[1] <= now][-season.history:]
            assert got == expected


# --- whole replays --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stepped_run() -> simulating.ReplayRun:
    base = synthetic(10)
    return simulating.replay(shifts.step(base, T0 + 5 * H, 4.0), spec(), FAST)


def test_the_bootstrap_engine_serves_the_first_request_and_is_not_counted_as_a_rebuild(
        stepped_run: simulating.ReplayRun) -> None:
    run = stepped_run
    first = run.timeline[0]
    assert first.since_s < run.start_s and first.envelope.max_seq_len == 131072  # the model's full context
    assert run.served.max_seq_len[0] == 131072
    assert all(b.started_s >= run.start_s for b in run.builds_in_trace())
    assert any(b.reason == reasons.BOOTSTRAP and b.started_s < run.start_s for b in run.builds)


def test_every_request_met_the_engine_in_force_when_it_arrived(stepped_run: simulating.ReplayRun) -> None:
    run = stepped_run
    since = np.asarray([s.since_s for s in run.timeline])
    assert np.all(np.diff(since) > 0)
    which = np.searchsorted(since, run.trace.timestamps_s, side="right") - 1
    expected = np.asarray([s.envelope.max_seq_len for s in run.timeline])[which]
    assert np.array_equal(run.served.max_seq_len, expected)


def test_builds_and_rollouts_take_their_modelled_time(stepped_run: simulating.ReplayRun) -> None:
    run = stepped_run
    assert all(b.done_s - b.started_s == 1200.0 for b in run.builds)
    assert all(r.ready_s - r.started_s == 300.0 for r in run.rollouts)
    # a rollout starts no earlier than the build of its engine finished
    done = {b.engine_hash: b.done_s for b in run.builds}
    assert all(r.started_s >= done[r.engine_hash] for r in run.rollouts if r.engine_hash in done)


def test_waste_shrinks_the_bootstrap_engine_then_a_step_up_is_detected(stepped_run: simulating.ReplayRun) -> None:
    run = stepped_run
    before = [s for s in run.timeline if run.start_s < s.since_s < T0 + 5 * H]
    assert before and before[0].envelope.max_seq_len < 131072   # sized down from the bootstrap
    [d] = reports.detections(run, [T0 + 5 * H])
    assert d.detected_s is not None and d.serving_s is not None
    assert d.evaluations is not None and d.evaluations >= 3       # consecutiveEvaluations: 3
    build = next(b for b in run.builds if b.started_s == d.detected_s)
    assert build.reason == reasons.DRIFT_BREACH
    after = [s for s in run.timeline if s.since_s >= d.serving_s]
    assert after[0].envelope.max_input_len > before[-1].envelope.max_input_len


def test_the_step_is_reported_as_a_shift_before_the_rebuild(stepped_run: simulating.ReplayRun) -> None:
    [d] = reports.detections(stepped_run, [T0 + 5 * H])
    assert d.reported_s is not None and d.detected_s is not None and d.reported_s <= d.detected_s
    assert d.reported_evaluations is not None and d.reported_evaluations <= 3
    doc = d.to_json(stepped_run.interval_s)
    assert doc["shift_report_evaluations"] == d.reported_evaluations and doc["shift_report_minutes"] <= 15
    assert reports.shift_reports(stepped_run, after_s=T0 + 5 * H) >= 1


def test_a_stationary_trace_causes_no_breach() -> None:
    run = simulating.replay(synthetic(8, seed=5), spec(), FAST)
    assert not [b for b in run.builds if b.reason == reasons.DRIFT_BREACH]
    assert reports.shift_reports(run) == 0 and not any(e.shift_confirmed for e in run.evaluations)


def test_an_empty_trace_is_refused() -> None:
    empty = Trace(np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="no requests"):
        simulating.replay(empty, spec(), FAST)


# --- injected shifts ---------------------------------------------------------------------------


def test_step_and_ramp_scale_prompts_only_from_the_shift_on() -> None:
    t = Trace(np.asarray([0.0, 10.0, 20.0, 30.0]), np.asarray([100, 100, 100, 100]), np.asarray([5, 5, 5, 5]))
    assert shifts.step(t, 15.0, 2.0).input_tokens.tolist() == [100, 100, 200, 200]
    assert shifts.ramp(t, 10.0, 30.0, 3.0).input_tokens.tolist() == [100, 100, 200, 300]
    assert shifts.step(t, 15.0, 2.0).output_tokens.tolist() == [5, 5, 5, 5]


def test_a_stationary_resample_keeps_arrivals_and_draws_real_pairs() -> None:
    t = synthetic(3)
    s = shifts.stationary(t, seed=7)
    assert np.array_equal(s.timestamps_s, t.timestamps_s)
    pairs = set(zip(t.input_tokens.tolist(), t.output_tokens.tolist()))
    assert set(zip(s.input_tokens.tolist(), s.output_tokens.tolist())) <= pairs
    assert np.array_equal(shifts.stationary(t, seed=7).input_tokens, s.input_tokens)
    more = shifts.stationary(t, seed=7, rate_scale=3.0)
    assert len(more) == 3 * len(t) and np.all(np.diff(more.timestamps_s) >= 0)
