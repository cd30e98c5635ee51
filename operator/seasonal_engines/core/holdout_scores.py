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
    hours = _HeldOutHours.of(holdout, sizing.sequence_quantile, min_hour_requests)
    planned = proposal.static.planned_step
    out = [hours.score("proposal", _season_limits(holdout, proposal),
                       None if len(proposal.seasons) > 1 else planned)]
    best = _best_static(hours, sizing.steps, max_beyond)
    if best is not None:
        out.append(best)
    out.append(hours.score(f"static {planned}", np.full(holdout.hours, float(planned)), planned))
    thick = hours.thick
    oracle = np.array([sizing.step(hours.quantile[i]) if thick[i] else planned for i in range(holdout.hours)],
                      dtype=np.float64)
    out.append(hours.score("hourly oracle", oracle, None))
    return out


@dataclass(frozen=True, eq=False)
class _HeldOutHours:
    """The held-out hours as the scores read them: per hour its requests, its sequence and input counts and
    its own sizing quantile (NaN below ``min_hour_requests``, too few to have one)."""

    history: HourlyHistory
    requests: NDArray[Any]
    sequence: NDArray[Any]
    quantile: NDArray[Any]
    min_hour_requests: float

    @classmethod
    def of(cls, holdout: HourlyHistory, q: float, min_hour_requests: float) -> _HeldOutHours:
        n, seq = holdout.requests, holdout.sequence_counts()
        quantile = np.full(holdout.hours, np.nan)
        for i in range(holdout.hours):
            if n[i] >= min_hour_requests:
                quantile[i] = histograms.histogram_quantile(q, _histogram(holdout, seq[i]))
        return cls(holdout, n, seq, quantile, min_hour_requests)

    @property
    def thick(self) -> NDArray[Any]:
        """Hours whose quantile the slack is measured against."""
        thick: NDArray[Any] = np.isfinite(self.quantile) & (self.quantile > 0)
        return thick

    def beyond(self, limits: NDArray[Any]) -> NDArray[Any]:
        """Per hour, requests above the hour's limit (the larger of the input and sequence shortfalls)."""
        h, n = self.history, self.requests
        out = np.zeros(h.hours)
        for i in range(h.hours):
            if n[i] <= 0:
                continue
            cover = min(histograms.coverage(_histogram(h, self.sequence[i]), limits[i]),
                        histograms.coverage(_histogram(h, h.input[i]), limits[i]))
            out[i] = n[i] * (1.0 - cover) if math.isfinite(cover) else 0.0
        return out

    def score(self, name: str, limits: NDArray[Any], fixed: int | None) -> HeldOutScore:
        """One engine judged on these hours, at ``limits`` (max_seq_len per hour)."""
        b, n, thick = self.beyond(limits), self.requests, self.thick
        share = b / np.where(n > 0, n, 1.0)
        counted = n >= self.min_hour_requests
        worst = float(share[counted].max()) if counted.any() else float("nan")
        slack = float(np.mean(limits[thick] / self.quantile[thick])) if thick.any() else float("nan")
        days = max(self.history.hours / 24.0, 1 / 24.0)
        return HeldOutScore(name, fixed, float(b.sum() / max(1.0, n.sum())), worst, slack,
                            float(np.count_nonzero(np.diff(limits) != 0)) / days)


def _histogram(history: HourlyHistory, counts: NDArray[Any]) -> histograms.Histogram:
    """One hour's per-bucket counts as the cumulative histogram ``histograms`` reads."""
    return histograms.Histogram(history.bounds, tuple(float(x) for x in np.cumsum(counts)))


def _season_limits(holdout: HourlyHistory, proposal: Proposal) -> NDArray[Any]:
    """Per held-out hour, the planned step of the proposal's season at its local weekday and hour (the
    static engine's outside every season)."""
    wd, hr = local_slots(holdout, proposal.static.timezone)
    by_slot = {}
    for s in proposal.seasons:
        for day in DAY_TYPES[s.day_type]:
            for i in range(s.hours):
                slot = day * 24 + s.start_hour + i
                by_slot[(slot // 24 % 7, slot % 24)] = s.planned_step
    return np.array([by_slot.get((int(d), int(h)), proposal.static.planned_step) for d, h in zip(wd, hr)],
                    dtype=np.float64)


def _best_static(hours: _HeldOutHours, steps: tuple[int, ...], max_beyond: float) -> HeldOutScore | None:
    """The smallest ladder step with at most ``max_beyond`` of the held-out requests beyond it (None: none)."""
    for step in steps:
        cand = hours.score(f"best static {step}", np.full(hours.history.hours, float(step)), step)
        if cand.beyond <= max_beyond + 1e-12:
            return cand
    return None


__all__ = ["HeldOutScore", "held_out"]
