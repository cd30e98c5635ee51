"""The quickstart's picture: the serving envelope over simulated time against the replayed requests.

Top: a sample of the replayed requests (input + output tokens), coloured by how they ended (answered,
stopped at ``max_seq_len``, rejected, not served); the p99.9 the operator read from Prometheus at each
evaluation; the CPU stand-in engine's ``max_seq_len`` and ``max_input_len`` as steps from the instant
Triton loaded it; build starts as markers; the active season as bands. Bottom: requests per simulated
hour by outcome. Writes a PNG with matplotlib's Agg backend; that is the only I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from seasonal_engines.local.reconciling import EvaluationRecord  # noqa: E402
from seasonal_engines.local.summary import BuildFact, Segment  # noqa: E402
from seasonal_engines.local.workload import Outcome, Workload  # noqa: E402
from seasonal_engines.pictures import figures

DOTS_MAX = 8000
KINDS = ((Outcome.answered, "answered", "0.55", "o", 6),
         (Outcome.limit_stopped, "stopped at max_seq_len", "tab:orange", "o", 10),
         (Outcome.rejected, "rejected: prompt too long", "tab:red", "x", 22),
         (Outcome.unavailable, "not served (no engine loaded)", "black", "+", 18))
SEASON_COLOURS = ("#fff3d6", "#e3f0ff", "#e8f7e4", "#f6e6f6")


def _hours(t: datetime, origin: datetime) -> float:
    return (t - origin).total_seconds() / 3600.0


def _steps(segments: Sequence[Segment], attr: str, start: float, end: float,
           origin: datetime) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for seg in segments:
        xs.append(max(start, _hours(seg.since, origin)))
        ys.append(float(getattr(seg.envelope, attr)))
    if xs:
        xs.append(end)
        ys.append(ys[-1])
    return xs, ys


def plot(path: Path, *, workload: Workload, outcomes: NDArray[Any], origin: datetime, start: datetime,
         end: datetime, segments: Sequence[Segment], builds: Sequence[BuildFact],
         evaluations: Sequence[EvaluationRecord], season_at: list[tuple[datetime, str | None]],
         title: str) -> Path:
    """Draw the run into ``path`` (PNG). ``season_at``: (instant, active season) samples, in order."""
    x0, x1 = _hours(start, origin), _hours(end, origin)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(13, 7.5), sharex=True, height_ratios=(3, 1),
                                      constrained_layout=True)
    names = sorted({s for _, s in season_at if s})
    colour = {n: SEASON_COLOURS[i % len(SEASON_COLOURS)] for i, n in enumerate(names)}
    for i, (t, season) in enumerate(season_at):
        if season is None:
            continue
        until = season_at[i + 1][0] if i + 1 < len(season_at) else end
        for ax in (top, bottom):
            ax.axvspan(_hours(t, origin), _hours(until, origin), color=colour[season], lw=0, zorder=0)
    hours = workload.at_s / 3600.0
    seq = (workload.input_tokens + workload.output_tokens).astype(np.float64)
    shown = (hours >= x0) & (hours <= x1)
    rng = np.random.default_rng(0)
    for outcome, label, col, marker, size in KINDS:
        idx = np.flatnonzero(shown & (outcomes == outcome))
        if len(idx) == 0:
            continue
        if len(idx) > DOTS_MAX:
            idx = np.sort(rng.choice(idx, DOTS_MAX, replace=False))
        count = int((shown & (outcomes == outcome)).sum())
        top.scatter(hours[idx], seq[idx], s=size, c=col, marker=marker, alpha=0.5 if outcome == Outcome.answered
                    else 0.9, lw=0.8 if marker in "x+" else 0, label=f"{label} ({count})",
                    zorder=2, rasterized=True)
    evs = [(e.at, e.sequence_p999) for e in evaluations if e.sequence_p999 is not None and e.at >= start]
    if evs:
        top.plot([_hours(t, origin) for t, _ in evs], [v for _, v in evs], "-", color="black", lw=0.8, alpha=0.7,
                 label="p99.9 of the trailing window (Prometheus)", zorder=3)
    for attr, colour_, style, width in (("max_seq_len", "tab:blue", "-", 2.4),
                                        ("max_input_len", "tab:cyan", "--", 1.3)):
        xs, ys = _steps(segments, attr, x0, x1, origin)
        if xs:
            top.step(xs, ys, where="post", color=colour_, ls=style, lw=width, label=f"CPU stand-in engine {attr}",
                     zorder=4)
    top_y = max([float(s.envelope.max_seq_len) for s in segments] + [float(seq[shown].max()) if shown.any() else 1])
    started = [_hours(b.started, origin) for b in builds if b.started >= start - timedelta(hours=2)]
    if started:
        top.plot(started, np.full(len(started), top_y * 1.6), "v", color="tab:purple", ms=7, label="build started",
                 zorder=5)
    top.set_yscale("log")
    top.set_ylim(8, top_y * 2.6)
    top.set_ylabel("tokens per request: input + output (log)")
    top.set_title(title)
    top.grid(True, which="major", alpha=0.3)
    handles, labels = top.get_legend_handles_labels()
    handles += [Rectangle((0, 0), 1, 1, color=colour[n]) for n in names]
    labels += [f"season {n}" for n in names]
    top.legend(handles, labels, loc="lower left", fontsize=8, ncol=3, framealpha=0.92)

    edges = np.arange(np.floor(x0), np.ceil(x1) + 1)
    bottom_total = np.zeros(len(edges) - 1)
    for outcome, label, col, _, _ in KINDS:
        counts, _ = np.histogram(hours[outcomes == outcome], bins=edges)
        bottom.bar(edges[:-1], counts, width=1.0, align="edge", bottom=bottom_total, color=col, alpha=0.85,
                   label=label)
        bottom_total += counts
    reached = np.isin(outcomes, [Outcome.answered, Outcome.limit_stopped, Outcome.rejected])
    beyond = np.isin(outcomes, [Outcome.limit_stopped, Outcome.rejected])
    total, _ = np.histogram(hours[reached], bins=edges)
    over, _ = np.histogram(hours[beyond], bins=edges)
    share = np.where(total > 0, 100.0 * over / np.maximum(total, 1), np.nan)
    right = bottom.twinx()
    right.step(edges, np.append(share, share[-1:]), where="post", color="black", lw=1.3, ls="--")
    right.set_ylabel("% beyond the envelope\n(dashed)")
    right.set_ylim(0, max(2.0, float(np.nanmax(share)) * 1.2) if np.isfinite(share).any() else 2.0)
    bottom.set_ylabel("requests per\nsimulated hour")
    bottom.grid(True, alpha=0.3)
    bottom.set_xlim(x0 - 0.05, x1 + 0.05)
    span = x1 - x0
    step = 1 if span <= 12 else 3 if span <= 36 else 6
    ticks = np.arange(np.ceil(x0 / step) * step, x1 + 1e-9, step)
    bottom.set_xticks(ticks)
    bottom.set_xticklabels([f"day {int(t // 24)}\n{int(t % 24):02d}:00" for t in ticks], fontsize=8)
    bottom.set_xlabel("simulated time (the trace's clock)")
    return figures.save_png(fig, path)


__all__ = ["plot"]
