"""A discrete-event simulation of TensorRT-LLM's in-flight batching on one replica.

Requests arrive (``requests.RequestStream``); those beyond the engine's limits are refused (prompt over
``max_input_len``, no room for one output token under ``max_seq_len``, without chunked context a prompt over
``max_num_tokens``, or a request the whole KV pool could never hold); the rest wait in arrival order. Each
iteration the capacity scheduler admits what fits (``scheduling``), the micro-batch scheduler composes the
iteration (one token per generating request, then context chunks), the cost model prices it (``costs``),
and time moves on by that much. A request's first token comes at the end of the iteration that finishes
its prompt; it stops at its real output, its declared budget or ``max_seq_len``, whichever comes first.

Stretches in which nothing but decoding happens (no prompt in flight, nothing that can be admitted) are
advanced in one step up to the next completion, arrival or (``max_utilization``) block shortage, with the
iteration times summed as the arithmetic series they are: the loop costs a few steps per request, not
one per token. Pure computation; the stream and the replica come in, an ``Outcome`` goes out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core.serving import costs, scheduling
from seasonal_engines.core.serving.engines import Replica, Scheduler
from seasonal_engines.core.serving.kv_pool import KvPool
from seasonal_engines.core.serving.requests import RequestStream

MAX_ITERATIONS = 50_000_000  # a stream that needs more is far beyond one replica's capacity


@dataclass(eq=False)
class WorkLog:
    """Every iteration's work, runs of identical decode iterations as one row (``iterations`` > 1): enough to
    re-price a simulation whose schedule does not depend on time (a burst) under other constants."""

    iterations: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    sampled: list[int] = field(default_factory=list)
    kv_tokens: list[float] = field(default_factory=list)   # total over the row's iterations
    pairs: list[float] = field(default_factory=list)       # total over the row's iterations

    def add(self, k: int, tokens: int, sampled: int, kv_tokens: float, pairs: float) -> None:
        self.iterations.append(k)
        self.tokens.append(tokens)
        self.sampled.append(sampled)
        self.kv_tokens.append(kv_tokens)
        self.pairs.append(pairs)

    def arrays(self) -> dict[str, NDArray[Any]]:
        return {"iterations": np.asarray(self.iterations, dtype=np.float64),
                "tokens": np.asarray(self.tokens, dtype=np.float64),
                "sampled": np.asarray(self.sampled, dtype=np.float64),
                "kv_tokens": np.asarray(self.kv_tokens, dtype=np.float64),
                "pairs": np.asarray(self.pairs, dtype=np.float64)}


@dataclass(frozen=True, eq=False)
class Outcome:
    """What one replica did with a stream. Times are seconds on the stream's clock; NaN where refused."""

    arrival_s: NDArray[Any]
    first_token_s: NDArray[Any]
    finish_s: NDArray[Any]
    output_tokens: NDArray[Any]      # tokens generated (0 when refused)
    rejected: NDArray[Any]           # refused at arrival: beyond the engine's limits
    limit_stopped: NDArray[Any]      # stopped before its real output: declared budget or max_seq_len
    gpus: int
    iterations: int
    pauses: int                    # max_utilization pauses (each recomputes the paused context)
    max_in_flight: int
    work: WorkLog | None = None

    @property
    def served(self) -> NDArray[Any]:
        return ~self.rejected

    @property
    def ttft_s(self) -> NDArray[Any]:
        """Time to first token of every served request, queueing included."""
        s = self.served
        return cast(NDArray[Any], self.first_token_s[s] - self.arrival_s[s])

    @property
    def itl_s(self) -> NDArray[Any]:
        """Mean time between output tokens of every served request with two or more (its TPOT)."""
        s = self.served & (self.output_tokens >= 2)
        return cast(NDArray[Any], (self.finish_s[s] - self.first_token_s[s]) / (self.output_tokens[s] - 1))

    @property
    def makespan_s(self) -> float:
        """First arrival to last finish."""
        s = self.served
        if not s.any():
            return 0.0
        return float(np.nanmax(self.finish_s[s]) - np.min(self.arrival_s))

    @property
    def output_tokens_per_s_per_gpu(self) -> float:
        """Output tokens over the makespan, per GPU: what ``trtllm-bench`` reports as per-GPU output throughput."""
        span = self.makespan_s
        return float(self.output_tokens.sum()) / span / self.gpus if span > 0 else 0.0


