"""What serving a trace costs: GPU-hours per day at an SLO, for the policy and the engines it is compared with.

For every clock hour of the trace and every engine that served in it, the serving model
(``core.serving``) finds the highest request rate one replica sustains while meeting the SLO's p99 TTFT
and ITL (``capacity_rps``: a bisection on the rate, each probe a simulation of ``sample`` requests drawn
from the same hour of day across the trace, Poisson arrivals). The hour then needs
``ceil(rate x rate_scale / capacity)`` replicas (at least one), weighted by the share of the hour each
engine served; GPU-hours add up replicas x GPUs per replica over the hours, per day of trace.

Engines (``score``):

* ``policy``: the engines the replayed decision core rolled out, when they served;
* ``best_static``: the best static engine in hindsight, ``Comparison.best_hindsight_static`` (both limits
  at the ladder step; batch and token limits as the whole trace's plan, ``static_global``);
* ``static_model_max``: the model's full context, the bootstrap engine;
* ``oracle``: the engine planned from each hour's own requests;
* ``static_model_max_max_utilization``: the model-max engine with ``batch_scheduler_policy:
  max_utilization`` instead of the reservation of ``guaranteed_no_evict``, to show what the scheduler
  alone buys.

Every engine is a replica rebuilt from its envelope and the spec (``replica_for``: KV pool from
``core.sizing.memory`` at the spec's memory fraction); ``guaranteed_no_evict`` unless said otherwise,
which is what the planner chooses for these engines at the traces' own rates, and clients declare no
``max_tokens`` (the frontend default ``max_seq_len - prompt``). Requests beyond an engine's limits are
refused by it and cost nothing. ``rate_scale`` restores production rates to traces published scaled
down. MODELLED figures throughout. Pure computation: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.api.spec import InferenceServiceSpec
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.serving import calibration, costs, predictions, requests, simulating
from seasonal_engines.core.serving.engines import EngineLimits, Replica, Scheduler
from seasonal_engines.core.sizing import gpus, memory, planning, rules
from seasonal_engines.replay import comparing
from seasonal_engines.replay.scoring import DAY_S, HOUR_S
from seasonal_engines.traces.readers import Trace

ENGINES = ("policy", "best_static", "static_model_max", "oracle", "static_model_max_max_utilization")


@dataclass(frozen=True)
class CostSettings:
    """How costs are scored: the SLO, the factor that restores the trace's production rate, and the search."""

    slo: predictions.Slo
    rate_scale: float = 1.0
    sample: int = 600           # requests simulated per capacity probe
    steps: int = 6              # bisection steps between capacity / 16 and capacity at maximum load
    seed: int = 0
    efficiency: costs.Efficiency = calibration.FITTED

    def __post_init__(self) -> None:
        if not 0 < self.rate_scale <= 1e6:
            raise ValueError(f"rate_scale must be in (0, 1e6], got {self.rate_scale}")
        if not 50 <= self.sample <= 100_000:
            raise ValueError(f"sample must be 50 to 100,000 requests, got {self.sample}")
        if not 1 <= self.steps <= 20:
            raise ValueError(f"steps must be 1 to 20, got {self.steps}")


def replica_for(spec: InferenceServiceSpec, envelope: Envelope,
                scheduler: Scheduler = Scheduler.guaranteed_no_evict) -> Replica:
    """The replica an engine with ``envelope`` is under ``spec``: the spec's model, GPU and quantization, the
    KV pool our memory model leaves at the envelope's batch and token limits."""
    m = spec.model
    model = planning.resolve_model(m)
    gpu = gpus.from_hardware(spec.hardware)
    dtype, wq, kvq = m.dtype, m.quantization.weights, m.quantization.kv_cache
    tpb = rules.DEFAULT_TOKENS_PER_BLOCK
    budget = memory.budget(model, gpu, dtype=dtype, weights_quant=wq, kv_quant=kvq, tp=m.tensor_parallel_size,
                           pp=m.pipeline_parallel_size, max_num_tokens=envelope.max_num_tokens,
                           max_batch_size=envelope.max_batch_size,
                           free_fraction=spec.sizing.kv_cache_free_gpu_mem_fraction, tokens_per_block=tpb)
    if not budget.fits:
        raise ValueError(f"engine {envelope.summary()} leaves no KV cache on {gpu.product}")
    limits = EngineLimits(max_input_len=envelope.max_input_len, max_seq_len=envelope.max_seq_len,
                          max_batch_size=envelope.max_batch_size, max_num_tokens=envelope.max_num_tokens,
                          kv_pool_tokens=budget.kv_pool_tokens, tokens_per_block=tpb, scheduler=scheduler,
                          chunked_context=True)
    hw = costs.hardware(model, gpu, dtype=dtype, weights_quant=wq, kv_quant=kvq, tp=m.tensor_parallel_size,
                        pp=m.pipeline_parallel_size)
    return Replica(limits, hw)


