"""Replay the policy and the baselines on one trace and score them on the same hours.

``compare(trace, spec, settings)`` runs ``simulating.replay``, plans the three baselines, judges every
request by the engine it met (``scoring.fit``) and summarises each (``scoring.score``). The result keeps
the per-request and per-hour figures for plots, and names the best static engine in hindsight at a
coverage target (``best_hindsight_static``). ``score_from_s`` scores only a held-out last part of the
trace, the part before it being the history the policy learned from. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seasonal_engines.api.spec import InferenceServiceSpec
from seasonal_engines.replay import baselines, scoring, simulating
from seasonal_engines.traces.readers import Trace


@dataclass(frozen=True, eq=False)
class Comparison:
    run: simulating.ReplayRun
    hours: scoring.Hours
    policy_fit: scoring.Fit
    policy: scoring.Score
    baselines: dict[str, baselines.Baseline]
    baseline_fits: dict[str, scoring.Fit]
    baseline_scores: dict[str, scoring.Score]
    frontier: list[tuple[int, scoring.Score]]  # static engines at each ladder step: (max_seq_len, score)

    scored: Trace | None = None  # the requests scored, when not the whole replayed trace (a held-out part)

    def static_at_equal_slack(self) -> tuple[int, scoring.Score] | None:
        """The smallest static ladder engine whose mean slack is at least the policy's (None: none is)."""
        return next(((s, sc) for s, sc in self.frontier if sc.mean_slack >= self.policy.mean_slack), None)

    def best_hindsight_static(self, max_beyond: float) -> tuple[int, scoring.Score] | None:
        """The best static engine in hindsight at a coverage target: the smallest frontier ladder step whose
        beyond-envelope fraction over the scored trace is at most ``max_beyond`` (None: no step is)."""
        return next(((s, sc) for s, sc in self.frontier if sc.beyond_envelope_fraction <= max_beyond + 1e-12),
                    None)


def compare(trace: Trace, spec: InferenceServiceSpec, settings: simulating.Settings | None = None, *,
            min_hour_requests: int = scoring.MIN_HOUR_REQUESTS, score_from_s: float | None = None) -> Comparison:
    """Replay ``trace`` and score it; with ``score_from_s`` the whole trace is replayed (its earlier part is
    the history the policy learns from) but only requests from that instant on are scored, policy and
    baselines alike, and only builds and rollouts started from then on count."""
    run = simulating.replay(trace, spec, settings)
    max_input_len, max_seq_len = run.served.max_input_len, run.served.max_seq_len
    start = trace.first_s
    scored: Trace | None = None
    if score_from_s is not None:
        if not trace.first_s <= score_from_s < trace.last_s:
            raise ValueError(f"the scored part must start inside the trace ({trace.first_s:.0f} .. "
                             f"{trace.last_s:.0f} s), got {score_from_s:.0f}")
        lo = int(np.searchsorted(trace.timestamps_s, score_from_s, side="left"))
        scored = trace.window(score_from_s, trace.last_s + 1.0)
        max_input_len, max_seq_len = max_input_len[lo:], max_seq_len[lo:]
        start, trace = score_from_s, scored
        if len(trace) == 0:
            raise ValueError("no requests in the scored part of the trace")
    hours = scoring.Hours.of(trace)
    days = scoring.trace_days(trace)
    policy_fit = scoring.fit(trace, max_input_len, max_seq_len, hours, min_hour_requests=min_hour_requests)
    policy = scoring.score(policy_fit, days=days,
                           rebuilds=sum(1 for b in run.builds_in_trace() if b.started_s >= start),
                           rollovers=sum(1 for r in run.rollouts_in_trace() if r.started_s >= start))
    bases = baselines.all_baselines(trace, spec, hours)
    fits = {name: scoring.fit(trace, b.max_input_len, b.max_seq_len, hours, min_hour_requests=min_hour_requests)
            for name, b in bases.items()}
    scores = {name: scoring.score(fits[name], days=days, rebuilds=b.rebuilds, rollovers=b.rollovers)
              for name, b in bases.items()}
    front = [(int(b.max_seq_len[0]) if len(b.max_seq_len) else 0, scoring.score(
        scoring.fit(trace, b.max_input_len, b.max_seq_len, hours, min_hour_requests=min_hour_requests),
        days=days, rebuilds=0, rollovers=0)) for b in baselines.frontier(trace, spec)]
    return Comparison(run, hours, policy_fit, policy, bases, fits, scores, front, scored)


__all__ = ["Comparison", "compare"]
