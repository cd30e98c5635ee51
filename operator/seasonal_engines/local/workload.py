"""Which requests of a trace the local quickstart replays, and what that does to the spec's minimum.

Replayed faster than real time, a trace's request rate is multiplied by the speed: the ServeGen m-large
trace (about 0.12 requests a second) becomes ~70 a second at one day in 2.5 minutes, more than the CPU
stand-in and a 2-core machine serve comfortably next to Prometheus and the operator. So a fixed, seeded
share of the requests is kept (each request independently, which keeps the length distributions and the
daily rhythm) and ``traffic.minSamples`` is scaled by the same share: the decision core then needs the
same stretch of traffic before it plans as it would at full rate.

Pure: arrays in, arrays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.traces.readers import Trace

MIN_SAMPLES_FLOOR = 20  # below this a p99.9 is just the largest request of the window


class Outcome(IntEnum):
    """How a replayed request ended."""

    not_sent = 0       # its time has not come (or the run ended first)
    in_flight = 1
    answered = 2       # ran to the client's max_tokens
    limit_stopped = 3  # cut at the engine's max_seq_len
    rejected = 4       # prompt longer than the engine admits
    unavailable = 5    # no answer: no model loaded, or another error
    skipped = 6        # not sent: too many requests were already in flight


@dataclass(frozen=True, eq=False)
class Workload:
    """Requests to replay, in time order: arrival in seconds since the trace's day 0, prompt and output
    tokens. ``keep`` is the share of the trace's requests kept."""

    at_s: NDArray[Any]
    input_tokens: NDArray[Any]
    output_tokens: NDArray[Any]
    keep: float

    def __len__(self) -> int:
        return len(self.at_s)

    def due(self, start: int, until_s: float) -> int:
        """Index one past the last request arriving at or before ``until_s``, from ``start`` on."""
        return max(start, int(np.searchsorted(self.at_s, until_s, side="right")))


def keep_share(mean_rate_rps: float, speed: float, max_wall_rps: float) -> float:
    """The share of requests to keep so that the replay sends ``max_wall_rps`` on average (1 at most)."""
    if not max_wall_rps > 0:
        raise ValueError(f"--max-rps must be positive, got {max_wall_rps}")
    if mean_rate_rps <= 0:
        return 1.0
    return min(1.0, max_wall_rps / (mean_rate_rps * speed))


def select(trace: Trace, start_s: float, end_s: float, keep: float, seed: int = 0) -> Workload:
    """The requests of ``trace`` arriving in ``[start_s, end_s)``, each kept with probability ``keep``
    (seeded, so a run can be repeated). Requests asking for no output ask for one token."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep share must be in (0, 1], got {keep}")
    part = trace.window(start_s, end_s)
    if len(part) == 0:
        raise ValueError(f"the trace has no requests between {start_s / 3600:.1f} h and {end_s / 3600:.1f} h from "
                         "its start; choose --start-hour/--days inside it")
    mask = np.random.default_rng(seed).random(len(part)) < keep
    return Workload(at_s=np.asarray(part.timestamps_s[mask], dtype=np.float64),
                    input_tokens=np.maximum(1, np.asarray(part.input_tokens[mask], dtype=np.int64)),
                    output_tokens=np.maximum(1, np.asarray(part.output_tokens[mask], dtype=np.int64)),
                    keep=keep)


def mean_rate(trace: Trace) -> float:
    """Requests per second over the whole trace."""
    return len(trace) / trace.duration_s if trace.duration_s > 0 else 0.0


def scaled_min_samples(min_samples: int, keep: float) -> int:
    """``traffic.minSamples`` for a replay that keeps ``keep`` of the requests."""
    return max(min(MIN_SAMPLES_FLOOR, min_samples), math.ceil(min_samples * keep))


__all__ = ["Outcome", "Workload", "keep_share", "select", "mean_rate", "scaled_min_samples", "MIN_SAMPLES_FLOOR"]
