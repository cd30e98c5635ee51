"""Pictures of a planning window: the ISL x OSL heat map with the engine's limits drawn on it.

With per-request lengths (a trace) the picture is the 2-D histogram of prompt and output tokens on log
axes, the ``max_input_len`` line, the ``input + output = max_seq_len`` curve, the region beyond the engine
shaded and every request beyond it marked (they are too few to show in the colours), with the two
marginals on the sides. With Prometheus buckets only the marginals exist (the joint pairing is unknown),
so the picture shows the input, output and sequence distributions with their limits.
Renders PNG files through matplotlib's Agg canvas (no pyplot, no display); writes only the given path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator
from numpy.typing import NDArray

from seasonal_engines.core.histograms import Histogram

LIMIT_COLOUR = "#d62728"     # max_input_len
SEQUENCE_COLOUR = "#ff7f0e"  # max_seq_len
BEYOND_COLOUR = "#d62728"
BINS_PER_OCTAVE = 6


def _tokens(x: float, _pos: Any = None) -> str:
    if x >= 1024 and x % 1024 == 0:
        return f"{int(x) // 1024}k"
    if x >= 1000:
        return f"{x / 1000:g}k"
    return f"{x:g}"


def _log_axis(axis: Any, base: int = 2) -> None:
    axis.set_major_locator(LogLocator(base=base, numticks=20))
    axis.set_major_formatter(FuncFormatter(_tokens))
    axis.set_minor_formatter(FuncFormatter(lambda *_: ""))


def _edges(top: float) -> NDArray[Any]:
    """Log-spaced bin edges on half-integers, so that small whole token counts each get a whole bin."""
    octaves = max(1.0, np.log2(max(top, 2.0)))
    points = np.ceil(2.0 ** (np.arange(0, np.ceil(octaves * BINS_PER_OCTAVE) + 2) / BINS_PER_OCTAVE))
    return cast(NDArray[Any], np.unique(np.concatenate([[1.0], points])) - 0.5)


def render_requests(path: str | Path, input_tokens: NDArray[Any], output_tokens: NDArray[Any], *, max_input_len: int,
                    max_seq_len: int, title: str = "", subtitle: str = "") -> Path:
    """The 2-D ISL x OSL histogram of individual requests with the engine's limits. Returns the path."""
    inp = np.maximum(np.asarray(input_tokens, dtype=np.float64), 1.0)  # log axes: 0 tokens drawn at 1
    out = np.maximum(np.asarray(output_tokens, dtype=np.float64), 1.0)
    if inp.size == 0:
        raise ValueError("no requests to draw")
    raw_in, raw_out = np.asarray(input_tokens), np.asarray(output_tokens)
    over_input = raw_in > max_input_len
    over_seq = raw_in + raw_out > max_seq_len
    beyond = over_input | over_seq
    n = inp.size
    top = max(inp.max(), out.max(), max_seq_len) * 1.15
    xe, ye = _edges(top), _edges(top)
    counts, _, _ = np.histogram2d(inp, out, bins=[xe, ye])

    fig = Figure(figsize=(11, 8.5), dpi=110)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 3, width_ratios=[5, 1.2, 0.22], height_ratios=[1.2, 5], wspace=0.05, hspace=0.05,
                            left=0.08, right=0.93, bottom=0.08, top=0.86)
    ax = fig.add_subplot(grid[1, 0])
    top_ax = fig.add_subplot(grid[0, 0], sharex=ax)
    right_ax = fig.add_subplot(grid[1, 1], sharey=ax)
    cax = fig.add_subplot(grid[1, 2])

    masked = np.ma.masked_less(counts.T, 1)  # type: ignore[no-untyped-call]  # numpy.ma has no annotations
    mesh = ax.pcolormesh(xe, ye, masked, cmap="viridis", norm=LogNorm(vmin=1, vmax=max(2, counts.max())))
    cb = fig.colorbar(mesh, cax=cax)
    cb.set_label("requests per cell")

    x_hi, y_hi = xe[-1], ye[-1]
    curve_x = np.geomspace(1.0, max_seq_len - 1, 400)
    curve_y = max_seq_len - curve_x
    ax.fill_between(curve_x, np.maximum(curve_y, 1.0), y_hi, color=SEQUENCE_COLOUR, alpha=0.10, lw=0)
    ax.axvspan(max_input_len, x_hi, color=LIMIT_COLOUR, alpha=0.10, lw=0)
    ax.plot(curve_x, curve_y, color=SEQUENCE_COLOUR, lw=2.2,
            label=f"input + output = max_seq_len ({max_seq_len:,})")
    ax.axvline(max_input_len, color=LIMIT_COLOUR, lw=2.2, ls="--", label=f"max_input_len ({max_input_len:,})")
    if beyond.any():
        ax.scatter(inp[beyond], out[beyond], s=22, marker="x", color=BEYOND_COLOUR, lw=1.2, zorder=5,
                   label=f"beyond the engine: {int(beyond.sum()):,} requests ({beyond.mean():.3%})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(xe[0], x_hi)
    ax.set_ylim(ye[0], y_hi)
    _log_axis(ax.xaxis)
    _log_axis(ax.yaxis)
    ax.set_xlabel("input (prompt) tokens, log scale")
    ax.set_ylabel("output (generated) tokens, log scale (0 drawn at 1)")
    ax.grid(True, which="major", color="#cccccc", lw=0.5, alpha=0.6)
    ax.legend(loc="upper left", fontsize=9, framealpha=0.92)
    summary = (f"{n:,} requests\n"
               f"inside the engine: {1 - beyond.mean():.3%}\n"
               f"prompt <= max_input_len: {1 - over_input.mean():.3%}\n"
               f"prompt + output <= max_seq_len: {1 - over_seq.mean():.3%}")
    ax.text(0.985, 0.975, summary, transform=ax.transAxes, ha="right", va="top", fontsize=9.5,
            family="monospace", bbox={"boxstyle": "round", "fc": "white", "ec": "#888888", "alpha": 0.92})

    top_ax.hist(inp, bins=list(xe), color="#3b528b", alpha=0.85)
    top_ax.axvline(max_input_len, color=LIMIT_COLOUR, lw=2, ls="--")
    top_ax.set_ylabel("requests")
    top_ax.tick_params(labelbottom=False)
    top_ax.set_yscale("log")
    right_ax.hist(out, bins=list(ye), orientation="horizontal", color="#21918c", alpha=0.85)
    right_ax.set_xlabel("requests")
    right_ax.set_xscale("log")
    right_ax.tick_params(labelleft=False)

    fig.suptitle(title or "Prompt x output tokens with the engine's limits", fontsize=13, y=0.965)
    if subtitle:
        fig.text(0.5, 0.905, subtitle, ha="center", fontsize=9.5, color="#444444")
    return _save(fig, path)


def _density(h: Histogram) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Finite bucket edges, per-bucket counts, and counts per token (so wide buckets do not look tall)."""
    bounds = np.asarray(h.bounds, dtype=np.float64)
    per = np.diff(np.asarray(h.counts, dtype=np.float64), prepend=0.0).clip(min=0.0)
    finite = np.isfinite(bounds)
    upper = bounds[finite]
    lower = np.concatenate([[max(upper[0] / 2, 0.5)], upper[:-1]])
    counts = per[finite]
    return np.concatenate([lower[:1], upper]), counts, counts / np.maximum(upper - lower, 1e-9)


def render_marginals(path: str | Path, input_hist: Histogram, output_hist: Histogram, sequence_hist: Histogram, *,
                     max_input_len: int, max_seq_len: int, coverage_input: float, coverage_sequence: float,
                     sequence_is_bound: bool, title: str = "", subtitle: str = "") -> Path:
    """Prometheus buckets only: input, output and sequence distributions (per token, log axes) with limits."""
    fig = Figure(figsize=(13, 5.2), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, sharey=False)
    panels = [
        (axes[0], input_hist, "input (prompt) tokens", max_input_len, "max_input_len", coverage_input,
         LIMIT_COLOUR),
        (axes[1], output_hist, "output (generated) tokens", None, "", None, None),
        (axes[2], sequence_hist, "input + output tokens" + (" (bound)" if sequence_is_bound else ""), max_seq_len,
         "max_seq_len", coverage_sequence, SEQUENCE_COLOUR),
    ]
    for ax, h, label, limit, limit_name, cov, colour in panels:
        edges, counts, dens = _density(h)
        ax.stairs(dens, edges, fill=True, color="#3b528b", alpha=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _log_axis(ax.xaxis, base=4)  # narrow panels: a tick every two octaves stays legible
        ax.set_xlabel(label)
        ax.grid(True, which="major", color="#cccccc", lw=0.5, alpha=0.6)
        beyond_inf = h.total - (float(h.counts[-2]) if len(h.counts) > 1 else 0.0)
        if beyond_inf > 0:
            ax.text(0.98, 0.03, f"{beyond_inf:,.0f} above the last bucket", transform=ax.transAxes, ha="right",
                    va="bottom", fontsize=8.5, color="#666666")
        if limit is not None:
            ax.axvline(limit, color=colour, lw=2.2, ls="--", label=f"{limit_name} ({limit:,})")
            ax.axvspan(limit, max(edges[-1], limit * 1.5), color=colour, alpha=0.10, lw=0)
            ax.legend(loc="upper right", fontsize=9, title=f"covers {cov:.3%}", title_fontsize=9)
    axes[0].set_ylabel("requests per token of bucket width")
    fig.suptitle(title or "Sequence lengths with the engine's limits", fontsize=13)
    if subtitle:
        fig.text(0.5, 0.905, subtitle, ha="center", fontsize=9.5, color="#444444")
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.84, wspace=0.22)
    return _save(fig, path)


def render_plan(path: str | Path, plan: Any, profile: Any,
                requests: tuple[NDArray[Any], NDArray[Any]] | None = None, window: str | None = None) -> Path:
    """The picture for a ``core.sizing.plans.Plan`` and its ``TrafficProfile``: the 2-D heat map when the
    per-request lengths are given, else the marginals. ``window`` describes the planning window (default:
    the profile's start and end)."""
    b = plan.build
    title = (f"{plan.model_ref.name} on {plan.gpu.product}: engine {plan.engine_id} "
             f"(max_input_len {b.max_input_len:,}, max_seq_len {b.max_seq_len:,})")
    window = window or f"{plan.traffic.start[:19]} .. {plan.traffic.end[:19]}"
    subtitle = (f"window {window}, {plan.traffic.samples:,.0f} requests"
                + (f", season {plan.season}" if plan.season else ""))
    if requests is not None:
        return render_requests(path, requests[0], requests[1], max_input_len=b.max_input_len,
                               max_seq_len=b.max_seq_len, title=title, subtitle=subtitle)
    return render_marginals(path, profile.input, profile.output, profile.sequence, max_input_len=b.max_input_len,
                            max_seq_len=b.max_seq_len, coverage_input=plan.predictions.coverage_input,
                            coverage_sequence=plan.predictions.coverage_sequence,
                            sequence_is_bound=plan.traffic.sequence_source == "bound", title=title,
                            subtitle=subtitle)


def _save(fig: Figure, path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise ValueError(f"heat map path {p} must end in .png")
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, format="png")
    return p


__all__ = ["render_requests", "render_marginals", "render_plan"]