def _refused(stream: RequestStream, replica: Replica, target: NDArray[Any], reserved: NDArray[Any],
             pool: KvPool) -> NDArray[Any]:
    lim = replica.limits
    inp = stream.input_tokens
    refused = (inp > lim.max_input_len) | (inp >= lim.max_seq_len)
    if not lim.chunked_context:
        refused |= inp > lim.max_num_tokens
    tpb = lim.tokens_per_block
    if lim.scheduler is Scheduler.guaranteed_no_evict:
        refused |= -(-reserved // tpb) > pool.total
    else:
        refused |= -(-(inp + target) // tpb) > pool.total
    return refused


def simulate(stream: RequestStream, replica: Replica, efficiency: costs.Efficiency, *,
             record_work: bool = False) -> Outcome:
    """Replay ``stream`` on ``replica`` priced by ``efficiency``; ``record_work`` keeps the ``WorkLog``."""
    lim = replica.limits
    cost = costs.CostModel(replica.hardware, efficiency)
    pool = KvPool(lim.kv_blocks, lim.tokens_per_block)
    tpb = lim.tokens_per_block
    no_evict = lim.scheduler is Scheduler.guaranteed_no_evict
    n = len(stream)
    arrival = stream.arrival_s
    inp = stream.input_tokens.astype(np.int64)
    declared = stream.declared(lim.max_seq_len)
    target = np.maximum(np.minimum(np.minimum(stream.output_tokens.astype(np.int64), declared),
                                   lim.max_seq_len - inp), 1)
    reserved = np.minimum(inp + declared, lim.max_seq_len)
    rejected = _refused(stream, replica, target, reserved, pool)
    ctx_len = inp.copy()                        # tokens to (re)compute before generating
    ctx_done = np.zeros(n, dtype=np.int64)
    gen = np.zeros(n, dtype=np.int64)
    held = np.zeros(n, dtype=np.int64)          # blocks held
    first = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    log = WorkLog() if record_work else None

    waiting: deque[int] = deque()
    act: list[int] = []      # in flight, admission order
    ctx: list[int] = []      # in flight and still computing context, admission order
    now = float(arrival[0]) if n else 0.0
    nxt = 0                  # next arrival not yet queued
    iterations = pauses = max_in_flight = 0
    mnt = lim.max_num_tokens

    def need(r: int) -> int:
        return scheduling.admission_blocks(lim.scheduler, pool, context_tokens=int(ctx_len[r]),
                                           reserved_tokens=int(reserved[r]))

    def finish_requests(ids: NDArray[Any]) -> None:
        done = ids[gen[ids] >= target[ids]]
        if len(done) == 0:
            return
        finish[done] = now
        for r in done.tolist():
            pool.give(int(held[r]))
            held[r] = 0
        gone = set(done.tolist())
        act[:] = [r for r in act if r not in gone]

    while True:
        while nxt < n and arrival[nxt] <= now:
            if not rejected[nxt]:
                waiting.append(nxt)
            nxt += 1
        if not act and not waiting:
            while nxt < n and rejected[nxt]:
                nxt += 1
            if nxt >= n:
                break
            now = max(now, float(arrival[nxt]))
            continue

        for r, blocks in scheduling.admit(waiting, need, pool, in_flight=len(act), max_batch_size=lim.max_batch_size):
            act.append(r)
            ctx.append(r)
            held[r] = blocks
        max_in_flight = max(max_in_flight, len(act))
        ctx_set = set(ctx)
        gens = [r for r in act if r not in ctx_set]
        if len(gens) > mnt:
            gens = gens[:mnt]

        if not no_evict and gens:
            g = np.asarray(gens, dtype=np.int64)
            grow = np.maximum(-(-(inp[g] + gen[g] + 1) // tpb) - held[g], 0)
            if int(grow.sum()) > pool.free:
                victims = scheduling.pause_victims(act, dict(zip(gens, grow.tolist())),
                                                   {r: int(held[r]) for r in act}, pool.free)
                for r in victims:
                    pool.give(int(held[r]))
                    held[r] = 0
                    ctx_len[r] = inp[r] + gen[r]
                    ctx_done[r] = 0
                    waiting.appendleft(r)
                pauses += len(victims)
                gone = set(victims)
                act[:] = [r for r in act if r not in gone]
                ctx[:] = [r for r in ctx if r not in gone]
                gens = [r for r in gens if r not in gone]
                if not act:
                    continue
                g = np.asarray(gens, dtype=np.int64)
                grow = np.maximum(-(-(inp[g] + gen[g] + 1) // tpb) - held[g], 0)
            if len(g):
                pool.take(int(grow.sum()))
                held[g] += grow

        if not ctx and gens and len(gens) == len(act):
            # Decode only, and nothing can join before a completion (the queue's head does not fit) or
            # before the next arrival (nothing queued): advance to whichever comes first.
            g = np.asarray(gens, dtype=np.int64)
            kv0 = float((inp[g] + gen[g]).sum())
            k = int((target[g] - gen[g]).min())
            if not waiting and nxt < n:
                k = min(k, cost.decode_iterations_until(len(g), kv0, float(arrival[nxt]) - now))
            if not no_evict and k > 1:
                k = _iterations_before_shortage(inp[g] + gen[g], held[g], pool.free, tpb, k)
            if k > 1:
                # Block growth for the first iteration is taken above; take the rest of the run's now.
                if not no_evict:
                    grown = -(-(inp[g] + gen[g] + k) // tpb)
                    extra = np.maximum(grown - held[g], 0)
                    pool.take(int(extra.sum()))
                    held[g] += extra
                nb = len(g)
                now += cost.decode_run_s(nb, kv0, k)
                iterations += k
                if log is not None:
                    log.add(k, nb, nb, k * kv0 + nb * k * (k - 1) / 2, 0.0)
                gen[g] += k
                finish_requests(g)
                if iterations > MAX_ITERATIONS:
                    raise ValueError("the simulation ran past its iteration bound: the stream is far beyond "
                                     "what one replica serves")
                continue

        # One iteration: generation tokens first, then context chunks within max_num_tokens.
        g = np.asarray(gens, dtype=np.int64)
        chunks = scheduling.context_chunks([int(ctx_len[r] - ctx_done[r]) for r in ctx], mnt - len(gens),
                                           chunked=lim.chunked_context, tokens_per_block=tpb)
        if not chunks and not len(g):
            # Nothing can run (cannot happen with the refusals above); wait for the next arrival.
            if nxt >= n:
                raise ValueError("the simulation stalled with requests in flight and nothing schedulable")
            now = max(now, float(arrival[nxt]))
            continue
        kv = float((inp[g] + gen[g]).sum()) if len(g) else 0.0
        pairs = 0.0
        sampled = len(g)
        ctx_ids = ctx[:len(chunks)]
        for r, c in zip(ctx_ids, chunks):
            p = float(ctx_done[r])
            pairs += c * p + c * (c + 1) / 2
            if ctx_done[r] + c >= ctx_len[r]:
                sampled += 1
        tokens = len(g) + sum(chunks)
        now += cost.seconds(costs.Work(tokens, sampled, kv, pairs))
        iterations += 1
        if log is not None:
            log.add(1, tokens, sampled, kv, pairs)
        if len(g):
            gen[g] += 1
        started: list[int] = []
        for r, c in zip(ctx_ids, chunks):
            ctx_done[r] += c
            if ctx_done[r] >= ctx_len[r]:
                started.append(r)
                if gen[r] == 0:      # a resumed request recomputed its context: no new first token
                    gen[r] = 1
                    first[r] = now
        if started:
            done_ctx = set(started)
            ctx[:] = [r for r in ctx if r not in done_ctx]
        ids = np.asarray(gens + started, dtype=np.int64)
        if len(ids):
            finish_requests(ids)
        if iterations > MAX_ITERATIONS:
            raise ValueError("the simulation ran past its iteration bound: the stream is far beyond what one "
                             "replica serves")

    served_out = np.where(rejected, 0, gen)
    stopped = ~rejected & (target < stream.output_tokens)
    return Outcome(arrival_s=arrival.copy(), first_token_s=first, finish_s=finish, output_tokens=served_out,
                   rejected=rejected, limit_stopped=stopped, gpus=replica.gpus, iterations=iterations,
                   pauses=pauses, max_in_flight=max_in_flight, work=log)


def _iterations_before_shortage(tokens: NDArray[Any], held: NDArray[Any], free: int, tpb: int, k: int) -> int:
    """The most decode iterations (at most ``k``) the free blocks allow before one more is needed."""
    def short(j: int) -> bool:
        return int(np.maximum(-(-(tokens + j) // tpb) - held, 0).sum()) > free
    if not short(k):
        return k
    lo, hi = 1, k  # short(1) is False: the first iteration's blocks are already held
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if short(mid):
            hi = mid
        else:
            lo = mid
    return lo


__all__ = ["simulate", "Outcome", "WorkLog", "MAX_ITERATIONS"]
