"""Season proposals judged on held-out hours from their histograms: what ``seasonal seasons suggest``
prints when its history comes from Prometheus, where no per-request trace exists to replay.

Each engine is in force for exactly its hours (no build or rollout time): the proposal's seasons at the
envelopes planned from the fitted history, the best static engine in hindsight on the held-out hours, the
static engine discovery planned, and the hourly oracle. Pure: numpy and the core, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core import histograms
from seasonal_engines.core.hourly_history import HourlyHistory
from seasonal_engines.core.season_discovery import DAY_TYPES, Proposal, Sizing, local_slots


@dataclass(frozen=True)
class HeldOutScore:
    """Engines judged on held-out hours from their histograms (no build times: each engine is in force for
    exactly its hours). ``beyond`` is the share of requests above the engine's limits, ``slack`` the mean
    over hours with at least ``min_hour_requests`` requests of max_seq_len / the hour's quantile."""

    name: str
    max_seq_len: int | None        # None: varies (seasons, the hourly oracle)
    beyond: float
    worst_hour_beyond: float
    mean_slack: float
    changes_per_day: float


def held_out(holdout: HourlyHistory, proposal: Proposal, sizing: Sizing, *, max_beyond: float = 0.001,
             min_hour_requests: float = 50) -> list[HeldOutScore]:
    """The proposal's seasons (each at the envelope planned from the fitted history), the best static
    engine in hindsight on the held-out hours (the smallest ladder step with at most ``max_beyond``
    beyond), the static engine discovery planned, and the hourly oracle (each hour's own quantile with the
    headroom, up the ladder), judged on ``holdout``."""
    wd, hr = local_slots(holdout, proposal.static.timezone)
    seq, inp = holdout.sequence_counts(), holdout.input
    n = holdout.requests
    q = sizing.sequence_quantile

    def beyond_at(limits: NDArray[Any]) -> NDArray[Any]:
        """Per hour, requests above the hour's limit (the larger of the input and sequence shortfalls)."""
        out = np.zeros(holdout.hours)
        for i in range(holdout.hours):
            if n[i] <= 0:
                continue
            hs = histograms.Histogram(holdout.bounds, tuple(float(x) for x in np.cumsum(seq[i])))
            hi = histograms.Histogram(holdout.bounds, tuple(float(x) for x in np.cumsum(inp[i])))
            cover = min(histograms.coverage(hs, limits[i]), histograms.coverage(hi, limits[i]))
            out[i] = n[i] * (1.0 - cover) if math.isfinite(cover) else 0.0
        return out

    quantile = np.full(holdout.hours, np.nan)
    for i in range(holdout.hours):
        if n[i] >= min_hour_requests:
            quantile[i] = histograms.histogram_quantile(
                q, histograms.Histogram(holdout.bounds, tuple(float(x) for x in np.cumsum(seq[i]))))
    thick = np.isfinite(quantile) & (quantile > 0)
    days = max(holdout.hours / 24.0, 1 / 24.0)

    def score(name: str, limits: NDArray[Any], fixed: int | None) -> HeldOutScore:
        b = beyond_at(limits)
        share = b / np.where(n > 0, n, 1.0)
        worst = float(share[n >= min_hour_requests].max()) if (n >= min_hour_requests).any() else float("nan")
        slack = float(np.mean(limits[thick] / quantile[thick])) if thick.any() else float("nan")
        return HeldOutScore(name, fixed, float(b.sum() / max(1.0, n.sum())), worst, slack,
                            float(np.count_nonzero(np.diff(limits) != 0)) / days)

    by_slot = {}
    for s in proposal.seasons:
        for day in DAY_TYPES[s.day_type]:
            for i in range(s.hours):
                slot = day * 24 + s.start_hour + i
                by_slot[(slot // 24 % 7, slot % 24)] = s.planned_step
    seasons_limits = np.array([by_slot.get((int(d), int(h)), proposal.static.planned_step)
                               for d, h in zip(wd, hr)], dtype=np.float64)
    out = [score("proposal", seasons_limits, None if len(proposal.seasons) > 1 else proposal.static.planned_step)]
    best = None
    for step in sizing.steps:
        cand = score(f"best static {step}", np.full(holdout.hours, float(step)), step)
        if cand.beyond <= max_beyond + 1e-12:
            best = cand
            break
    if best is not None:
        out.append(best)
    out.append(score(f"static {proposal.static.planned_step}",
                     np.full(holdout.hours, float(proposal.static.planned_step)), proposal.static.planned_step))
    oracle = np.array([sizing.step(quantile[i]) if thick[i] else proposal.static.planned_step
                       for i in range(holdout.hours)], dtype=np.float64)
    out.append(score("hourly oracle", oracle, None))
    return out


__all__ = ["HeldOutScore", "held_out"]
