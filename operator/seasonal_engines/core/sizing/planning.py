"""Planning: a traffic profile, a model, a GPU and a sizing policy in; a build plan with its reasons out.

Order: refuse thin traffic; check quantization and parallelism against the GPU and model; choose
``max_input_len`` and ``max_seq_len`` from the window's quantiles (``limits``); size ``max_num_tokens`` and
``max_batch_size`` against memory (``memory``, ``capacity``, ``rules``); check the model fits
(``fitting``); derive Triton runtime or LLM-API settings; hash what changes the binary (``identity``).
Every step adds a line to the explanation. ``plan_for_spec`` resolves an InferenceService spec first.
Pure: no I/O (a config.json is passed in already parsed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seasonal_engines.api import spec as api
from seasonal_engines.core.sizing import capacity, fitting, gpus, identity, limits, memory, models, rules
from seasonal_engines.core.sizing.capacity import BatchChoice, Capacity, Latency
from seasonal_engines.core.sizing.checkpoints import CheckpointStep, checkpoint_step
from seasonal_engines.core.sizing.errors import InsufficientTraffic, PlanningError, UnsupportedQuantization
from seasonal_engines.core.sizing.gpus import GIB, GpuFacts
from seasonal_engines.core.sizing.limits import LimitChoice
from seasonal_engines.core.sizing.models import ModelFacts
from seasonal_engines.core.sizing.plans import BuildFlags, ModelRef, Plan, PlanningWindow, Predictions
from seasonal_engines.core.traffic import Dimension, TrafficProfile, TrafficUnavailable

BACKENDS = (api.Backend.tensorrt.value, api.Backend.pytorch.value, "cpu-stand-in")
DEFAULT_MIN_SAMPLES = 1000
_MIN_SHRUNK_MAX_NUM_TOKENS = 2048
_ACTIVATION_SHARE = 0.25  # shrink max_num_tokens while activations take more than this of post-weight memory


def plan(profile: TrafficProfile | TrafficUnavailable, model: ModelFacts, gpu: GpuFacts, *,
         dtype: str = "bfloat16", weights_quant: str = "none", kv_quant: str = "auto", tp: int = 1, pp: int = 1,
         policy: api.SizingPolicy | None = None, backend: str = api.Backend.tensorrt.value,
         image: str = api.DEFAULT_IMAGE,
         trtllm_version: str = "1.2.1", model_ref: ModelRef | None = None, season: str | None = None,
         min_samples: int = DEFAULT_MIN_SAMPLES, chunked_context: bool = True) -> Plan:
    """The build plan for one window of traffic. Raises a ``PlanningError`` subclass naming the fix."""
    policy = policy or api.SizingPolicy()
    model_ref = model_ref or ModelRef(model.name)
    _check_inputs(profile, min_samples, dtype, backend, trtllm_version)
    assert isinstance(profile, TrafficProfile)
    fitting.check_quantization(gpu, weights_quant, kv_quant)
    fitting.check_parallelism(model, tp, pp)
    target = _Target(model, gpu, dtype, weights_quant, kv_quant, tp, pp)
    fmha = _context_fmha(backend, weights_quant, kv_quant, gpu.sm)
    if not fmha.paged:
        chunked_context = False  # chunked context runs on paged context FMHA
    explanation = list(fmha.reasons)
    warnings: list[str] = []

    # 1. Limits from the window's own distribution.
    inp, seq = _choose_limits(profile, policy, model.max_context)
    explanation += [inp.explain(), seq.explain()]
    warnings += _capped_limit_warnings(inp, seq)
    if profile.sequence_source.value == "bound":
        explanation.append("sequence lengths come from a conservative bound on the input and output marginals "
                           "(no joint series): max_seq_len may be larger than the traffic needs")
    _note_censoring(profile, explanation, warnings)

    # 2. max_num_tokens and max_batch_size against memory, and the replicas the peak needs.
    sizing = _size_engine(profile, target, policy, inp, seq, chunked_context)
    explanation += sizing.reasons
    warnings += sizing.tokens.warnings

    # 3. Build flags and runtime settings.
    build = _build_flags(backend, inp.value, seq.value, sizing, fmha, target)
    if backend != api.Backend.pytorch:
        explanation.append(_plugins_line(build))
    window = min(seq.value, model.sliding_window) if model.sliding_window else seq.value
    warnings += _build_rule_warnings(build, model.max_context, chunked_context, weights_quant, window)
    runtime = _runtime(backend, build, policy, sizing.capacity.scheduler_policy, window, chunked_context, tp, pp,
                       kv_reuse=fmha.paged)
    step = None if backend == api.Backend.pytorch else checkpoint_step(model, dtype=dtype, weights_quant=weights_quant,
                                                             kv_quant=kv_quant, tp=tp, pp=pp)
    if backend == api.Backend.pytorch and weights_quant != "none":
        warnings.append(f"the PyTorch backend loads {weights_quant} weights from a pre-quantized (ModelOpt) "
                        "checkpoint: point spec.model.source at one")
    return Plan(engine_hash=_engine_hash(model_ref, target, backend, trtllm_version, image, step, build),
                model_ref=model_ref, model=model, gpu=gpu, backend=backend,
                dtype=dtype, weights_quant=weights_quant, kv_quant=kv_quant, tp=tp, pp=pp,
                trtllm_version=trtllm_version, image=image, checkpoint=step, build=build, runtime=runtime,
                season=season, predictions=sizing.predictions, traffic=_planning_window(profile),
                explanation=tuple(explanation), warnings=tuple(dict.fromkeys(warnings + list(profile.notes))))


@dataclass(frozen=True)
class _Target:
    """What the engine is planned for: the model on the GPU, at a precision and a parallelism."""

    model: ModelFacts
    gpu: GpuFacts
    dtype: str
    weights_quant: str
    kv_quant: str
    tp: int
    pp: int


def _context_fmha(backend: str, weights_quant: str, kv_quant: str, sm: str) -> rules.FmhaChoice:
    """The context-FMHA flags of the engine; both on for a backend that runs no trtllm-build."""
    if backend != api.Backend.tensorrt:
        return rules.FmhaChoice(paged=True, fp8=False, reasons=())
    refused = rules.builder_refusal(weights_quant, kv_quant, sm)
    if refused:
        raise UnsupportedQuantization(refused)
    # Plan what trtllm-build will build: it turns context-FMHA flags off silently, and the verify step
    # refuses an engine that differs from its plan.
    return rules.fmha_for(weights_quant, kv_quant, sm)


def _choose_limits(profile: TrafficProfile, policy: api.SizingPolicy, cap: int) -> tuple[LimitChoice, LimitChoice]:
    """``max_input_len`` and ``max_seq_len`` (at least ``max_input_len``), capped at the model's context."""
    inp = limits.choose_limit("max_input_len", "input", profile.input, target_quantile=policy.input_quantile,
                              headroom=policy.headroom, ladder=policy.ladder,
                              max_beyond_fraction=policy.max_beyond_fraction, cap=cap)
    seq = limits.choose_limit("max_seq_len", "sequence", profile.sequence,
                              target_quantile=policy.sequence_quantile, headroom=policy.headroom,
                              ladder=policy.ladder, max_beyond_fraction=policy.max_beyond_fraction, cap=cap,
                              floor=inp.value)
    return inp, seq


