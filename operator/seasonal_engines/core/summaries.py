"""Conversions between core values and their status form (pydantic models in ``api.status``). Pure."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from seasonal_engines.api.status import (
    DriftStatus,
    EngineRef,
    EnvelopeStatus,
    QuantilesStatus,
    ServingPrediction,
    ShiftStatus,
    TrafficStatus,
)
from seasonal_engines.core import times
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.traffic import Dimension, TrafficProfile

if TYPE_CHECKING:  # pragma: no cover
    from seasonal_engines.core import drift
    from seasonal_engines.core.decisions import PlannedEngine
    from seasonal_engines.core.serving import predictions


def _finite(x: float) -> float | None:
    return round(float(x), 3) if x is not None and math.isfinite(x) else None


def quantiles(profile: TrafficProfile, dim: Dimension) -> QuantilesStatus:
    q = profile.quantiles.get(dim)
    if q is not None:
        return QuantilesStatus(p50=_finite(q.p50), p90=_finite(q.p90), p99=_finite(q.p99), p999=_finite(q.p999))
    return QuantilesStatus(**{k: _finite(profile.quantile(dim, v)) for k, v in
                        (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999))})


def traffic_summary(profile: TrafficProfile, window: str, now: datetime) -> TrafficStatus:
    censored = profile.censored_fraction
    return TrafficStatus(
        window=window, evaluated_at=times.rfc3339(now), samples=round(float(profile.samples), 3),
        input=quantiles(profile, Dimension.input), output=quantiles(profile, Dimension.output),
        sequence=quantiles(profile, Dimension.sequence), sequence_source=str(getattr(
            profile.sequence_source, "value", profile.sequence_source)),
        rate_rps=round(float(profile.rate_rps), 6), peak_rps=round(float(profile.peak_rps), 6),
        censored_fraction=None if censored is None else min(1.0, max(0.0, round(float(censored), 6))),
    )


def envelope_status(e: Envelope) -> EnvelopeStatus:
    return EnvelopeStatus(max_input_len=e.max_input_len, max_seq_len=e.max_seq_len,
                          max_batch_size=e.max_batch_size, max_num_tokens=e.max_num_tokens)


def envelope_of(ref: EngineRef) -> Envelope:
    e = ref.envelope
    return Envelope(e.max_input_len, e.max_seq_len, e.max_batch_size, e.max_num_tokens)


def engine_ref(engine: PlannedEngine, reuse: EngineRef | None = None) -> EngineRef:
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


def drift_status(state: drift.DriftState, verdict: drift.DriftVerdict | None) -> DriftStatus:
    d = state.to_dict()
    return DriftStatus(
        state=verdict.kind.value if verdict is not None else "Stable",
        reason=verdict.reason if verdict is not None else None,
        message=verdict.message[:4096] if verdict is not None else None,
        score=d.get("score"), beyond_fraction=d.get("beyondFraction"),
        breach_streak=d.get("breachStreak", 0), waste_streak=d.get("wasteStreak", 0),
        shift_streak=d.get("shiftStreak", 0), shift=shift_status(verdict),
        last_rebuild=d.get("lastRebuild"), last_evaluated=d.get("lastEvaluated"), reference=d.get("reference"),
    )


def shift_status(verdict: drift.DriftVerdict | None) -> ShiftStatus | None:
    """``status.drift.shift`` from the verdict's strongest shift test; None when no test was made."""
    result = verdict.shift if verdict is not None else None
    best = result.strongest() if result is not None else None
    if result is None or best is None:
        return None
    return ShiftStatus(
        shifted=result.shifted, confirmed=verdict.shift_confirmed if verdict else False,
        direction="Up" if best.up else "Down", dimension=best.dimension, test=best.test,
        observed=round(best.observed, 6), expected=round(best.expected, 6), p_value=float(f"{best.p_value:.3g}"),
        samples=result.samples, message=best.describe()[:1024])
