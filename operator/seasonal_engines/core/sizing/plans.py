"""The build plan: what to build, how to serve it, what it should achieve, and why. Plus its JSON form.

``Plan.to_json`` writes the ``plan.json`` contract of docs/architecture.md (schema
``seasonal-engines/plan/v1``), read by the build job without operator code; ``Plan.from_json`` reads it back
to an equal Plan. The top-level ``coverage``, ``memory`` and ``replicas`` are views of ``predictions`` for
scripts. Pure data: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from seasonal_engines.api.spec import Backend
from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.core.sizing import identity
from seasonal_engines.core.sizing.checkpoints import CheckpointStep
from seasonal_engines.core.sizing.gpus import GpuFacts
from seasonal_engines.core.sizing.models import ModelFacts

SCHEMA = "seasonal-engines/plan/v1"
SIZING_KEYS = ("max_input_len", "max_seq_len", "max_batch_size", "max_num_tokens", "opt_num_tokens")


@dataclass(frozen=True)
class ModelRef:
    """Which checkpoint: the model's name and its source (``spec.model.source`` as plain JSON)."""

    name: str
    source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def revision(self) -> str | None:
        hf = self.source.get("huggingFace") or self.source.get("hugging_face")
        return hf.get("revision") if isinstance(hf, Mapping) else self.source.get("revision")


@dataclass(frozen=True)
class BuildFlags:
    """``trtllm-build`` flags (1.x names). ``opt_num_tokens`` is None when ``multiple_profiles`` is enabled:
    trtllm-build refuses the two together, so the build job must not pass it then."""

    max_input_len: int
    max_seq_len: int
    max_batch_size: int
    max_num_tokens: int
    opt_num_tokens: int | None
    max_beam_width: int = 1
    kv_cache_type: str = "paged"
    tokens_per_block: int = 32
    gpt_attention_plugin: str = "auto"
    gemm_plugin: str = "auto"
    context_fmha: str = "enable"
    remove_input_padding: str = "enable"
    use_paged_context_fmha: str = "enable"
    use_fp8_context_fmha: str = "disable"
    multiple_profiles: str = "disable"

    def envelope(self) -> Envelope:
        return Envelope(self.max_input_len, self.max_seq_len, self.max_batch_size, self.max_num_tokens)

    def to_json(self, backend: str = Backend.tensorrt.value) -> dict[str, Any]:
        """Every flag for engine backends; only the sizing limits for PyTorch, which builds nothing."""
        full = asdict(self)
        return {k: full[k] for k in SIZING_KEYS} if backend == Backend.pytorch else full

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> BuildFlags:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def argv(self) -> list[str]:
        """``trtllm-build`` arguments (no directories), in field order; unset values are left out."""
        out: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out.extend([f"--{f.name}", str(value)])
        return out


@dataclass(frozen=True)
class Predictions:
    """What the plan expects on one replica. Bytes are per GPU; latency figures are estimates."""

    weights_bytes: int
    weights_bytes_total: int
    kv_bytes_per_token: int
    activation_bytes: int
    runtime_overhead_bytes: int
    kv_pool_bytes: int
    kv_pool_tokens: int
    sequence_p50: float
    sequence_p99: float
    concurrent_sequences_p50: int     # sequences of the p50 length the KV pool holds at once
    concurrent_sequences_p99: int
    coverage_input: float             # share of the window's requests with input <= max_input_len
    coverage_sequence: float          # share with input + output <= max_seq_len
    rate_rps: float
    peak_rps: float
    mean_input_tokens: float
    mean_output_tokens: float
    ttft_seconds: float               # estimate: compute-bound prefill of the mean prompt
    itl_seconds: float                # estimate: weight streaming per decode step
    request_seconds: float            # ttft + mean output x itl
    peak_concurrency: float           # Little's law: peak_rps x request_seconds
    replica_concurrency: int          # sequences one replica sustains at the p99 length
    replicas: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Predictions:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class PlanningWindow:
    """The planning window the limits were derived from."""

    start: str                        # ISO 8601
    end: str
    samples: float
    sequence_source: str              # "joint" or "bound"
    censored_fraction: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PlanningWindow:
        return cls(start=str(d["start"]), end=str(d["end"]), samples=float(d["samples"]),
                   sequence_source=str(d["sequence_source"]), censored_fraction=d.get("censored_fraction"))


