"""Model facts the planner needs: shape, context length, parameter count, converter family.

Three ways in: a preset by name (``PRESETS``), a Hugging Face ``config.json`` already parsed into a dict
(``from_hf_config``), or the explicit ``architecture`` block of an InferenceService
(``from_architecture``). Pure: reading the file is the caller's job; no I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from seasonal_engines.core.sizing.errors import InvalidModelConfig, UnknownPreset

# Rope types whose config already states the extended context in max_position_embeddings; for the others
# trtllm-build multiplies by the factor (tensorrt_llm builder `_init_max_seq_len`).
_ROPE_TYPES_WITHOUT_FACTOR = frozenset({"llama3", "su", "longrope", "default"})

# Hugging Face model_type -> TensorRT-LLM converter family (examples/models/core/<family>/convert_checkpoint.py).
# Mistral and Mixtral are converted by the llama script.
_FAMILIES = {
    "llama": "llama", "mistral": "llama", "mixtral": "llama",
    "qwen2": "qwen", "qwen": "qwen", "qwen2_moe": "qwen",
    "gemma": "gemma", "gemma2": "gemma",
    "phi3": "phi", "phi": "phi",
}
UNKNOWN_FAMILY = "unknown"


@dataclass(frozen=True)
class RopeScaling:
    """``rope_scaling`` of a config: type (``rope_type``), factor and the pre-scaling context."""

    type: str
    factor: float
    original_max_position_embeddings: int | None = None


@dataclass(frozen=True)
class ModelFacts:
    """What sizing needs to know about a decoder-only transformer. Token counts are tokens; sizes are counts."""

    name: str
    family: str                      # converter family, or "unknown" (then ModelOpt's quantize.py converts)
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    max_position_embeddings: int
    vocab_size: int
    intermediate_size: int
    parameter_count: int
    parameter_count_estimated: bool = False
    rope_scaling: RopeScaling | None = None
    sliding_window: int | None = None
    num_experts: int = 1             # 1: dense
    experts_per_token: int = 1
    tie_word_embeddings: bool = False
    architecture: str = ""           # Hugging Face class name, e.g. LlamaForCausalLM

    @property
    def max_context(self) -> int:
        """Longest sequence the model supports: what max_seq_len may never exceed."""
        rope = self.rope_scaling
        if rope is None or rope.type in _ROPE_TYPES_WITHOUT_FACTOR or rope.factor <= 1:
            return self.max_position_embeddings
        return int(self.max_position_embeddings * rope.factor)

    @property
    def embedding_parameters(self) -> int:
        """Input embedding plus LM head (once when tied): kept in the model dtype by quantization recipes."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def active_parameter_count(self) -> int:
        """Parameters used per token: all of them for dense models, the routed experts' share for MoE."""
        if self.num_experts <= 1:
            return self.parameter_count
        expert = 3 * self.hidden_size * self.intermediate_size * self.num_layers
        return self.parameter_count - expert * (self.num_experts - self.experts_per_token)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name, "family": self.family, "architecture": self.architecture,
            "num_layers": self.num_layers, "hidden_size": self.hidden_size,
            "num_attention_heads": self.num_attention_heads, "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim, "max_position_embeddings": self.max_position_embeddings,
            "vocab_size": self.vocab_size, "intermediate_size": self.intermediate_size,
            "parameter_count": self.parameter_count, "parameter_count_estimated": self.parameter_count_estimated,
            "rope_scaling": None, "sliding_window": self.sliding_window, "num_experts": self.num_experts,
            "experts_per_token": self.experts_per_token, "tie_word_embeddings": self.tie_word_embeddings,
            "max_context": self.max_context,
        }
        if self.rope_scaling is not None:
            r = self.rope_scaling
            d["rope_scaling"] = {"type": r.type, "factor": r.factor,
                                 "original_max_position_embeddings": r.original_max_position_embeddings}
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ModelFacts:
        rope = d.get("rope_scaling")
        return cls(
            name=d["name"], family=d["family"], num_layers=d["num_layers"], hidden_size=d["hidden_size"],
            num_attention_heads=d["num_attention_heads"], num_key_value_heads=d["num_key_value_heads"],
            head_dim=d["head_dim"], max_position_embeddings=d["max_position_embeddings"],
            vocab_size=d["vocab_size"], intermediate_size=d["intermediate_size"],
            parameter_count=d["parameter_count"],
            parameter_count_estimated=bool(d.get("parameter_count_estimated", False)),
            rope_scaling=RopeScaling(rope["type"], float(rope["factor"]), rope.get("original_max_position_embeddings"))
            if rope else None,
            sliding_window=d.get("sliding_window"), num_experts=d.get("num_experts", 1),
            experts_per_token=d.get("experts_per_token", 1),
            tie_word_embeddings=bool(d.get("tie_word_embeddings", False)), architecture=d.get("architecture", ""),
        )


