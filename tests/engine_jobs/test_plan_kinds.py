"""Each plan kind rendered end to end (plan, exact commands, model repository), pinned by golden files and checked
against the written facts of docs/trtllm-contract.md: nothing the builder would change, nothing the verify step
would refuse, every flag one its script has."""

from __future__ import annotations

import json

import pytest

from seasonal_build import builder_rules, commands, pbtxt, plans, runtime_limits, triton_repo, verification
from seasonal_engines.core.sizing import build_resources
from tests.engine_jobs import contract_facts as facts
from tests.engine_jobs import plan_kinds

KINDS = [k.name for k in plan_kinds.KINDS]
TENSORRT = [k.name for k in plan_kinds.KINDS if k.backend == "tensorrt"]


def parsed(name: str) -> plans.Plan:
    return plans.parse(plan_kinds.golden(plan_kinds.BY_NAME[name], "plan"))


@pytest.mark.parametrize("name", KINDS)
def test_the_planner_renders_the_golden_plan(name: str) -> None:
    kind = plan_kinds.BY_NAME[name]
    assert plan_kinds.plan_dict(kind) == plan_kinds.golden(kind, "plan")


@pytest.mark.parametrize("name", TENSORRT)
def test_the_build_runs_the_golden_commands(name: str) -> None:
    assert plan_kinds.commands(parsed(name)) == plan_kinds.golden(plan_kinds.BY_NAME[name], "commands")


@pytest.mark.parametrize("name", KINDS)
def test_the_plan_gets_the_golden_repository(name: str) -> None:
    assert plan_kinds.repository(parsed(name)) == plan_kinds.golden(plan_kinds.BY_NAME[name], "repository")


@pytest.mark.parametrize("name", TENSORRT)
def test_trtllm_build_would_change_nothing_and_the_verify_step_accepts_what_it_builds(name: str) -> None:
    p = parsed(name)
    assert builder_rules.problems(weights=p.model.weights, kv_cache=p.model.kv_cache, sm=p.gpu.sm,
                                  flags=dict(p.build)) == []
    assert builder_rules.refusal(weights=p.model.weights, kv_cache=p.model.kv_cache, sm=p.gpu.sm) is None
    # What trtllm-build writes for this plan (the builder's rewrites applied): the engine the verify step sees.
    built = runtime_limits.stand_in_engine_config(p)
    fmha = builder_rules.built_fmha(weights=p.model.weights, kv_cache=p.model.kv_cache, sm=p.gpu.sm,
                                    context_fmha=True, paged=p.enabled("use_paged_context_fmha"),
                                    fp8=p.enabled("use_fp8_context_fmha"))
    built["build_config"]["plugin_config"].update(use_paged_context_fmha=fmha.paged, use_fp8_context_fmha=fmha.fp8)
    ranks = [f"rank{r}.engine" for r in range(p.model.world_size)]
    engine = verification.verify_engine(p, built, ranks)
    models = {path.split("/")[0]: text for path, text in plan_kinds.golden(plan_kinds.BY_NAME[name],
                                                                         "repository").items()
              if path.endswith("config.pbtxt")}
    found = triton_repo.problems({m: pbtxt.loads(t) for m, t in models.items()}, engine,
                                 f"/engines/{p.model.name}/{p.engine_hash}/engine")
    assert found == []


@pytest.mark.parametrize("name", TENSORRT)
def test_every_flag_is_one_its_script_has(name: str) -> None:
    p = parsed(name)
    listed = plan_kinds.golden(plan_kinds.BY_NAME[name], "commands")
    convert = next(c for c in listed if c["step"] == "convert")["argv"]
    script = convert[1].removeprefix(commands.EXAMPLES_DIR + "/")
    known = facts.checkpoint_flags()[f"examples/{script}"]
    used = {a[2:] for a in convert[2:] if a.startswith("--")}
    assert used <= known, used - known
    build = next(c for c in listed if c["step"] == "build")["argv"]
    assert {a for a in build[1:] if a.startswith("--")} <= set(facts.column("trtllm-build-flags", "flag"))
    plugins = {row["flag"]: row["values"].replace(" ", "").split(",") for row in facts.table("plugin-values")}
    for flag, values in plugins.items():
        assert build[build.index(f"--{flag}") + 1] in values
    if p.model.family == "gemma":
        assert "--world-size" in convert
        assert "--tp_size" not in convert
        assert convert[convert.index("--ckpt-type") + 1] == "hf"


