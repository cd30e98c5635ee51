"""Reading an engine's config.json back: published only when it is exactly the planned engine."""

from __future__ import annotations

from typing import Any

import pytest

from seasonal_build import verification
from tests.engine_jobs import samples


def ranks(n: int) -> list[str]:
    return [f"rank{r}.engine" for r in range(n)]


@pytest.mark.parametrize("preset", samples.PRESETS)
def test_the_engine_trtllm_build_writes_for_the_plan_passes(preset: str) -> None:
    p = samples.plan(preset)
    facts = verification.verify_engine(p, samples.engine_config(p), ranks(p.model.world_size))
    assert facts.format == "1.x" and facts.version == "1.2.1" and facts.world_size == p.model.world_size


MISMATCHES: dict[str, tuple[dict[str, Any], str]] = {
    "clipped max_input_len": ({"max_input_len": 4096}, "max_input_len: planned 8192, engine has 4096"),
    "other max_seq_len": ({"max_seq_len": 4096}, "max_seq_len"),
    "clamped max_num_tokens": ({"max_num_tokens": 2048}, "max_num_tokens"),
    "other batch": ({"max_batch_size": 2048}, "max_batch_size"),
    "opt_num_tokens": ({"opt_num_tokens": 99}, "opt_num_tokens"),
    "continuous kv": ({"kv_cache_type": "CONTINUOUS"}, "kv_cache_type"),
    "block size": ({"tokens_per_block": 64}, "tokens_per_block"),
    "no paged context fmha": ({"use_paged_context_fmha": False}, "use_paged_context_fmha"),
    "gemm plugin off": ({"gemm_plugin": None}, "gemm_plugin"),
    "fp16 attention": ({"gpt_attention_plugin": "float16"}, "gpt_attention_plugin"),
}


@pytest.mark.parametrize("override,message", list(MISMATCHES.values()), ids=list(MISMATCHES))
def test_an_engine_that_differs_from_its_plan_fails_loudly(override: dict[str, Any], message: str) -> None:
    p = samples.plan()
    with pytest.raises(verification.VerificationError, match="differs from its plan") as err:
        verification.verify_engine(p, samples.engine_config(p, **override), ranks(1))
    assert message in str(err.value)


def test_mapping_and_rank_files_must_match_tp_pp() -> None:
    p = samples.plan("llama-3-70b-fp8-tp4")
    config = samples.engine_config(p)
    config["pretrained_config"]["mapping"]["tp_size"] = 2
    with pytest.raises(verification.VerificationError, match="tensor parallel size: planned 4, engine has 2"):
        verification.verify_engine(p, config, ranks(4))
    with pytest.raises(verification.VerificationError, match="rank3.engine"):
        verification.verify_engine(p, samples.engine_config(p), ranks(3))


def test_auto_plugins_match_either_spelling_the_engine_keeps() -> None:
    p = samples.plan()
    config = samples.engine_config(p)
    config["build_config"]["plugin_config"]["gemm_plugin"] = "auto"
    verification.verify_engine(p, config, ranks(1))


def test_opt_num_tokens_is_not_compared_when_it_was_not_passed() -> None:
    p = samples.plan("llama-3-70b-fp8-tp4")  # multiple_profiles: trtllm-build picks opt itself
    verification.verify_engine(p, samples.engine_config(p, opt_num_tokens=12345), ranks(4))


def test_trtllm_0_8_to_0_10_configs_are_read_with_max_output_len() -> None:
    facts = verification.engine_facts({"version": "0.9.0", "pretrained_config": {"mapping": {"tp_size": 2}},
                                       "build_config": {"max_input_len": 1024, "max_output_len": 512,
                                                        "max_batch_size": 8, "plugin_config": {
                                                            "paged_kv_cache": True, "tokens_per_block": 64}}})
    assert facts.format == "0.8-0.10"
    assert facts.build["max_seq_len"] == 1536 and facts.build["kv_cache_type"] == "paged" and facts.tp == 2


def test_pre_0_8_builder_config_is_read() -> None:
    facts = verification.engine_facts({"builder_config": {"max_batch_size": 4, "max_input_len": 100,
                                                          "max_output_len": 28, "tensor_parallel": 2},
                                       "plugin_config": {"paged_kv_cache": False}})
    assert (facts.format, facts.version, facts.tp) == ("pre-0.8", None, 2)
    assert facts.build["max_seq_len"] == 128 and facts.build["kv_cache_type"] == "continuous"


def test_a_config_that_is_no_engine_config_is_refused() -> None:
    with pytest.raises(verification.VerificationError, match="neither build_config nor builder_config"):
        verification.engine_facts({"architectures": ["LlamaForCausalLM"]})


def test_an_engine_built_on_another_sm_is_never_published() -> None:
    p = samples.plan()  # planned for SM 9.0
    verification.verify_sm(p, "9.0")
    with pytest.raises(verification.VerificationError, match="compute capability 8.9 .*planned for 9.0"):
        verification.verify_sm(p, "8.9", "NVIDIA L40S")


def test_gpu_query_output_is_parsed_and_mixed_nodes_refused() -> None:
    assert verification.parse_gpu_query("NVIDIA H100 80GB HBM3, 9.0\nNVIDIA H100 80GB HBM3, 9.0\n") == (
        "NVIDIA H100 80GB HBM3", "9.0")
    with pytest.raises(verification.VerificationError, match="mixes GPU architectures"):
        verification.parse_gpu_query("NVIDIA H100, 9.0\nNVIDIA L40S, 8.9\n")
    with pytest.raises(verification.VerificationError, match="no GPU"):
        verification.parse_gpu_query("\n")