def estimate_parameters(*, num_layers: int, hidden_size: int, num_attention_heads: int, num_key_value_heads: int,
                        head_dim: int, vocab_size: int, intermediate_size: int, num_experts: int = 1,
                        tie_word_embeddings: bool = False) -> int:
    """Parameters of a Llama-style decoder (gated MLP, GQA attention, RMSNorm), from its shape.

    Within 0.1% of the published counts for the presets; other layouts (biases, shared experts) drift more.
    """
    q = hidden_size * num_attention_heads * head_dim
    kv = 2 * hidden_size * num_key_value_heads * head_dim
    o = num_attention_heads * head_dim * hidden_size
    mlp = 3 * hidden_size * intermediate_size * num_experts
    router = hidden_size * num_experts if num_experts > 1 else 0
    per_layer = q + kv + o + mlp + router + 2 * hidden_size
    embeddings = vocab_size * hidden_size * (1 if tie_word_embeddings else 2)
    return num_layers * per_layer + embeddings + hidden_size


def _llama3(name: str, *, layers: int, hidden: int, heads: int, inter: int, params: int, long: bool) -> ModelFacts:
    return ModelFacts(
        name=name, family="llama", architecture="LlamaForCausalLM", num_layers=layers, hidden_size=hidden,
        num_attention_heads=heads, num_key_value_heads=8, head_dim=128,
        max_position_embeddings=131072 if long else 8192, vocab_size=128256, intermediate_size=inter,
        parameter_count=params, rope_scaling=RopeScaling("llama3", 8.0, 8192) if long else None,
    )


# Published shapes and parameter counts of the checkpoints (their config.json and safetensors index).
PRESETS: dict[str, ModelFacts] = {
    "llama-3-8b": _llama3("llama-3-8b", layers=32, hidden=4096, heads=32, inter=14336, params=8_030_261_248,
                          long=False),
    "llama-3-70b": _llama3("llama-3-70b", layers=80, hidden=8192, heads=64, inter=28672, params=70_553_706_496,
                           long=False),
    "llama-3.1-8b": _llama3("llama-3.1-8b", layers=32, hidden=4096, heads=32, inter=14336, params=8_030_261_248,
                            long=True),
    "llama-3.1-70b": _llama3("llama-3.1-70b", layers=80, hidden=8192, heads=64, inter=28672,
                             params=70_553_706_496, long=True),
    "mistral-7b": ModelFacts(
        name="mistral-7b", family="llama", architecture="MistralForCausalLM", num_layers=32, hidden_size=4096,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=32768,
        vocab_size=32000, intermediate_size=14336, parameter_count=7_241_732_096, sliding_window=4096,
    ),
    "mixtral-8x7b": ModelFacts(
        name="mixtral-8x7b", family="llama", architecture="MixtralForCausalLM", num_layers=32, hidden_size=4096,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=32768,
        vocab_size=32000, intermediate_size=14336, parameter_count=46_702_792_704, num_experts=8,
        experts_per_token=2,
    ),
    # google/gemma-7b: 16 KV heads of 256 (no GQA), tied embeddings; converted by examples/models/core/gemma.
    "gemma-7b": ModelFacts(
        name="gemma-7b", family="gemma", architecture="GemmaForCausalLM", num_layers=28, hidden_size=3072,
        num_attention_heads=16, num_key_value_heads=16, head_dim=256, max_position_embeddings=8192,
        vocab_size=256000, intermediate_size=24576, parameter_count=8_537_680_896, tie_word_embeddings=True,
    ),
}


