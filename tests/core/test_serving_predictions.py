"""Predictions from the serving model: SLOs, replica counts, plans, and what reaches the status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from seasonal_engines.api import validation
from seasonal_engines.api.status import EngineRef, EnvelopeStatus, InferenceServiceStatus, ServingPrediction
from seasonal_engines.core import decisions, observations, planners, status_codec
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.serving import predictions, requests, simulating
from seasonal_engines.core.sizing import gpus, models, planning
from seasonal_engines.core.traffic import profile_from_requests
from tests.core.serving_fixtures import EXACT, replica

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)


def chat_profile(n: int = 3000):
    rng = np.random.default_rng(3)
    inp = np.maximum(1, rng.lognormal(np.log(700), 0.8, n)).astype(np.int64)
    out = np.maximum(1, rng.lognormal(np.log(150), 0.7, n)).astype(np.int64)
    return profile_from_requests(NOW - timedelta(hours=1), NOW, inp, out)


def test_slo_bounds_and_what_meeting_it_means() -> None:
    with pytest.raises(ValueError, match="ttft_p99_s"):
        predictions.Slo(ttft_p99_s=0.0)
    s = predictions.Summary(served=10, rejected=0, ttft_p50_s=0.1, ttft_p99_s=0.9, itl_p50_s=0.01,
                            itl_p99_s=0.02, output_tokens_per_s_per_gpu=100.0)
    assert predictions.Slo(1.0, 0.05).met_by(s)
    assert not predictions.Slo(0.5, 0.05).met_by(s)
    assert not predictions.Slo(1.0, 0.01).met_by(s)
    assert predictions.Slo().met_by(s)
    assert not predictions.Slo(1.0).met_by(predictions.Summary(0, 5, *([float("nan")] * 4), 0.0)), \
        "a replica that serves nothing meets no SLO"


def test_the_replica_count_is_the_fewest_that_meets_the_slo() -> None:
    # 1 ms per iteration; requests of 8 + 20 tokens at 400 req/s.
    rep = replica(max_batch_size=4)
    mix = requests.from_arrays(np.zeros(400), np.full(400, 8), np.full(400, 20))
    slo = predictions.Slo(ttft_p99_s=0.05)
    found = predictions.replicas_for_slo(mix, 400.0, rep, slo, eff=EXACT, start=1)
    assert found.replicas is not None and found.replicas > 1
    assert found.summary.ttft_p99_s <= 0.05

    def p99(r: int) -> float:
        out = simulating.simulate(predictions.at_rate(mix, 400.0 / r), rep, EXACT)
        return predictions.summarise(out).ttft_p99_s

    assert p99(found.replicas - 1) > 0.05, "one replica fewer misses the objective"


def test_an_slo_no_replica_count_meets_is_reported_as_such() -> None:
    rep = replica()  # every prefill takes 1 ms
    mix = requests.from_arrays(np.zeros(50), np.full(50, 8), np.full(50, 4))
    found = predictions.replicas_for_slo(mix, 10.0, rep, predictions.Slo(ttft_p99_s=0.0005), eff=EXACT)
    assert found.replicas is None and "idle replica" in found.reason


def test_saturation_is_output_over_makespan_of_everything_at_once() -> None:
    rep = replica(max_batch_size=2)
    # Two at a time, 8-token prompts, 4 output tokens: each pair takes 4 iterations of 1 ms.
    mix = requests.from_arrays(np.arange(4.0), np.full(4, 8), np.full(4, 4))
    assert predictions.saturation(mix, rep, EXACT) == pytest.approx(16 / 8e-3)


def _plans(profile):
    model, gpu = models.preset("llama-3.1-8b"), gpus.preset("h100")
    planned = planning.plan(profile, model, gpu, min_samples=100)
    n = 1000
    full = profile_from_requests(profile.start, profile.end, np.full(n, model.max_context - 1), np.ones(n, np.int64))
    widest = planning.plan(full, model, gpu, min_samples=1)
    return planned, widest


def test_a_model_max_engine_needs_at_least_the_replicas_of_the_planned_one() -> None:
    profile = chat_profile()
    planned, widest = _plans(profile)
    slo = predictions.Slo(ttft_p99_s=2.0, itl_p99_s=0.1)
    peak = 40.0
    a = predictions.for_plan(planned, profile.input, profile.output, peak, slo, sample=300)
    b = predictions.for_plan(widest, profile.input, profile.output, peak, slo, sample=300)
    assert a.label == b.label == "modelled"
    assert a.replicas is not None and b.replicas is not None
    assert widest.build.max_seq_len == 131072 > planned.build.max_seq_len
    assert b.replicas > a.replicas, "reserving 128k tokens per request admits fewer requests per replica"
    assert b.output_tokens_per_s_per_gpu < a.output_tokens_per_s_per_gpu


def test_without_an_slo_the_prediction_uses_the_plans_replicas_and_counts_none() -> None:
    profile = chat_profile()
    planned, _ = _plans(profile)
    p = predictions.for_plan(planned, profile.input, profile.output, 5.0, predictions.Slo(), sample=200)
    assert p.replicas is None and "no SLO" in p.replicas_reason
    assert p.ttft_p99_s > 0


# --- into the status --------------------------------------------------------------------------------


def spec(slo: bool = True):
    doc = yaml.safe_load((REPO / "examples" / "llama-3-8b-h100-seasons.yaml").read_text())
    doc["spec"]["seasons"] = []
    if slo:
        doc["spec"].setdefault("rollout", {})["slo"] = {"ttftP99Seconds": 2, "itlP99Seconds": 0.1}
    return validation.parse_manifest(doc)


def test_the_planner_attaches_a_prediction_for_the_specs_slo_and_the_bootstrap_none() -> None:
    s = spec()
    engine = planners.for_spec(s)(chat_profile(), None)
    assert isinstance(engine, planners.PlannedEngine) and engine.serving is not None
    made = engine.serving()
    assert made is not None and made.slo == predictions.Slo(2.0, 0.1) and made.replicas is not None
    boot = planners.bootstrap_for_spec(s)()
    assert isinstance(boot, planners.PlannedEngine) and boot.serving is None


def test_an_engine_ref_carries_the_prediction_and_reuses_it_for_the_same_engine() -> None:
    calls: list[int] = []
    made = predictions.Prediction(label="modelled", peak_rps=3.0, slo=predictions.Slo(2.0), replicas=2,
                                  replicas_reason="", gpus_per_replica=1, ttft_p50_s=0.1, ttft_p99_s=0.5,
                                  itl_p50_s=0.01, itl_p99_s=0.02, output_tokens_per_s_per_gpu=1000.0,
                                  rejected_fraction=0.0, scheduler="guaranteed_no_evict", max_seq_len=8192)

    def serving() -> predictions.Prediction:
        calls.append(1)
        return made

    engine = planners.PlannedEngine(hash="a" * 64, envelope=Envelope(4096, 8192, 64, 8192), season=None,
                                     backend="tensorrt", serving=serving)
    first = status_codec.engine_ref(engine)
    assert first.prediction == ServingPrediction(peak_rps=3.0, replicas=2, ttft_p50_seconds=0.1,
                                                 ttft_p99_seconds=0.5, itl_p50_seconds=0.01, itl_p99_seconds=0.02,
                                                 output_tokens_per_second_per_gpu=1000.0)
    again = status_codec.engine_ref(engine, reuse=first)
    assert again.prediction == first.prediction and len(calls) == 1, "the same engine is not simulated twice"
    other = EngineRef(hash="b" * 64, envelope=EnvelopeStatus(max_input_len=1, max_seq_len=2, max_batch_size=1,
                                                             max_num_tokens=1))
    status_codec.engine_ref(engine, reuse=other)
    assert len(calls) == 2


def test_the_first_build_target_carries_the_prediction() -> None:
    s = spec()
    obs = observations.Observation(now=NOW, generation=1, spec=s, spec_error=None,
                                status=InferenceServiceStatus(), traffic=chat_profile())
    d = decisions.decide(obs, planners.for_spec(s), planners.bootstrap_for_spec(s))
    assert [type(a).__name__ for a in d.actions] == ["StartBuild", "SwitchTraffic"]  # the Service with it
    target = d.status.target_engine
    assert target is not None and target.prediction is not None
    assert target.prediction.label == "modelled" and target.prediction.replicas is not None
