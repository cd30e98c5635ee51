"""TensorRT-LLM's two schedulers, as the serving model applies them each iteration.

* **Capacity scheduler** (which requests are in flight), by ``batch_scheduler_policy``:
  ``guaranteed_no_evict`` admits a request only when the KV pool can hold its prompt plus its whole
  declared output (``min(prompt + max_new_tokens, max_seq_len)``), reserved up front, so nothing started is
  ever evicted; ``max_utilization`` admits a request when its prompt fits, allocates blocks as tokens are
  generated and, when an iteration needs more blocks than are free, pauses the most recently admitted
  requests (their KV is dropped and recomputed when they resume). Both admit in arrival order and stop at
  the first request that does not fit, and never hold more than ``max_batch_size`` requests.
* **Micro-batch scheduler** (what one iteration computes): every generating request's next token first,
  then context in admission order within ``max_num_tokens``; with chunked context a prompt that does not
  fit is cut to a multiple of ``tokens_per_block``, without it the prompt waits whole.

Functions over plain numbers and the ``KvPool``; the simulation loop (``simulating``) owns the state.
No I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from seasonal_engines.core.serving.engines import Scheduler
from seasonal_engines.core.serving.kv_pool import KvPool


def reservation_tokens(input_tokens: int, declared_output: int, max_seq_len: int) -> int:
    """Tokens ``guaranteed_no_evict`` reserves for a request: prompt + declared output, capped by the engine."""
    return min(input_tokens + declared_output, max_seq_len)


def admission_blocks(policy: Scheduler, pool: KvPool, *, context_tokens: int, reserved_tokens: int) -> int:
    """Blocks a waiting request must get to be admitted: its whole reservation (no-evict) or the KV of the
    context it must (re)compute plus the first generated token (max-utilization)."""
    if policy is Scheduler.guaranteed_no_evict:
        return pool.blocks_for(reserved_tokens)
    return pool.blocks_for(context_tokens + 1)


def admit(waiting: deque[int], need: Callable[[int], int], pool: KvPool, *, in_flight: int,
          max_batch_size: int) -> list[tuple[int, int]]:
    """Admit from the head of ``waiting`` while requests fit: ``(request, blocks taken)`` in order. Stops at
    the first request whose ``need`` the pool cannot give (no overtaking) or at ``max_batch_size``."""
    admitted: list[tuple[int, int]] = []
    while waiting and in_flight + len(admitted) < max_batch_size:
        r = waiting[0]
        blocks = need(r)
        if not pool.take(blocks):
            break
        waiting.popleft()
        admitted.append((r, blocks))
    return admitted


def context_chunks(remaining: Sequence[int], budget: int, *, chunked: bool, tokens_per_block: int) -> list[int]:
    """Context tokens scheduled this iteration for requests with ``remaining`` prompt tokens each (admission
    order), within ``budget`` tokens. The list stops at the first request that gets nothing."""
    chunks: list[int] = []
    for rem in remaining:
        if budget <= 0:
            break
        if rem <= budget:
            take = rem
        elif chunked:
            take = budget - budget % tokens_per_block
        else:
            take = 0
        if take <= 0:
            break
        chunks.append(take)
        budget -= take
    return chunks


def pause_victims(order: Sequence[int], need: dict[int, int], held: dict[int, int], free: int) -> list[int]:
    """``max_utilization`` under pressure: the requests to pause, newest admitted first, until the blocks
    that the remaining requests need this iteration (``need``) fit in ``free`` plus what the paused ones
    held. ``order`` is oldest first."""
    total = sum(need.get(r, 0) for r in order)
    victims: list[int] = []
    for r in reversed(order):
        if total <= free:
            break
        victims.append(r)
        free += held.get(r, 0)
        total -= need.get(r, 0)
    return victims


__all__ = ["reservation_tokens", "admission_blocks", "admit", "context_chunks", "pause_victims"]
