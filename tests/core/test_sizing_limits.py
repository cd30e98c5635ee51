"""Limits from quantiles: headroom, ladder rounding, growth to the coverage target, the model's context cap;
and the trtllm-build rules applied to the token budget."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seasonal_engines.api.spec import DEFAULT_LADDER
from seasonal_engines.core import histograms
from seasonal_engines.core.sizing import limits, rules

BOUNDS = histograms.log_buckets()


def hist(values: np.ndarray | list[float]) -> histograms.Histogram:
    return histograms.from_values(np.asarray(values, dtype=np.float64), BOUNDS)


@pytest.mark.parametrize(("ladder", "cap", "expected"), [
    ([512, 1024, 2048, 4096, 8192], 8192, (512, 1024, 2048, 4096, 8192)),
    ([512, 1024, 2048, 4096, 8192], 3000, (512, 1024, 2048, 3000)),
    ([512, 4096], 32768, (512, 4096, 8192, 16384, 32768)),   # doubled past the ladder's top
    ([512, 4096], 20000, (512, 4096, 8192, 16384, 20000)),
    ([1024], 512, (512,)),
], ids=["ladder-ends-at-cap", "cap-inside", "doubling", "doubling-to-odd-cap", "cap-below-ladder"])
def test_effective_ladder(ladder: list[int], cap: int, expected: tuple[int, ...]) -> None:
    assert limits.effective_ladder(ladder, cap) == expected


def test_limit_is_quantile_plus_headroom_rounded_up_the_ladder() -> None:
    values = np.r_[np.full(9990, 1000.0), np.full(10, 1800.0)]
    c = limits.choose_limit("max_input_len", "input", hist(values), target_quantile=0.999, headroom=0.1,
                            ladder=DEFAULT_LADDER, max_beyond_fraction=0.001, cap=131072)
    assert 900 < c.quantile_value <= 1024  # the top of the bucket holding 1000, as PromQL interpolates
    assert c.with_headroom == pytest.approx(c.quantile_value * 1.1)
    assert (c.first_step, c.value, c.grown_steps, c.clamped_to) == (2048, 2048, 0, None)
    assert c.coverage == 1.0
    text = c.explain()
    assert "p99.9" in text and "+10% headroom" in text and "rounded up the ladder to 2048" in text


def test_limit_grows_until_the_share_beyond_is_small_enough() -> None:
    # p90 sits at 1000 tokens, but 5% of requests are at 3000: max_beyond_fraction 0.001 forces growth.
    values = np.r_[np.full(9500, 1000.0), np.full(500, 3000.0)]
    c = limits.choose_limit("max_seq_len", "sequence", hist(values), target_quantile=0.9, headroom=0.1,
                            ladder=DEFAULT_LADDER, max_beyond_fraction=0.001, cap=131072)
    assert (c.first_step, c.value, c.grown_steps) == (2048, 4096, 2)
    assert c.coverage == 1.0 and "grown 2 ladder step(s)" in c.explain()


def test_limit_is_capped_at_the_model_context_and_says_so() -> None:
    c = limits.choose_limit("max_seq_len", "sequence", hist(np.full(2000, 20000.0)), target_quantile=0.99,
                            headroom=0.1, ladder=DEFAULT_LADDER, max_beyond_fraction=0.01, cap=8192)
    assert (c.value, c.clamped_to) == (8192, 8192)
    assert c.coverage == 0.0
    assert "capped at the model's context of 8192" in c.explain()


def test_floor_raises_the_limit() -> None:
    c = limits.choose_limit("max_seq_len", "sequence", hist(np.full(2000, 100.0)), target_quantile=0.99,
                            headroom=0.0, ladder=DEFAULT_LADDER, max_beyond_fraction=0.01, cap=131072, floor=5000)
    assert c.value == 6144 and "at least max_input_len 5000" in c.explain()


def test_empty_histogram_is_refused() -> None:
    with pytest.raises(ValueError, match="no observations"):
        limits.choose_limit("max_input_len", "input", hist([]), target_quantile=0.99, headroom=0.1,
                            ladder=DEFAULT_LADDER, max_beyond_fraction=0.01, cap=8192)


@st.composite
def traffic_values(draw: st.DrawFn) -> np.ndarray:
    """Log-normal lengths, sometimes a mixture with a long tail, all inside the finite buckets."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(200, 5000))
    median = draw(st.floats(20, 8000))
    sigma = draw(st.floats(0.1, 2.0))
    v = rng.lognormal(np.log(median), sigma, n)
    if draw(st.booleans()):
        tail = rng.lognormal(np.log(median * draw(st.floats(2, 20))), 0.3, max(1, n // 50))
        v = np.r_[v, tail]
    return np.clip(np.round(v), 1, 100000)


quantile = st.floats(0.5, 0.9999)


@settings(max_examples=60, deadline=None)
@given(traffic_values(), quantile, quantile, st.floats(0, 0.5), st.floats(0.0, 0.05))
def test_limits_are_monotone_in_the_target_quantile_and_meet_it(values: np.ndarray, q1: float, q2: float,
                                                                 headroom: float, beyond: float) -> None:
    lo, hi = sorted((q1, q2))
    h = hist(values)
    common = dict(headroom=headroom, ladder=DEFAULT_LADDER, max_beyond_fraction=beyond, cap=131072)
    a = limits.choose_limit("max_seq_len", "sequence", h, target_quantile=lo, **common)
    b = limits.choose_limit("max_seq_len", "sequence", h, target_quantile=hi, **common)
    assert a.value <= b.value
    for c in (a, b):
        assert c.value in limits.effective_ladder(DEFAULT_LADDER, 131072)
        assert c.value >= min(c.with_headroom, 131072)  # never below the quantile plus headroom, unless capped
        if c.clamped_to is not None:
            assert c.value == 131072  # capped at the model's context: the explanation says so
            continue
        assert c.coverage >= c.target_quantile - 1e-12
        assert 1 - c.coverage <= beyond + 1e-12


# --- the trtllm-build rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "value", "warns"), [
    (dict(preferred=8192, max_input_len=4096, max_seq_len=8192, max_batch_size=256, chunked_context=True), 8192,
     False),
    (dict(preferred=8192, max_input_len=12288, max_seq_len=16384, max_batch_size=256, chunked_context=False),
     16384, False),
    (dict(preferred=8192, max_input_len=20000, max_seq_len=32768, max_batch_size=256, chunked_context=False),
     32768, True),
    (dict(preferred=8192, max_input_len=512, max_seq_len=512, max_batch_size=4, chunked_context=True), 2048,
     False),
    (dict(preferred=16, max_input_len=16, max_seq_len=1024, max_batch_size=64, chunked_context=True), 32, False),
], ids=["default", "no-chunking-fits-prompt", "no-chunking-warns", "capped-by-seq-x-batch", "tokens-per-block"])
def test_max_num_tokens_rules(kwargs: dict, value: int, warns: bool) -> None:
    choice = rules.choose_max_num_tokens(tokens_per_block=32, **kwargs)
    assert choice.value == value
    assert bool(choice.warnings) == warns
    assert choice.value >= 32 and choice.value <= kwargs["max_seq_len"] * kwargs["max_batch_size"]
    if not kwargs["chunked_context"]:
        assert choice.value >= kwargs["max_input_len"]


