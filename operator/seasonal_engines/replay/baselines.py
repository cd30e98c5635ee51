"""The engines a replayed policy is compared with, on the same trace and the same sizing policy.

* ``static_model_max``: one engine at the model's full context, what the bootstrap planner builds (and
  what a static deployment that never rejects anything uses).
* ``static_global``: one engine planned from the whole trace (every request, uncensored): the best
  static engine in hindsight, sized at the trace's p99.9 with the spec's headroom and ladder.
* ``oracle``: an engine re-planned every clock hour from that hour's own requests, in service for
  exactly that hour: perfect foresight, zero build and rollout time. Its rebuilds and rollovers are the
  hours whose engine differs from the previous hour's.

All three are planned by the spec's own planner (``core.planners``, reading quantiles as PromQL does even
with seasonDiscovery), with ``traffic.minSamples`` lowered
to 1 so that thin hours still get a plan. ``frontier`` adds the static engines at every ladder step (both
limits at the step): what a static engine buys at each slack, to compare the policy with at equal slack.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.api.spec import InferenceServiceSpec
from seasonal_engines.core import planners, presets
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.sizing import limits, planning
from seasonal_engines.replay import exports
from seasonal_engines.replay.scoring import HOUR_S, Hours
from seasonal_engines.traces.readers import Trace

NAMES = ("static_model_max", "static_global", "oracle")


@dataclass(frozen=True, eq=False)
class Baseline:
    """Per request, the limits a baseline engine would have met it with."""

    name: str
    max_input_len: NDArray[Any]
    max_seq_len: NDArray[Any]
    rebuilds: int
    rollovers: int
    segments: tuple[tuple[float, Envelope], ...]  # (since, envelope), for plots


def any_samples(spec: InferenceServiceSpec) -> InferenceServiceSpec:
    """The spec with ``traffic.minSamples`` 1: baselines plan from whatever a window holds."""
    return spec.model_copy(update={"traffic": spec.traffic.model_copy(update={"min_samples": 1})})


def _planned(result: planners.PlannedEngine | planners.PlanRefused, what: str) -> planners.PlannedEngine:
    if isinstance(result, planners.PlanRefused):
        raise ValueError(f"the planner refused the {what}: {result.reason}: {result.message}")
    return result


def _constant(name: str, trace: Trace, engine: planners.PlannedEngine) -> Baseline:
    n = len(trace)
    e = engine.envelope
    return Baseline(name, np.full(n, e.max_input_len, dtype=np.int64), np.full(n, e.max_seq_len, dtype=np.int64),
                    0, 0, ((trace.first_s, e),))


def static_model_max(trace: Trace, spec: InferenceServiceSpec) -> Baseline:
    return _constant("static_model_max", trace, _planned(planners.bootstrap_for_spec(spec)(), "model-max engine"))


def static_global(trace: Trace, spec: InferenceServiceSpec) -> Baseline:
    preset = presets.from_spec(spec.traffic)
    whole = exports.uncensored_profile(trace, preset, peak_percentile=spec.traffic.peak_percentile)
    plan = planners.for_spec(any_samples(spec), order_statistics=False)(whole, None)
    return _constant("static_global", trace, _planned(plan, "whole trace's engine"))


def oracle(trace: Trace, spec: InferenceServiceSpec, hours: Hours | None = None) -> Baseline:
    hours = hours or Hours.of(trace)
    preset = presets.from_spec(spec.traffic)
    relaxed = any_samples(spec)
    mil = np.empty(len(hours.requests), dtype=np.int64)
    msl = np.empty(len(hours.requests), dtype=np.int64)
    segments: list[tuple[float, Envelope]] = []
    changes = 0
    previous: str | None = None
    for i, start in enumerate(hours.starts_s.tolist()):
        profile = exports.uncensored_profile(trace, preset, peak_percentile=spec.traffic.peak_percentile,
                                             start_s=start, end_s=start + HOUR_S)
        engine = _planned(planners.for_spec(relaxed, order_statistics=False)(profile, None),
                          f"hour starting at {start:.0f} s")
        mil[i], msl[i] = engine.envelope.max_input_len, engine.envelope.max_seq_len
        if engine.hash != previous:
            changes += previous is not None
            segments.append((start, engine.envelope))
            previous = engine.hash
    return Baseline("oracle", mil[hours.index], msl[hours.index], changes, changes, tuple(segments))


def frontier(trace: Trace, spec: InferenceServiceSpec) -> list[Baseline]:
    """Static engines with ``max_input_len = max_seq_len`` at each step of the spec's ladder (as the planner
    extends it to the model's context), from the step below the trace's shortest request's bucket up."""
    cap = planning.resolve_model(spec.model).max_context
    longest = int((trace.input_tokens + trace.output_tokens).max()) if len(trace) else 0
    steps = [s for s in limits.effective_ladder(spec.sizing.ladder, cap)]
    # Past the first step that holds every request nothing changes but slack: stop there.
    upto = next((i for i, s in enumerate(steps) if s >= longest), len(steps) - 1)
    out = []
    for s in steps[: upto + 1]:
        n = len(trace)
        out.append(Baseline(f"static_{s}", np.full(n, s, dtype=np.int64), np.full(n, s, dtype=np.int64), 0, 0,
                            ((trace.first_s, Envelope(s, s, 0, 0)),)))
    return out


def all_baselines(trace: Trace, spec: InferenceServiceSpec, hours: Hours | None = None) -> dict[str, Baseline]:
    return {"static_model_max": static_model_max(trace, spec), "static_global": static_global(trace, spec),
            "oracle": oracle(trace, spec, hours)}


__all__ = ["Baseline", "NAMES", "static_model_max", "static_global", "oracle", "frontier", "all_baselines",
           "any_samples"]
