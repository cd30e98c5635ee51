"""From an observed length distribution to one engine limit: quantile, headroom, ladder, coverage guarantee.

A limit starts at the target quantile (PromQL ``histogram_quantile``) times ``1 + headroom``, rounds up to
the next ladder step (so neighbouring seasons land on the same sizes and share engines), then grows step by
step until the planning window's own requests are covered: coverage >= the target quantile and the share
beyond <= ``max_beyond_fraction``. Nothing exceeds the model's context; when that clamps, the choice says so.
Pure: histograms in, a ``LimitChoice`` out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from seasonal_engines.core import histograms
from seasonal_engines.core.histograms import Histogram

_EPS = 1e-12  # float slack when comparing shares


@dataclass(frozen=True)
class LimitChoice:
    """How one limit was chosen; every figure in tokens except the shares."""

    name: str                 # build flag, e.g. "max_seq_len"
    dimension: str            # "input" or "sequence"
    target_quantile: float
    quantile_value: float     # observed quantile of the planning window
    headroom: float
    with_headroom: float      # quantile_value x (1 + headroom)
    first_step: int           # ladder step the value with headroom rounded up to
    value: int                # the limit
    grown_steps: int          # ladder steps added to reach the coverage target
    clamped_to: int | None    # the model's context when it capped the limit
    coverage: float           # share of the window's requests at or below the limit
    floor: int = 0            # a lower bound from another limit (max_seq_len >= max_input_len)

    @property
    def beyond(self) -> float:
        return 1.0 - self.coverage

    def explain(self) -> str:
        """One line for people: the quantile, the headroom, the rounding, and why it grew or was capped."""
        q = f"p{_percent(self.target_quantile)}"
        text = (f"{self.name} = {self.value}: {self.dimension} {q} is {self.quantile_value:,.0f} tokens, "
                f"+{self.headroom:.0%} headroom = {self.with_headroom:,.0f}, rounded up the ladder to "
                f"{self.first_step}")
        if self.floor > self.with_headroom:
            text += f" (raised to at least max_input_len {self.floor})"
        if self.grown_steps:
            text += f", grown {self.grown_steps} ladder step(s) so the window's coverage reaches the target"
        if self.clamped_to is not None:
            text += f"; capped at the model's context of {self.clamped_to} tokens"
        return text + f"; covers {self.coverage:.3%} of the window's requests"


def _percent(q: float) -> str:
    text = f"{q * 100:.4f}".rstrip("0").rstrip(".")
    return text


def step_at_least(value: float, steps: Sequence[int]) -> int:
    """The smallest step >= value, or the largest step when none is."""
    for s in steps:
        if s >= value:
            return s
    return steps[-1]


def effective_ladder(ladder: Sequence[int], cap: int) -> tuple[int, ...]:
    """The ladder's steps below ``cap``, continued by doubling past its top, ending exactly at ``cap``.

    Ending at the model's context makes clamping a ladder step like any other.
    """
    if cap < 1:
        raise ValueError(f"the model's context must be positive, got {cap}")
    steps = [s for s in sorted(set(int(x) for x in ladder)) if s < cap]
    top = steps[-1] if steps else 0
    while top and top * 2 < cap:
        top *= 2
        steps.append(top)
    steps.append(cap)
    return tuple(steps)


def meets_target(coverage: float, target_quantile: float, max_beyond_fraction: float) -> bool:
    return coverage + _EPS >= target_quantile and (1.0 - coverage) <= max_beyond_fraction + _EPS


def choose_limit(name: str, dimension: str, hist: Histogram, *, target_quantile: float, headroom: float,
                 ladder: Sequence[int], max_beyond_fraction: float, cap: int, floor: int = 0) -> LimitChoice:
    """The limit for one dimension: see the module docstring. ``hist`` must hold observations."""
    if not 0 < target_quantile < 1:
        raise ValueError(f"{name}: target quantile must be inside (0, 1), got {target_quantile}")
    q_value = histograms.histogram_quantile(target_quantile, hist)
    if math.isnan(q_value):
        raise ValueError(f"{name}: the {dimension} histogram holds no observations")
    steps = effective_ladder(ladder, cap)
    with_headroom = q_value * (1.0 + headroom)
    start = max(with_headroom, float(floor))
    first = step_at_least(start, steps)
    index = steps.index(first)
    grown = 0
    cov = histograms.coverage(hist, first)
    while not meets_target(cov, target_quantile, max_beyond_fraction) and index + 1 < len(steps):
        index += 1
        grown += 1
        cov = histograms.coverage(hist, steps[index])
    value = steps[index]
    clamped = cap if value == cap and (start > cap or not meets_target(cov, target_quantile, max_beyond_fraction)) \
        else None
    return LimitChoice(name=name, dimension=dimension, target_quantile=target_quantile, quantile_value=q_value,
                       headroom=headroom, with_headroom=with_headroom, first_step=first, value=value,
                       grown_steps=grown, clamped_to=clamped, coverage=cov, floor=floor)


__all__ = ["LimitChoice", "choose_limit", "effective_ladder", "step_at_least", "meets_target"]
