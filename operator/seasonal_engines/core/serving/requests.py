"""The request stream a serving simulation replays: arrival times, prompt and output lengths, and the
output budget each client declares.

Under ``guaranteed_no_evict`` TensorRT-LLM reserves KV blocks for prompt + declared maximum output, so the
declared budget matters as much as the real output. ``max_new_tokens`` holds it per request; ``None``
means the OpenAI-style frontend default, ``max_seq_len - prompt``, which is what most clients send (they
set no ``max_tokens``). Streams come from a trace's arrays, from a window's histograms (lengths drawn
within buckets, Poisson arrivals), or as a benchmark burst (every request at time 0). Pure: numpy only,
randomness from an explicit seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core.histograms import Histogram

MAX_REQUESTS = 10_000_000


@dataclass(frozen=True, eq=False)
class RequestStream:
    """Requests sorted by arrival. Lengths are tokens; ``max_new_tokens`` None: the frontend default."""

    arrival_s: NDArray[Any]
    input_tokens: NDArray[Any]
    output_tokens: NDArray[Any]
    max_new_tokens: NDArray[Any] | None = None

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        if n > MAX_REQUESTS:
            raise ValueError(f"a request stream holds at most {MAX_REQUESTS:,} requests, got {n:,}: simulate a "
                             "shorter window")
        arrays = [self.input_tokens, self.output_tokens] + ([self.max_new_tokens] if self.max_new_tokens is not
                                                           None else [])
        if any(len(a) != n for a in arrays):
            raise ValueError("request stream columns must have the same length")
        if n and np.any(np.diff(self.arrival_s) < 0):
            raise ValueError("request arrivals must be sorted by time")
        if n and (np.min(self.input_tokens) < 1 or np.min(self.output_tokens) < 1):
            raise ValueError("every request needs at least one prompt token and one output token")
        if self.max_new_tokens is not None and n and np.min(self.max_new_tokens) < 1:
            raise ValueError("max_new_tokens must be at least 1 where given")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) > 1 else 0.0

    def declared(self, max_seq_len: int) -> NDArray[Any]:
        """Output tokens each request reserves room for: its own budget, else ``max_seq_len - prompt``."""
        room = np.maximum(max_seq_len - self.input_tokens.astype(np.int64), 1)
        if self.max_new_tokens is None:
            return room
        return np.minimum(self.max_new_tokens.astype(np.int64), room)

    def share(self, replicas: int, index: int = 0) -> RequestStream:
        """What replica ``index`` of ``replicas`` receives from a round-robin load balancer."""
        if replicas < 1 or not 0 <= index < replicas:
            raise ValueError(f"replica index {index} must be in [0, {replicas})")
        sl = slice(index, None, replicas)
        return RequestStream(self.arrival_s[sl], self.input_tokens[sl], self.output_tokens[sl],
                             None if self.max_new_tokens is None else self.max_new_tokens[sl])


def from_arrays(arrival_s: NDArray[Any], input_tokens: NDArray[Any], output_tokens: NDArray[Any],
                max_new_tokens: NDArray[Any] | None = None) -> RequestStream:
    """A stream from per-request columns (a trace), sorted by arrival; lengths below 1 become 1."""
    t = np.asarray(arrival_s, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    inp = np.maximum(np.asarray(input_tokens, dtype=np.int64)[order], 1)
    out = np.maximum(np.asarray(output_tokens, dtype=np.int64)[order], 1)
    mnt = None if max_new_tokens is None else np.maximum(np.asarray(max_new_tokens, dtype=np.int64)[order], 1)
    return RequestStream(t[order], inp, out, mnt)


def burst(n: int, input_tokens: int, output_tokens: int) -> RequestStream:
    """``n`` identical requests at time 0, each declaring exactly its output: ``trtllm-bench throughput``'s
    dataset with zero standard deviation, fed at an unlimited rate."""
    if not 1 <= n <= MAX_REQUESTS:
        raise ValueError(f"a burst holds 1 to {MAX_REQUESTS:,} requests, got {n}")
    out = np.full(n, output_tokens, dtype=np.int64)
    return RequestStream(np.zeros(n), np.full(n, input_tokens, dtype=np.int64), out, out.copy())


def poisson_arrivals(n: int, rate_rps: float, rng: np.random.Generator) -> NDArray[Any]:
    """``n`` arrival times of a Poisson process at ``rate_rps``, starting at 0."""
    if not rate_rps > 0:
        raise ValueError(f"arrival rate must be positive, got {rate_rps}")
    gaps = rng.exponential(1.0 / rate_rps, size=n)
    gaps[0] = 0.0
    return np.cumsum(gaps)


def draw_lengths(h: Histogram, n: int, rng: np.random.Generator) -> NDArray[Any]:
    """``n`` lengths distributed as histogram ``h``: a bucket by its share, then uniform within it (the
    +Inf bucket at its lower bound). At least 1 token each."""
    bounds, counts = h.arrays()
    per = np.diff(counts, prepend=0.0).clip(min=0.0)
    total = per.sum()
    if total <= 0:
        raise ValueError("cannot draw lengths from an empty histogram")
    finite = bounds[np.isfinite(bounds)]
    top = float(finite[-1]) if len(finite) else 1.0
    upper = np.where(np.isfinite(bounds), bounds, top)
    lower = np.concatenate([[0.0], upper[:-1]])
    bucket = rng.choice(len(per), size=n, p=per / total)
    values = lower[bucket] + rng.random(n) * (upper[bucket] - lower[bucket])
    return cast(NDArray[Any], np.maximum(np.ceil(values), 1).astype(np.int64))


def from_histograms(input_hist: Histogram, output_hist: Histogram, *, rate_rps: float, n: int,
                    seed: int = 0) -> RequestStream:
    """``n`` requests at ``rate_rps`` (Poisson) with prompts and outputs drawn independently from the
    window's marginal histograms (a profile carries no per-request pairing)."""
    if not 1 <= n <= MAX_REQUESTS:
        raise ValueError(f"a sampled stream holds 1 to {MAX_REQUESTS:,} requests, got {n}")
    rng = np.random.default_rng(seed)
    inp = draw_lengths(input_hist, n, rng)
    out = draw_lengths(output_hist, n, rng)
    return RequestStream(poisson_arrivals(n, rate_rps, rng), inp, out)


def resampled(input_tokens: NDArray[Any], output_tokens: NDArray[Any], *, rate_rps: float, n: int,
              seed: int = 0) -> RequestStream:
    """``n`` requests at ``rate_rps`` (Poisson), each a (prompt, output) pair drawn from the given requests."""
    if len(input_tokens) == 0:
        raise ValueError("cannot resample from no requests")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(input_tokens), size=n)
    inp = np.maximum(np.asarray(input_tokens, dtype=np.int64)[pick], 1)
    out = np.maximum(np.asarray(output_tokens, dtype=np.int64)[pick], 1)
    return RequestStream(poisson_arrivals(n, rate_rps, rng), inp, out)


__all__ = ["RequestStream", "from_arrays", "burst", "poisson_arrivals", "draw_lengths", "from_histograms",
           "resampled", "MAX_REQUESTS"]
