"""Drift in status: one evaluation of ``core.drift`` against the serving engine, its verdict written to
``status.drift`` and to conditions Drifted and TrafficShifted (with their Events). Whether to rebuild is
``core.switching``'s; this step only judges and reports. Writes through a ``drafts.Draft``. Pure: no I/O.
"""

from __future__ import annotations

from datetime import timedelta

from seasonal_engines.api import durations
from seasonal_engines.api.spec import InferenceServiceSpec
from seasonal_engines.core import conditions as cond
from seasonal_engines.core import drift, reasons, status_codec
from seasonal_engines.core.drafts import Draft
from seasonal_engines.core.evaluation_plans import Plan
from seasonal_engines.core.planners import PlannedEngine


def evaluate(d: Draft, spec: InferenceServiceSpec, fresh: Plan) -> drift.DriftVerdict | None:
    """Judge the serving engine against the trailing window (and ``fresh``, its plan); None when nothing
    serves."""
    serving = d.status.serving_engine
    if serving is None:
        return None
    new_state, verdict = drift.evaluate(
        serving=status_codec.envelope_of(serving), traffic=d.obs.traffic,
        fresh=fresh.envelope if isinstance(fresh, PlannedEngine) else None, policy=spec.drift,
        state=status_codec.drift_state(d.status.drift), now=d.obs.now, min_samples=spec.traffic.min_samples,
        evaluation_interval=timedelta(seconds=durations.seconds(spec.traffic.evaluation_interval)))
    d.set(drift=status_codec.drift_status(new_state, verdict))
    drifted = verdict.kind in (drift.DriftKind.breach, drift.DriftKind.waste)
    d.condition(cond.DRIFTED, drifted, verdict.reason, verdict.message, event="Warning" if drifted else None)
    _report_shift(d, spec, verdict)
    return verdict


def _report_shift(d: Draft, spec: InferenceServiceSpec, verdict: drift.DriftVerdict) -> None:
    """Condition TrafficShifted from the verdict's shift tests; untouched when none could be made."""
    result = verdict.shift
    best = result.strongest() if result is not None else None
    if result is None or best is None:
        return
    k = spec.drift.shift.consecutive_evaluations
    if verdict.shift_confirmed:
        reason = reasons.LENGTHS_SHIFTED_UP if result.up else reasons.LENGTHS_SHIFTED_DOWN
        d.condition(cond.TRAFFIC_SHIFTED, True, reason,
                    f"{best.describe()}, in the last {_minutes(spec)} ({result.samples:.0f} requests), "
                    f"{verdict.shift_streak} evaluations in a row. Reported only: a rebuild follows when "
                    "coverage breaches or a season starts", event="Normal")
    elif result.shifted:
        d.condition(cond.TRAFFIC_SHIFTED, False, reasons.LENGTHS_SHIFT_PENDING,
                    f"{best.describe()}: {verdict.shift_streak} of {k} evaluations in a row")
    else:
        d.condition(cond.TRAFFIC_SHIFTED, False, reasons.LENGTHS_AS_PLANNED,
                    f"the last {_minutes(spec)} of requests ({result.samples:.0f}) could come from the "
                    f"traffic the serving engine was planned from (strongest test: {best.describe()})")


def _minutes(spec: InferenceServiceSpec) -> str:
    return durations.format_seconds(spec.shift_window_seconds() or 0.0)


__all__ = ["evaluate"]