@dataclass(frozen=True)
class Plan:
    engine_hash: str
    model_ref: ModelRef
    model: ModelFacts
    gpu: GpuFacts
    backend: str                      # "tensorrt", "pytorch" or "cpu-stand-in"
    dtype: str
    weights_quant: str
    kv_quant: str
    tp: int
    pp: int
    trtllm_version: str
    image: str
    checkpoint: CheckpointStep | None  # None for the PyTorch backend (no build)
    build: BuildFlags
    runtime: Mapping[str, Any]        # Triton tensorrt_llm parameters, or LLM-API settings for pytorch
    season: str | None
    predictions: Predictions
    traffic: PlanningWindow
    explanation: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def engine_id(self) -> str:
        return identity.short(self.engine_hash)

    @property
    def envelope(self) -> Envelope:
        return self.build.envelope()

    @property
    def builds_engine(self) -> bool:
        return self.backend != Backend.pytorch

    def to_json(self) -> dict[str, Any]:
        p = self.predictions
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "engine_hash": self.engine_hash,
            "engine_id": self.engine_id,
            "model": {
                "name": self.model_ref.name, "source": dict(self.model_ref.source),
                "revision": self.model_ref.revision, "dtype": self.dtype,
                "quantization": {"weights": self.weights_quant, "kv_cache": self.kv_quant},
                "tp": self.tp, "pp": self.pp, "family": self.model.family, "architecture": self.model.to_json(),
            },
            "gpu": self.gpu.to_json(),
            "backend": self.backend,
            "trtllm_version": self.trtllm_version,
            "image": self.image,
            "build": self.build.to_json(self.backend),
            "runtime": dict(self.runtime),
            "season": self.season,
            "coverage": {"input": p.coverage_input, "sequence": p.coverage_sequence},
            "memory": {"weights_bytes": p.weights_bytes, "kv_bytes_per_token": p.kv_bytes_per_token,
                       "kv_pool_tokens": p.kv_pool_tokens, "kv_pool_bytes": p.kv_pool_bytes,
                       "activation_bytes": p.activation_bytes, "gpu_bytes": self.gpu.memory_bytes},
            "replicas": p.replicas,
            "predictions": p.to_json(),
            "traffic": self.traffic.to_json(),
            "explanation": list(self.explanation),
            "warnings": list(self.warnings),
        }
        if self.checkpoint is not None:  # absent for PyTorch: there is nothing to convert or build
            out["checkpoint"] = self.checkpoint.to_json()
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Plan:
        if d.get("schema") != SCHEMA:
            raise ValueError(f"plan.json schema is {d.get('schema')!r}, expected {SCHEMA!r}")
        m = d["model"]
        return cls(
            engine_hash=d["engine_hash"],
            model_ref=ModelRef(m["name"], dict(m.get("source") or {})),
            model=ModelFacts.from_json(m["architecture"]),
            gpu=GpuFacts.from_json(d["gpu"]),
            backend=d["backend"], dtype=m["dtype"], weights_quant=m["quantization"]["weights"],
            kv_quant=m["quantization"]["kv_cache"], tp=int(m["tp"]), pp=int(m["pp"]),
            trtllm_version=d["trtllm_version"], image=d["image"],
            checkpoint=CheckpointStep.from_json(d["checkpoint"]) if d.get("checkpoint") else None,
            build=BuildFlags.from_json(d["build"]), runtime=dict(d.get("runtime") or {}), season=d.get("season"),
            predictions=Predictions.from_json(d["predictions"]), traffic=PlanningWindow.from_json(d["traffic"]),
            explanation=tuple(d.get("explanation") or ()), warnings=tuple(d.get("warnings") or ()),
        )


__all__ = ["Plan", "BuildFlags", "Predictions", "PlanningWindow", "ModelRef", "SCHEMA"]
