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
    assert cmd.reads_env == ("HF_TOKEN",)
    # huggingface_hub reads HF_TOKEN itself; a token argument would land in logs and `ps`.
    assert all("token" not in a for a in cmd.argv)


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