def _capped_limit_warnings(*choices: LimitChoice) -> list[str]:
    return [f"{choice.name} is capped at the model's context ({choice.clamped_to}); the window's "
            f"coverage is {choice.coverage:.3%}, below the target {choice.target_quantile:.3%}"
            for choice in choices if choice.clamped_to is not None]


@dataclass(frozen=True)
class _Sizing:
    """What memory and the window's traffic make of the engine, with the lines that explain it."""

    tokens: rules.TokensChoice
    batch: BatchChoice
    capacity: Capacity
    predictions: Predictions
    reasons: tuple[str, ...]


def _size_engine(profile: TrafficProfile, target: _Target, policy: api.SizingPolicy, inp: LimitChoice,
                 seq: LimitChoice, chunked_context: bool) -> _Sizing:
    """``max_num_tokens`` and ``max_batch_size`` against memory, and the replicas the window's peak needs."""
    model, tp, pp = target.model, target.tp, target.pp
    weights_gpu = memory.weight_bytes_per_gpu(model, target.dtype, target.weights_quant, tp, pp)
    preferred = _preferred_max_num_tokens(target, weights_gpu)
    seq_p50 = profile.quantile(Dimension.sequence, 0.5)
    seq_p99 = profile.quantile(Dimension.sequence, 0.99)
    mean_in = capacity.histogram_mean(profile.input)
    mean_out = capacity.histogram_mean(profile.output)
    latency = capacity.estimate_latency(model, target.gpu, weights_bytes_per_gpu=weights_gpu, tp=tp, pp=pp,
                                        mean_input=mean_in, mean_output=mean_out)
    peak_conc = profile.peak_rps * latency.request_seconds
    tokens, budget, batch = _settle_max_batch_size(
        _BatchSizing(target, policy, preferred, inp.value, seq.value, seq_p50, peak_conc, chunked_context))
    cap_ = capacity.capacity(budget, model, seq_p50=seq_p50, seq_p99=seq_p99, max_seq_len=seq.value,
                             max_batch_size=batch.max_batch_size, peak_concurrency=peak_conc)
    reasons = (*tokens.reasons, batch.reason, _memory_line(budget, policy.kv_cache_free_gpu_mem_fraction),
               _latency_line(latency, profile.peak_rps, mean_in, mean_out, peak_conc), *cap_.reasons)
    predictions = Predictions(
        weights_bytes=budget.weights_bytes,
        weights_bytes_total=memory.weight_bytes(model, target.dtype, target.weights_quant),
        kv_bytes_per_token=budget.kv_bytes_per_token, activation_bytes=budget.activation_bytes,
        runtime_overhead_bytes=budget.runtime_overhead_bytes, kv_pool_bytes=budget.kv_pool_bytes,
        kv_pool_tokens=budget.kv_pool_tokens, sequence_p50=seq_p50, sequence_p99=seq_p99,
        concurrent_sequences_p50=cap_.concurrent_p50, concurrent_sequences_p99=cap_.concurrent_p99,
        coverage_input=inp.coverage, coverage_sequence=seq.coverage, rate_rps=profile.rate_rps,
        peak_rps=profile.peak_rps, mean_input_tokens=mean_in, mean_output_tokens=mean_out,
        ttft_seconds=latency.ttft_seconds, itl_seconds=latency.itl_seconds,
        request_seconds=latency.request_seconds, peak_concurrency=peak_conc,
        replica_concurrency=cap_.replica_concurrency, replicas=cap_.replicas)
    return _Sizing(tokens, batch, cap_, predictions, reasons)


