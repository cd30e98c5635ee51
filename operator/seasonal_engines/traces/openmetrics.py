"""Turn a per-request trace into the Prometheus series an exporter would have produced, as OpenMetrics text
for ``promtool tsdb create-blocks-from openmetrics``.

Every ``interval_s`` (the scrape interval) each histogram series holds the cumulative count of requests
that arrived up to that instant, per bucket of the chosen preset's layout, with ``_count`` and ``_sum``.
With the ``seasonal`` preset the joint sequence histogram, the requested-``max_tokens`` histogram and the
censoring counters are written too; an optional engine (``max_input_len``/``max_seq_len``) censors the
trace first, as ``core.censoring.admit`` describes. ``resets`` simulates exporter restarts: counters drop
to zero at those instants and count again from there, as after a real restart.

Builds text (and writes it to a file on request); no network.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core import censoring
from seasonal_engines.core.presets import MetricPreset
from seasonal_engines.traces.readers import Trace


@dataclass(frozen=True)
class Engine:
    """The limits a simulated engine censors traffic with (None: unlimited)."""

    max_input_len: int | None = None
    max_seq_len: int | None = None


def scrape_times(start_s: float, end_s: float, interval_s: float) -> NDArray[Any]:
    """Scrape instants ``start_s, start_s + interval_s, ...`` up to and including the first at or after
    ``end_s``."""
    if not interval_s > 0:
        raise ValueError(f"scrape interval must be positive, got {interval_s} s")
    if end_s < start_s:
        raise ValueError(f"trace end {end_s} is before its start {start_s}")
    n = int(np.ceil((end_s - start_s) / interval_s - 1e-9)) + 1
    return start_s + interval_s * np.arange(n, dtype=np.float64)


def lines(trace: Trace, preset: MetricPreset, interval_s: float = 60.0,
          labels: Mapping[str, str] | None = None, engine: Engine | None = None,
          resets: Sequence[float] = (), start_s: float | None = None,
          end_s: float | None = None) -> Iterator[str]:
    """OpenMetrics lines (without newlines), ``# EOF`` last."""
    times = scrape_times(trace.first_s if start_s is None else start_s,
                         trace.last_s if end_s is None else end_s, interval_s)
    ts_text = _timestamps(times)
    # Each request is observed at the first scrape at or after its arrival.
    slot = np.searchsorted(times, trace.timestamps_s, side="left")
    keep = slot < len(times)
    slot = slot[keep]
    inp = trace.input_tokens[keep].astype(np.int64)
    true_out = trace.output_tokens[keep].astype(np.int64)
    eng = engine or Engine()
    adm = censoring.admit(inp, true_out, eng.max_input_len, eng.max_seq_len)
    ran = ~adm.rejected
    base = dict(labels or {})
    reset_slots = np.searchsorted(times, np.asarray(sorted(resets), dtype=np.float64), side="left")

    hists: list[tuple[str, NDArray[Any], NDArray[Any], str]] = [
        (preset.input_metric, slot, inp, "Prompt tokens per request, at admission."),
        (preset.output_metric, slot[ran], adm.served_output[ran], "Generated tokens per request."),
    ]
    if preset.sequence_metric:
        hists.append((preset.sequence_metric, slot[ran], inp[ran] + adm.served_output[ran],
                      "Prompt plus generated tokens per request."))
    if preset.max_tokens_metric:
        hists.append((preset.max_tokens_metric, slot, true_out, "Output tokens the client asked for."))
    for name, s, values, help_text in hists:
        yield from _histogram(name, help_text, s, values, preset.bounds, len(times), ts_text, base, reset_slots)
    counters = []
    if preset.rejected:
        counters.append((preset.rejected.metric, preset.rejected.matchers, slot[adm.rejected],
                         "Requests rejected because the prompt exceeds the engine's input limit."))
    if preset.limit_stopped:
        counters.append((preset.limit_stopped.metric, preset.limit_stopped.matchers, slot[adm.limit_stopped],
                         "Requests whose output stopped at the engine's sequence limit."))
    for name, extra, s, help_text in counters:
        yield from _counter(name, help_text, s, len(times), ts_text, {**base, **dict(extra)}, reset_slots)
    yield "# EOF"


def to_text(trace: Trace, preset: MetricPreset, interval_s: float = 60.0, **kwargs: object) -> str:
    """The whole OpenMetrics document as one string."""
    return "\n".join(lines(trace, preset, interval_s, **kwargs)) + "\n"  # type: ignore[arg-type]


def write(path: str | Path, trace: Trace, preset: MetricPreset, interval_s: float = 60.0,
          **kwargs: object) -> int:
    """Write the OpenMetrics document to ``path``; returns the number of sample lines."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for line in lines(trace, preset, interval_s, **kwargs):  # type: ignore[arg-type]
            f.write(line)
            f.write("\n")
            n += not line.startswith("#")
    return n


def _histogram(name: str, help_text: str, slot: NDArray[Any], values: NDArray[Any], bounds: Sequence[float],
               n_times: int, ts_text: list[str], labels: Mapping[str, str],
               reset_slots: NDArray[Any]) -> Iterator[str]:
    b = np.asarray(bounds, dtype=np.float64)
    bucket = np.searchsorted(b, values.astype(np.float64), side="left")
    per = np.zeros((n_times, len(b)), dtype=np.int64)
    np.add.at(per, (slot, bucket), 1)
    cum = _since_reset(np.cumsum(np.cumsum(per, axis=1), axis=0), reset_slots)
    sums = np.zeros(n_times, dtype=np.int64)
    np.add.at(sums, slot, values.astype(np.int64))
    sums = _since_reset(np.cumsum(sums), reset_slots)
    yield f"# TYPE {name} histogram"
    yield f"# HELP {name} {help_text}"
    for j, le in enumerate(b):
        prefix = f"{name}_bucket{_labels({**labels, 'le': _le(le)})} "
        yield from _series(prefix, cum[:, j], ts_text)
    yield from _series(f"{name}_count{_labels(labels)} ", cum[:, -1], ts_text)
    yield from _series(f"{name}_sum{_labels(labels)} ", sums, ts_text)


def _counter(name: str, help_text: str, slot: NDArray[Any], n_times: int, ts_text: list[str],
             labels: Mapping[str, str], reset_slots: NDArray[Any]) -> Iterator[str]:
    family = name[: -len("_total")] if name.endswith("_total") else name
    counts = _since_reset(np.cumsum(np.bincount(slot, minlength=n_times)[:n_times]), reset_slots)
    yield f"# TYPE {family} counter"
    yield f"# HELP {family} {help_text}"
    yield from _series(f"{family}_total{_labels(labels)} ", counts, ts_text)


def _since_reset(cum: NDArray[Any], reset_slots: NDArray[Any]) -> NDArray[Any]:
    """Counts as a restarted exporter reports them: from zero again at each reset slot."""
    if len(reset_slots) == 0:
        return cum
    out = cum.copy()
    for r in reset_slots:
        if 0 < r < len(cum):
            # the exporter restarted just before scrape r: what it counted before is gone
            out[r:] = cum[r:] - cum[r - 1]
    return out


def _series(prefix: str, values: NDArray[Any], ts_text: list[str]) -> Iterator[str]:
    for v, t in zip(values.tolist(), ts_text):
        yield f"{prefix}{v} {t}"


def _timestamps(times: NDArray[Any]) -> list[str]:
    if np.all(times == np.round(times)):
        return [str(int(t)) for t in times.tolist()]
    return [f"{t:.3f}" for t in times.tolist()]


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