def preset(name: str) -> ModelFacts:
    """The preset called ``name`` (case-insensitive); UnknownPreset listing the choices otherwise."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise UnknownPreset(f"unknown model {name!r}: use a preset ({', '.join(PRESETS)}), a path to the "
                            "checkpoint's config.json, or set spec.model.architecture")
    return PRESETS[key]


def _field(cfg: Mapping[str, Any], *keys: str, required: bool = True, default: Any = None) -> Any:
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    if required:
        raise InvalidModelConfig(f"config.json has no {keys[0]!r}"
                                 + (f" (nor {', '.join(repr(k) for k in keys[1:])})" if keys[1:] else "")
                                 + ": point --model at the checkpoint's own config.json or use a preset")
    return default


def _positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise InvalidModelConfig(f"config.json field {field!r} must be a positive integer, got {value!r}")
    return int(value)


def from_hf_config(name: str, config: Mapping[str, Any]) -> ModelFacts:
    """ModelFacts from a parsed Hugging Face ``config.json``; InvalidModelConfig naming a missing field."""
    if not isinstance(config, Mapping):
        raise InvalidModelConfig("config.json must hold a JSON object")
    cfg: Mapping[str, Any] = config.get("text_config") or config  # multimodal wrappers nest the LM's config
    layers = _positive_int(_field(cfg, "num_hidden_layers", "n_layer", "num_layers"), "num_hidden_layers")
    hidden = _positive_int(_field(cfg, "hidden_size", "n_embd", "d_model"), "hidden_size")
    heads = _positive_int(_field(cfg, "num_attention_heads", "n_head"), "num_attention_heads")
    kv_heads = _positive_int(_field(cfg, "num_key_value_heads", "num_kv_heads", required=False, default=heads),
                             "num_key_value_heads")
    if heads % kv_heads:
        raise InvalidModelConfig(f"config.json num_attention_heads ({heads}) is not a multiple of "
                                 f"num_key_value_heads ({kv_heads})")
    head_dim_default = hidden // heads
    head_dim = _positive_int(_field(cfg, "head_dim", required=False, default=head_dim_default), "head_dim")
    max_pos = _positive_int(_field(cfg, "max_position_embeddings", "n_positions", "max_sequence_length"),
                            "max_position_embeddings")
    vocab = _positive_int(_field(cfg, "vocab_size", required=False, default=32000), "vocab_size")
    inter_raw = _field(cfg, "intermediate_size", "ffn_dim", required=False)
    inter = _positive_int(inter_raw, "intermediate_size") if inter_raw is not None else int(3.5 * hidden)
    experts = _positive_int(_field(cfg, "num_local_experts", "num_experts", required=False, default=1),
                            "num_local_experts")
    top_k = _positive_int(_field(cfg, "num_experts_per_tok", required=False, default=min(2, experts)),
                          "num_experts_per_tok")
    tied = bool(cfg.get("tie_word_embeddings", config.get("tie_word_embeddings", False)))
    rope = _rope_scaling(cfg)
    window = _sliding_window(cfg, max_pos)
    model_type = str(cfg.get("model_type") or config.get("model_type") or "")
    archs = config.get("architectures") or cfg.get("architectures") or [""]
    explicit = cfg.get("num_parameters")
    estimated = estimate_parameters(num_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                                    num_key_value_heads=kv_heads, head_dim=head_dim, vocab_size=vocab,
                                    intermediate_size=inter, num_experts=experts, tie_word_embeddings=tied)
    return ModelFacts(
        name=name, family=_FAMILIES.get(model_type, UNKNOWN_FAMILY), architecture=str(archs[0]),
        num_layers=layers, hidden_size=hidden, num_attention_heads=heads, num_key_value_heads=kv_heads,
        head_dim=head_dim, max_position_embeddings=max_pos, vocab_size=vocab, intermediate_size=inter,
        parameter_count=int(explicit) if explicit else estimated, parameter_count_estimated=not explicit,
        rope_scaling=rope, sliding_window=window, num_experts=experts, experts_per_token=top_k,
        tie_word_embeddings=tied,
    )


def _rope_scaling(cfg: Mapping[str, Any]) -> RopeScaling | None:
    """``rope_scaling`` as the config states it; InvalidModelConfig for a factor that is not positive."""
    raw = cfg.get("rope_scaling")
    if not isinstance(raw, Mapping):
        return None
    rtype = str(raw.get("rope_type") or raw.get("type") or "default")
    factor = float(raw.get("factor", 1.0))
    if not factor > 0:
        raise InvalidModelConfig(f"config.json rope_scaling.factor must be positive, got {factor}")
    orig = raw.get("original_max_position_embeddings")
    return RopeScaling(rtype, factor, int(orig) if orig else None)


def _sliding_window(cfg: Mapping[str, Any], max_pos: int) -> int | None:
    """The attention window, when shorter than the context (a window as long as the context is none)."""
    if cfg.get("use_sliding_window") is False:  # Qwen2 states a window it does not use
        return None
    window = cfg.get("sliding_window")
    return int(window) if isinstance(window, int) and 0 < window < max_pos else None


def from_architecture(name: str, arch: Any) -> ModelFacts:
    """ModelFacts from ``spec.model.architecture`` (an ``api.spec.ModelArchitecture``).

    The family comes from a preset whose name prefixes ``name`` (e.g. ``llama-3-8b-custom``); otherwise it is
    unknown and the checkpoint is converted by ModelOpt's quantize.py, which reads any supported HF model.
    """
    head_dim = arch.head_dim or arch.hidden_size // arch.num_attention_heads
    base = _preset_named_by(name, arch.hidden_size)
    inter = base.intermediate_size if base is not None else int(3.5 * arch.hidden_size)
    experts = base.num_experts if base is not None else 1
    params = arch.parameter_count or estimate_parameters(
        num_layers=arch.num_layers, hidden_size=arch.hidden_size, num_attention_heads=arch.num_attention_heads,
        num_key_value_heads=arch.num_key_value_heads, head_dim=head_dim, vocab_size=arch.vocab_size,
        intermediate_size=inter, num_experts=experts)
    return ModelFacts(
        name=name, family=base.family if base else UNKNOWN_FAMILY, architecture=base.architecture if base else "",
        num_layers=arch.num_layers, hidden_size=arch.hidden_size, num_attention_heads=arch.num_attention_heads,
        num_key_value_heads=arch.num_key_value_heads, head_dim=head_dim,
        max_position_embeddings=arch.max_position_embeddings, vocab_size=arch.vocab_size, intermediate_size=inter,
        parameter_count=int(params), parameter_count_estimated=arch.parameter_count is None,
        rope_scaling=_scaled_rope(arch.rope_scaling_factor, base),
        sliding_window=base.sliding_window if base else None, num_experts=experts,
        experts_per_token=base.experts_per_token if base else 1,
    )


def _preset_named_by(name: str, hidden_size: int) -> ModelFacts | None:
    """The preset whose name prefixes ``name``, when its hidden size agrees (a custom build of it)."""
    return next((p for key, p in PRESETS.items() if name.startswith(key) and p.hidden_size == hidden_size), None)


def _scaled_rope(factor: float | None, base: ModelFacts | None) -> RopeScaling | None:
    """RoPE scaled by ``factor``: the preset's rope type when it has one, linear otherwise."""
    if not factor:
        return None
    if base is not None and base.rope_scaling is not None:
        return replace(base.rope_scaling, factor=float(factor))
    return RopeScaling("linear", float(factor))


def local_kv_heads(model: ModelFacts, tp: int) -> int:
    """KV heads one tensor-parallel rank holds: split while TP <= KV heads, replicated (1 per rank) beyond."""
    return max(1, math.ceil(model.num_key_value_heads / tp))


__all__ = ["ModelFacts", "RopeScaling", "PRESETS", "preset", "from_hf_config", "from_architecture",
           "estimate_parameters", "local_kv_heads", "UNKNOWN_FAMILY"]