def _preferred_max_num_tokens(target: _Target, weights_bytes_per_gpu: int) -> int:
    """The preferred 8192, halved while activations would crowd out the KV cache."""
    preferred = rules.DEFAULT_MAX_NUM_TOKENS
    after_weights = target.gpu.memory_bytes - weights_bytes_per_gpu - memory.RUNTIME_OVERHEAD_BYTES
    while (preferred > _MIN_SHRUNK_MAX_NUM_TOKENS and after_weights > 0
           and memory.activation_bytes(target.model, max_num_tokens=preferred, max_batch_size=1, tp=target.tp)
           > _ACTIVATION_SHARE * after_weights):
        preferred //= 2
    return preferred


# max_num_tokens, the memory budget and the max_batch_size it argues for, sized at one trial max_batch_size
_Sized = tuple[rules.TokensChoice, memory.MemoryBudget, BatchChoice]


@dataclass(frozen=True)
class _BatchSizing:
    """What sizing at a trial ``max_batch_size`` depends on, besides that trial."""

    target: _Target
    policy: api.SizingPolicy
    preferred_max_num_tokens: int
    max_input_len: int
    max_seq_len: int
    seq_p50: float
    peak_concurrency: float
    chunked_context: bool

    def at(self, mbs: int, fixed: int | None) -> _Sized:
        t, tpb = self.target, rules.DEFAULT_TOKENS_PER_BLOCK
        tokens = rules.choose_max_num_tokens(preferred=self.preferred_max_num_tokens, max_input_len=self.max_input_len,
                                             max_seq_len=self.max_seq_len, max_batch_size=mbs, tokens_per_block=tpb,
                                             chunked_context=self.chunked_context)
        fit = fitting.FitQuery(t.model, t.gpu, t.dtype, t.kv_quant, t.pp, capacity.kv_tokens(t.model, self.max_seq_len),
                               tokens.value, mbs, self.policy.kv_cache_free_gpu_mem_fraction, tpb)
        budget = fitting.require_fit(fit, t.weights_quant, t.tp)
        c50 = budget.sequences_at(capacity.kv_tokens(t.model, self.seq_p50))
        return tokens, budget, capacity.choose_max_batch_size(concurrent_p50=c50,
                                                              peak_concurrency=self.peak_concurrency, fixed=fixed)


