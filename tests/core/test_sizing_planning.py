"""The planner end to end on synthetic windows: the plan.json contract, memory predictions, actionable errors,
backends, and properties over random traffic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seasonal_build import plans as build_job_plans
from seasonal_engines.api import spec as api
from seasonal_engines.core import traffic
from seasonal_engines.core.sizing import errors, gpus, models, planning
from seasonal_engines.core.sizing.gpus import GIB, GpuFacts
from seasonal_engines.core.sizing.plans import Plan

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
H100 = gpus.preset("h100")


def window(n: int = 20000, *, seed: int = 1, median_in: float = 800, median_out: float = 200, hours: float = 1,
           max_len: float = 60000) -> traffic.TrafficProfile:
    rng = np.random.default_rng(seed)
    inp = np.clip(rng.lognormal(np.log(median_in), 1.0, n).round(), 1, max_len)
    out = np.clip(rng.lognormal(np.log(median_out), 0.8, n).round(), 1, 8000)
    return traffic.profile_from_requests(START, START + timedelta(hours=hours), inp, out)


PROFILE = window()
LLAMA31 = models.preset("llama-3.1-8b")


def test_plan_json_has_the_contract_keys_and_round_trips() -> None:
    p = planning.plan(PROFILE, LLAMA31, H100)
    d = p.to_json()
    assert len(d["engine_hash"]) == 64 and int(d["engine_hash"], 16) >= 0
    assert set(d["build"]) >= {"max_input_len", "max_seq_len", "max_batch_size", "max_num_tokens", "opt_num_tokens"}
    assert set(d["coverage"]) == {"input", "sequence"}
    assert set(d["memory"]) >= {"weights_bytes", "kv_bytes_per_token", "kv_pool_tokens"}
    assert isinstance(d["replicas"], int) and d["replicas"] >= 1
    assert d["memory"]["kv_bytes_per_token"] == 131072
    assert d["checkpoint"]["method"] == "convert" and d["checkpoint"]["args"]["tp_size"] == 1
    assert Plan.from_json(d) == p
    assert Plan.from_json(json.loads(json.dumps(d))) == p
    assert p.envelope.max_seq_len == d["build"]["max_seq_len"]


@pytest.mark.parametrize(("kwargs", "backend"), [
    ({}, "tensorrt"),
    ({"weights_quant": "fp8", "kv_quant": "fp8"}, "tensorrt"),
    ({"weights_quant": "int4_awq", "tp": 2}, "tensorrt"),
    ({}, "pytorch"),
    ({}, "cpu-stand-in"),
], ids=["bf16", "fp8", "awq-tp2", "pytorch", "stand-in"])
def test_the_build_job_accepts_the_plan(kwargs: dict, backend: str) -> None:
    p = planning.plan(PROFILE, LLAMA31, H100, backend=backend, **kwargs)
    parsed = build_job_plans.parse(p.to_json())
    assert parsed.engine_hash == p.engine_hash
    assert parsed.build["max_seq_len"] == p.build.max_seq_len


def test_kv_and_weights_shrink_with_fp8_and_tp() -> None:
    bf16 = planning.plan(PROFILE, LLAMA31, H100).predictions
    fp8 = planning.plan(PROFILE, LLAMA31, H100, weights_quant="fp8", kv_quant="fp8").predictions
    tp2 = planning.plan(PROFILE, LLAMA31, H100, weights_quant="fp8", kv_quant="fp8", tp=2).predictions
    assert (bf16.kv_bytes_per_token, fp8.kv_bytes_per_token, tp2.kv_bytes_per_token) == (131072, 65536, 32768)
    assert fp8.weights_bytes < 0.6 * bf16.weights_bytes
    assert tp2.weights_bytes == pytest.approx(fp8.weights_bytes / 2, abs=1)
    assert fp8.kv_pool_tokens > 2 * bf16.kv_pool_tokens  # half the bytes per token and more free memory


def test_fp8_build_flags_and_quantize_step() -> None:
    p = planning.plan(PROFILE, LLAMA31, H100, weights_quant="fp8", kv_quant="fp8")
    b = p.build
    assert (b.gemm_plugin, b.multiple_profiles, b.opt_num_tokens, b.use_fp8_context_fmha) == \
        ("disable", "enable", None, "enable")
    assert p.checkpoint is not None and p.checkpoint.method == "quantize"
    assert p.checkpoint.args["qformat"] == "fp8" and p.checkpoint.args["kv_cache_dtype"] == "fp8"
    bf16 = planning.plan(PROFILE, LLAMA31, H100).build
    assert (bf16.gemm_plugin, bf16.multiple_profiles, bf16.use_fp8_context_fmha) == ("auto", "disable", "disable")
    assert bf16.opt_num_tokens is not None and 1 <= bf16.opt_num_tokens <= bf16.max_num_tokens


def test_weight_only_uses_the_family_converter() -> None:
    p = planning.plan(PROFILE, LLAMA31, H100, weights_quant="int4_wo", tp=2)
    assert p.checkpoint is not None and p.checkpoint.script == "examples/models/core/llama/convert_checkpoint.py"
    assert p.checkpoint.argv() == ["--dtype", "bfloat16", "--pp_size", "1", "--tp_size", "2", "--use_weight_only",
                                   "--weight_only_precision", "int4"]


def test_runtime_parameters_for_triton() -> None:
    p = planning.plan(PROFILE, LLAMA31, H100)
    r = p.runtime
    assert r["batching_strategy"] == "inflight_fused_batching"
    assert r["enable_chunked_context"] is True and r["enable_kv_cache_reuse"] is True
    assert r["triton_max_batch_size"] == p.build.max_batch_size
    assert r["max_attention_window_size"] == p.build.max_seq_len
    assert r["batch_scheduler_policy"] in ("guaranteed_no_evict", "max_utilization")
    assert r["kv_cache_free_gpu_mem_fraction"] == 0.9


def test_sliding_window_caps_the_attention_window() -> None:
    p = planning.plan(PROFILE, models.preset("mistral-7b"), H100)
    assert p.build.max_seq_len > 4096 and p.runtime["max_attention_window_size"] == 4096


def test_pytorch_backend_is_runtime_settings_without_a_build() -> None:
    p = planning.plan(PROFILE, LLAMA31, H100, backend="pytorch")
    d = p.to_json()
    assert p.checkpoint is None and "checkpoint" not in d
    assert set(d["build"]) == {"max_input_len", "max_seq_len", "max_batch_size", "max_num_tokens", "opt_num_tokens"}
    assert d["runtime"]["kv_cache_config"]["free_gpu_memory_fraction"] == 0.9
    assert d["runtime"]["enable_chunked_prefill"] is True
    assert d["runtime"]["max_seq_len"] == d["build"]["max_seq_len"]
    assert p.engine_hash != planning.plan(PROFILE, LLAMA31, H100).engine_hash
    assert planning.plan(PROFILE, LLAMA31, H100, backend="pytorch", trtllm_version="1.3.0").build == p.build


def test_model_that_does_not_fit_names_the_smallest_tp_and_quantization() -> None:
    with pytest.raises(errors.ModelDoesNotFit) as caught:
        planning.plan(PROFILE, models.preset("llama-3-70b"), H100)
    e = caught.value
    assert (e.smallest_tp, e.lightest_quantization) == (2, "fp8")
    assert "--tp 2" in str(e) and "--quant fp8" in str(e) and "131.4 GiB of weights" in str(e)
    with pytest.raises(errors.ModelDoesNotFit) as on_a100:
        planning.plan(PROFILE, models.preset("llama-3-70b"), gpus.preset("a100"))
    assert on_a100.value.lightest_quantization == "int8_wo"  # no FP8 on SM 8.0
    # The suggestions are right: both fit.
    planning.plan(PROFILE, models.preset("llama-3-70b"), H100, tp=2)
    planning.plan(PROFILE, models.preset("llama-3-70b"), H100, weights_quant="fp8")


def test_nothing_fits_says_so() -> None:
    tiny = GpuFacts("tiny", "TINY-8GB", 8 * GIB, "9.0", True, 1e12, 1e14)
    with pytest.raises(errors.ModelDoesNotFit, match="Nothing up to tp=8") as caught:
        planning.plan(PROFILE, models.preset("llama-3-70b"), tiny)
    assert caught.value.smallest_tp is None and caught.value.lightest_quantization is None


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"weights_quant": "fp8"}, errors.UnsupportedQuantization, "FP8 tensor cores.*int8_sq"),
    ({"kv_quant": "fp8"}, errors.UnsupportedQuantization, "kvCache"),
    ({"weights_quant": "nvfp4"}, errors.UnsupportedQuantization, "Blackwell"),
    ({"tp": 3}, errors.InvalidParallelism, r"tp=3 .* use one of \[1, 2, 4, 8\]"),
    ({"dtype": "float32"}, errors.PlanningError, "dtype 'float32'"),
    ({"backend": "onnx"}, errors.PlanningError, "backend 'onnx'"),
    ({"trtllm_version": "1.3.0"}, errors.PlanningError, "no trtllm-build"),
], ids=["fp8-a100", "fp8-kv-a100", "nvfp4", "tp3", "dtype", "backend", "trtllm-1.3"])
def test_bad_choices_are_refused_with_the_fix(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        planning.plan(PROFILE, LLAMA31, gpus.preset("a100"), **kwargs)


def test_too_few_samples_are_refused_not_guessed() -> None:
    with pytest.raises(errors.InsufficientTraffic, match="holds 500 requests, fewer than the 1000") as caught:
        planning.plan(window(500), LLAMA31, H100)
    assert caught.value.samples == 500
    planning.plan(window(500), LLAMA31, H100, min_samples=100)
    unavailable = traffic.TrafficUnavailable("PrometheusUnreachable", "cannot reach Prometheus")
    with pytest.raises(errors.InsufficientTraffic, match="PrometheusUnreachable.*cannot reach"):
        planning.plan(unavailable, LLAMA31, H100)


def test_limits_are_clamped_to_the_model_context_with_a_warning() -> None:
    long = window(median_in=6000)
    p = planning.plan(long, models.preset("llama-3-8b"), H100)
    assert p.build.max_seq_len == 8192 and p.build.max_input_len <= 8192
    assert any("capped at the model's context (8192)" in w for w in p.warnings)
    assert planning.plan(long, LLAMA31, H100).build.max_seq_len > 8192


def test_explanation_names_each_limit_quantile_headroom_and_rounding() -> None:
    lines = planning.plan(PROFILE, LLAMA31, H100).explanation
    first, second = lines[0], lines[1]
    assert first.startswith("max_input_len = ") and "input p99.9" in first and "+10% headroom" in first
    assert second.startswith("max_seq_len = ") and "sequence p99.9" in second and "rounded up the ladder" in second
    text = "\n".join(lines)
    for word in ("max_num_tokens", "max_batch_size", "KV pool", "Little's law", "replicas"):
        assert word in text


def test_replicas_grow_with_the_request_rate() -> None:
    slow = planning.plan(window(hours=10), LLAMA31, gpus.preset("l4"), weights_quant="fp8", kv_quant="fp8")
    fast = planning.plan(window(hours=0.05), LLAMA31, gpus.preset("l4"), weights_quant="fp8", kv_quant="fp8")
    assert fast.predictions.peak_rps > 20 * slow.predictions.peak_rps
    assert fast.predictions.replicas > slow.predictions.replicas
    p = fast.predictions
    assert p.replicas == -(-p.peak_concurrency // p.replica_concurrency)


def test_season_and_traffic_that_land_on_the_same_limits_share_the_engine() -> None:
    a = planning.plan(PROFILE, LLAMA31, H100, season="day")
    b = planning.plan(window(seed=2), LLAMA31, H100, season="night")
    assert a.build == b.build and a.engine_hash == b.engine_hash
    assert a.predictions != b.predictions


def test_plan_for_spec_resolves_model_gpu_and_policy() -> None:
    spec = api.InferenceServiceSpec.model_validate({
        "model": {"name": "llama-3.1-8b", "source": {"huggingFace": {"repo": "meta-llama/Llama-3.1-8B-Instruct",
                                                                      "revision": "0e9e39f"}},
                  "quantization": {"weights": "fp8", "kvCache": "fp8"}},
        "hardware": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
        "engine": {"store": {"claimName": "engines"}},
        "traffic": {"prometheusUrl": "http://prometheus:9090", "minSamples": 100},
        "sizing": {"sequenceQuantile": 0.99, "headroom": 0.2},
    })
    p = planning.plan_for_spec(window(500), spec, season="night")
    assert (p.weights_quant, p.kv_quant, p.gpu.sm, p.season) == ("fp8", "fp8", "9.0", "night")
    assert p.model_ref.revision == "0e9e39f"
    assert p.to_json()["model"]["source"] == {"huggingFace": {"repo": "meta-llama/Llama-3.1-8B-Instruct",
                                                               "revision": "0e9e39f"}}
    assert "sequence p99 " in p.explanation[1] and "+20% headroom" in p.explanation[1]


# --- properties over random traffic ---------------------------------------------------------------------

quantiles = st.floats(0.5, 0.9995)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(30, 6000), quantiles, quantiles, quantiles, quantiles)
def test_plans_are_monotone_in_the_target_quantiles_and_meet_them(seed: int, median: float, qi1: float, qi2: float,
                                                                 qs1: float, qs2: float) -> None:
    profile = window(3000, seed=seed, median_in=median)
    qi_lo, qi_hi = sorted((qi1, qi2))
    qs_lo, qs_hi = sorted((qs1, qs2))
    base = api.SizingPolicy()

    def limits(qi: float, qs: float) -> Plan:
        policy = base.model_copy(update={"input_quantile": qi, "sequence_quantile": qs,
                                         "max_beyond_fraction": 1 - min(qi, qs)})
        return planning.plan(profile, LLAMA31, H100, policy=policy)

    low, high_in, high_both = limits(qi_lo, qs_lo), limits(qi_hi, qs_lo), limits(qi_hi, qs_hi)
    assert low.build.max_input_len <= high_in.build.max_input_len
    assert low.build.max_seq_len <= high_in.build.max_seq_len <= high_both.build.max_seq_len
    for p, (qi, qs) in ((low, (qi_lo, qs_lo)), (high_in, (qi_hi, qs_lo)), (high_both, (qi_hi, qs_hi))):
        b = p.build
        assert p.predictions.coverage_input >= qi - 1e-12
        assert p.predictions.coverage_sequence >= qs - 1e-12
        assert profile.coverage(traffic.Dimension.sequence, b.max_seq_len) == p.predictions.coverage_sequence
        assert b.max_input_len <= b.max_seq_len <= LLAMA31.max_context
        assert 32 <= b.max_num_tokens <= b.max_seq_len * b.max_batch_size
        assert 1 <= b.max_batch_size <= 2048
        assert p.predictions.concurrent_sequences_p50 >= p.predictions.concurrent_sequences_p99


def test_plans_are_deterministic() -> None:
    a, b = planning.plan(PROFILE, LLAMA31, H100), planning.plan(PROFILE, LLAMA31, H100)
    assert a == b
    assert a.to_json() == b.to_json()


def test_the_engine_hash_leaves_the_season_out() -> None:
    # Planned again for another season, from the same traffic: the same engine, labelled differently.
    trailing = planning.plan(PROFILE, LLAMA31, H100)
    night = planning.plan(PROFILE, LLAMA31, H100, season="night")
    assert night.season == "night"
    assert night.to_json()["season"] == "night"
    assert night.engine_hash == trailing.engine_hash


def test_without_chunked_context_every_admitted_prompt_fits_one_iteration() -> None:
    long = window(median_in=3000)
    p = planning.plan(long, LLAMA31, H100, chunked_context=False)
    assert p.build.max_num_tokens >= p.build.max_input_len
    assert p.runtime["enable_chunked_context"] is False
    assert any("without chunked context" in line for line in p.explanation)
