"""Replay the policy and the baselines on one trace and score them on the same hours.

``compare(trace, spec, settings)`` runs ``simulating.replay``, plans the three baselines, judges every
request by the engine it met (``scoring.fit``) and summarises each (``scoring.score``). The result keeps
the per-request and per-hour figures for plots. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def static_at_equal_slack(self) -> tuple[int, scoring.Score] | None:
        """The smallest static ladder engine whose mean slack is at least the policy's (None: none is)."""
        return next(((s, sc) for s, sc in self.frontier if sc.mean_slack >= self.policy.mean_slack), None)

    def best_hindsight_static(self, max_beyond: float) -> tuple[int, scoring.Score] | None:
        """The smallest static ladder engine whose beyond-envelope share is at most ``max_beyond`` (None: none
        is): the best static engine one could have chosen knowing the whole trace."""
        return next(((s, sc) for s, sc in self.frontier if sc.beyond_envelope_fraction <= max_beyond), None)


def compare(trace: Trace, spec: InferenceServiceSpec, settings: simulating.Settings | None = None, *,
            min_hour_requests: int = scoring.MIN_HOUR_REQUESTS) -> Comparison:
    run = simulating.replay(trace, spec, settings)
    hours = scoring.Hours.of(trace)
    days = scoring.trace_days(trace)
    policy_fit = scoring.fit(trace, run.served.max_input_len, run.served.max_seq_len, hours,
                             min_hour_requests=min_hour_requests)
    policy = scoring.score(policy_fit, days=days, rebuilds=len(run.builds_in_trace()),
                           rollovers=len(run.rollouts_in_trace()))
    bases = baselines.all_baselines(trace, spec, hours)
    fits = {name: scoring.fit(trace, b.max_input_len, b.max_seq_len, hours, min_hour_requests=min_hour_requests)
            for name, b in bases.items()}
    scores = {name: scoring.score(fits[name], days=days, rebuilds=b.rebuilds, rollovers=b.rollovers)
              for name, b in bases.items()}
    front = [(int(b.max_seq_len[0]) if len(b.max_seq_len) else 0, scoring.score(
        scoring.fit(trace, b.max_input_len, b.max_seq_len, hours, min_hour_requests=min_hour_requests),
        days=days, rebuilds=0, rollovers=0)) for b in baselines.frontier(trace, spec)]
    return Comparison(run, hours, policy_fit, policy, bases, fits, scores, front)


__all__ = ["Comparison", "compare"]
