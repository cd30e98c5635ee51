"""The KV pool and the schedulers of the serving model against hand-computed small cases."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from seasonal_engines.core.serving import requests, scheduling, simulating
from seasonal_engines.core.serving.engines import EngineLimits, Scheduler
from seasonal_engines.core.serving.kv_pool import KvPool
from tests.core.serving_fixtures import EXACT, flat_hardware, replica

# --- the KV pool -------------------------------------------------------------------------------------


def test_a_sequence_holds_whole_blocks() -> None:
    pool = KvPool(total_blocks=4, tokens_per_block=16)
    assert [pool.blocks_for(t) for t in (1, 16, 17, 32, 33)] == [1, 1, 2, 2, 3]


def test_the_pool_gives_only_what_it_has_and_takes_back_only_what_it_gave() -> None:
    pool = KvPool(total_blocks=4, tokens_per_block=16)
    assert pool.take(3) and pool.free == 1
    assert not pool.take(2) and pool.free == 1, "a refused allocation takes nothing"
    pool.give(3)
    assert pool.free == 4
    with pytest.raises(ValueError, match="returning"):
        pool.give(1)


# --- the capacity scheduler ---------------------------------------------------------------------------


def test_no_evict_reserves_prompt_plus_declared_output_capped_by_the_engine() -> None:
    pool = KvPool(total_blocks=100, tokens_per_block=16)
    assert scheduling.reservation_tokens(100, 50, 1024) == 150
    assert scheduling.reservation_tokens(1000, 500, 1024) == 1024
    assert scheduling.admission_blocks(Scheduler.guaranteed_no_evict, pool, context_tokens=100,
                                       reserved_tokens=150) == 10          # ceil(150 / 16)
    assert scheduling.admission_blocks(Scheduler.max_utilization, pool, context_tokens=100,
                                       reserved_tokens=150) == 7           # ceil(101 / 16): prompt + 1 token


def test_admission_is_first_come_and_stops_at_the_first_that_does_not_fit() -> None:
    pool = KvPool(total_blocks=5, tokens_per_block=16)
    need = {0: 2, 1: 4, 2: 1}
    waiting = deque([0, 1, 2])
    admitted = scheduling.admit(waiting, need.__getitem__, pool, in_flight=0, max_batch_size=8)
    assert admitted == [(0, 2)], "request 2 would fit, but it does not overtake request 1"
    assert list(waiting) == [1, 2] and pool.free == 3


def test_admission_stops_at_max_batch_size() -> None:
    pool = KvPool(total_blocks=100, tokens_per_block=16)
    waiting = deque(range(5))
    admitted = scheduling.admit(waiting, lambda r: 1, pool, in_flight=2, max_batch_size=4)
    assert [r for r, _ in admitted] == [0, 1]


def test_pausing_takes_the_newest_requests_until_the_rest_fit() -> None:
    # Requests 0, 1, 2 admitted in that order, each needing one more block, each holding two; one block free.
    victims = scheduling.pause_victims([0, 1, 2], need={0: 1, 1: 1, 2: 1}, held={0: 2, 1: 2, 2: 2}, free=1)
    assert victims == [2], "pausing request 2 frees two blocks and removes its own need: 1 + 2 >= 2"
    assert scheduling.pause_victims([0, 1], need={0: 1, 1: 1}, held={0: 0, 1: 0}, free=0) == [1, 0]
    assert scheduling.pause_victims([0, 1], need={0: 1, 1: 1}, held={0: 2, 1: 2}, free=5) == []


# --- the micro-batch scheduler ------------------------------------------------------------------------


def test_chunked_context_cuts_prompts_to_whole_blocks_within_the_budget() -> None:
    assert scheduling.context_chunks([100], 40, chunked=True, tokens_per_block=16) == [32]
    assert scheduling.context_chunks([10, 100], 40, chunked=True, tokens_per_block=16) == [10, 16]
    assert scheduling.context_chunks([10, 100], 20, chunked=True, tokens_per_block=16) == [10], \
        "10 tokens of budget left hold no whole block"


def test_without_chunked_context_a_prompt_waits_whole() -> None:
    assert scheduling.context_chunks([30, 20, 5], 40, chunked=False, tokens_per_block=16) == [30], \
        "the second prompt does not fit and the third does not overtake it"
    assert scheduling.context_chunks([100], 64, chunked=False, tokens_per_block=16) == []


# --- the simulation loop ------------------------------------------------------------------------------


def test_one_request_first_token_after_its_prefill_then_one_token_per_iteration() -> None:
    # 1 ms per iteration plus 1 us per KV token each generating request reads.
    rep = replica(hardware=flat_hardware(iteration_s=1e-3, kv_token_s=1e-6))
    out = simulating.simulate(requests.from_arrays([0.0], [10], [5]), rep, EXACT)
    assert out.first_token_s[0] == pytest.approx(1e-3)
    # Four decode iterations read 11, 12, 13 and 14 KV tokens.
    assert out.finish_s[0] == pytest.approx(1e-3 + 4e-3 + (11 + 12 + 13 + 14) * 1e-6)
    assert out.itl_s[0] == pytest.approx((4e-3 + 50e-6) / 4)
    assert out.iterations == 5 and out.output_tokens[0] == 5


def test_no_evict_holds_back_a_request_until_a_reservation_is_released() -> None:
    # Pool 64 tokens in blocks of 16; max_seq_len 32; clients declare nothing, so each of three requests
    # (prompt 8, output 4) reserves 32 tokens = 2 blocks: two fit, the third waits for the first to finish.
    rep = replica(max_input_len=32, max_seq_len=32, kv_pool_tokens=64, tokens_per_block=16)
    out = simulating.simulate(requests.from_arrays([0.0] * 3, [8] * 3, [4] * 3), rep, EXACT)
    assert out.max_in_flight == 2
    assert out.first_token_s.tolist() == pytest.approx([1e-3, 1e-3, 5e-3])
    assert out.finish_s.tolist() == pytest.approx([4e-3, 4e-3, 8e-3])


def test_a_tighter_max_seq_len_admits_all_three_at_once() -> None:
    # The same requests on a 16-token engine reserve 16 tokens each: all three fit in 64.
    rep = replica(max_input_len=16, max_seq_len=16, kv_pool_tokens=64, tokens_per_block=16)
    out = simulating.simulate(requests.from_arrays([0.0] * 3, [8] * 3, [4] * 3), rep, EXACT)
    assert out.max_in_flight == 3
    assert out.finish_s.tolist() == pytest.approx([4e-3] * 3)


def test_declared_budgets_reserve_only_what_they_ask_for() -> None:
    rep = replica(max_input_len=32, max_seq_len=32, kv_pool_tokens=64, tokens_per_block=16)
    stream = requests.from_arrays([0.0] * 3, [8] * 3, [4] * 3, max_new_tokens=[8] * 3)  # 16 tokens each
    assert simulating.simulate(stream, rep, EXACT).max_in_flight == 3


def test_max_utilization_pauses_the_newest_and_recomputes_it_later() -> None:
    # Two blocks of 4 tokens. Both requests (prompt 3, output 4) are admitted with one block each; their
    # second token needs a second block each, so the newer is paused, the older runs to the end (4 ms),
    # then the paused one recomputes its 4 tokens (5 ms) and generates its last three (8 ms).
    rep = replica(kv_pool_tokens=8, tokens_per_block=4, scheduler=Scheduler.max_utilization)
    out = simulating.simulate(requests.from_arrays([0.0, 0.0], [3, 3], [4, 4]), rep, EXACT)
    assert out.pauses == 1
    assert out.first_token_s.tolist() == pytest.approx([1e-3, 1e-3]), "the paused request keeps its first token"
    assert out.finish_s.tolist() == pytest.approx([4e-3, 8e-3])
    assert out.output_tokens.tolist() == [4, 4]


def test_chunked_prefill_takes_as_many_iterations_as_the_budget_needs() -> None:
    rep = replica(max_input_len=128, max_seq_len=256, max_num_tokens=32, tokens_per_block=16)
    out = simulating.simulate(requests.from_arrays([0.0], [100], [1]), rep, EXACT)
    assert out.iterations == 4 and out.first_token_s[0] == pytest.approx(4e-3)  # 32 + 32 + 32 + 4


def test_requests_beyond_the_engine_are_refused_and_long_outputs_stop_at_max_seq_len() -> None:
    rep = replica(max_input_len=16, max_seq_len=32, max_num_tokens=64)
    out = simulating.simulate(requests.from_arrays([0.0, 0.0, 0.0], [17, 16, 8], [4, 100, 4]), rep, EXACT)
    assert out.rejected.tolist() == [True, False, False]
    assert out.output_tokens.tolist() == [0, 16, 4], "16 prompt tokens leave 16 output tokens in 32"
    assert out.limit_stopped.tolist() == [False, True, False]
    whole = replica(max_input_len=64, max_seq_len=64, max_num_tokens=32, chunked_context=False)
    assert simulating.simulate(requests.from_arrays([0.0], [40], [1]), whole, EXACT).rejected.tolist() == [True], \
        "without chunked context a prompt over max_num_tokens can never be scheduled"
    tiny = replica(max_input_len=64, max_seq_len=64, kv_pool_tokens=32)
    assert simulating.simulate(requests.from_arrays([0.0], [8], [4]), tiny, EXACT).rejected.tolist() == [True], \
        "a 64-token reservation can never fit a 32-token pool"


def test_an_idle_replica_waits_for_the_next_arrival() -> None:
    rep = replica()
    out = simulating.simulate(requests.from_arrays([0.0, 10.0], [8, 8], [2, 2]), rep, EXACT)
    assert out.first_token_s.tolist() == pytest.approx([1e-3, 10.001])
    assert out.makespan_s == pytest.approx(10.002)


def test_decoding_to_an_arrival_stops_at_the_iteration_the_arrival_falls_in() -> None:
    # One long decode; a second request arrives at 2.5 ms and is prefilled in the iteration starting at 3 ms.
    rep = replica()
    out = simulating.simulate(requests.from_arrays([0.0, 2.5e-3], [8, 8], [10, 1]), rep, EXACT)
    assert out.first_token_s[1] == pytest.approx(4e-3)
    assert out.finish_s[0] == pytest.approx(10e-3), "the prompt rides along in an iteration of the decode"


def test_limits_and_streams_refuse_bad_input_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="max_input_len"):
        EngineLimits(max_input_len=100, max_seq_len=50, max_batch_size=1, max_num_tokens=64, kv_pool_tokens=64)
    with pytest.raises(ValueError, match="max_batch_size"):
        EngineLimits(max_input_len=10, max_seq_len=50, max_batch_size=0, max_num_tokens=64, kv_pool_tokens=64)
    with pytest.raises(ValueError, match="sorted"):
        requests.RequestStream(np.array([1.0, 0.0]), np.array([1, 1]), np.array([1, 1]))
    with pytest.raises(ValueError, match="at least one"):
        requests.RequestStream(np.array([0.0]), np.array([0]), np.array([1]))
