"""Predictions people decide with: latency percentiles, throughput per GPU, and replicas for an SLO.

* ``summarise`` turns a simulation ``Outcome`` into TTFT and ITL percentiles (p50, p99) and output
  tokens/s per GPU.
* ``saturation`` is the engine's throughput under maximum load on a given request mix: the same
  requests all at once, as ``trtllm-bench`` measures it (the figure the model is calibrated on).
* ``replicas_for_slo`` is the fewest replicas whose share of a stream (round-robin) meets the SLO's p99
  TTFT and ITL; None when even an idle replica cannot (a prompt alone takes longer than the TTFT
  objective).
* ``predict`` does all three for a request mix at a peak rate; ``for_plan`` for a ``core.sizing`` plan.

Every figure is MODELLED (``costs``, ``calibration``), never measured. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core.histograms import Histogram
from seasonal_engines.core.serving import calibration, costs, engines, requests, simulating
from seasonal_engines.core.serving.engines import Replica
from seasonal_engines.core.serving.requests import RequestStream
from seasonal_engines.core.sizing.plans import Plan

MAX_REPLICAS = 4096
DEFAULT_SAMPLE = 1000       # requests simulated per replica and candidate replica count
LABEL = "modelled"


@dataclass(frozen=True)
class Slo:
    """Latency objectives at p99; None: no objective for that figure."""

    ttft_p99_s: float | None = None
    itl_p99_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("ttft_p99_s", "itl_p99_s"):
            v = getattr(self, name)
            if v is not None and not 0 < v <= 3600:
                raise ValueError(f"SLO {name} must be in (0, 3600] seconds, got {v}")

    def met_by(self, summary: Summary) -> bool:
        if summary.served == 0:
            return False
        ok = self.ttft_p99_s is None or summary.ttft_p99_s <= self.ttft_p99_s
        return ok and (self.itl_p99_s is None or summary.itl_p99_s <= self.itl_p99_s)

    def describe(self) -> str:
        parts = []
        if self.ttft_p99_s is not None:
            parts.append(f"TTFT p99 <= {self.ttft_p99_s:g} s")
        if self.itl_p99_s is not None:
            parts.append(f"ITL p99 <= {self.itl_p99_s * 1e3:g} ms")
        return ", ".join(parts) or "no latency objective"


@dataclass(frozen=True)
class Summary:
    """The figures of one simulated replica; latencies in seconds."""

    served: int
    rejected: int
    ttft_p50_s: float
    ttft_p99_s: float
    itl_p50_s: float
    itl_p99_s: float
    output_tokens_per_s_per_gpu: float


def _pct(values: NDArray[Any], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def summarise(out: simulating.Outcome) -> Summary:
    ttft, itl = out.ttft_s, out.itl_s
    return Summary(served=int(out.served.sum()), rejected=int(out.rejected.sum()),
                   ttft_p50_s=_pct(ttft, 50), ttft_p99_s=_pct(ttft, 99), itl_p50_s=_pct(itl, 50),
                   itl_p99_s=_pct(itl, 99), output_tokens_per_s_per_gpu=out.output_tokens_per_s_per_gpu)


def saturation(stream: RequestStream, replica: Replica, eff: costs.Efficiency = calibration.FITTED) -> float:
    """Output tokens/s per GPU with every request of ``stream`` queued at once (maximum load)."""
    burst = RequestStream(np.zeros(len(stream)), stream.input_tokens, stream.output_tokens, stream.max_new_tokens)
    return simulating.simulate(burst, replica, eff).output_tokens_per_s_per_gpu


def at_rate(stream: RequestStream, rate_rps: float) -> RequestStream:
    """``stream``'s requests with Poisson arrivals at ``rate_rps`` (seeded by the stream's length)."""
    rng = np.random.default_rng(len(stream))
    return RequestStream(requests.poisson_arrivals(len(stream), rate_rps, rng), stream.input_tokens,
                         stream.output_tokens, stream.max_new_tokens)


@dataclass(frozen=True)
class ReplicaSearch:
    replicas: int | None       # None: the SLO cannot be met at any count
    summary: Summary           # of one replica at that count (at the largest count tried when None)
    reason: str


def replicas_for_slo(mix: RequestStream, rate_rps: float, replica: Replica, slo: Slo, *,
                     eff: costs.Efficiency = calibration.FITTED, start: int = 1,
                     max_replicas: int = MAX_REPLICAS) -> ReplicaSearch:
    """The fewest replicas whose round-robin share of ``rate_rps`` (each replica simulated on ``mix`` at
    ``rate_rps / replicas``) meets ``slo``. ``start`` is a first guess (the search walks down and up from
    it)."""
    if not rate_rps > 0:
        raise ValueError(f"the peak rate must be positive, got {rate_rps}")
    cache: dict[int, Summary] = {}

    def at(r: int) -> Summary:
        if r not in cache:
            cache[r] = summarise(simulating.simulate(at_rate(mix, rate_rps / r), replica, eff))
        return cache[r]

    idle = summarise(simulating.simulate(at_rate(mix, min(rate_rps, 1e-3)), replica, eff))
    if not slo.met_by(idle):
        return ReplicaSearch(None, idle, f"not met at any replica count: an idle replica already has TTFT p99 "
                                         f"{idle.ttft_p99_s:.2f} s and ITL p99 {idle.itl_p99_s * 1e3:.1f} ms")
    lo, hi = 0, max(1, min(start, max_replicas))   # lo fails (0 always does), hi is to be checked
    while not slo.met_by(at(hi)):
        lo = hi
        if hi >= max_replicas:
            return ReplicaSearch(None, at(hi), f"not met with {max_replicas} replicas")
        hi = min(max_replicas, hi * 2)
    while hi - lo > 1:   # invariant: lo fails (or is 0), hi meets
        mid = (lo + hi) // 2
        if slo.met_by(at(mid)):
            hi = mid
        else:
            lo = mid
    return ReplicaSearch(hi, at(hi), f"{hi} replica{'s' if hi > 1 else ''} at {rate_rps:.2f} req/s meet "
                                     f"{slo.describe()}")


@dataclass(frozen=True)
class Prediction:
    """The serving model's prediction for one engine on one traffic mix at its peak rate (MODELLED)."""

    label: str
    peak_rps: float
    slo: Slo
    replicas: int | None
    replicas_reason: str
    gpus_per_replica: int
    ttft_p50_s: float
    ttft_p99_s: float
    itl_p50_s: float
    itl_p99_s: float
    output_tokens_per_s_per_gpu: float     # at maximum load on this mix
    rejected_fraction: float
    scheduler: str
    max_seq_len: int

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["slo"] = {"ttft_p99_seconds": self.slo.ttft_p99_s, "itl_p99_seconds": self.slo.itl_p99_s}
        return {k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else
                    (None if isinstance(v, float) else v)) for k, v in d.items()}