def _valid(**over: object) -> dict:
    base = dict(max_input_len=4096, max_seq_len=8192, max_batch_size=256, max_num_tokens=8192, opt_num_tokens=256,
                tokens_per_block=32, model_context=8192, chunked_context=True, multiple_profiles=False,
                use_fp8_context_fmha=False, weights_quant="none", max_attention_window_size=8192)
    base.update(over)
    return base


@pytest.mark.parametrize(("over", "message"), [
    (dict(max_input_len=9000), "max_input_len 9000 must be between 1 and max_seq_len"),
    (dict(max_seq_len=16384, max_input_len=4096), "exceeds the model's context"),
    (dict(max_num_tokens=8192, max_seq_len=1024, max_input_len=512, max_batch_size=4),
     "exceeds max_seq_len x max_batch_size"),
    (dict(max_num_tokens=16, opt_num_tokens=16), "below tokens_per_block"),
    (dict(chunked_context=False, max_num_tokens=2048, opt_num_tokens=256), "must be at least max_input_len"),
    (dict(multiple_profiles=True), "opt_num_tokens cannot be set together with multiple_profiles"),
    (dict(use_fp8_context_fmha=True), "use_fp8_context_fmha only applies"),
    (dict(max_attention_window_size=9000), "max_attention_window_size 9000 exceeds"),
], ids=lambda v: str(v)[:40])
def test_check_build_refuses_what_trtllm_build_would_change(over: dict, message: str) -> None:
    with pytest.raises(rules.BuildRuleViolation, match=message):
        rules.check_build(**_valid(**over))


def test_check_build_accepts_a_valid_plan_and_warns_above_16384() -> None:
    assert rules.check_build(**_valid()) == ()
    warnings = rules.check_build(**_valid(max_num_tokens=32768, max_seq_len=32768, model_context=32768,
                                          max_attention_window_size=32768))
    assert any("16384" in w for w in warnings)


def test_effective_input_limit() -> None:
    assert rules.effective_input_limit(max_seq_len=8192, max_num_tokens=2048, chunked_context=True) == 8191
    assert rules.effective_input_limit(max_seq_len=8192, max_num_tokens=2048, chunked_context=False) == 2048


def test_gemm_plugin_per_format() -> None:
    assert rules.gemm_plugin_for("none", "bfloat16") == "auto"
    assert rules.gemm_plugin_for("int4_awq", "float16") == "auto"
    assert rules.gemm_plugin_for("fp8", "bfloat16") == "disable"
    assert rules.gemm_plugin_for("nvfp4", "bfloat16") == "nvfp4"
