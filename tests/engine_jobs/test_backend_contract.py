"""The generated model repository against the backend's contract as docs/trtllm-contract.md writes it down, for
every backend version we support: required parameters, input and output names and types, value formats, the
builder's plugin rewrites, and the version check."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from seasonal_build import builder_rules, pbtxt, plans, runtime_limits, triton_repo, verification
from seasonal_engines.core.sizing import rules
from tests.engine_jobs import contract_facts as facts
from tests.engine_jobs import samples

VERSIONS = facts.column("versions", "version")
ENGINE, TOKENIZER = "/engines/m/h/engine", "/engines/m/h/tokenizer"


def plan_for(version: str) -> plans.Plan:
    d = copy.deepcopy(samples.plan_dict())
    d["trtllm_version"] = version
    return plans.parse(d)


def configs(tmp_path: Path, version: str) -> dict[str, model_config_pb2.ModelConfig]:
    repo = tmp_path / version
    triton_repo.write_repository(plan_for(version), repo, triton_repo.Paths(ENGINE, TOKENIZER))
    return {p.parent.name: text_format.Parse(p.read_text(), model_config_pb2.ModelConfig())
            for p in repo.glob("*/config.pbtxt")}


def tensors(config: model_config_pb2.ModelConfig, kind: str) -> dict[str, Any]:
    return {t.name: t for t in getattr(config, kind)}


TYPE = {v: k for k, v in model_config_pb2.DataType.items()}


def test_the_supported_versions_are_1_2() -> None:
    assert VERSIONS == ["1.2.1", "1.2.0", "1.2.0rc8"]


@pytest.mark.parametrize("version", VERSIONS)
def test_tensorrt_llm_has_every_parameter_the_backend_reads_without_a_default(tmp_path: Path, version: str) -> None:
    trt = configs(tmp_path, version)["tensorrt_llm"]
    assert trt.backend == "tensorrtllm"
    params = {k: v.string_value for k, v in trt.parameters.items()}
    for row in facts.table("trt-required-parameters"):
        assert row["parameter"] in params, row
    assert params["gpt_model_type"] in ("inflight_fused_batching", "inflight_batching", "V1")
    assert params["tokenizer_dir"] == params["xgrammar_tokenizer_info_path"] == params["guided_decoding_backend"] == ""
    assert params["gpt_model_path"] == ENGINE
    assert "${" not in "".join(params.values())


@pytest.mark.parametrize("version", VERSIONS)
def test_parameter_values_are_in_the_formats_the_backend_parses(tmp_path: Path, version: str) -> None:
    params = {k: v.string_value for k, v in configs(tmp_path, version)["tensorrt_llm"].parameters.items()}
    booleans = ("true", "True", "TRUE", "1", "false", "False", "FALSE", "0")
    for key in ("enable_kv_cache_reuse", "enable_chunked_context", "exclude_input_in_output"):
        assert params[key] in booleans, key
    assert params["exclude_input_in_output"] == "true" and params["enable_kv_cache_reuse"] == "true"
    assert 0 < float(params["kv_cache_free_gpu_mem_fraction"]) < 1
    assert int(params["max_beam_width"]) >= 1
    assert all(int(x) > 0 for x in params["max_attention_window_size"].split(","))
    assert params["batch_scheduler_policy"] in ("guaranteed_no_evict", "max_utilization")
    written = {row["parameter"]: row for row in facts.table("trt-parameters")}
    assert set(written) <= set(params)
    assert params["executor_worker_path"] == written["executor_worker_path"]["we write"]


@pytest.mark.parametrize("version", VERSIONS)
def test_tensorrt_llm_inputs_and_outputs_are_the_backends(tmp_path: Path, version: str) -> None:
    trt = configs(tmp_path, version)["tensorrt_llm"]
    known = {row["name"]: row for row in facts.table("trt-inputs")}
    for name, t in tensors(trt, "input").items():
        row = known[name]  # every name the config declares is one the backend reads
        assert TYPE[t.data_type] == f"TYPE_{row['type']}", name
        assert list(t.dims) == facts.dims(row["dims"]), name
        assert (list(t.reshape.shape) == [] and t.HasField("reshape")) == (row["reshape"] == "[]"), name
        assert t.optional == row["optional"].startswith("yes"), name
    outputs = {row["name"]: row for row in facts.table("trt-outputs")}
    for name, t in tensors(trt, "output").items():
        assert TYPE[t.data_type] == f"TYPE_{outputs[name]['type']}"
        assert list(t.dims) == facts.dims(outputs[name]["dims"])
    assert {"output_ids", "sequence_length"} <= set(tensors(trt, "output"))


@pytest.mark.parametrize("version", VERSIONS)
def test_the_ensemble_takes_ngc_names_and_feeds_the_backend_its_inputs(tmp_path: Path, version: str) -> None:
    models = configs(tmp_path, version)
    ngc = {row["name"]: row for row in facts.table("ensemble-inputs")}
    ensemble = models["ensemble"]
    inputs = tensors(ensemble, "input")
    assert {"text_input", "max_tokens", "top_k", "top_p", "seed", "stop_words", "bad_words",
            "min_tokens"} <= set(inputs)
    for name, t in inputs.items():
        row = ngc[name]  # no input NGC's ensemble lacks
        assert not row["tensorrt_llm input"].startswith("(not ours"), name
        assert TYPE[t.data_type] == f"TYPE_{row['type']}" and list(t.dims) == facts.dims(row["dims"]), name
    trt_step = next(step for step in ensemble.ensemble_scheduling.step if step.model_name == "tensorrt_llm")
    fed = dict(trt_step.input_map)  # tensorrt_llm input -> ensemble tensor
    for name in inputs:
        target = ngc[name]["tensorrt_llm input"]
        if target.startswith("("):
            assert {"input_ids", "input_lengths"} <= set(fed)  # text_input arrives tokenized
            continue
        assert target in fed, name
        # Sampling inputs go straight through; text-derived ones (word lists, ids) through preprocessing.
        assert fed[target] in (name, f"_{target}", "_request_output_len", "_end_id", "_pad_id"), (name, fed[target])
    assert set(t.name for t in ensemble.output) == {"text_output", "num_input_tokens", "num_output_tokens",
                                                    "finish_reason"}
    assert triton_repo.ensemble_problems(triton_repo.read_dir(tmp_path / version)) == []


def test_the_token_exporter_forwards_only_ngc_inputs() -> None:
    text = (triton_repo.MODELS_DIR / "token_exporter" / "config.pbtxt").read_text()
    config = text_format.Parse(text, model_config_pb2.ModelConfig())
    ngc = {row["name"]: row for row in facts.table("ensemble-inputs")}
    for t in config.input:
        assert t.name in ngc, t.name
        assert TYPE[t.data_type] == f"TYPE_{ngc[t.name]['type']}", t.name


def test_every_python_model_records_token_metrics_once_per_request(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    p = samples.plan()
    triton_repo.write_repository(p, repo, triton_repo.Paths(ENGINE, TOKENIZER))
    for model in ("preprocessing", "postprocessing"):
        params = pbtxt.parameter_map(triton_repo.read_dir(repo)[model])
        assert params["model_label"] == p.model.name
        assert int(params["max_input_len"]) == runtime_limits.effective_input_limit(p)
        assert (repo / model / "1" / "token_metrics.py").read_text() == triton_repo.TOKEN_METRICS.read_text()
    assert pbtxt.one(triton_repo.read_dir(repo)["tensorrt_llm"], "model_transaction_policy")["decoupled"] == [False]


@pytest.mark.parametrize("row", facts.table("builder-rewrites"),
                         ids=lambda r: f"{r['weights']}-{r['kv cache']}-{r['sm']}")
def test_builder_rewrites_match_builder_py(row: dict[str, str]) -> None:
    want = (row["paged context FMHA"] == "on", row["FP8 context FMHA"] == "on")
    built = builder_rules.built_fmha(weights=row["weights"], kv_cache=row["kv cache"], sm=row["sm"],
                                     context_fmha=True, paged=True, fp8=True)
    assert (built.paged, built.fp8) == want
    planned = rules.fmha_for(row["weights"], row["kv cache"], row["sm"])
    assert (planned.paged, planned.fp8) == want  # the planner plans what the builder builds
    again = builder_rules.built_fmha(weights=row["weights"], kv_cache=row["kv cache"], sm=row["sm"], context_fmha=True,
                                     paged=planned.paged, fp8=planned.fp8)
    assert (again.paged, again.fp8) == want  # and the builder leaves that plan as it is


def test_builder_refusals_on_sm_100_are_planned_and_checked_alike() -> None:
    for weights, kv in (("int8_wo", "auto"), ("int4_awq", "auto"), ("none", "int8"), ("int8_sq", "auto")):
        assert builder_rules.refusal(weights=weights, kv_cache=kv, sm="10.0")
        assert rules.builder_refusal(weights, kv, "10.0")
    assert builder_rules.refusal(weights="nvfp4", kv_cache="fp8", sm="10.0") is None
    assert rules.builder_refusal("nvfp4", "fp8", "10.0") is None


def test_plugin_values_are_plugin_pys() -> None:
    values = {row["flag"]: [v.strip() for v in row["values"].split(",")] for row in facts.table("plugin-values")}
    assert list(plans.ALLOWED_STR_VALUES["gpt_attention_plugin"]) == values["gpt_attention_plugin"]
    assert list(plans.ALLOWED_STR_VALUES["gemm_plugin"]) == values["gemm_plugin"]
    d = samples.plan_dict()
    d["build"]["gpt_attention_plugin"] = "fp8"
    with pytest.raises(plans.PlanError, match="gpt_attention_plugin must be one of"):
        plans.parse(d)


@pytest.mark.parametrize("found,pinned,ok", [
    ("1.2.1", "1.2.1", True), ("1.2.1", "1.2", True), ("1.2.0rc8", "1.2.0rc8", True), ("1.2.1+cu13", "1.2.1", True),
    ("1.2.0rc8", "1.2.1", False), ("1.2.0rc8", "1.2.0", False), ("1.2.0", "1.2.0rc8", False),
    ("1.2.10", "1.2.1", False),
    ("1.2", "1.2.1", False), ("1.1.0", "1.2", False),
])
def test_the_image_version_must_be_the_pinned_release(found: str, pinned: str, ok: bool) -> None:
    assert verification.version_matches(found, pinned) is ok


def test_a_version_mismatch_names_both_versions_and_both_fixes() -> None:
    p = plan_for("1.2.1")
    with pytest.raises(verification.VerificationError) as err:
        verification.verify_version("1.2.0rc8", p, "this image has")
    message = str(err.value)
    assert "TensorRT-LLM 1.2.0rc8 but the plan pins 1.2.1" in message
    assert "spec.engine.trtllmVersion to 1.2.0rc8" in message and "spec.engine.image" in message
