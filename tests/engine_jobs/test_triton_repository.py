"""The TensorRT-LLM model repository: valid ModelConfig text, wired ensemble, and consistent with its engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.protobuf import text_format
from hypothesis import given, settings
from hypothesis import strategies as st
from tritonclient.grpc import model_config_pb2

from seasonal_build import pbtxt, plans, triton_repo, verification
from tests.engine_jobs import samples

ENGINE = "/engines/llama-3-8b/abc/engine"


def write_repo(tmp_path: Path, p: plans.Plan) -> Path:
    repo = tmp_path / "triton"
    triton_repo.write(repo, triton_repo.configs(p, ENGINE, "/engines/llama-3-8b/abc/tokenizer"),
                      triton_repo.trtllm_model_files())
    return repo


def facts(p: plans.Plan, **overrides) -> verification.EngineFacts:
    return verification.engine_facts(samples.engine_config(p, **overrides))


def edit(repo: Path, model: str, old: str, new: str) -> None:
    path = repo / model / "config.pbtxt"
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("preset", samples.PRESETS)
def test_every_config_is_a_valid_model_config_consistent_with_its_engine(preset: str, tmp_path: Path) -> None:
    p = samples.plan(preset)
    repo = write_repo(tmp_path, p)
    assert sorted(d.name for d in repo.iterdir()) == ["ensemble", "postprocessing", "preprocessing", "tensorrt_llm"]
    for model in repo.iterdir():
        config = text_format.Parse((model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
        assert config.name == model.name
        assert (model / "1").is_dir()
    assert (repo / "preprocessing" / "1" / "model.py").is_file()
    trt = text_format.Parse((repo / "tensorrt_llm" / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    assert trt.backend == "tensorrtllm"
    assert trt.parameters["gpt_model_path"].string_value == ENGINE
    assert trt.parameters["enable_chunked_context"].string_value == "true"
    assert trt.parameters["kv_cache_free_gpu_mem_fraction"].string_value == "0.9"
    assert trt.max_batch_size == p.runtime.triton_max_batch_size
    triton_repo.check_dir(repo, facts(p), ENGINE)


def test_chunked_context_without_paged_context_fmha_is_rejected(tmp_path: Path) -> None:
    p = samples.plan()
    repo = write_repo(tmp_path, p)
    with pytest.raises(verification.VerificationError, match="enable_chunked_context needs"):
        triton_repo.check_dir(repo, facts(p, use_paged_context_fmha=False), ENGINE)


INCONSISTENT = {
    "attention window beyond max_seq_len": ("tensorrt_llm", 'string_value: "8192"', 'string_value: "16384"',
                                            "max_attention_window_size 16384 exceeds"),
    "beam wider than the engine": ("tensorrt_llm", 'key: "max_beam_width"\n  value {\n    string_value: "1"',
                                   'key: "max_beam_width"\n  value {\n    string_value: "4"',
                                   "max_beam_width 4 exceeds"),
    "engine elsewhere": ("tensorrt_llm", ENGINE, "/engines/other/engine", "gpt_model_path"),
    "unfed engine input": ("ensemble", 'key: "input_lengths"\n      value: "_input_lengths"\n    }\n    input_map',
                           'key: "input_lengths_x"\n      value: "_input_lengths"\n    }\n    input_map',
                           "does not declare"),
    "logits without gather": ("tensorrt_llm", 'name: "sequence_length"', 'name: "context_logits"',
                              "context_logits output needs"),
}


@pytest.mark.parametrize("model,old,new,message", list(INCONSISTENT.values()), ids=list(INCONSISTENT))
def test_a_config_inconsistent_with_its_engine_is_rejected(tmp_path: Path, model: str, old: str, new: str,
                                                           message: str) -> None:
    p = samples.plan()
    repo = write_repo(tmp_path, p)
    edit(repo, model, old, new)
    with pytest.raises(verification.VerificationError, match=re.escape(message)):
        triton_repo.check_dir(repo, facts(p), ENGINE)


def test_kv_cache_reuse_left_unset_defaults_to_on_and_needs_paged_context_fmha(tmp_path: Path) -> None:
    p = plans.parse({**samples.plan_dict(), "runtime": {**samples.plan_dict()["runtime"],
                                                        "enable_chunked_context": False,
                                                        "enable_kv_cache_reuse": False}})
    repo = write_repo(tmp_path, p)
    no_fmha = facts(p, use_paged_context_fmha=False)
    triton_repo.check_dir(repo, no_fmha, ENGINE)  # written out as false: fine
    text = (repo / "tensorrt_llm" / "config.pbtxt").read_text()
    text = re.sub(r'parameters \{\n  key: "enable_kv_cache_reuse"\n.*?\n\}\n', "", text, flags=re.S)
    (repo / "tensorrt_llm" / "config.pbtxt").write_text(text)
    with pytest.raises(verification.VerificationError, match="true when unset"):
        triton_repo.check_dir(repo, no_fmha, ENGINE)


def test_inflight_batching_needs_paged_kv_and_packed_input(tmp_path: Path) -> None:
    p = samples.plan()
    repo = write_repo(tmp_path, p)
    with pytest.raises(verification.VerificationError, match="remove_input_padding, paged KV cache"):
        triton_repo.check_dir(repo, facts(p, remove_input_padding=False, kv_cache_type="CONTINUOUS"), ENGINE)


def test_unfilled_template_placeholders_are_rejected(tmp_path: Path) -> None:
    p = samples.plan()
    repo = write_repo(tmp_path, p)
    edit(repo, "tensorrt_llm", "max_batch_size: 256", "max_batch_size: ${triton_max_batch_size}")
    with pytest.raises(pbtxt.PbtxtError, match="unfilled template placeholder"):
        triton_repo.check_dir(repo, facts(p), ENGINE)


def test_misspelt_fields_fail_the_model_config_schema() -> None:
    with pytest.raises(pbtxt.PbtxtError, match="not a valid Triton ModelConfig"):
        pbtxt.check_schema('name: "x"\nmax_batchsize: 4\n')


def test_the_stand_in_exposes_the_same_tensors_as_the_ensemble() -> None:
    from seasonal_build import stand_in

    p = samples.plan()
    ens = triton_repo.configs(p, ENGINE, "tok")["ensemble"]
    cfg = stand_in.config(p)
    assert cfg["name"] == ens["name"] == "ensemble"
    assert cfg["input"] == ens["input"] and cfg["output"] == ens["output"]


names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
scalars = st.one_of(st.integers(-2**31, 2**31), st.booleans(),
                    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12))
messages = st.recursive(st.dictionaries(names, scalars, max_size=4),
                        lambda inner: st.dictionaries(names, st.one_of(scalars, inner, st.lists(inner, min_size=1,
                                                                                                 max_size=2)),
                                                      max_size=4), max_leaves=12)


def normalise(message: dict) -> dict:
    out = {}
    for key, value in message.items():
        if isinstance(value, dict):
            out[key] = [normalise(value)]
        elif isinstance(value, list):
            out[key] = [normalise(v) for v in value]
        else:
            out[key] = [value]
    return out


@settings(max_examples=60, deadline=None)
@given(messages)
def test_written_text_reads_back_to_the_same_values(message: dict) -> None:
    assert pbtxt.loads(pbtxt.dumps(message)) == normalise(message)


@pytest.mark.parametrize("chunked", [True, False])
@pytest.mark.parametrize("max_num_tokens", [32, 64, 4096, 8192])
def test_stand_in_input_limit_agrees_with_the_planner(chunked: bool, max_num_tokens: int) -> None:
    # The build job cannot import operator code, so the runtime rule lives twice; they must agree.
    from seasonal_build import stand_in
    from seasonal_engines.core.sizing import rules

    d = samples.small_plan_dict(max_input_len=32, max_seq_len=8192, max_batch_size=8, max_num_tokens=max_num_tokens,
                                chunked=chunked)
    assert stand_in.effective_input_limit(plans.parse(d)) == rules.effective_input_limit(
        max_seq_len=8192, max_num_tokens=max_num_tokens, chunked_context=chunked)
