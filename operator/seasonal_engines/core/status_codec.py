"""Core values in their status form and back: one converter per core type, to the pydantic models of
``api.status`` (and, where the core reads its own memory back, from them).

| core value | status form | direction |
|---|---|---|
| ``traffic.TrafficProfile`` | ``TrafficStatus`` (``status.traffic``) | to status |
| ``envelopes.Envelope`` | ``EnvelopeStatus`` | both |
| ``planners.PlannedEngine`` | ``EngineRef`` (with its serving prediction) | to status |
| ``serving.predictions.Prediction`` | ``ServingPrediction`` | to status |
| ``drift.DriftState`` (+ its verdict) | ``DriftStatus`` (``status.drift``) | both |
| ``shift_detection.ShiftResult`` of a verdict | ``ShiftStatus`` (``status.drift.shift``) | to status |

The status models validate what is read (an unreadable status starts afresh, ``api.status.read``), so
reading back cannot fail here. Pure: no I/O.
"""

from __future__ import annotations

import math
from datetime import datetime

from seasonal_engines.api.status import (
    BucketSharesStatus,
    DriftStatus,
    EngineRef,
    EnvelopeStatus,
    QuantilesStatus,
    ServingPrediction,
    ShiftReferenceStatus,
    ShiftStatus,
    TrafficStatus,
)
from seasonal_engines.core import drift, planners, shift_references, times
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.serving import predictions
from seasonal_engines.core.traffic import Dimension, TrafficProfile

MESSAGE_LIMIT = 4096  # api.status: DriftStatus.message
SHIFT_MESSAGE_LIMIT = 1024  # api.status: ShiftStatus.message


def _finite(x: float | None) -> float | None:
    return round(float(x), 3) if x is not None and math.isfinite(x) else None


# --- traffic -------------------------------------------------------------------------------------------------


def quantiles(profile: TrafficProfile, dim: Dimension) -> QuantilesStatus:
    q = profile.quantiles.get(dim)
    if q is not None:
        return QuantilesStatus(p50=_finite(q.p50), p90=_finite(q.p90), p99=_finite(q.p99), p999=_finite(q.p999))
    return QuantilesStatus(p50=_finite(profile.quantile(dim, 0.5)), p90=_finite(profile.quantile(dim, 0.9)),
                           p99=_finite(profile.quantile(dim, 0.99)), p999=_finite(profile.quantile(dim, 0.999)))


def traffic_status(profile: TrafficProfile, window: str, now: datetime) -> TrafficStatus:
    censored = profile.censored_fraction
    return TrafficStatus(
        window=window, evaluated_at=times.rfc3339(now), samples=round(float(profile.samples), 3),
        input=quantiles(profile, Dimension.input), output=quantiles(profile, Dimension.output),
        sequence=quantiles(profile, Dimension.sequence), sequence_source=profile.sequence_source.value,
        rate_rps=round(float(profile.rate_rps), 6), peak_rps=round(float(profile.peak_rps), 6),
        censored_fraction=None if censored is None else min(1.0, max(0.0, round(float(censored), 6))),
    )


# --- engines -------------------------------------------------------------------------------------------------


def envelope_status(e: Envelope) -> EnvelopeStatus:
    return EnvelopeStatus(max_input_len=e.max_input_len, max_seq_len=e.max_seq_len,
                          max_batch_size=e.max_batch_size, max_num_tokens=e.max_num_tokens)


def envelope_of(ref: EngineRef) -> Envelope:
    e = ref.envelope
    return Envelope(e.max_input_len, e.max_seq_len, e.max_batch_size, e.max_num_tokens)


def engine_ref(engine: planners.PlannedEngine, reuse: EngineRef | None = None) -> EngineRef:
    """The status form of a planned engine, with its serving prediction: taken from ``reuse`` when that is
    the same engine (the prediction simulates: once per engine is enough), else computed now."""
    if reuse is not None and reuse.hash == engine.hash and reuse.prediction is not None:
        prediction: ServingPrediction | None = reuse.prediction
    else:
        made = engine.serving() if engine.serving is not None else None
        prediction = serving_prediction(made) if made is not None else None
    return EngineRef(hash=engine.hash, envelope=envelope_status(engine.envelope), season=engine.season,
                     backend=engine.backend, prediction=prediction)


