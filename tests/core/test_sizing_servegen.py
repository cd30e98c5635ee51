"""On the shared ServeGen traces, plans for different hours of the day differ the way the data does, and each
reaches the coverage target on its own window (and, for the smaller engine, not on the other one)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from seasonal_engines.api import spec as api
from seasonal_engines.core import histograms, traffic
from seasonal_engines.core.sizing import gpus, models, planning
from seasonal_engines.core.sizing.plans import Plan
from seasonal_engines.traces import Trace, read_trace

TRACES = Path(__file__).resolve().parents[2] / "examples" / "traces"
POLICY = api.SizingPolicy()


@cache
def trace(name: str) -> Trace:
    return read_trace(TRACES / f"servegen_{name}_14d.csv.xz")


def hours(name: str, lo: int, hi: int) -> Trace:
    return trace(name).hours_of_day(lo, hi)


def plan_for(t: Trace, season: str) -> Plan:
    bounds = histograms.log_buckets()
    inp, out = t.input_tokens, t.output_tokens
    covered = (t.last_s - t.first_s) * (6 / 24)
    profile = traffic.profile_from_histograms(
        datetime.fromtimestamp(t.first_s, UTC), datetime.fromtimestamp(t.last_s, UTC),
        histograms.from_values(inp, bounds), histograms.from_values(out, bounds),
        histograms.from_values(inp.astype(np.float64) + out, bounds), covered_s=covered)
    return planning.plan(profile, models.preset("llama-3.1-8b"), gpus.preset("h100"), policy=POLICY, season=season)


def exact_share(t: Trace, p: Plan) -> tuple[float, float]:
    """Per-request shares inside the limits (no bucket interpolation)."""
    inp, seq = t.input_tokens, t.input_tokens + t.output_tokens
    return float(np.mean(inp <= p.build.max_input_len)), float(np.mean(seq <= p.build.max_seq_len))


@pytest.mark.parametrize(("name", "short", "long"), [
    ("m-large", (6, 12), (18, 24)),
    ("m-mid", (0, 6), (18, 24)),
], ids=["m-large", "m-mid"])
def test_evening_needs_a_longer_engine_and_each_meets_its_target(name: str, short: tuple[int, int],
                                                                   long: tuple[int, int]) -> None:
    morning_t, evening_t = hours(name, *short), hours(name, *long)
    assert len(morning_t) > 10_000 and len(evening_t) > 10_000
    morning, evening = plan_for(morning_t, "morning"), plan_for(evening_t, "evening")
    assert evening.build.max_seq_len > morning.build.max_seq_len
    assert evening.engine_hash != morning.engine_hash
    for t, p in ((morning_t, morning), (evening_t, evening)):
        assert p.predictions.coverage_input >= POLICY.input_quantile
        assert p.predictions.coverage_sequence >= POLICY.sequence_quantile
        exact_in, exact_seq = exact_share(t, p)
        assert exact_in >= POLICY.input_quantile and exact_seq >= POLICY.sequence_quantile
        assert not [w for w in p.warnings if "capped" in w]
    # Serving the evening with the morning's engine would miss the target: the seasons are real.
    _, morning_engine_on_evening = exact_share(evening_t, morning)
    assert morning_engine_on_evening < POLICY.sequence_quantile


def test_m_large_limits_match_the_published_p999() -> None:
    # README: p99.9 of input+output is about 8.8k at 06-12h and 14.3k at 18-24h.
    morning, evening = plan_for(hours("m-large", 6, 12), "m"), plan_for(hours("m-large", 18, 24), "e")
    assert morning.explanation[1].startswith("max_seq_len = 12288: sequence p99.9 is 8,")
    assert evening.explanation[1].startswith("max_seq_len = 16384: sequence p99.9 is 14,")
