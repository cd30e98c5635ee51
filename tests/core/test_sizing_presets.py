"""Model and GPU facts: presets, the config.json reader, and the memory arithmetic built on them."""

from __future__ import annotations

import pytest

from seasonal_engines.api import spec as api
from seasonal_engines.core.sizing import gpus, memory, models
from seasonal_engines.core.sizing.errors import InvalidModelConfig, UnknownPreset

KIB = 1024


@pytest.mark.parametrize(("model", "kv_quant", "tp", "pp", "expected"), [
    ("llama-3-8b", "auto", 1, 1, 131072),
    ("llama-3-8b", "fp8", 1, 1, 65536),
    ("llama-3-8b", "fp8", 2, 1, 32768),
    ("llama-3-8b", "auto", 2, 1, 65536),
    ("llama-3-8b", "auto", 1, 2, 65536),
    ("llama-3-8b", "int8", 4, 1, 16384),
    ("llama-3-8b", "auto", 8, 1, 16384),
    ("llama-3-8b", "auto", 16, 1, 16384),   # beyond 8 KV heads each rank keeps one (replicated)
    ("llama-3-70b", "auto", 1, 1, 320 * KIB),
    ("llama-3-70b", "fp8", 1, 1, 160 * KIB),
    ("llama-3-70b", "auto", 4, 1, 80 * KIB),
    ("llama-3.1-70b", "auto", 2, 2, 80 * KIB),
    ("mistral-7b", "auto", 1, 1, 128 * KIB),
    ("mistral-7b", "fp8", 1, 1, 64 * KIB),
    ("mixtral-8x7b", "auto", 1, 1, 128 * KIB),
], ids=lambda v: str(v))
def test_kv_bytes_per_token(model: str, kv_quant: str, tp: int, pp: int, expected: int) -> None:
    assert memory.kv_bytes_per_token(models.preset(model), "bfloat16", kv_quant, tp, pp) == expected


@pytest.mark.parametrize(("name", "context", "params_b"), [
    ("llama-3-8b", 8192, 8.03),
    ("llama-3-70b", 8192, 70.55),
    ("llama-3.1-8b", 131072, 8.03),
    ("llama-3.1-70b", 131072, 70.55),
    ("mistral-7b", 32768, 7.24),
    ("mixtral-8x7b", 32768, 46.70),
])
def test_model_presets(name: str, context: int, params_b: float) -> None:
    m = models.preset(name)
    assert m.max_context == context
    assert round(m.parameter_count / 1e9, 2) == params_b
    estimate = models.estimate_parameters(
        num_layers=m.num_layers, hidden_size=m.hidden_size, num_attention_heads=m.num_attention_heads,
        num_key_value_heads=m.num_key_value_heads, head_dim=m.head_dim, vocab_size=m.vocab_size,
        intermediate_size=m.intermediate_size, num_experts=m.num_experts, tie_word_embeddings=m.tie_word_embeddings)
    assert abs(estimate - m.parameter_count) / m.parameter_count < 0.001


def test_mistral_has_a_sliding_window_and_mixtral_is_sparse() -> None:
    assert models.preset("mistral-7b").sliding_window == 4096
    mixtral = models.preset("mixtral-8x7b")
    assert (mixtral.num_experts, mixtral.experts_per_token, mixtral.num_key_value_heads) == (8, 2, 8)
    assert 12.5e9 < mixtral.active_parameter_count < 13.5e9  # "12.9B active"


def test_unknown_model_names_the_presets() -> None:
    with pytest.raises(UnknownPreset, match="llama-3-8b.*config.json"):
        models.preset("gpt-5")


@pytest.mark.parametrize(("name", "product", "sm", "fp8", "gib"), [
    ("h100-sxm-80gb", "NVIDIA-H100-80GB-HBM3", "9.0", True, 79.6),
    ("h200-141gb", "NVIDIA-H200", "9.0", True, 140.4),
    ("a100-sxm-80gb", "NVIDIA-A100-SXM4-80GB", "8.0", False, 80.0),
    ("l40s-48gb", "NVIDIA-L40S", "8.9", True, 45.0),
    ("l4-24gb", "NVIDIA-L4", "8.9", True, 22.5),
])
def test_gpu_presets(name: str, product: str, sm: str, fp8: bool, gib: float) -> None:
    g = gpus.preset(name)
    assert (g.product, g.sm, g.fp8, round(g.memory_gib, 1)) == (product, sm, fp8, gib)
    assert gpus.preset(product) == g  # the node label finds the same preset


def test_gpu_aliases_and_unknown() -> None:
    assert gpus.preset("H100").product == "NVIDIA-H100-80GB-HBM3"
    with pytest.raises(UnknownPreset, match="memoryGiB"):
        gpus.preset("tpu-v5")


