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
    sim = _Simulation(stream, replica, efficiency, record_work)
    while sim.queue_arrivals():
        gens = sim.admit()
        if not sim.no_evict and gens:
            gens = sim.grow_blocks(gens)
            if not sim.act:
                continue
        # Decode only, and nothing can join before a completion (the queue's head does not fit) or before the
        # next arrival (nothing queued): advance to whichever comes first, else run one iteration.
        decode_only = not sim.ctx and 0 < len(gens) == len(sim.act)
        if not (decode_only and sim.decode_run(gens)):
            sim.iterate(gens)
        if sim.iterations > MAX_ITERATIONS:
            raise ValueError("the simulation ran past its iteration bound: the stream is far beyond what one "
                             "replica serves")
    return sim.outcome()


class _Simulation:
    """One replay's state: each request's progress, the queue, the requests in flight and the clock.

    Attributes, not locals of ``simulate``, so that each step of the loop is a method: steps run a few times per
    request and their calls cost little next to their array work (+0.1% instructions on the busiest hour)."""

    __slots__ = ("stream", "replica", "lim", "cost", "pool", "tpb", "no_evict", "mnt", "n", "arrival", "inp",
                 "target", "rejected", "reserved", "ctx_len", "ctx_done", "gen", "held", "first", "finish", "log",
                 "waiting", "act", "ctx", "now", "nxt", "iterations", "pauses", "max_in_flight")

    def __init__(self, stream: RequestStream, replica: Replica, efficiency: costs.Efficiency,
                 record_work: bool) -> None:
        lim = self.lim = replica.limits
        self.stream, self.replica = stream, replica
        self.cost = costs.CostModel(replica.hardware, efficiency)
        self.pool = KvPool(lim.kv_blocks, lim.tokens_per_block)
        self.tpb = lim.tokens_per_block
        self.no_evict = lim.scheduler is Scheduler.guaranteed_no_evict
        self.mnt = lim.max_num_tokens
        n = self.n = len(stream)
        self.arrival = stream.arrival_s
        inp = self.inp = stream.input_tokens.astype(np.int64)
        declared = stream.declared(lim.max_seq_len)
        self.target = np.maximum(np.minimum(np.minimum(stream.output_tokens.astype(np.int64), declared),
                                            lim.max_seq_len - inp), 1)
        self.reserved = np.minimum(inp + declared, lim.max_seq_len)
        self.rejected = _refused(stream, replica, self.target, self.reserved, self.pool)
        self.ctx_len = inp.copy()                   # tokens to (re)compute before generating
        self.ctx_done = np.zeros(n, dtype=np.int64)
        self.gen = np.zeros(n, dtype=np.int64)
        self.held = np.zeros(n, dtype=np.int64)     # blocks held
        self.first = np.full(n, np.nan)
        self.finish = np.full(n, np.nan)
        self.log = WorkLog() if record_work else None
        self.waiting: deque[int] = deque()
        self.act: list[int] = []     # in flight, admission order
        self.ctx: list[int] = []     # in flight and still computing context, admission order
        self.now = float(self.arrival[0]) if n else 0.0
        self.nxt = 0                 # next arrival not yet queued
        self.iterations = self.pauses = self.max_in_flight = 0

    def queue_arrivals(self) -> bool:
        """Queue the requests arrived by now; with nothing in flight or queued, move the clock to the next
        request served. False when none is left."""
        arrival, rejected, n, nxt = self.arrival, self.rejected, self.n, self.nxt
        while True:
            while nxt < n and arrival[nxt] <= self.now:
                if not rejected[nxt]:
                    self.waiting.append(nxt)
                nxt += 1
            if self.act or self.waiting:
                self.nxt = nxt
                return True
            while nxt < n and rejected[nxt]:
                nxt += 1
            if nxt >= n:
                self.nxt = nxt
                return False
            self.now = max(self.now, float(arrival[nxt]))

    def admission_blocks(self, r: int) -> int:
        """Blocks request ``r`` needs to be admitted (``scheduling.admission_blocks``)."""
        return scheduling.admission_blocks(self.lim.scheduler, self.pool, context_tokens=int(self.ctx_len[r]),
                                           reserved_tokens=int(self.reserved[r]))

    def admit(self) -> list[int]:
        """Admit what fits from the queue; the requests that generate a token this iteration."""
        act, ctx, held = self.act, self.ctx, self.held
        for r, blocks in scheduling.admit(self.waiting, self.admission_blocks, self.pool, in_flight=len(act),
                                          max_batch_size=self.lim.max_batch_size):
            act.append(r)
            ctx.append(r)
            held[r] = blocks
        self.max_in_flight = max(self.max_in_flight, len(act))
        ctx_set = set(ctx)
        gens = [r for r in act if r not in ctx_set]
        return gens[:self.mnt] if len(gens) > self.mnt else gens

    def grow_blocks(self, gens: list[int]) -> list[int]:
        """max_utilization: take the blocks this iteration's tokens need, pausing the newest requests when the
        pool is short; the generating requests left."""
        inp, gen, held, tpb = self.inp, self.gen, self.held, self.tpb
        g = np.asarray(gens, dtype=np.int64)
        grow = np.maximum(-(-(inp[g] + gen[g] + 1) // tpb) - held[g], 0)
        if int(grow.sum()) > self.pool.free:
            gens = self.pause(gens, grow)
            if not self.act:
                return gens
            g = np.asarray(gens, dtype=np.int64)
            grow = np.maximum(-(-(inp[g] + gen[g] + 1) // tpb) - held[g], 0)
        if len(g):
            self.pool.take(int(grow.sum()))
            held[g] += grow
        return gens

    def pause(self, gens: list[int], grow: NDArray[Any]) -> list[int]:
        """Pause requests, newest first, until the rest's growth fits: their blocks go back and their context
        is recomputed when readmitted (at the queue's head). The generating requests left."""
        act, held, pool = self.act, self.held, self.pool
        victims = scheduling.pause_victims(act, dict(zip(gens, grow.tolist())), {r: int(held[r]) for r in act},
                                           pool.free)
        for r in victims:
            pool.give(int(held[r]))
            held[r] = 0
            self.ctx_len[r] = self.inp[r] + self.gen[r]
            self.ctx_done[r] = 0
            self.waiting.appendleft(r)
        self.pauses += len(victims)
        gone = set(victims)
        act[:] = [r for r in act if r not in gone]
        self.ctx[:] = [r for r in self.ctx if r not in gone]
        return [r for r in gens if r not in gone]

    def decode_run(self, gens: list[int]) -> bool:
        """Decode iterations up to the next completion, arrival or block shortage in one step, priced as the
        arithmetic series they are. False (nothing done) when that is a single iteration."""
        inp, gen, held, tpb, no_evict = self.inp, self.gen, self.held, self.tpb, self.no_evict
        g = np.asarray(gens, dtype=np.int64)
        kv0 = float((inp[g] + gen[g]).sum())
        k = int((self.target[g] - gen[g]).min())
        if not self.waiting and self.nxt < self.n:
            k = min(k, self.cost.decode_iterations_until(len(g), kv0, float(self.arrival[self.nxt]) - self.now))
        if not no_evict and k > 1:
            k = _iterations_before_shortage(inp[g] + gen[g], held[g], self.pool.free, tpb, k)
        if k <= 1:
            return False
        # Block growth for the first iteration is taken already; take the rest of the run's now.
        if not no_evict:
            grown = -(-(inp[g] + gen[g] + k) // tpb)
            extra = np.maximum(grown - held[g], 0)
            self.pool.take(int(extra.sum()))
            held[g] += extra
        nb = len(g)
        self.now += self.cost.decode_run_s(nb, kv0, k)
        self.iterations += k
        if self.log is not None:
            self.log.add(k, nb, nb, k * kv0 + nb * k * (k - 1) / 2, 0.0)
        gen[g] += k
        self.finish_requests(g)
        return True

    def iterate(self, gens: list[int]) -> None:
        """One iteration: generation tokens first, then context chunks within max_num_tokens."""
        inp, gen, ctx_done, ctx_len = self.inp, self.gen, self.ctx_done, self.ctx_len
        g = np.asarray(gens, dtype=np.int64)
        chunks = scheduling.context_chunks([int(ctx_len[r] - ctx_done[r]) for r in self.ctx], self.mnt - len(gens),
                                           chunked=self.lim.chunked_context, tokens_per_block=self.tpb)
        if not chunks and not len(g):
            # Nothing can run (cannot happen with the refusals of _refused); wait for the next arrival.
            if self.nxt >= self.n:
                raise ValueError("the simulation stalled with requests in flight and nothing schedulable")
            self.now = max(self.now, float(self.arrival[self.nxt]))
            return
        kv = float((inp[g] + gen[g]).sum()) if len(g) else 0.0
        pairs = 0.0
        sampled = len(g)
        ctx_ids = self.ctx[:len(chunks)]
        for r, c in zip(ctx_ids, chunks):
            p = float(ctx_done[r])
            pairs += c * p + c * (c + 1) / 2
            if ctx_done[r] + c >= ctx_len[r]:
                sampled += 1
        tokens = len(g) + sum(chunks)
        self.now += self.cost.seconds(costs.Work(tokens, sampled, kv, pairs))
        self.iterations += 1
        if self.log is not None:
            self.log.add(1, tokens, sampled, kv, pairs)
        if len(g):
            gen[g] += 1
        ids = np.asarray(gens + self.complete_contexts(ctx_ids, chunks), dtype=np.int64)
        if len(ids):
            self.finish_requests(ids)

    def complete_contexts(self, ctx_ids: list[int], chunks: list[int]) -> list[int]:
        """Count this iteration's chunks done; the requests whose context is complete (a first token for those
        that never had one), no longer in the context list."""
        ctx_done, ctx_len, gen = self.ctx_done, self.ctx_len, self.gen
        started: list[int] = []
        for r, c in zip(ctx_ids, chunks):
            ctx_done[r] += c
            if ctx_done[r] >= ctx_len[r]:
                started.append(r)
                if gen[r] == 0:      # a resumed request recomputed its context: no new first token
                    gen[r] = 1
                    self.first[r] = self.now
        if started:
            done_ctx = set(started)
            self.ctx[:] = [r for r in self.ctx if r not in done_ctx]
        return started

    def finish_requests(self, ids: NDArray[Any]) -> None:
        """Of ``ids``, those that reached their target finish now and give their blocks back."""
        done = ids[self.gen[ids] >= self.target[ids]]
        if len(done) == 0:
            return
        self.finish[done] = self.now
        held = self.held
        for r in done.tolist():
            self.pool.give(int(held[r]))
            held[r] = 0
        gone = set(done.tolist())
        self.act[:] = [r for r in self.act if r not in gone]

    def outcome(self) -> Outcome:
        stream, rejected = self.stream, self.rejected
        served_out = np.where(rejected, 0, self.gen)
        stopped = ~rejected & (self.target < stream.output_tokens)
        return Outcome(arrival_s=self.arrival.copy(), first_token_s=self.first, finish_s=self.finish,
                       output_tokens=served_out, rejected=rejected, limit_stopped=stopped, gpus=self.replica.gpus,
                       iterations=self.iterations, pauses=self.pauses, max_in_flight=self.max_in_flight,
                       work=self.log)


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
