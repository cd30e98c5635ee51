"""What the engine's exporter would have exported during a replay: censored traffic profiles of a trace.

A replayed request is served by whichever engine was live when it arrived; ``ServedTrace`` records those
limits per request as the simulation advances. A profile of a window is then built exactly as the
``seasonal`` exporter and Prometheus would present it (``traces.openmetrics`` writes the same series):

* the input histogram counts every request at admission, rejected ones included;
* the output and sequence histograms count only requests that ran, with the output cut at the engine's
  limit (``core.censoring.admit``);
* the rejected-for-length and limit-stopped counters count the censored requests;
* buckets are the preset's layout, so quantiles have the resolution Prometheus would give.

A preset without a joint sequence series yields the marginal bound; one without censoring counters
reports the censored share as unknown, as the live adapter does. An empty window is a
``TrafficUnavailable`` (``InsufficientSamples``), the same value the Prometheus adapter returns.
Pure: numpy and the core only, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core import censoring, histograms, reasons, traffic
from seasonal_engines.core.presets import Censoring, MetricPreset
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable
from seasonal_engines.traces.readers import Trace, to_datetime

UNSERVED = -1  # limit of a request not yet reached by the simulation


@dataclass(eq=False)
class ServedTrace:
    """A trace and, per request, the limits of the engine that served it (filled in arrival order)."""

    trace: Trace
    max_input_len: NDArray[Any] = field(init=False)
    max_seq_len: NDArray[Any] = field(init=False)
    filled: int = field(init=False, default=0)  # requests [0, filled) have their serving limits

    def __post_init__(self) -> None:
        n = len(self.trace)
        self.max_input_len = np.full(n, UNSERVED, dtype=np.int64)
        self.max_seq_len = np.full(n, UNSERVED, dtype=np.int64)

    def serve_until(self, t_s: float, max_input_len: int, max_seq_len: int) -> None:
        """Requests arriving before ``t_s`` and not yet served get these limits."""
        hi = int(np.searchsorted(self.trace.timestamps_s, t_s, side="left"))
        if hi > self.filled:
            self.max_input_len[self.filled:hi] = max_input_len
            self.max_seq_len[self.filled:hi] = max_seq_len
            self.filled = hi

    def indices(self, start_s: float, end_s: float) -> NDArray[Any]:
        """Indices of the requests arriving in ``[start_s, end_s)``; they must all be served already."""
        lo, hi = np.searchsorted(self.trace.timestamps_s, [start_s, end_s], side="left")
        if hi > self.filled:
            raise ValueError(f"window ending at {end_s} reaches requests the replay has not served yet "
                             f"(served up to request {self.filled}); profiles can only look back")
        return np.arange(int(lo), int(hi))


def profile(served: ServedTrace, windows: Sequence[tuple[float, float]], preset: MetricPreset, *,
            peak_percentile: float = 0.99, recent_s: float | None = None) -> TrafficProfile | TrafficUnavailable:
    """The profile Prometheus would return for these windows (trace seconds, summed), or why not; with
    ``recent_s``, the last ``recent_s`` seconds of the latest window as ``profile.recent``."""
    if not windows:
        raise ValueError("a profile needs at least one window")
    idx = np.concatenate([served.indices(s, e) for s, e in windows])
    start = to_datetime(min(s for s, _ in windows))
    end = to_datetime(max(e for _, e in windows))
    if len(idx) == 0:
        return TrafficUnavailable(reasons.INSUFFICIENT_SAMPLES, f"no requests in {start.isoformat()} .. "
                                  f"{end.isoformat()}")
    t = served.trace
    inp = t.input_tokens[idx]
    adm = censoring.admit(inp, t.output_tokens[idx], served.max_input_len[idx],
                          served.max_seq_len[idx])
    whole = censored_profile(inp, adm, preset, start_s=min(s for s, _ in windows),
                             end_s=max(e for _, e in windows), covered_s=sum(e - s for s, e in windows),
                             peak_percentile=peak_percentile)
    if recent_s is None:
        return whole
    last = max(e for _, e in windows)
    return replace(whole, recent=recent_traffic(served, last - recent_s, last, preset))


def recent_traffic(served: ServedTrace, start_s: float, end_s: float, preset: MetricPreset) -> traffic.RecentTraffic:
    """The input (and, with a joint series, sequence) buckets of ``[start_s, end_s)``, as exported."""
    idx = served.indices(start_s, end_s)
    t = served.trace
    inp = t.input_tokens[idx]
    adm = censoring.admit(inp, t.output_tokens[idx], served.max_input_len[idx],
                          served.max_seq_len[idx])
    ran = ~adm.rejected
    sequence = histograms.from_values(inp[ran].astype(np.float64) + adm.served_output[ran], preset.bounds) \
        if preset.sequence_metric else None
    return traffic.RecentTraffic(to_datetime(start_s), to_datetime(end_s),
                                 histograms.from_values(inp, preset.bounds), sequence)


def censored_profile(input_tokens: NDArray[Any], admission: censoring.Admission, preset: MetricPreset, *,
                     start_s: float, end_s: float, covered_s: float | None = None,
                     peak_percentile: float = 0.99) -> TrafficProfile:
    """A profile from requests' true input lengths and their admission under the serving engine."""
    bounds = preset.bounds
    ran = ~admission.rejected
    out = admission.served_output[ran]
    inp_ran = input_tokens[ran].astype(np.float64)
    sequence = histograms.from_values(inp_ran + out, bounds) if preset.sequence_metric else None
    counts = {"rejected": float(admission.rejected.sum()), "limit_stopped": float(admission.limit_stopped.sum())}
    exact: dict[str, float | None] = {"rejected": None, "limit_stopped": None}
    upper: float | None = None
    for ref, key in ((preset.rejected, "rejected"), (preset.limit_stopped, "limit_stopped")):
        if ref is None:
            continue
        if ref.censoring == Censoring.upper_bound:
            upper = (upper or 0.0) + counts[key]
        else:
            exact[key] = counts[key]
    return traffic.profile_from_histograms(
        to_datetime(start_s), to_datetime(end_s), histograms.from_values(input_tokens, bounds),
        histograms.from_values(out, bounds), sequence, peak_percentile=peak_percentile,
        rejected=exact["rejected"], limit_stopped=exact["limit_stopped"], censored_upper=upper,
        covered_s=covered_s, notes=preset.notes)


def uncensored_profile(trace: Trace, preset: MetricPreset, *, peak_percentile: float = 0.99,
                       start_s: float | None = None, end_s: float | None = None) -> TrafficProfile:
    """What an unlimited engine's exporter would show for the whole ``trace`` (or a slice of it)."""
    lo = trace.first_s if start_s is None else start_s
    hi = trace.last_s if end_s is None else end_s
    sl = trace.window(lo, hi) if (start_s is not None or end_s is not None) else trace
    adm = censoring.admit(sl.input_tokens, sl.output_tokens, None, None)
    return censored_profile(sl.input_tokens, adm, preset, start_s=lo, end_s=max(hi, lo + 1.0),
                            peak_percentile=peak_percentile)


__all__ = ["ServedTrace", "profile", "recent_traffic", "censored_profile", "uncensored_profile", "UNSERVED"]
