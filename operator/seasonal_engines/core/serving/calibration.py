"""The cost model's constants, fitted to NVIDIA's published TensorRT-LLM throughput, and how they were fitted.

NVIDIA's performance overview (TensorRT-LLM docs, "Throughput Measurements") lists output tokens per
second per GPU under maximum load, measured with ``trtllm-bench throughput``: a burst of identical
requests (fixed ISL/OSL), every one declaring exactly its OSL, on the PyTorch backend with
``guaranteed_no_evict``, chunked prefill off, KV cache at 90% of free memory, and ``max_batch_size`` /
``max_num_tokens`` from trtllm-bench's own heuristic (``bench_limits`` restates it from
``tensorrt_llm/bench/build/tuning.py`` and ``tensorrt_llm/bench/benchmark/utils/general.py``). A
``Row`` is one published figure; ``replica_for`` builds the replica trtllm-bench would have run, and the
simulation of its burst is the prediction.

Bursts schedule the same way whatever the constants (nothing arrives later), so each row is simulated
once with ``record_work`` and re-priced under any constants (``CostModel.price``); ``fit`` minimises the
squared log error over the rows it is given with a bounded Nelder-Mead. ``FITTED`` holds the values the
committed fit produced (``benchmarks/serving_model.py`` refits and prints both). No I/O: the rows come in
as values.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core.serving import costs, requests, simulating
from seasonal_engines.core.serving.engines import EngineLimits, Replica, Scheduler
from seasonal_engines.core.sizing import gpus as gpu_presets
from seasonal_engines.core.sizing import memory, models
from seasonal_engines.core.sizing.gpus import GIB

# Fitted on the "fit" rows of benchmarks/data/trtllm_perf_overview.csv (benchmarks/serving_model.py).
FITTED = costs.Efficiency(gemm=0.515, bandwidth=0.753, attention=0.80, step_s=0.0, allreduce_s=3.1e-5)

BENCH_KV_FRACTION = 0.90      # trtllm-bench's --kv_cache_free_gpu_mem_fraction default
BENCH_TOKENS_PER_BLOCK = 32   # the LLM API's KvCacheConfig default
# Bounds of the fit, per constant (gemm, bandwidth, attention, step_s, allreduce_s): what kernels can
# physically reach (no GEMM above 90% of peak, no stream above 95% of bandwidth, no attention above 80%).
BOUNDS = ((0.05, 0.9), (0.05, 0.95), (0.05, 0.8), (0.0, 0.05), (0.0, 5e-4))
RESTARTS = 3
_BENCH_BYTES = {"fp8": 1.0, "nvfp4": 0.5}  # tuning.py BYTES_PER_ELEM; anything else counts 2 bytes


@dataclass(frozen=True)
class Row:
    """One published throughput figure and the run it came from."""

    model: str                  # a models.PRESETS name with the measured checkpoint's shape
    gpu: str                    # a gpus.PRESETS name
    tp: int
    pp: int
    isl: int
    osl: int
    weights: str                # weight quantization of the checkpoint
    kv_cache: str               # KV cache dtype ("auto" = model dtype, "fp8")
    published: float            # output tokens/s per GPU
    requests: int               # requests in the benchmark's dataset
    split: str                  # "fit" or "held-out"
    source: str                 # where the figure is published

    def __post_init__(self) -> None:
        if self.split not in ("fit", "held-out"):
            raise ValueError(f"calibration row split must be 'fit' or 'held-out', got {self.split!r}")
        if not self.published > 0 or self.requests < 1 or self.isl < 1 or self.osl < 1:
            raise ValueError(f"calibration row {self.label}: figures must be positive")

    @property
    def label(self) -> str:
        par = f"TP{self.tp}" + (f"PP{self.pp}" if self.pp > 1 else "")
        return f"{self.model} {self.gpu} {par} {self.isl}/{self.osl}"


def parse_rows(text: str) -> list[Row]:
    """Rows from the calibration CSV's text (``#`` lines are comments); a bad row names its line."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    out: list[Row] = []
    for i, rec in enumerate(csv.DictReader(lines), start=2):
        try:
            out.append(Row(model=rec["model"], gpu=rec["gpu"], tp=int(rec["tp"]), pp=int(rec["pp"]),
                           isl=int(rec["isl"]), osl=int(rec["osl"]), weights=rec["weights"],
                           kv_cache=rec["kv_cache"], published=float(rec["published_per_gpu"]),
                           requests=int(rec["requests"]), split=rec["split"], source=rec["source"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"calibration data row {i} (after comments): {exc}") from None
    return out


def bench_limits(model: models.ModelFacts, gpu: gpu_presets.GpuFacts, *, weights: str, kv_cache: str, tp: int,
                 pp: int, isl: int, osl: int, kv_fraction: float = BENCH_KV_FRACTION) -> tuple[int, int]:
    """``(max_batch_size, max_num_tokens)`` as trtllm-bench picks them when none are given."""
    per_elem = _BENCH_BYTES.get(weights, 2.0)
    per_kv = _BENCH_BYTES.get(kv_cache, 2.0)
    kv_heads = max(tp, model.num_key_value_heads)
    per_token_gib = 2 * model.num_layers * kv_heads * model.head_dim * per_kv / GIB
    engine_gib = model.parameter_count * per_elem / GIB
    available = gpu.memory_bytes / GIB * tp * pp - engine_gib
    max_requests = available * kv_fraction / (per_token_gib * (isl + osl))
    raw_bs = min(max_requests, 4096) / pp
    raw_tokens = min(raw_bs * (1 + isl / osl), 32768)
    if raw_bs < 256:
        bs = max(64, 32 * math.ceil(raw_bs / 32))
    elif raw_bs < 1024:
        bs = 128 * math.ceil(raw_bs / 128)
    else:
        bs = 256 * math.ceil(raw_bs / 256)
    if raw_tokens < 4096:
        tokens = max(2048, 256 * math.ceil(raw_tokens / 256))
    elif raw_tokens < 8192:
        tokens = 512 * math.ceil(raw_tokens / 512)
    else:
        tokens = 1024 * math.ceil(raw_tokens / 1024)
    # Chunked prefill is off by default: trtllm-bench then raises max_num_tokens to hold the longest prompt.
    return bs, max(tokens, isl + bs)


def replica_for(row: Row) -> Replica:
    """The replica trtllm-bench ran for ``row``: its limits, a KV pool from our memory model, the hardware."""
    model, gpu = models.preset(row.model), gpu_presets.preset(row.gpu)
    bs, tokens = bench_limits(model, gpu, weights=row.weights, kv_cache=row.kv_cache, tp=row.tp, pp=row.pp,
                              isl=row.isl, osl=row.osl)
    budget = memory.budget(model, gpu, dtype="bfloat16", weights_quant=row.weights, kv_quant=row.kv_cache,
                           tp=row.tp, pp=row.pp, max_num_tokens=tokens, max_batch_size=bs,
                           free_fraction=BENCH_KV_FRACTION, tokens_per_block=BENCH_TOKENS_PER_BLOCK)
    if not budget.fits:
        raise ValueError(f"calibration row {row.label}: the model does not fit the GPU in our memory model")
    context = max(model.max_context, row.isl + row.osl)
    limits = EngineLimits(max_input_len=context - 1, max_seq_len=context, max_batch_size=bs,
                          max_num_tokens=tokens, kv_pool_tokens=budget.kv_pool_tokens,
                          tokens_per_block=BENCH_TOKENS_PER_BLOCK, scheduler=Scheduler.guaranteed_no_evict,
                          chunked_context=False)
    hw = costs.hardware(model, gpu, dtype="bfloat16", weights_quant=row.weights, kv_quant=row.kv_cache,
                        tp=row.tp, pp=row.pp)
    return Replica(limits, hw)


@dataclass(frozen=True, eq=False)
class Schedule:
    """A row's burst, simulated once: its replica, its work log and the tokens it generated."""

    row: Row
    replica: Replica
    work: dict[str, NDArray[Any]]
    output_tokens: float

    def throughput(self, eff: costs.Efficiency) -> float:
        """Output tokens/s per GPU of this burst under ``eff``."""
        seconds = costs.CostModel(self.replica.hardware, eff).price(**self.work)
        return self.output_tokens / seconds / self.replica.gpus


def schedule(row: Row) -> Schedule:
    replica = replica_for(row)
    out = simulating.simulate(requests.burst(row.requests, row.isl, row.osl), replica, FITTED, record_work=True)
    assert out.work is not None
    return Schedule(row, replica, out.work.arrays(), float(out.output_tokens.sum()))


def errors(schedules: Sequence[Schedule], eff: costs.Efficiency) -> NDArray[Any]:
    """Relative error (predicted / published - 1) per row."""
    return np.asarray([s.throughput(eff) / s.row.published - 1.0 for s in schedules])


def fit(schedules: Sequence[Schedule], start: costs.Efficiency = FITTED, *, iterations: int = 600) -> costs.Efficiency:
    """The constants minimising the squared log error of ``schedules`` (within ``BOUNDS``)."""
    if not schedules:
        raise ValueError("fit needs at least one calibration row")

    def loss(x: NDArray[Any]) -> float:
        eff = _efficiency(x)
        return float(sum(math.log(s.throughput(eff) / s.row.published) ** 2 for s in schedules))

    # Nelder-Mead stalls on the flat edges the bounds make: restart from the best point found, and also
    # from the middle of the box, and keep the better.
    candidates = []
    for x0 in (_unit(start), np.full(len(BOUNDS), 0.5)):
        x = x0
        for _ in range(RESTARTS):
            x = nelder_mead(loss, np.clip(x, 0.0, 1.0), iterations=iterations)
        candidates.append((loss(x), x))
    return _efficiency(min(candidates, key=lambda c: c[0])[1])


def _unit(eff: costs.Efficiency) -> NDArray[Any]:
    """Constants as points of the unit cube (the fit's coordinates)."""
    return np.asarray([(v - lo) / (hi - lo) for v, (lo, hi) in zip(eff.as_tuple(), BOUNDS)])


def _efficiency(x: NDArray[Any]) -> costs.Efficiency:
    v = [lo + (hi - lo) * min(1.0, max(0.0, float(u))) for u, (lo, hi) in zip(x, BOUNDS)]
    v[0], v[1], v[2] = (max(1e-3, a) for a in v[:3])
    return costs.Efficiency(*v)


def nelder_mead(f: Callable[[NDArray[Any]], float], x0: NDArray[Any], *, iterations: int = 600, step: float = 0.1,
                tolerance: float = 1e-10) -> NDArray[Any]:
    """Minimise ``f`` from ``x0`` with the Nelder-Mead simplex (standard coefficients)."""
    dim = len(x0)
    simplex = [np.asarray(x0, dtype=np.float64)]
    for i in range(dim):
        p = simplex[0].copy()
        p[i] = p[i] + step if p[i] + step <= 1 else p[i] - step
        simplex.append(p)
    values = [f(p) for p in simplex]
    for _ in range(iterations):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if abs(values[-1] - values[0]) < tolerance:
            break
        centroid = np.mean(simplex[:-1], axis=0)
        reflected = centroid + (centroid - simplex[-1])
        fr = f(reflected)
        if fr < values[0]:
            expanded = centroid + 2 * (centroid - simplex[-1])
            fe = f(expanded)
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            contracted = centroid + 0.5 * (simplex[-1] - centroid)
            fc = f(contracted)
            if fc < values[-1]:
                simplex[-1], values[-1] = contracted, fc
            else:
                for i in range(1, len(simplex)):
                    simplex[i] = simplex[0] + 0.5 * (simplex[i] - simplex[0])
                    values[i] = f(simplex[i])
    return simplex[int(np.argmin(values))]


__all__ = ["FITTED", "BOUNDS", "Row", "parse_rows", "bench_limits", "replica_for", "Schedule", "schedule", "errors",
           "fit", "nelder_mead", "BENCH_KV_FRACTION"]