@pytest.mark.parametrize("name,paged,fp8,why", [
    ("bf16", True, False, None),
    ("fp8-weights-default-kv", True, False, "use_fp8_context_fmha off"),
    ("fp8-kv-over-bf16", False, False, "paged context FMHA off"),
    ("int8-weight-only-int8-kv", False, False, "paged context FMHA off"),
    ("int4-awq", True, False, None),
    ("tp4-70b", True, False, None),
], ids=lambda x: str(x))
def test_the_plan_says_why_the_builder_keeps_or_drops_context_fmha(name: str, paged: bool, fp8: bool,
                                                                  why: str | None) -> None:
    d = plan_kinds.golden(plan_kinds.BY_NAME[name], "plan")
    assert (d["build"]["use_paged_context_fmha"], d["build"]["use_fp8_context_fmha"]) == (
        "enable" if paged else "disable", "enable" if fp8 else "disable")
    assert d["runtime"]["enable_chunked_context"] is paged and d["runtime"]["enable_kv_cache_reuse"] is paged
    if why is not None:
        assert any(line.startswith(why) for line in d["explanation"]), d["explanation"]
    if not paged:  # without chunked context every admitted prompt must fit one iteration
        assert d["build"]["max_num_tokens"] >= d["build"]["max_input_len"]


def test_the_pytorch_kind_serves_llmapi_behind_a_front_with_ngc_inputs() -> None:
    files = plan_kinds.golden(plan_kinds.BY_NAME["pytorch"], "repository")
    yaml_doc = json.loads(files["tensorrt_llm/1/model.yaml"])  # JSON is YAML
    d = plan_kinds.golden(plan_kinds.BY_NAME["pytorch"], "plan")
    assert yaml_doc["backend"] == "pytorch" and yaml_doc["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert {k: yaml_doc[k] for k in ("max_batch_size", "max_num_tokens", "max_seq_len")} == {
        k: d["runtime"][k] for k in ("max_batch_size", "max_num_tokens", "max_seq_len")}
    assert yaml_doc["triton_config"] == {"max_batch_size": 0, "decoupled": False}
    assert files["tensorrt_llm/1/model.py"] == "copy of triton_models/llmapi/loader.py"
    assert files["ensemble/1/model.py"] == "copy of triton_models/llmapi/front.py"
    assert files["ensemble/1/token_metrics.py"] == "copy of triton_models/token_metrics.py"
    front = pbtxt.loads(files["ensemble/config.pbtxt"])
    ngc = set(facts.column("ensemble-inputs", "name"))
    assert {str(pbtxt.one(t, "name")) for t in front["input"]} <= ngc
    llmapi = pbtxt.loads(files["tensorrt_llm/config.pbtxt"])
    names = {str(pbtxt.one(t, "name")) for t in llmapi["input"]}
    assert {"text_input", "sampling_param_max_tokens", "sampling_param_seed", "sampling_param_stop"} <= names
    mapping = dict(pair.split(":") for pair in pbtxt.parameter_map(front)["input_map"].split(","))
    assert set(mapping) <= ngc and set(mapping.values()) <= names


@pytest.mark.parametrize("name", TENSORRT)
def test_the_build_pod_is_sized_to_the_plan(name: str) -> None:
    d = plan_kinds.golden(plan_kinds.BY_NAME[name], "plan")
    sized = build_resources.build_resources(d)
    weights = d["predictions"]["weights_bytes_total"]
    source = d["model"]["architecture"]["parameter_count"] * 2
    assert sized.scratch_bytes >= source + weights  # the download and the TensorRT-LLM checkpoint
    assert sized.memory_bytes >= source  # conversion holds the source model in host memory
    if name == "tp4-70b":
        assert sized.memory_bytes > 64 * 2**30 * 2  # far beyond a fixed 64Gi request
        assert sized.cpu_request == 16
