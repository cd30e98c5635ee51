"""The shift reference: the bucket distributions of the traffic the serving engine was planned from, and
how far the present traffic is from them.

Two measures, both shares of requests and both reported only (neither rebuilds anything):

* **shift score** (``shift_score``): Jensen-Shannon divergence (base 2, 0 = same, 1 = disjoint) between the
  reference's bucket distribution and the current profile's, the larger of input and sequence, on the
  buckets both share;
* **shift tests** (``detect_shift``, ``core.shift_detection``): whether the profile's recent window could
  have come from the reference traffic.

``core.drift`` keeps a reference in its state and calls both each evaluation. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seasonal_engines.api.spec import ShiftPolicy
from seasonal_engines.core import histograms, shift_detection
from seasonal_engines.core.histograms import Histogram
from seasonal_engines.core.traffic import TrafficProfile


@dataclass(frozen=True)
class BucketShares:
    """Cumulative share of requests at or below each finite bucket bound (+Inf implied at 1.0)."""

    bounds: tuple[float, ...]
    cdf: tuple[float, ...]

    @classmethod
    def of(cls, h: Histogram) -> BucketShares:
        finite = tuple(b for b in h.bounds if math.isfinite(b))
        cdf = histograms.coverages(h, finite) if finite and h.total > 0 else np.zeros(0)
        if not len(cdf) or not np.isfinite(cdf).all():
            return cls((), ())  # nothing observed, or counts PromQL cannot read: no baseline
        return cls(finite, tuple(round(float(x), 6) for x in cdf))


@dataclass(frozen=True)
class ShiftReference:
    """The bucket distributions of the profile the serving engine was planned from."""

    input: BucketShares
    sequence: BucketShares
    samples: float = 0.0  # requests behind the shares (0: unknown, e.g. a status written before it was kept)

    @classmethod
    def of(cls, profile: TrafficProfile) -> ShiftReference:
        return cls(BucketShares.of(profile.input), BucketShares.of(profile.sequence), float(profile.samples))

    @property
    def empty(self) -> bool:
        return not self.input.bounds and not self.sequence.bounds


def shift_score(reference: ShiftReference, profile: TrafficProfile) -> float | None:
    """Jensen-Shannon divergence, base 2, the larger of input and sequence; None when no bucket is shared."""
    scores = [s for s in (_js(reference.input, profile.input), _js(reference.sequence, profile.sequence))
              if s is not None]
    return max(scores) if scores else None


def _js(ref: BucketShares, h: Histogram) -> float | None:
    if h.total <= 0:
        return None
    mine = dict(zip(ref.bounds, ref.cdf))
    common = [b for b in h.bounds if b in mine]  # bounds of one exporter layout compare exactly
    if not common:
        return None
    p = np.diff(np.asarray([0.0, *(mine[b] for b in common), 1.0]))
    q = np.diff(np.asarray([0.0, *histograms.coverages(h, common), 1.0]))
    p, q = np.clip(p, 0.0, None), np.clip(q, 0.0, None)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(min(1.0, max(0.0, (kl_p + kl_q) / 2)))




def detect_shift(policy: ShiftPolicy, reference: ShiftReference,
                 profile: TrafficProfile) -> shift_detection.ShiftResult | None:
    """Shift tests of the profile's recent window against the reference; None when off or not possible."""
    recent = profile.recent
    if not policy.enabled or recent is None:
        return None
    refs = [(name, shift_detection.Reference(shares.bounds, shares.cdf, reference.samples), h)
            for name, shares, h in (("input", reference.input, recent.input),
                                    ("sequence", reference.sequence, recent.sequence))]
    return shift_detection.detect(refs, significance=policy.significance, min_effect=policy.min_effect)


__all__ = ["BucketShares", "ShiftReference", "shift_score", "detect_shift"]
