"""The real TensorRT-LLM path's commands, pinned for the preset models (golden files)."""

from __future__ import annotations

import json

import pytest

from seasonal_build import commands, plans
from seasonal_engines.core.sizing import plans as planner_plans
from tests.engine_jobs import samples


def rendered(p: plans.Plan, hf_repo: str) -> list[dict]:
    return [c.to_dict() for c in (
        commands.download(hf_repo, "main", "/scratch/seasonal-build-x/hf"),
        commands.checkpoint(p, "/scratch/hf/snapshot", "/scratch/trtllm-checkpoint"),
        commands.trtllm_build(p, "/scratch/trtllm-checkpoint", "/engines/m/.tmp/engine"),
        commands.gpu_query())]


@pytest.mark.parametrize("preset", samples.PRESETS)
def test_commands_match_golden_files(preset: str) -> None:
    d = samples.plan_dict(preset)
    golden = json.loads((samples.GOLDEN / f"{preset}.commands.json").read_text())
    assert rendered(plans.parse(d), d["model"]["source"]["huggingFace"]["repo"]) == golden


@pytest.mark.parametrize("preset", samples.PRESETS)
def test_planner_plans_round_trip_into_the_same_commands(preset: str) -> None:
    # The operator's planner reads and rewrites its own plan.json; the build job must read what it writes.
    d = samples.plan_dict(preset)
    rewritten = planner_plans.Plan.from_json(d).to_json()
    a, b = plans.parse(d), plans.parse(rewritten)
    assert commands.trtllm_build(a, "c", "e") == commands.trtllm_build(b, "c", "e")
    assert commands.checkpoint(a, "m", "c") == commands.checkpoint(b, "m", "c")


def test_every_planned_build_flag_reaches_trtllm_build() -> None:
    p = samples.plan("llama-3-8b-bf16-tp1")
    argv = commands.trtllm_build(p, "ckpt", "out").argv
    for name, value in p.build.items():
        i = argv.index(f"--{name}")
        assert argv[i + 1] == str(value)
    assert argv[:5] == ("trtllm-build", "--checkpoint_dir", "ckpt", "--output_dir", "out")


def test_opt_num_tokens_is_never_passed_with_multiple_profiles() -> None:
    # trtllm-build refuses the pair; the planner may still carry a value.
    p = samples.plan("llama-3-8b-bf16-tp1", opt_num_tokens=256, multiple_profiles="enable")
    argv = commands.trtllm_build(p, "c", "e").argv
    assert "--opt_num_tokens" not in argv
    assert argv[argv.index("--multiple_profiles") + 1] == "enable"
    assert not commands.passed_opt_num_tokens(p)


def test_tp_and_pp_go_to_the_checkpoint_step_and_workers_to_the_build() -> None:
    p = samples.plan("llama-3-70b-fp8-tp4")
    convert = commands.checkpoint(p, "m", "c").argv
    assert convert[convert.index("--tp_size") + 1] == "4"
    assert convert[1] == "/app/examples/quantization/quantize.py"
    build = commands.trtllm_build(p, "c", "e").argv
    assert "--tp_size" not in build
    assert build[build.index("--workers") + 1] == "4"


def test_examples_dir_is_configurable() -> None:
    p = samples.plan("mixtral-8x7b-bf16-tp2")
    argv = commands.checkpoint(p, "m", "c", examples_dir="/opt/trtllm/examples/").argv
    assert argv[1] == "/opt/trtllm/examples/models/core/llama/convert_checkpoint.py"


def test_hugging_face_token_never_appears_in_the_argv() -> None:
    cmd = commands.download("meta-llama/Meta-Llama-3-8B", "abc123", "/scratch/hf")
    assert cmd.reads_env == ("HF_TOKEN", "HF_TOKEN_PATH")
    # huggingface_hub reads HF_TOKEN (or the file HF_TOKEN_PATH names) itself; a token argument would land in
    # logs and `ps`.
    assert all("token=" not in a and "HF_TOKEN" not in a for a in cmd.argv)


def test_the_download_takes_only_what_conversion_reads() -> None:
    cmd = commands.download("meta-llama/Meta-Llama-3-70B-Instruct", "main", "/scratch/hf")
    allow, ignore, fallback = (json.loads(a) for a in cmd.argv[-3:])
    assert "original/*" in ignore and "*.pth" in ignore  # Meta's consolidated weights: ~140 GB for 70B
    assert "*.safetensors" in allow and "*.json" in allow and "tokenizer.model" in allow
    assert fallback == ["pytorch_model*.bin"]  # only for repositories without safetensors


