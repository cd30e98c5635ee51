"""Hourly history: a service's request-length histograms hour by hour over its last days.

Season discovery reads it to find where the sizing quantile changes through the week, and discovered
seasons are planned from it: a season's profile is the sum of the hours that fell inside its
occurrences, newest first (``core.resizing``). One value holds ``H`` consecutive hours ending at ``end``:
per hour the per-bucket (not cumulative) counts of the input, output and, when exported, joint sequence
histograms, and the two censoring counters. Row ``i`` covers ``(end - (H - i) h, end - (H - 1 - i) h]``,
oldest first: exactly what ``increase(x_bucket[1h])`` evaluated every hour up to ``end`` answers.

Built from a Prometheus range answer (``from_series``) or from per-request lengths as a serving engine's
exporter would have recorded them (``from_requests``: a trace, a replay). Pure: numpy in, values out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core import reasons, traffic
from seasonal_engines.core.histograms import Histogram
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

HOUR_S = 3600.0
MAX_HOURS = 28 * 24  # seasonDiscovery.history is at most 28 days


@dataclass(frozen=True, eq=False)
class HourlyHistory:
    """``hours`` consecutive hours ending at ``end`` (UTC): per-bucket counts, oldest row first."""

    end: datetime
    bounds: tuple[float, ...]          # upper bounds, +Inf last
    input: NDArray[Any]                  # (hours, buckets)
    output: NDArray[Any]
    sequence: NDArray[Any] | None        # None: the source has no joint series
    rejected: NDArray[Any] | None = None       # (hours,): None when the source has no such counter
    limit_stopped: NDArray[Any] | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.end.tzinfo is None:
            raise ValueError("history end must be timezone-aware (UTC)")
        b = len(self.bounds)
        if not b or not math.isinf(self.bounds[-1]):
            raise ValueError("history bucket bounds must end with +Inf")
        for name in ("input", "output", "sequence"):
            a = getattr(self, name)
            if a is not None and (a.ndim != 2 or a.shape != (self.hours, b)):
                raise ValueError(f"history {name} counts must be (hours, {b}) like input, got {a.shape}")
        for name in ("rejected", "limit_stopped"):
            a = getattr(self, name)
            if a is not None and a.shape != (self.hours,):
                raise ValueError(f"history {name} counts must have one value per hour, got {a.shape}")
        if self.hours > MAX_HOURS:
            raise ValueError(f"history holds {self.hours} hours, more than {MAX_HOURS} (28 days)")

    @property
    def hours(self) -> int:
        return int(self.input.shape[0])

    @property
    def requests(self) -> NDArray[Any]:
        """Requests per hour (the input histogram counts every request at admission)."""
        return cast(NDArray[Any], self.input.sum(axis=1))

    @property
    def starts_s(self) -> NDArray[Any]:
        """Unix second at which each hour starts."""
        e = self.end.timestamp()
        return e - HOUR_S * np.arange(self.hours, 0, -1, dtype=np.float64)

    @property
    def span(self) -> timedelta:
        return timedelta(hours=self.hours)

    def observed_hours(self) -> int:
        """Hours from the first one with any request to the end (the service's age, within the window)."""
        seen = np.flatnonzero(self.requests > 0)
        return 0 if not len(seen) else int(self.hours - seen[0])

    def sequence_counts(self) -> NDArray[Any]:
        """Per-hour sequence counts; without a joint series the marginals' conservative bound is used by
        ``pool``, so this is only for the discovery profile, which then reads the input histogram."""
        return self.sequence if self.sequence is not None else self.input

    def pool(self, rows: Sequence[int] | NDArray[Any], *,
             peak_percentile: float = 0.99) -> TrafficProfile | TrafficUnavailable:
        """The profile of the hours ``rows`` summed (any order, no repeats), or why not."""
        idx = np.unique(np.asarray(rows, dtype=np.int64))
        if len(idx) == 0:
            return TrafficUnavailable(reasons.INSUFFICIENT_SAMPLES, "no hour of the history falls in the window")
        if idx[0] < 0 or idx[-1] >= self.hours:
            raise ValueError(f"rows must be in [0, {self.hours}), got {idx[0]}..{idx[-1]}")
        n = float(self.input[idx].sum())
        starts = self.starts_s[idx]
        start, end = _utc(float(starts.min())), _utc(float(starts.max()) + HOUR_S)
        if n <= 0:
            return TrafficUnavailable(reasons.INSUFFICIENT_SAMPLES, f"no requests in the {len(idx)} hours of "
                                      f"history from {start.isoformat()} to {end.isoformat()}")

        def hist(counts: NDArray[Any]) -> Histogram:
            return Histogram(self.bounds, tuple(float(x) for x in np.cumsum(counts[idx].sum(axis=0))))

        return traffic.profile_from_histograms(
            start, end, hist(self.input), hist(self.output),
            None if self.sequence is None else hist(self.sequence), peak_percentile=peak_percentile,
            rejected=None if self.rejected is None else float(self.rejected[idx].sum()),
            limit_stopped=None if self.limit_stopped is None else float(self.limit_stopped[idx].sum()),
            covered_s=HOUR_S * len(idx), notes=self.notes)

    def slice(self, lo: int, hi: int) -> HourlyHistory:
        """Hours ``[lo, hi)`` as a history of their own (ending where hour ``hi - 1`` ends)."""
        if not 0 <= lo <= hi <= self.hours:
            raise ValueError(f"slice {lo}..{hi} is outside the history's {self.hours} hours")
        end = self.end - timedelta(hours=self.hours - hi)

        def cut(a: NDArray[Any] | None) -> NDArray[Any] | None:
            return None if a is None else a[lo:hi].copy()

        return HourlyHistory(end, self.bounds, self.input[lo:hi].copy(), self.output[lo:hi].copy(),
                             cut(self.sequence), cut(self.rejected), cut(self.limit_stopped), self.notes)

    def rows_within(self, windows: Sequence[tuple[datetime, datetime]]) -> list[list[int]]:
        """For each ``(start, end)`` window, the hours whose middle falls inside it (an hour straddling a
        boundary belongs to the side holding most of it)."""
        mids = self.starts_s + HOUR_S / 2
        out = []
        for start, end in windows:
            lo, hi = start.timestamp(), end.timestamp()
            out.append([int(i) for i in np.flatnonzero((mids >= lo) & (mids < hi))])
        return out


def _utc(t_s: float) -> datetime:

    return datetime.fromtimestamp(t_s, tz=UTC)


def empty(end: datetime, bounds: Sequence[float], *, joint: bool = True) -> HourlyHistory:
    """A history of no hours (a service without traffic yet)."""
    b = tuple(bounds)
    z = np.zeros((0, len(b)))
    return HourlyHistory(end, b, z, z.copy(), z.copy() if joint else None)


def from_requests(end: datetime, hours: int, timestamps_s: NDArray[Any], input_tokens: NDArray[Any],
                  served_output: NDArray[Any], ran: NDArray[Any], *, bounds: Sequence[float],
                  limit_stopped: NDArray[Any] | None = None, joint: bool = True, counts_rejected: bool = True,
                  notes: Sequence[str] = ()) -> HourlyHistory:
    """The history an exporter would have produced for these requests over the ``hours`` ending at ``end``.

    ``input_tokens`` counts every request (rejected ones included, as the exporter records at admission),
    ``served_output`` is the output actually generated, ``ran`` False for requests rejected for length
    (absent from the output and sequence histograms, counted as rejected); ``limit_stopped`` marks outputs
    cut at the engine's limit (None: the source has no such counter); ``counts_rejected`` False when the
    source has no rejected-for-length counter. Requests outside the window are ignored."""
    if hours < 0:
        raise ValueError(f"hours must be >= 0, got {hours}")
    b = np.asarray(bounds, dtype=np.float64)
    e = end.timestamp()
    t = np.asarray(timestamps_s, dtype=np.float64)
    # Hour k back from the end is (e - k h, e - (k - 1) h]: a request at an hour's end belongs to it, as
    # increase() counts it there.
    row = hours - 1 - np.floor((e - t) / HOUR_S).astype(np.int64)
    keep = (row >= 0) & (row < hours) & (t <= e)
    row = row[keep]
    inp = np.asarray(input_tokens, dtype=np.float64)[keep]
    out = np.asarray(served_output, dtype=np.float64)[keep]
    ok = np.asarray(ran, dtype=bool)[keep]
    nb = len(b)

    def counts(values: NDArray[Any], rows: NDArray[Any]) -> NDArray[Any]:
        col = np.searchsorted(b, values, side="left")  # Prometheus' le rule
        flat = np.bincount(rows * nb + col, minlength=hours * nb)[: hours * nb]
        return flat.reshape(hours, nb).astype(np.float64)

    rejected = np.bincount(row[~ok], minlength=hours)[:hours].astype(np.float64)
    stopped = None
    if limit_stopped is not None:
        stopped = np.bincount(row[np.asarray(limit_stopped, dtype=bool)[keep]], minlength=hours)[:hours]
        stopped = stopped.astype(np.float64)
    return HourlyHistory(
        end, tuple(float(x) for x in b), counts(inp, row), counts(out[ok], row[ok]),
        counts(inp[ok] + out[ok], row[ok]) if joint else None, rejected=rejected if counts_rejected else None,
        limit_stopped=stopped, notes=tuple(notes))


def from_series(end: datetime, hours: int, series: Mapping[str, Sequence[tuple[float, Sequence[tuple[float, float]]]]],
                counters: Mapping[str, Sequence[tuple[float, float]]], *, notes: Sequence[str] = (),
                step_s: float = HOUR_S) -> HourlyHistory | TrafficUnavailable:
    """A history from a range answer: ``series[part]`` lists ``(le, [(unix_s, cumulative increase), ...])``
    per bucket, ``counters[name]`` ``[(unix_s, increase), ...]``. A point at ``t`` is the hour (``step_s``
    of the answer's clock) ending at ``t``; hours without a point hold no requests. Non-monotonic bucket
    counts (``increase`` extrapolates each series on its own) are repaired as PromQL's
    ``histogram_quantile`` does. The history ends at ``end``, on the answer's clock."""
    if "input" not in series or "output" not in series:
        return TrafficUnavailable(reasons.NO_DATA, "no input or output histogram series in the history")
    bounds = sorted({float(le) for part in series.values() for le, _ in part})
    if not bounds or not math.isinf(bounds[-1]):
        return TrafficUnavailable(reasons.MALFORMED_HISTOGRAM, "the history's histograms have no le=\"+Inf\" "
                                  "bucket")
    e = end.timestamp()
    col = {b: i for i, b in enumerate(bounds)}

    def row_of(t: float) -> int:
        return hours - 1 - int(round((e - t) / step_s))

    def matrix(part: str) -> NDArray[Any]:
        cum = np.zeros((hours, len(bounds)))
        for le, points in series[part]:
            for t, v in points:
                r = row_of(float(t))
                if 0 <= r < hours:
                    if not math.isfinite(float(v)):
                        raise ValueError(f"the {part} history holds {v} at {t}")
                    cum[r, col[float(le)]] += float(v)
        cum = np.fmax.accumulate(np.clip(cum, 0.0, None), axis=1)  # ensureMonotonic
        return np.diff(cum, axis=1, prepend=0.0)

    def vector(name: str) -> NDArray[Any] | None:
        if name not in counters:
            return None
        out = np.zeros(hours)
        for t, v in counters[name]:
            r = row_of(float(t))
            if 0 <= r < hours and math.isfinite(float(v)):
                out[r] += max(0.0, float(v))
        return out

    try:
        inp, out = matrix("input"), matrix("output")
        seq = matrix("sequence") if "sequence" in series else None
    except ValueError as exc:
        return TrafficUnavailable(reasons.NAN_IN_DATA, str(exc))
    return HourlyHistory(end, tuple(bounds), inp, out, seq, rejected=vector("rejected"),
                         limit_stopped=vector("limit_stopped"), notes=tuple(notes))


__all__ = ["HourlyHistory", "HOUR_S", "MAX_HOURS", "empty", "from_requests", "from_series"]
