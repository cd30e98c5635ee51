"""Scoring what serving a trace costs: the hour grid, which engine served which share of an hour, the replica
an envelope is, and the capacity search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seasonal_engines.cli import replay as cli
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.serving import predictions, requests
from seasonal_engines.core.serving.engines import Scheduler
from seasonal_engines.core.sizing import gpus, memory, models
from seasonal_engines.replay import costs
from seasonal_engines.traces.readers import Trace

REPO = Path(__file__).resolve().parents[2]
SPEC = cli.load_spec(REPO / "examples" / "replay" / "servegen-m-large.yaml", [])


def test_the_hour_grid_covers_partial_hours_by_their_seconds() -> None:
    trace = Trace(np.array([1800.0, 3000.0, 3700.0, 9000.0]), np.ones(4, np.int64), np.ones(4, np.int64))
    starts, covered, counts = costs._hour_grid(trace)
    assert starts.tolist() == [0.0, 3600.0, 7200.0]
    assert covered.tolist() == [1800.0, 3600.0, 1800.0]
    assert counts.tolist() == [2.0, 1.0, 1.0]


def test_each_hour_is_split_between_the_engines_that_served_in_it() -> None:
    a, b = Envelope(1, 2, 1, 1), Envelope(3, 4, 1, 1)
    per = costs._segments_per_hour([(-100.0, a), (5400.0, b)], np.array([0.0, 3600.0, 7200.0]), 10800.0)
    assert per[0] == [(a, 1.0)]
    assert per[1] == [(a, 0.5), (b, 0.5)]
    assert per[2] == [(b, 1.0)]


def test_a_replica_from_an_envelope_has_the_kv_pool_the_memory_model_gives() -> None:
    env = Envelope(8192, 8192, 256, 8192)
    rep = costs.replica_for(SPEC, env)
    budget = memory.budget(models.preset("llama-3.1-8b"), gpus.preset("h100"), dtype="bfloat16",
                           weights_quant="none", kv_quant="auto", tp=1, pp=1, max_num_tokens=8192,
                           max_batch_size=256, free_fraction=0.9, tokens_per_block=32)
    assert rep.limits.kv_pool_tokens == budget.kv_pool_tokens
    assert rep.limits.scheduler is Scheduler.guaranteed_no_evict and rep.limits.chunked_context
    assert costs.replica_for(SPEC, env, Scheduler.max_utilization).limits.scheduler is Scheduler.max_utilization


def test_capacity_falls_with_the_reservation_and_not_under_max_utilization() -> None:
    rng = np.random.default_rng(0)
    mix = requests.resampled(rng.integers(100, 1500, 500), rng.integers(20, 300, 500), rate_rps=1.0, n=300)
    settings = costs.CostSettings(predictions.Slo(ttft_p99_s=2.0, itl_p99_s=0.1), sample=300)
    short = costs.capacity_rps(mix, costs.replica_for(SPEC, Envelope(4096, 4096, 256, 8192)), settings)
    long = costs.capacity_rps(mix, costs.replica_for(SPEC, Envelope(4096, 65536, 256, 8192)), settings)
    assert short is not None and long is not None and short > 2 * long, \
        "each request reserves max_seq_len: 16x the reservation, far fewer requests in flight"
    free = costs.capacity_rps(mix, costs.replica_for(SPEC, Envelope(4096, 65536, 256, 8192),
                                                     Scheduler.max_utilization), settings)
    assert free is not None and free >= short * 0.9


def test_an_unreachable_slo_has_no_capacity() -> None:
    mix = requests.resampled(np.array([30000]), np.array([10]), rate_rps=1.0, n=60)
    settings = costs.CostSettings(predictions.Slo(ttft_p99_s=0.05), sample=60)
    assert costs.capacity_rps(mix, costs.replica_for(SPEC, Envelope(32768, 32768, 256, 8192)), settings) is None


def test_cost_settings_are_bounded() -> None:
    with pytest.raises(ValueError, match="rate_scale"):
        costs.CostSettings(predictions.Slo(1.0), rate_scale=0)