def capacity_rps(mix: requests.RequestStream, replica: Replica, settings: CostSettings) -> float | None:
    """The highest arrival rate (requests/s) at which one replica meets the SLO on ``mix`` (refused requests
    count as arrivals); None when even a nearly idle replica misses it."""
    slo, eff = settings.slo, settings.efficiency

    def meets(rate: float) -> bool:
        out = simulating.simulate(predictions.at_rate(mix, rate), replica, eff)
        return slo.met_by(predictions.summarise(out))

    burst = simulating.simulate(requests.RequestStream(np.zeros(len(mix)), mix.input_tokens, mix.output_tokens,
                                                       mix.max_new_tokens), replica, eff)
    span = burst.makespan_s
    if span <= 0:   # everything refused: nothing to serve, nothing to pay for
        return math.inf
    hi = len(mix) / span
    lo = hi / 16
    if meets(hi):
        return hi
    if not meets(lo):
        idle = lo / 1000
        if not meets(idle):
            return None
        return _bisect(meets, idle, lo, settings.steps + 4)
    return _bisect(meets, lo, hi, settings.steps)


def _bisect(meets: Callable[[float], bool], lo: float, hi: float, steps: int) -> float:
    """Geometric bisection between a rate that meets (``lo``) and one that does not (``hi``): the last
    rate known to meet."""
    for _ in range(steps):
        mid = math.sqrt(lo * hi)
        if meets(mid):
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True, eq=False)
class EngineCost:
    """One engine's cost over a trace."""

    name: str
    gpu_hours_per_day: float          # NaN when some hour's SLO cannot be met at any replica count
    peak_replicas: int
    gpus_per_replica: int
    unmet_hours: int                  # hours in which even an idle replica misses the SLO
    hourly_gpus: NDArray[Any]           # per clock hour, GPUs (time-weighted over the engines that served)

    def to_json(self) -> dict[str, object]:
        g = self.gpu_hours_per_day
        return {"gpu_hours_per_day": round(g, 2) if math.isfinite(g) else None, "peak_replicas": self.peak_replicas,
                "gpus_per_replica": self.gpus_per_replica, "unmet_hours": self.unmet_hours}


@dataclass(frozen=True, eq=False)
class Costs:
    """Every engine's cost on one trace, and the hour grid."""

    engines: dict[str, EngineCost]
    hour_starts_s: NDArray[Any]
    rate_rps: NDArray[Any]               # per hour, at production scale
    settings: CostSettings
    best_static_seq_len: int | None
    searches: int = 0              # capacity searches run (engine x scheduler x hour of day)
    notes: tuple[str, ...] = field(default=())

    def ratio(self, engine: str, to: str = "policy") -> float:
        """GPU-hours of ``engine`` per GPU-hour of ``to``."""
        a, b = self.engines[engine].gpu_hours_per_day, self.engines[to].gpu_hours_per_day
        return a / b if b and math.isfinite(a) and math.isfinite(b) else float("nan")

    def to_json(self) -> dict[str, object]:
        slo = self.settings.slo
        return {"label": predictions.LABEL,
                "slo": {"ttft_p99_seconds": slo.ttft_p99_s, "itl_p99_seconds": slo.itl_p99_s},
                "rate_scale": self.settings.rate_scale, "best_static_max_seq_len": self.best_static_seq_len,
                "engines": {k: v.to_json() for k, v in self.engines.items()},
                "ratios_to_policy": {k: _round(self.ratio(k)) for k in self.engines if k != "policy"},
                "searches": self.searches, "notes": list(self.notes)}


def _round(x: float) -> float | None:
    return round(x, 3) if math.isfinite(x) else None