def predict(mix: RequestStream, peak_rps: float, replica: Replica, slo: Slo, *,
            eff: costs.Efficiency = calibration.FITTED, replicas_hint: int = 1) -> Prediction:
    """Latency at the peak on the replicas the SLO needs (without an objective: on ``replicas_hint``
    replicas, and no replica count), and throughput at maximum load."""
    sat = saturation(mix, replica, eff)
    if slo.ttft_p99_s is None and slo.itl_p99_s is None:
        r = max(1, min(replicas_hint, MAX_REPLICAS))
        summary = summarise(simulating.simulate(at_rate(mix, peak_rps / r), replica, eff))
        search = ReplicaSearch(None, summary, f"no SLO: latency on {r} replica{'s' if r > 1 else ''}")
    else:
        mean_out = float(np.mean(mix.output_tokens))
        guess = max(1, math.ceil(peak_rps * mean_out / max(sat * replica.gpus, 1e-9)))
        search = replicas_for_slo(mix, peak_rps, replica, slo, eff=eff, start=guess)
    s = search.summary
    return Prediction(label=LABEL, peak_rps=peak_rps, slo=slo, replicas=search.replicas,
                      replicas_reason=search.reason, gpus_per_replica=replica.gpus, ttft_p50_s=s.ttft_p50_s,
                      ttft_p99_s=s.ttft_p99_s, itl_p50_s=s.itl_p50_s, itl_p99_s=s.itl_p99_s,
                      output_tokens_per_s_per_gpu=sat, rejected_fraction=s.rejected / max(1, s.served + s.rejected),
                      scheduler=replica.limits.scheduler.value, max_seq_len=replica.limits.max_seq_len)


def for_plan(plan: Plan, input_hist: Histogram, output_hist: Histogram, peak_rps: float, slo: Slo, *,
             sample: int = DEFAULT_SAMPLE, seed: int = 0, eff: costs.Efficiency = calibration.FITTED) -> Prediction:
    """``predict`` for a ``core.sizing`` plan, on ``sample`` requests drawn from the window's histograms
    (without an SLO, on the plan's own replica count)."""
    mix = requests.from_histograms(input_hist, output_hist, rate_rps=max(peak_rps, 1e-6), n=sample, seed=seed)
    return predict(mix, max(peak_rps, 1e-6), engines.from_plan(plan), slo, eff=eff,
                   replicas_hint=plan.predictions.replicas)


__all__ = ["Slo", "Summary", "summarise", "saturation", "at_rate", "ReplicaSearch", "replicas_for_slo",
           "Prediction", "predict", "for_plan", "LABEL", "DEFAULT_SAMPLE"]