def _settle_max_batch_size(sizing: _BatchSizing) -> _Sized:
    """The logits buffer grows with max_batch_size and shrinks the KV pool that max_batch_size is read from:
    iterate to the fixed point; if two powers of two trade places, settle on the smaller."""
    fixed = sizing.policy.max_batch_size
    mbs = fixed or 256
    for _ in range(4):
        tokens, budget, batch = sizing.at(mbs, fixed)
        if batch.max_batch_size == mbs:
            return tokens, budget, batch
        previous, mbs = mbs, batch.max_batch_size
    mbs = min(mbs, previous)
    return sizing.at(mbs, mbs)


def _memory_line(budget: memory.MemoryBudget, kv_fraction: float) -> str:
    return (f"memory per GPU: {budget.gpu_bytes / GIB:.1f} GiB = weights {budget.weights_bytes / GIB:.1f} + "
            f"activations {budget.activation_bytes / GIB:.2f} (estimate) + runtime "
            f"{budget.runtime_overhead_bytes / GIB:.1f} (estimate) + free {budget.free_bytes / GIB:.1f}; KV pool "
            f"{kv_fraction:.0%} of free = {budget.kv_pool_tokens:,} tokens at {budget.kv_bytes_per_token:,} "
            "bytes/token")


def _latency_line(latency: Latency, peak_rps: float, mean_in: float, mean_out: float, peak_conc: float) -> str:
    return (f"latency estimate: TTFT {latency.ttft_seconds * 1e3:.0f} ms for a mean prompt of {mean_in:,.0f} tokens, "
            f"ITL {latency.itl_seconds * 1e3:.1f} ms, {latency.request_seconds:.2f} s for a mean output of "
            f"{mean_out:,.0f} tokens; peak {peak_rps:.2f} req/s x {latency.request_seconds:.2f} s = "
            f"{peak_conc:.1f} concurrent requests (Little's law)")


def _build_flags(backend: str, max_input_len: int, max_seq_len: int, sizing: _Sizing, fmha: rules.FmhaChoice,
                 target: _Target) -> BuildFlags:
    """The trtllm-build flags (for the PyTorch backend only the limits its LLM API takes)."""
    mbs, max_num_tokens = sizing.batch.max_batch_size, sizing.tokens.value
    if backend == api.Backend.pytorch:  # the LLM API builds no TensorRT profiles: no opt_num_tokens
        return BuildFlags(max_input_len, max_seq_len, mbs, max_num_tokens, None)
    tpb = rules.DEFAULT_TOKENS_PER_BLOCK
    gemm = rules.gemm_plugin_for(target.weights_quant, target.dtype)
    multiple_profiles = gemm == "disable"  # the perf guide: more profiles help most without the GEMM plugin
    per_replica_peak = sizing.predictions.peak_concurrency / sizing.capacity.replicas
    opt = None if multiple_profiles else capacity.choose_opt_num_tokens(
        peak_concurrency_per_replica=per_replica_peak, max_num_tokens=max_num_tokens, tokens_per_block=tpb)
    return BuildFlags(
        max_input_len=max_input_len, max_seq_len=max_seq_len, max_batch_size=mbs,
        max_num_tokens=max_num_tokens, opt_num_tokens=opt, tokens_per_block=tpb, gemm_plugin=gemm,
        use_paged_context_fmha="enable" if fmha.paged else "disable",
        use_fp8_context_fmha="enable" if fmha.fp8 else "disable",
        multiple_profiles="enable" if multiple_profiles else "disable")


