"""The replay's picture: engine envelopes over time against the observed sequence lengths.

Top: every request's input + output length (grey dots), each clock hour's p99.9 (black), and the
``max_seq_len`` in force for the policy (blue steps) and for the baselines (the oracle's hourly engine,
the static engine at the trace's p99.9, and the one at the model's full context), on a log scale.
Bottom: the share of each hour's requests beyond the engine that served them, policy against the static
engine. Writes a PNG with matplotlib's Agg backend (no display needed); this is the only I/O here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from seasonal_engines.pictures import figures
from seasonal_engines.replay.comparing import Comparison  # noqa: E402
from seasonal_engines.replay.scoring import HOUR_S  # noqa: E402

DOTS_MAX = 60_000  # requests drawn at most (an even sample): more only darkens the cloud


def _steps(segments: list[tuple[float, float]], start: float, end: float) -> tuple[NDArray[Any], NDArray[Any]]:
    """x (since start) and y arrays of a step function from (since, value) pairs, clipped to the trace."""
    xs, ys = [], []
    for i, (since, value) in enumerate(segments):
        until = segments[i + 1][0] if i + 1 < len(segments) else end
        if until <= start:
            continue
        xs.append(max(since, start))
        ys.append(value)
    xs.append(end)
    ys.append(ys[-1] if ys else np.nan)
    return np.asarray(xs), np.asarray(ys, dtype=np.float64)


def plot(c: Comparison, path: str | Path, title: str = "") -> Path:
    """Draw the comparison into ``path`` (PNG) and return it."""
    run = c.run
    trace = c.scored if c.scored is not None else run.trace
    start, end = (trace.first_s if c.scored is not None else run.start_s), run.end_s
    days = (end - start) / 86400.0
    unit, scale = ("day", 86400.0) if days >= 2 else ("hour", 3600.0)

    def x(t: NDArray[Any] | float) -> NDArray[Any]:
        return (np.asarray(t, dtype=np.float64) - start) / scale

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(13, 7.5), sharex=True, height_ratios=(3, 1),
                                      constrained_layout=True)
    seq = trace.input_tokens.astype(np.float64) + trace.output_tokens
    pick = np.arange(len(trace)) if len(trace) <= DOTS_MAX else np.linspace(0, len(trace) - 1, DOTS_MAX).astype(int)
    top.scatter(x(trace.timestamps_s[pick]), np.maximum(seq[pick], 1), s=1.5, c="0.6", alpha=0.25, lw=0,
                rasterized=True, label="requests (input + output)")
    hour_mid = c.hours.starts_s + HOUR_S / 2
    top.plot(x(hour_mid), c.hours.p999, ".", color="black", ms=3, label="p99.9 of each hour")

    for name, color, style, width in (("static_model_max", "tab:red", ":", 1.5),
                                      ("static_global", "tab:orange", "--", 1.8),
                                      ("oracle", "tab:green", "-", 0.9)):
        b = c.baselines[name]
        sx, sy = _steps([(s, e.max_seq_len) for s, e in b.segments], start, end)
        top.step(x(sx), sy, where="post", color=color, ls=style, lw=width, label=f"{name.replace('_', ' ')} "
                 f"(slack {c.baseline_scores[name].mean_slack:.2f}, beyond "
                 f"{c.baseline_scores[name].beyond_envelope_fraction:.3%})")
    px, py = _steps([(s.since_s, s.envelope.max_seq_len) for s in run.timeline], start, end)
    top.step(x(px), py, where="post", color="tab:blue", lw=2.2, label=f"policy max_seq_len (slack "
             f"{c.policy.mean_slack:.2f}, beyond {c.policy.beyond_envelope_fraction:.3%})")
    builds = [b.started_s for b in run.builds_in_trace() if b.started_s >= start]
    if builds:
        top.plot(x(np.asarray(builds)), np.full(len(builds), py[np.isfinite(py)].max() * 1.35), "v",
                 color="tab:blue", ms=5, alpha=0.7, label="build started")
    top.set_yscale("log", base=2)
    top.set_ylabel("tokens (log scale)")
    top.set_title(title or "engine envelope over time")
    top.legend(loc="lower left", fontsize=8, ncol=2, framealpha=0.9)
    top.grid(True, which="major", alpha=0.3)

    width = HOUR_S / scale
    hb = np.nan_to_num(c.policy_fit.hour_beyond) * 100
    gb = np.nan_to_num(c.baseline_fits["static_global"].hour_beyond) * 100
    bottom.bar(x(c.hours.starts_s), hb, width=width, align="edge", color="tab:blue", alpha=0.8, label="policy")
    bottom.step(x(c.hours.starts_s), gb, where="post", color="tab:orange", lw=1, label="static global")
    bottom.set_ylabel("% beyond\nper hour")
    bottom.set_xlabel(f"{unit}s since the trace starts")
    bottom.legend(loc="upper right", fontsize=8)
    bottom.grid(True, alpha=0.3)
    return figures.save_png(fig, path)


__all__ = ["plot"]