def _hour_grid(trace: Trace) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Clock hours covering the trace: starts, seconds of each covered, requests in each."""
    first, last = trace.first_s, max(trace.last_s, trace.first_s + 1.0)
    h0, h1 = int(math.floor(first / HOUR_S)), int(math.floor((last - 1e-9) / HOUR_S))
    starts = np.arange(h0, h1 + 1, dtype=np.float64) * HOUR_S
    covered = np.minimum(starts + HOUR_S, last) - np.maximum(starts, first)
    idx = np.clip(np.floor(trace.timestamps_s / HOUR_S).astype(np.int64) - h0, 0, len(starts) - 1)
    counts = np.bincount(idx, minlength=len(starts)).astype(np.float64)
    return starts, np.maximum(covered, 1.0), counts


def _segments_per_hour(segments: list[tuple[float, Envelope]], starts: NDArray[Any],
                       covered_end: float) -> list[list[tuple[Envelope, float]]]:
    """Per hour, the engines that served in it and the share of the hour each served."""
    segs = sorted(segments, key=lambda s: s[0])
    out: list[list[tuple[Envelope, float]]] = []
    for start in starts.tolist():
        end = min(start + HOUR_S, max(covered_end, start + 1.0))
        parts: dict[Envelope, float] = {}
        for i, (since, env) in enumerate(segs):
            until = segs[i + 1][0] if i + 1 < len(segs) else math.inf
            overlap = min(end, until) - max(start, since)
            if i == 0:  # the first engine also serves anything before it was recorded
                overlap = min(end, until) - start
            if overlap > 0:
                parts[env] = parts.get(env, 0.0) + overlap
        total = sum(parts.values()) or 1.0
        out.append([(env, share / total) for env, share in parts.items()])
    return out


def score(comparison: comparing.Comparison, spec: InferenceServiceSpec, settings: CostSettings) -> Costs:
    """GPU-hours per day of every engine in ``ENGINES`` on the comparison's trace."""
    trace = comparison.run.trace
    starts, covered, counts = _hour_grid(trace)
    rate = counts / covered * settings.rate_scale
    hod = (np.floor(trace.timestamps_s / HOUR_S).astype(np.int64)) % 24
    mixes: dict[int, requests.RequestStream] = {}

    def mix(h: int) -> requests.RequestStream:
        if h not in mixes:
            sel = hod == h
            if not sel.any():
                sel = np.ones(len(trace), dtype=bool)
            mixes[h] = requests.resampled(trace.input_tokens[sel], trace.output_tokens[sel], rate_rps=1.0,
                                          n=settings.sample, seed=settings.seed + h)
        return mixes[h]

    bases = comparison.baselines
    model_max = bases["static_model_max"].segments[0][1]
    whole = bases["static_global"].segments[0][1]
    best = comparison.best_hindsight_static(spec.sizing.max_beyond_fraction)
    notes: list[str] = []
    if best is None:
        notes.append("no static ladder engine keeps the beyond share within sizing.maxBeyondFraction: "
                     "best_static is the model-max engine")
        best_env = model_max
    else:
        best_env = Envelope(best[0], best[0], whole.max_batch_size, whole.max_num_tokens)
    policy_segments = [(s.since_s, s.envelope) for s in comparison.run.timeline] or [(trace.first_s, model_max)]
    plans: dict[str, tuple[list[tuple[float, Envelope]], Scheduler]] = {
        "policy": (policy_segments, Scheduler.guaranteed_no_evict),
        "best_static": ([(trace.first_s, best_env)], Scheduler.guaranteed_no_evict),
        "static_model_max": ([(trace.first_s, model_max)], Scheduler.guaranteed_no_evict),
        "oracle": (list(bases["oracle"].segments), Scheduler.guaranteed_no_evict),
        "static_model_max_max_utilization": ([(trace.first_s, model_max)], Scheduler.max_utilization),
    }
    capacity: dict[tuple[Envelope, Scheduler, int], float | None] = {}
    replicas_of: dict[tuple[Envelope, Scheduler], Replica] = {}
    searches = 0
    end = trace.last_s
    result: dict[str, EngineCost] = {}
    hour_of_day = ((starts / HOUR_S).astype(np.int64) % 24).tolist()
    for name, (segments, scheduler) in plans.items():
        per_hour = _segments_per_hour(segments, starts, end)
        gpus_per_hour = np.zeros(len(starts))
        peak = unmet = 0
        per_replica = 1
        for i, parts in enumerate(per_hour):
            for env, share in parts:
                key_r = (env, scheduler)
                if key_r not in replicas_of:
                    replicas_of[key_r] = replica_for(spec, env, scheduler)
                rep = replicas_of[key_r]
                per_replica = rep.gpus
                key = (env, scheduler, hour_of_day[i])
                if key not in capacity:
                    capacity[key] = capacity_rps(mix(hour_of_day[i]), rep, settings)
                    searches += 1
                cap = capacity[key]
                if cap is None:
                    unmet += 1
                    gpus_per_hour[i] = np.nan
                    continue
                need = max(1, math.ceil(rate[i] / cap - 1e-9)) if math.isfinite(cap) else 1
                peak = max(peak, need)
                gpus_per_hour[i] += share * need * rep.gpus
        days = float(covered.sum()) / DAY_S
        total = float(np.sum(gpus_per_hour * covered / HOUR_S)) / days if not unmet else float("nan")
        result[name] = EngineCost(name, total, peak, per_replica, unmet, gpus_per_hour)
    return Costs(result, starts, rate, settings, best[0] if best else None, searches, tuple(notes))


__all__ = ["ENGINES", "CostSettings", "replica_for", "capacity_rps", "EngineCost", "Costs", "score"]