def _plugins_line(build: BuildFlags) -> str:
    paged = build.use_paged_context_fmha == "enable"
    return (f"plugins: gemm_plugin {build.gemm_plugin}, multiple_profiles {build.multiple_profiles}"
            + (f", opt_num_tokens {build.opt_num_tokens} (typical tokens per iteration at the peak)"
               if build.opt_num_tokens else " (so opt_num_tokens is left unset)")
            + f", use_fp8_context_fmha {build.use_fp8_context_fmha}, use_paged_context_fmha "
              f"{build.use_paged_context_fmha}"
            + (" (chunked context and KV reuse need it)" if paged else " (so no chunked context, no KV reuse)"))


def _build_rule_warnings(build: BuildFlags, model_context: int, chunked_context: bool, weights_quant: str,
                         window: int) -> tuple[str, ...]:
    """What trtllm-build warns about these flags; BuildRuleViolation for what it refuses or rewrites."""
    return rules.check_build(
        max_input_len=build.max_input_len, max_seq_len=build.max_seq_len, max_batch_size=build.max_batch_size,
        max_num_tokens=build.max_num_tokens, opt_num_tokens=build.opt_num_tokens,
        tokens_per_block=rules.DEFAULT_TOKENS_PER_BLOCK, model_context=model_context, chunked_context=chunked_context,
        multiple_profiles=build.multiple_profiles == "enable",
        use_fp8_context_fmha=build.use_fp8_context_fmha == "enable", weights_quant=weights_quant,
        max_attention_window_size=window)


def _engine_hash(model_ref: ModelRef, target: _Target, backend: str, trtllm_version: str, image: str,
                 step: CheckpointStep | None, build: BuildFlags) -> str:
    doc = identity.identity_document(
        model_name=model_ref.name, model_source=model_ref.source, model_architecture=_shape(target.model),
        backend=backend, trtllm_version=trtllm_version, image=image, gpu_sm=target.gpu.sm, dtype=target.dtype,
        weights_quant=target.weights_quant, kv_quant=target.kv_quant, tp=target.tp, pp=target.pp,
        checkpoint=step.to_json() if step else None, build=build.to_json(backend))
    return identity.digest(doc)


def _planning_window(profile: TrafficProfile) -> PlanningWindow:
    return PlanningWindow(start=profile.start.isoformat(), end=profile.end.isoformat(), samples=profile.samples,
                          sequence_source=profile.sequence_source.value, censored_fraction=profile.censored_fraction)


def _check_inputs(profile: TrafficProfile | TrafficUnavailable, min_samples: int, dtype: str, backend: str,
                  trtllm_version: str) -> None:
    if isinstance(profile, TrafficUnavailable):
        raise InsufficientTraffic(f"no traffic to plan from ({profile.reason}): {profile.message}")
    if profile.samples < min_samples or math.isnan(profile.samples):
        raise InsufficientTraffic(
            f"the window {profile.start.isoformat()} .. {profile.end.isoformat()} holds {profile.samples:.0f} "
            f"requests, fewer than the {min_samples} needed to plan (traffic.minSamples): widen the window or "
            "wait for more traffic; nothing is planned from too little data", samples=profile.samples,
            min_samples=min_samples)
    if dtype not in memory.DTYPE_BYTES:
        raise PlanningError(f"dtype {dtype!r} is not supported: use one of {', '.join(memory.DTYPE_BYTES)}")
    if backend not in BACKENDS:
        raise PlanningError(f"backend {backend!r} is unknown: use one of {', '.join(BACKENDS)}")
    if backend == api.Backend.tensorrt and not api.trtllm_has_build(trtllm_version):
        raise PlanningError(f"TensorRT-LLM {trtllm_version} has no trtllm-build (removed in 1.3): pin 1.2.x or "
                            "older (engine.trtllmVersion), or use engine.backend: pytorch")