def serving_prediction(p: predictions.Prediction) -> ServingPrediction:
    """``status.*Engine.prediction`` from the serving model's prediction."""
    return ServingPrediction(
        label=p.label, peak_rps=round(max(0.0, p.peak_rps), 6), replicas=p.replicas,
        ttft_p50_seconds=_finite(p.ttft_p50_s), ttft_p99_seconds=_finite(p.ttft_p99_s),
        itl_p50_seconds=_finite(p.itl_p50_s), itl_p99_seconds=_finite(p.itl_p99_s),
        output_tokens_per_second_per_gpu=_finite(p.output_tokens_per_s_per_gpu))


# --- drift ---------------------------------------------------------------------------------------------------


def drift_status(state: drift.DriftState, verdict: drift.DriftVerdict | None) -> DriftStatus:
    """``status.drift``: what drift remembers, and the verdict of the evaluation that wrote it."""
    return DriftStatus(
        state=verdict.kind.value if verdict is not None else drift.DriftKind.stable.value,
        reason=verdict.reason if verdict is not None else None,
        message=verdict.message[:MESSAGE_LIMIT] if verdict is not None else None,
        score=state.score, beyond_fraction=state.beyond_fraction,
        breach_streak=state.breach_streak, waste_streak=state.waste_streak, shift_streak=state.shift_streak,
        shift=shift_status(verdict),
        last_rebuild=_time(state.last_rebuild), last_evaluated=_time(state.last_evaluated),
        reference=None if state.reference is None else ShiftReferenceStatus(
            input=_shares_status(state.reference.input), sequence=_shares_status(state.reference.sequence),
            samples=state.reference.samples),
    )


def drift_state(status: DriftStatus | None) -> drift.DriftState:
    """Drift's memory from ``status.drift``; none kept is the initial state."""
    if status is None:
        return drift.DriftState()
    ref = status.reference
    return drift.DriftState(
        breach_streak=status.breach_streak, waste_streak=status.waste_streak, shift_streak=status.shift_streak,
        last_rebuild=_instant(status.last_rebuild), last_evaluated=_instant(status.last_evaluated),
        beyond_fraction=status.beyond_fraction, score=status.score,
        reference=None if ref is None else shift_references.ShiftReference(
            _shares(ref.input), _shares(ref.sequence), float(ref.samples)),
    )


def shift_status(verdict: drift.DriftVerdict | None) -> ShiftStatus | None:
    """``status.drift.shift`` from the verdict's strongest shift test; None when no test was made."""
    result = verdict.shift if verdict is not None else None
    best = result.strongest() if result is not None else None
    if verdict is None or result is None or best is None:
        return None
    return ShiftStatus(
        shifted=result.shifted, confirmed=verdict.shift_confirmed,
        direction=drift.Direction.up.value if best.up else drift.Direction.down.value, dimension=best.dimension,
        test=best.test, observed=round(best.observed, 6), expected=round(best.expected, 6),
        p_value=float(f"{best.p_value:.3g}"), samples=result.samples, message=best.describe()[:SHIFT_MESSAGE_LIMIT])


def _shares_status(s: shift_references.BucketShares) -> BucketSharesStatus:
    return BucketSharesStatus(le=list(s.bounds), cdf=list(s.cdf))


def _shares(s: BucketSharesStatus) -> shift_references.BucketShares:
    return shift_references.BucketShares(tuple(float(b) for b in s.le), tuple(float(c) for c in s.cdf))


def _time(t: datetime | None) -> str | None:
    return None if t is None else times.rfc3339(t)


def _instant(text: str | None) -> datetime | None:
    return None if text is None else times.utc(times.parse_time(text))


__all__ = ["quantiles", "traffic_status", "envelope_status", "envelope_of", "engine_ref", "serving_prediction",
           "drift_status", "drift_state", "shift_status"]
