"""The hour-of-week strip of a season proposal: the sizing quantile of every hour of the week with its
sampling error, the proposed seasons' windows and engines, and the single static engine.

x is the hour of the week in the proposal's timezone (Monday 00:00 to Sunday 24:00), y tokens on a log
scale: one dot per hour slot (the quantile of the requests of history that fell in it) with its
confidence interval, the same hour of the day pooled over every day of the season's day type (the pools
discovery sizes, with their interval as a band), shaded windows for the seasons, a step line for the
envelope each season's plan reaches and a dashed line for one engine all week. Writes a PNG with
matplotlib's Agg backend; this is the only I/O here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from seasonal_engines.core import season_discovery  # noqa: E402
from seasonal_engines.pictures import figures  # noqa: E402

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def week_envelope(proposal: season_discovery.Proposal) -> NDArray[Any]:
    """The planned max_seq_len in force at each of the 168 hours of the week (NaN where no season is)."""
    out = np.full(168, np.nan)
    for s in proposal.seasons:
        for day in season_discovery.DAY_TYPES[s.day_type]:
            for i in range(s.hours):
                out[(day * 24 + s.start_hour + i) % 168] = s.planned_step
    return out


def plot(proposal: season_discovery.Proposal, path: str | Path, title: str = "") -> Path:
    """Draw the strip of ``proposal`` (which must carry its profile) into ``path`` and return it."""
    profile = proposal.profile
    if profile is None:
        raise ValueError("the proposal carries no hour-of-week profile: discover it with with_profile=True")
    x = np.arange(168) + 0.5
    fig, ax = plt.subplots(figsize=(13, 4.8), constrained_layout=True)
    names: dict[str, str] = {}
    for k, s in enumerate(proposal.seasons):
        colour = _COLOURS[k % len(_COLOURS)]
        names[s.name] = colour
        for day in season_discovery.DAY_TYPES[s.day_type]:
            start = day * 24 + s.start_hour
            for lo, hi in ((start, min(start + s.hours, 168)), (0, max(0, start + s.hours - 168))):
                if hi > lo:
                    ax.axvspan(lo, hi, color=colour, alpha=0.08, lw=0)
    types = sorted({s.day_type for s in proposal.seasons}, key=list(season_discovery.DAY_TYPES).index)
    for t in types:
        rows = profile.by_hour.get(t)
        if rows is None:
            continue
        for day in season_discovery.DAY_TYPES[t]:
            hx = day * 24 + np.arange(25)
            band_lo = np.append(rows[1], rows[1][-1])
            band_hi = np.append(np.where(np.isfinite(rows[2]), rows[2], rows[0]), rows[2][-1] if np.isfinite(
                rows[2][-1]) else rows[0][-1])
            ax.fill_between(hx, np.maximum(band_lo, 1.0), band_hi, step="post", color="tab:blue", alpha=0.18, lw=0,
                            label=f"same hour pooled over {t} days: {profile.confidence:.0%} interval"
                            if day == season_discovery.DAY_TYPES[t][0] and t == types[0] else None)
            ax.step(hx, np.append(rows[0], rows[0][-1]), where="post", color="tab:blue", lw=1,
                    label=f"same hour pooled over {'/'.join(types)} days" if day == season_discovery.DAY_TYPES[t][0]
                    and t == types[0] else None)
    have = np.isfinite(profile.value)
    lower = np.where(have, np.maximum(profile.lower, 1.0), np.nan)
    upper = np.where(have & np.isfinite(profile.upper), profile.upper, np.nan)
    ax.vlines(x[have], lower[have], np.where(np.isfinite(upper), upper, profile.value)[have], color="0.55", lw=1,
              label=f"one hour of the week: {profile.confidence:.0%} interval (order statistics)")
    open_top = have & ~np.isfinite(profile.upper)
    if open_top.any():
        ax.plot(x[open_top], profile.value[open_top], "^", color="0.55", ms=4,
                label="upper bound unknown (too few requests)")
    ax.plot(x[have], profile.value[have], ".", color="black", ms=4,
            label=f"p{100 * profile.quantile:g} of one hour of the week (pooled over the weeks)")
    env = week_envelope(proposal)
    ax.step(np.arange(169), np.append(env, env[-1]), where="post", color="tab:red", lw=2,
            label="proposed engines (planned max_seq_len)")
    ax.axhline(proposal.static.planned_step, color="tab:orange", ls="--", lw=1.5,
               label=f"one engine all week ({proposal.static.planned_step})")
    for s in proposal.seasons:
        start = season_discovery.DAY_TYPES[s.day_type][0] * 24 + s.start_hour
        ax.text(start + 0.3, s.planned_step * 1.08, s.name, color=names[s.name], fontsize=8, va="bottom")
    ax.set_yscale("log", base=2)
    ax.set_xlim(0, 168)
    ax.set_xticks(np.arange(0, 169, 24), [f"{d} 00" for d in _DAYS] + [""], ha="left")
    ax.set_xticks(np.arange(0, 168, 6), minor=True)
    ax.set_xlabel(f"hour of the week ({profile.timezone})")
    ax.set_ylabel("tokens, prompt + output (log scale)")
    ax.set_title(title or textwrap.fill(proposal.reason, 160), fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, ncol=2, framealpha=0.9)
    return figures.save_png(fig, path)


__all__ = ["plot", "week_envelope"]