def _note_censoring(profile: TrafficProfile, explanation: list[str], warnings: list[str]) -> None:
    c = profile.censored_fraction
    if c is None:
        explanation.append("censoring unknown: nothing in this window counts requests rejected or stopped at an "
                           "engine's limits, so demand beyond them cannot be seen")
    elif c > 0:
        warnings.append(f"{c:.3%} of the window's requests were rejected or stopped at the serving engine's "
                        "limits: their true lengths are longer than recorded")


def _shape(model: ModelFacts) -> dict[str, Any]:
    """Architecture facts that change the compiled network (not estimates such as the parameter count)."""
    d = model.to_json()
    for key in ("name", "parameter_count", "parameter_count_estimated", "max_context"):
        d.pop(key, None)
    return d


def _runtime(backend: str, build: BuildFlags, policy: api.SizingPolicy, scheduler: str, window: int,
             chunked: bool, tp: int, pp: int, kv_reuse: bool = True) -> dict[str, Any]:
    if backend == api.Backend.pytorch:
        return {"max_batch_size": build.max_batch_size, "max_num_tokens": build.max_num_tokens,
                "max_seq_len": build.max_seq_len, "enable_chunked_prefill": chunked,
                "kv_cache_config": {"free_gpu_memory_fraction": policy.kv_cache_free_gpu_mem_fraction,
                                    "enable_block_reuse": True},
                "tensor_parallel_size": tp, "pipeline_parallel_size": pp}
    return {"batching_strategy": "inflight_fused_batching", "batch_scheduler_policy": scheduler,
            "kv_cache_free_gpu_mem_fraction": policy.kv_cache_free_gpu_mem_fraction,
            "enable_chunked_context": chunked, "enable_kv_cache_reuse": kv_reuse, "max_queue_delay_microseconds": 0,
            "triton_max_batch_size": build.max_batch_size, "max_attention_window_size": window,
            "max_beam_width": build.max_beam_width}


def resolve_model(model_spec: api.ModelSpec, config_json: Mapping[str, Any] | None = None) -> ModelFacts:
    """Model facts for ``spec.model``: its explicit architecture, else a parsed config.json, else the preset."""
    if model_spec.architecture is not None:
        return models.from_architecture(model_spec.name, model_spec.architecture)
    if config_json is not None:
        return models.from_hf_config(model_spec.name, config_json)
    return models.preset(model_spec.name)


def plan_for_spec(profile: TrafficProfile | TrafficUnavailable, spec: api.InferenceServiceSpec, *,
                  season: str | None = None, config_json: Mapping[str, Any] | None = None) -> Plan:
    """``plan`` with everything taken from an InferenceService spec."""
    m = spec.model
    return plan(profile, resolve_model(m, config_json), gpus.from_hardware(spec.hardware), dtype=m.dtype,
                weights_quant=m.quantization.weights, kv_quant=m.quantization.kv_cache,
                tp=m.tensor_parallel_size, pp=m.pipeline_parallel_size, policy=spec.sizing,
                backend=spec.engine.backend, image=spec.engine.image,
                trtllm_version=spec.engine.trtllm_version,
                model_ref=ModelRef(m.name, m.source.model_dump(mode="json", by_alias=True, exclude_none=True)),
                season=season, min_samples=spec.traffic.min_samples)


__all__ = ["plan", "plan_for_spec", "resolve_model", "BACKENDS", "DEFAULT_MIN_SAMPLES"]
