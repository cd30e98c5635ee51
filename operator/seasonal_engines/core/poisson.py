"""Peak request rate from a mean rate, by the Poisson arrival model.

Requests from many independent users arrive as a Poisson process, so the number arriving in one second
at a mean rate of ``r`` requests per second is Poisson(``r``). The peak rate used for sizing is the
``percentile`` point of that count: the smallest whole number ``k`` of arrivals in one interval with
``P(N <= k) >= percentile``, divided by the interval. This is the per-second sizing method of NVIDIA's
capacity-planning material. Pure: no I/O.
"""

from __future__ import annotations

import math

import numpy as np


def peak_rate(rate_rps: float, percentile: float = 0.99, interval_s: float = 1.0) -> float:
    """Requests per second that the arrivals of one ``interval_s`` stay at or below with probability
    ``percentile``, for Poisson arrivals at ``rate_rps``."""
    if not 0 < percentile < 1:
        raise ValueError(f"peak percentile must be inside (0, 1), got {percentile}")
    if not interval_s > 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    if not math.isfinite(rate_rps) or rate_rps < 0:
        raise ValueError(f"rate_rps must be a finite number >= 0, got {rate_rps}")
    return poisson_quantile(rate_rps * interval_s, percentile) / interval_s


def poisson_quantile(lam: float, p: float) -> int:
    """Smallest ``k`` with ``P(N <= k) >= p`` for ``N ~ Poisson(lam)``.

    Summed in log space over ``lam ± 12 sqrt(lam)``: outside that range the probability mass is below
    1e-30, and ``exp(-lam)`` alone would underflow for the rates of a busy service.
    """
    if lam <= 0:
        return 0
    spread = 12.0 * math.sqrt(lam) + 12.0
    lo = max(0, int(lam - spread))
    hi = int(lam + spread) + 1
    k = np.arange(lo, hi + 1, dtype=np.float64)
    log_pmf = k * math.log(lam) - lam - np.array([math.lgamma(x + 1.0) for x in k])
    cdf = np.cumsum(np.exp(log_pmf))
    # Mass below `lo` is negligible, so cdf here is the true CDF to ~1e-30.
    idx = int(np.searchsorted(cdf, p - 1e-15, side="left"))
    return int(lo + min(idx, len(k) - 1))