def test_gpu_from_hardware_spec_overrides_and_requires_facts() -> None:
    g = gpus.from_hardware(api.HardwareSpec(gpu_product="NVIDIA-L40S", memory_gi_b=40))
    assert (g.sm, g.memory_bytes) == ("8.9", 40 * gpus.GIB)
    custom = gpus.from_hardware(api.HardwareSpec(gpu_product="NVIDIA-B200", memory_gi_b=180,
                                                 compute_capability="10.0"))
    assert custom.fp8 and custom.sm == "10.0"
    with pytest.raises(UnknownPreset, match="hardware.computeCapability"):
        # The API refuses this spec (below); the planner still guards objects that skipped validation.
        gpus.from_hardware(api.HardwareSpec.model_construct(gpu_product="NVIDIA-B200", memory_gi_b=None,
                                                            compute_capability=None))
    with pytest.raises(ValueError, match="hardware.gpuProduct 'NVIDIA-B200' has no preset"):
        api.HardwareSpec(gpu_product="NVIDIA-B200")


def test_the_api_knows_exactly_the_gpus_the_planner_has_facts_for() -> None:
    assert set(api.KNOWN_GPU_PRODUCTS) == {g.product for g in gpus.PRESETS.values()}


@pytest.mark.parametrize(("quant", "gb"), [("none", 16.06), ("fp8", 9.08), ("int4_awq", 5.70)])
def test_weight_bytes_llama3_8b(quant: str, gb: float) -> None:
    # Embeddings and LM head (1.05B parameters) stay in BF16 in every recipe.
    assert round(memory.weight_bytes(models.preset("llama-3-8b"), "bfloat16", quant) / 1e9, 2) == gb


def test_weights_split_over_tp_and_pp() -> None:
    m = models.preset("llama-3-70b")
    total = memory.weight_bytes(m, "bfloat16", "none")
    assert memory.weight_bytes_per_gpu(m, "bfloat16", "none", 4, 2) == -(-total // 8)


LLAMA31_8B_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "max_position_embeddings": 131072, "vocab_size": 128256, "tie_word_embeddings": False,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "torch_dtype": "bfloat16",
}


def test_hf_config_reader_matches_the_preset() -> None:
    m = models.from_hf_config("llama-3.1-8b", LLAMA31_8B_CONFIG)
    p = models.preset("llama-3.1-8b")
    assert (m.family, m.architecture, m.max_context, m.head_dim) == ("llama", "LlamaForCausalLM", 131072, 128)
    assert m.rope_scaling == p.rope_scaling
    assert abs(m.parameter_count - p.parameter_count) / p.parameter_count < 0.001
    assert m.parameter_count_estimated
    assert memory.kv_bytes_per_token(m, "bfloat16", "auto") == 131072


def test_hf_config_linear_rope_multiplies_the_context_and_qwen_window_is_ignored() -> None:
    cfg = {"model_type": "qwen2", "hidden_size": 2048, "num_attention_heads": 16, "num_key_value_heads": 2,
           "num_hidden_layers": 24, "max_position_embeddings": 32768, "sliding_window": 4096,
           "use_sliding_window": False, "rope_scaling": {"type": "yarn", "factor": 4.0}, "vocab_size": 151936,
           "intermediate_size": 11008, "tie_word_embeddings": True}
    m = models.from_hf_config("qwen", cfg)
    assert (m.family, m.max_context, m.sliding_window, m.num_key_value_heads) == ("qwen", 131072, None, 2)


def test_hf_config_mixtral_and_unknown_family() -> None:
    mixtral = {"model_type": "mixtral", "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
               "num_hidden_layers": 32, "max_position_embeddings": 32768, "intermediate_size": 14336,
               "num_local_experts": 8, "num_experts_per_tok": 2, "vocab_size": 32000}
    m = models.from_hf_config("mixtral", mixtral)
    assert (m.family, m.num_experts) == ("llama", 8)
    assert abs(m.parameter_count - 46.70e9) / 46.70e9 < 0.002
    other = models.from_hf_config("x", {**mixtral, "model_type": "somethingnew"})
    assert other.family == models.UNKNOWN_FAMILY


@pytest.mark.parametrize(("patch", "message"), [
    ({"num_hidden_layers": None}, "num_hidden_layers"),
    ({"max_position_embeddings": None}, "max_position_embeddings"),
    ({"hidden_size": "4096"}, "hidden_size.*positive integer"),
    ({"num_key_value_heads": 5}, "not a multiple of num_key_value_heads"),
])
def test_hf_config_errors_name_the_field(patch: dict, message: str) -> None:
    cfg = {k: v for k, v in {**LLAMA31_8B_CONFIG, **patch}.items() if v is not None}
    with pytest.raises(InvalidModelConfig, match=message):
        models.from_hf_config("m", cfg)


def test_from_architecture_uses_a_matching_preset_family() -> None:
    arch = api.ModelArchitecture(num_layers=32, hidden_size=4096, num_attention_heads=32, num_key_value_heads=8,
                                 max_position_embeddings=8192, vocab_size=128256)
    m = models.from_architecture("llama-3-8b-finetune", arch)
    assert (m.family, m.intermediate_size, m.head_dim) == ("llama", 14336, 128)
    assert abs(m.parameter_count - 8.03e9) / 8.03e9 < 0.002
    assert models.from_architecture("house-model", arch).family == models.UNKNOWN_FAMILY


def test_model_facts_json_round_trip() -> None:
    for m in models.PRESETS.values():
        assert models.ModelFacts.from_json(m.to_json()) == m
    for g in gpus.PRESETS.values():
        assert gpus.GpuFacts.from_json(g.to_json()) == g
