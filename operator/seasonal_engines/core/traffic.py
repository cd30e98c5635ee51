"""Traffic profiles: what a window of observed requests says about sequence lengths and rates.

A profile is built from Prometheus histograms (or a trace) and is the only traffic input of the planner
and of drift. Failures are values (``TrafficUnavailable``), never exceptions, so that no caller ever plans
from nothing. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core import histograms, poisson, sequences
from seasonal_engines.core.histograms import Histogram


class Dimension(str, Enum):
    input = "input"        # prompt tokens (ISL)
    output = "output"      # generated tokens (OSL)
    sequence = "sequence"  # input + output, what max_seq_len limits


class SequenceSource(str, Enum):
    joint = "joint"  # from the exporter's joint series: exact up to bucket width
    bound = "bound"  # no joint data: a documented conservative bound from the marginals


@dataclass(frozen=True)
class Quantiles:
    p50: float
    p90: float
    p99: float
    p999: float


@dataclass(frozen=True)
class RecentTraffic:
    """The last minutes of a trailing window (``drift.shift.window``), read in the same query, for shift
    detection: input and, when the source has the joint series, sequence lengths."""

    start: datetime
    end: datetime
    input: Histogram
    sequence: Histogram | None = None

    @property
    def samples(self) -> float:
        return float(self.input.total)


@dataclass(frozen=True)
class TrafficProfile:
    """A window of traffic. Histograms are cumulative, PromQL-style; rates are requests per second."""

    start: datetime
    end: datetime
    samples: float
    input: Histogram
    output: Histogram
    sequence: Histogram
    sequence_source: SequenceSource
    rate_rps: float
    peak_rps: float
    censored_fraction: float | None  # None: the source cannot tell
    rejected_requests: float | None = None
    limit_stopped_requests: float | None = None
    quantiles: dict[Dimension, Quantiles] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # caveats, e.g. "buckets stop at 1000 tokens"
    # Largest finite bucket bound per dimension: no quantile or limit above it can be claimed.
    resolution_limit: dict[Dimension, float] = field(default_factory=dict)
    # When the source only has a counter that includes censored requests among others (vLLM's
    # finished_reason="length"), its share: an upper bound of the censored share. None otherwise.
    censored_upper_bound: float | None = None
    recent: RecentTraffic | None = None  # the window's last minutes, when asked for (shift detection)

    def histogram(self, dim: Dimension | str) -> Histogram:
        """The cumulative histogram of one dimension."""
        return {Dimension.input: self.input, Dimension.output: self.output,
                Dimension.sequence: self.sequence}[Dimension(dim)]

    def quantile(self, dim: Dimension | str, q: float) -> float:
        """PromQL ``histogram_quantile(q, ...)`` of one dimension."""
        return histograms.histogram_quantile(q, self.histogram(dim))

    def coverage(self, dim: Dimension | str, limit: float) -> float:
        """Share of requests whose ``dim`` length is at or below ``limit`` (same interpolation)."""
        return histograms.coverage(self.histogram(dim), limit)

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class TrafficUnavailable:
    """Why no profile could be built. ``reason`` is a constant of ``core.reasons`` (the traffic section),
    ``message`` is for people."""

    reason: str
    message: str


QUANTILE_POINTS = (0.5, 0.9, 0.99, 0.999)


def quantiles_of(h: Histogram) -> Quantiles:
    """p50, p90, p99 and p99.9 of one histogram, PromQL-exact."""
    v = histograms.quantiles(h, QUANTILE_POINTS)
    return Quantiles(*(float(x) for x in v))


def censored_share(samples: float, rejected: float | None, limit_stopped: float | None) -> float | None:
    """Share of requests the engine rejected for length or stopped at its own limit; None when the source
    reports neither counter."""
    if rejected is None and limit_stopped is None:
        return None
    if samples <= 0:
        return None
    # A share: counters larger than the requests seen (possible only with broken exporters) cap at all of them.
    return min(1.0, max(0.0, float(((rejected or 0.0) + (limit_stopped or 0.0)) / samples)))


def profile_from_histograms(start: datetime, end: datetime, input_hist: Histogram, output_hist: Histogram,
                            sequence_hist: Histogram | None = None, *, peak_percentile: float = 0.99,
                            rejected: float | None = None, limit_stopped: float | None = None,
                            censored_upper: float | None = None, covered_s: float | None = None,
                            notes: Sequence[str] = ()) -> TrafficProfile:
    """A profile from bucket counts over ``[start, end]`` (Prometheus increases, or a trace's buckets).

    ``samples`` is the input histogram's total: every request seen at admission, rejected ones included.
    Without ``sequence_hist`` the sequence histogram is the conservative bound of ``core.sequences``
    and ``sequence_source`` says so. ``covered_s`` is the time the counts cover when it is less than
    ``end - start`` (a season's occurrences); ``censored_upper`` counts requests of a counter that
    includes the censored ones among others. The caller checks ``samples`` against its minimum.
    """
    duration = (end - start).total_seconds() if covered_s is None else covered_s
    if duration <= 0:
        raise ValueError(f"profile window must end after it starts, got start={start} end={end}")
    all_notes = list(notes)
    if sequence_hist is None:
        sequence_hist = sequences.bound_from_marginals(input_hist, output_hist)
        source = SequenceSource.bound
        all_notes.append("no joint series: sequence length is a conservative (Makarov) bound from the "
                         "input and output marginals")
    else:
        source = SequenceSource.joint
    samples = input_hist.total
    rate = samples / duration
    hists = {Dimension.input: input_hist, Dimension.output: output_hist, Dimension.sequence: sequence_hist}
    if rejected is not None and limit_stopped is None or rejected is None and limit_stopped is not None:
        all_notes.append("only one of the censoring counters is exported: the censored share is a lower bound")
    return TrafficProfile(
        start=start, end=end, samples=float(samples),
        input=input_hist, output=output_hist, sequence=sequence_hist, sequence_source=source,
        rate_rps=float(rate), peak_rps=float(poisson.peak_rate(rate, peak_percentile)),
        censored_fraction=censored_share(samples, rejected, limit_stopped),
        censored_upper_bound=None if censored_upper is None or samples <= 0 else float(censored_upper / samples),
        rejected_requests=None if rejected is None else float(rejected),
        limit_stopped_requests=None if limit_stopped is None else float(limit_stopped),
        quantiles={d: quantiles_of(h) for d, h in hists.items()},
        notes=tuple(all_notes),
        resolution_limit={d: _top_finite(h) for d, h in hists.items()},
    )


def profile_from_requests(start: datetime, end: datetime, input_tokens: NDArray[Any], output_tokens: NDArray[Any],
                          *, bounds: Sequence[float] | None = None, peak_percentile: float = 0.99,
                          rejected: int | None = None, limit_stopped: int | None = None,
                          covered_s: float | None = None) -> TrafficProfile:
    """A profile from per-request lengths (a trace, or a replay): the sequence histogram is exact (joint).

    ``bounds`` defaults to the exporter's layout (``histograms.log_buckets()``), so a trace's profile and a
    live one compare bucket for bucket. ``rejected``/``limit_stopped`` count requests of these arrays the
    engine refused or cut short; None when unknown. ``covered_s``: the time the requests cover when less
    than ``end - start`` (only some hours of each day).
    """
    inp = np.asarray(input_tokens)
    out = np.asarray(output_tokens)
    if inp.shape != out.shape:
        raise ValueError(f"input_tokens and output_tokens must have the same length, got {inp.shape} and "
                         f"{out.shape}")
    b = histograms.log_buckets() if bounds is None else tuple(bounds)
    return profile_from_histograms(
        start, end,
        histograms.from_values(inp, b), histograms.from_values(out, b),
        histograms.from_values(inp.astype(np.float64) + out.astype(np.float64), b),
        peak_percentile=peak_percentile, rejected=rejected, limit_stopped=limit_stopped, covered_s=covered_s,
    )


def _top_finite(h: Histogram) -> float:
    finite = [b for b in h.bounds if b != float("inf")]
    return float(finite[-1]) if finite else float("inf")
