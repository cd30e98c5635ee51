"""How well a sequence of engines fit a trace: coverage, slack and churn, for the policy and the baselines.

Definitions (each request is judged by the limits of the engine that served it):

* **beyond the envelope**: the request does not run to completion on its engine (prompt over
  ``max_input_len``, or prompt + output over ``max_seq_len``): ``core.censoring.admit`` censored it.
  Reported overall and for the worst clock hour.
* **slack** of a clock hour: the mean ``max_seq_len`` the hour's requests met, divided by the oracle
  p99.9 of their true input + output (numpy's linear interpolation over the exact lengths). 1.0 is an
  engine exactly as long as the hour's p99.9; 2.0 reserves twice that. Mean and p95 over the hours.
* **rebuilds / rollovers per day**: engines built / rolled out while the trace runs, per day of trace.

Hours with fewer than ``min_hour_requests`` requests are left out of the worst hour and of slack: a
p99.9 of a handful of requests is just the longest of them. Pure: numpy only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core import censoring
from seasonal_engines.traces.readers import Trace

ORACLE_QUANTILE = 0.999
MIN_HOUR_REQUESTS = 50
HOUR_S = 3600.0
DAY_S = 86400.0


@dataclass(frozen=True)
class Hours:
    """The trace cut into clock hours: per hour its start, request count and oracle p99.9 of input+output."""

    starts_s: NDArray[Any]
    requests: NDArray[Any]
    p999: NDArray[Any]
    index: NDArray[Any]  # per request, the position of its hour in these arrays

    @classmethod
    def of(cls, trace: Trace) -> Hours:
        hour = np.floor(trace.timestamps_s / HOUR_S).astype(np.int64)
        ids, index, counts = np.unique(hour, return_inverse=True, return_counts=True)
        seq = trace.input_tokens.astype(np.float64) + trace.output_tokens.astype(np.float64)
        order = np.argsort(index, kind="stable")
        groups = np.split(seq[order], np.cumsum(counts)[:-1])
        p999 = np.asarray([np.quantile(g, ORACLE_QUANTILE) for g in groups], dtype=np.float64)
        return cls(ids.astype(np.float64) * HOUR_S, counts, p999, index)


@dataclass(frozen=True)
class Score:
    """The figures of one policy on one trace; ``to_json`` is the replay's JSON contract."""

    requests: int
    beyond_envelope_fraction: float
    worst_hour_beyond_fraction: float
    mean_slack: float
    p95_slack: float
    rebuilds_per_day: float
    rollovers_per_day: float

    def to_json(self) -> dict[str, Any]:
        return {k: _number(v) for k, v in asdict(self).items()}


@dataclass(frozen=True, eq=False)
class Fit:
    """Per request: beyond its engine or not; per hour: beyond share and slack (NaN for thin hours)."""

    beyond: NDArray[Any]
    hour_beyond: NDArray[Any]
    hour_slack: NDArray[Any]
    hours: Hours


def fit(trace: Trace, max_input_len: NDArray[Any], max_seq_len: NDArray[Any], hours: Hours | None = None, *,
        min_hour_requests: int = MIN_HOUR_REQUESTS) -> Fit:
    """Judge each request by the limits it met (arrays aligned with the trace)."""
    if len(max_input_len) != len(trace) or len(max_seq_len) != len(trace):
        raise ValueError(f"limits must be given per request: the trace holds {len(trace)} requests, got "
                         f"{len(max_input_len)} and {len(max_seq_len)} limits")
    hours = hours or Hours.of(trace)
    adm = censoring.admit(trace.input_tokens, trace.output_tokens, max_input_len,
                          max_seq_len)
    beyond = adm.censored
    n = len(hours.requests)
    beyond_per_hour = np.bincount(hours.index, weights=beyond.astype(np.float64), minlength=n)
    seq_per_hour = np.bincount(hours.index, weights=np.asarray(max_seq_len, dtype=np.float64), minlength=n)
    thick = hours.requests >= min_hour_requests
    with np.errstate(divide="ignore", invalid="ignore"):
        hour_beyond = np.where(thick, beyond_per_hour / hours.requests, np.nan)
        hour_slack = np.where(thick & (hours.p999 > 0), seq_per_hour / hours.requests / hours.p999, np.nan)
    return Fit(beyond, hour_beyond, hour_slack, hours)


def score(f: Fit, *, days: float, rebuilds: int, rollovers: int) -> Score:
    """The summary figures of a fit, with the churn counted over ``days`` of trace."""
    if days <= 0:
        raise ValueError(f"the trace must span some time, got {days} days")
    slack = f.hour_slack[np.isfinite(f.hour_slack)]
    worst = f.hour_beyond[np.isfinite(f.hour_beyond)]
    return Score(
        requests=int(len(f.beyond)),
        beyond_envelope_fraction=float(f.beyond.mean()) if len(f.beyond) else 0.0,
        worst_hour_beyond_fraction=float(worst.max()) if len(worst) else float("nan"),
        mean_slack=float(slack.mean()) if len(slack) else float("nan"),
        p95_slack=float(np.quantile(slack, 0.95)) if len(slack) else float("nan"),
        rebuilds_per_day=rebuilds / days, rollovers_per_day=rollovers / days)


def _number(v: Any) -> Any:
    """Floats rounded for people; NaN (no hour qualified) as JSON null."""
    if isinstance(v, float):
        return round(v, 6) if np.isfinite(v) else None
    return v


def trace_days(trace: Trace) -> float:
    """Days the trace covers (at least one second's worth, so a one-request trace still divides)."""
    return max(trace.duration_s, 1.0) / DAY_S


__all__ = ["Hours", "Score", "Fit", "fit", "score", "trace_days", "ORACLE_QUANTILE", "MIN_HOUR_REQUESTS"]
