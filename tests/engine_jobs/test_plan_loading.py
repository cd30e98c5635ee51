"""plan.json validation: every refusal names the field and the fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seasonal_build import plans
from tests.engine_jobs import samples


def mutate(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    d = samples.plan_dict()
    change(d)
    return d


CASES = {
    "wrong schema": (lambda d: d.update(schema="v0"), r"plan\.schema"),
    "hash not hex": (lambda d: d.update(engine_hash="XYZ"), r"plan\.engine_hash"),
    "unknown backend": (lambda d: d.update(backend="onnx"), r"plan\.backend must be one of"),
    "missing limit": (lambda d: d["build"].pop("max_seq_len"), r"plan\.build\.max_seq_len is required"),
    "zero batch": (lambda d: d["build"].update(max_batch_size=0), r"plan\.build\.max_batch_size must be a positive"),
    "bool as int": (lambda d: d["build"].update(max_batch_size=True), r"plan\.build\.max_batch_size"),
    "input beyond seq": (lambda d: d["build"].update(max_input_len=9000), r"would clip it"),
    "tokens beyond seq x batch": (lambda d: d["build"].update(max_batch_size=1, max_num_tokens=9000),
                                  r"would clamp it"),
    "tokens below block": (lambda d: d["build"].update(max_num_tokens=16), r"below tokens_per_block"),
    "bad feature value": (lambda d: d["build"].update(context_fmha="on"), r"plan\.build\.context_fmha must be one"),
    "unknown flag": (lambda d: d["build"].update(strongly_typed="enable"), r"does not know: strongly_typed"),
    "bad sm": (lambda d: d["gpu"].update(sm="sm90"), r"plan\.gpu\.sm"),
    "bad model name": (lambda d: d["model"].update(name="Llama 3"), r"plan\.model\.name"),
    "bad kv format": (lambda d: d["model"]["quantization"].update(kv_cache="int4"),
                      r"plan\.model\.quantization\.kv_cache"),
    "bad fraction": (lambda d: d["runtime"].update(kv_cache_free_gpu_mem_fraction=1.0),
                     r"kv_cache_free_gpu_mem_fraction must be inside"),
    "bad chunked flag": (lambda d: d["runtime"].update(enable_chunked_context="yes"), r"enable_chunked_context"),
    "script outside examples": (lambda d: d["checkpoint"].update(script="/tmp/evil.py"), r"plan\.checkpoint\.script"),
}


@pytest.mark.parametrize("change,message", list(CASES.values()), ids=list(CASES))
def test_invalid_plans_are_refused_naming_the_field(change: Callable, message: str) -> None:
    with pytest.raises(plans.PlanError, match=message):
        plans.parse(mutate(change))


@pytest.mark.parametrize("preset", samples.PRESETS)
def test_preset_plans_load(preset: str, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(samples.plan_dict(preset)))
    p = plans.load(path)
    assert p.engine_hash == samples.plan_dict(preset)["engine_hash"]
    assert p.build["max_seq_len"] == samples.plan_dict(preset)["build"]["max_seq_len"]
    if "opt_num_tokens" in p.build:  # absent for the PyTorch backend's sizing keys
        assert p.build["opt_num_tokens"] is not None


def test_missing_and_malformed_files_say_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--plan"):
        plans.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(plans.PlanError, match="not JSON"):
        plans.load(tmp_path / "bad.json")


def test_features_default_to_trtllm_build_1x_defaults() -> None:
    d = samples.plan_dict()
    for key in ("context_fmha", "remove_input_padding", "use_paged_context_fmha", "multiple_profiles"):
        d["build"].pop(key)
    p = plans.parse(d)
    assert p.enabled("context_fmha") and p.enabled("remove_input_padding") and p.enabled("use_paged_context_fmha")
    assert not p.enabled("multiple_profiles")