def test_gemma_converts_with_its_own_flags() -> None:
    from tests.engine_jobs import plan_kinds

    p = plans.parse(plan_kinds.golden(plan_kinds.BY_NAME["gemma"], "plan"))
    argv = commands.checkpoint(p, "m", "c").argv
    assert argv[argv.index("--world-size") + 1] == "2" and argv[argv.index("--ckpt-type") + 1] == "hf"
    assert "--tp_size" not in argv and "--pp_size" not in argv
    d = plan_kinds.golden(plan_kinds.BY_NAME["gemma"], "plan")
    d["model"]["pp"] = 2
    with pytest.raises(plans.PlanError, match="no pipeline parallelism"):
        plans.parse(d)


def test_a_calibration_set_replaces_the_hub_dataset_only_where_the_step_calibrates() -> None:
    from tests.engine_jobs import plan_kinds

    fp8 = plans.parse(plan_kinds.golden(plan_kinds.BY_NAME["fp8-weights-default-kv"], "plan"))
    argv = commands.checkpoint(fp8, "m", "c", calibration_dir="/calibration/text").argv
    assert argv[argv.index("--calib_dataset") + 1] == "/calibration/text"
    bf16 = plans.parse(plan_kinds.golden(plan_kinds.BY_NAME["bf16"], "plan"))
    assert "--calib_dataset" not in commands.checkpoint(bf16, "m", "c", calibration_dir="/calibration/text").argv
    int8 = plans.parse(plan_kinds.golden(plan_kinds.BY_NAME["int8-weight-only-int8-kv"], "plan"))
    assert commands.calibrates(int8)  # convert_checkpoint.py calibrates an INT8 KV cache


def test_checkpoint_flags_inconsistent_with_the_model_are_refused() -> None:
    d = samples.plan_dict("llama-3-70b-fp8-tp4")
    d["checkpoint"]["args"]["tp_size"] = 2
    with pytest.raises(plans.PlanError, match=r"plan\.checkpoint\.args\.tp_size"):
        plans.parse(d)


def test_checkpoint_flags_must_be_flag_names() -> None:
    d = samples.plan_dict()
    d["checkpoint"]["args"]["model_dir /etc; rm"] = "x"
    with pytest.raises(plans.PlanError, match="not a flag name"):
        commands.checkpoint(plans.parse(d), "m", "c")


@pytest.mark.parametrize("family,weights,kv,method,flags", [
    ("phi", "int8_wo", "int8", "quantize", {"qformat": "int8_wo", "kv_cache_dtype": "int8"}),  # no KV flags
    ("phi", "int8_wo", "auto", "convert", {"use_weight_only": True, "weight_only_precision": "int8"}),
    ("qwen", "none", "int8", "convert", {"int8_kv_cache": True}),
    ("qwen", "int8_wo", "fp8", "quantize", {"kv_cache_dtype": "fp8"}),  # no --fp8_kv_cache
    ("gemma", "int8_wo", "int8", "convert", {"ckpt-type": "hf", "world-size": 2, "int8_kv_cache": True}),
    ("llama", "int8_wo", "int8", "convert", {"tp_size": 2, "int8_kv_cache": True}),
])
def test_the_planner_uses_quantize_py_where_a_converter_lacks_a_flag(family: str, weights: str, kv: str, method: str,
                                                                    flags: dict) -> None:
    from dataclasses import replace

    from seasonal_engines.core.sizing import checkpoints, models
    from tests.engine_jobs import contract_facts

    model = replace(models.preset("llama-3-8b"), family=family)
    step = checkpoints.checkpoint_step(model, dtype="bfloat16", weights_quant=weights, kv_quant=kv, tp=2, pp=1)
    assert step.method == method
    assert flags.items() <= dict(step.args).items()
    assert set(step.args) <= contract_facts.checkpoint_flags()[step.script]


def test_gemma_and_phi_have_no_pipeline_parallelism() -> None:
    from dataclasses import replace

    from seasonal_engines.core.sizing import checkpoints, errors, models

    for family in ("gemma", "phi"):
        model = replace(models.preset("llama-3-8b"), family=family)
        with pytest.raises(errors.InvalidParallelism, match="no pipeline parallelism"):
            checkpoints.checkpoint_step(model, dtype="bfloat16", weights_quant="none", kv_quant="auto", tp=1, pp=2)
