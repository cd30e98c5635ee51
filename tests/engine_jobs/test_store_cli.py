"""``seasonal engines`` and ``python -m seasonal_build list/gc/commands`` over a store directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seasonal_build import building, cli, plans
from seasonal_engines.cli import main as seasonal
from tests.engine_jobs import samples


def publish(store: Path, tmp_path: Path, engine_hash: str) -> None:
    p = plans.parse({**samples.plan_dict(), "engine_hash": engine_hash})
    building.build(p, building.Options(store=store, checkpoint_dir=samples.hf_checkpoint(tmp_path / "hf"),
                                       work_dir=tmp_path / "w"),
                   runner=samples.FakeTools(p), versions=samples.versions,
                   progress=building.Progress(out=open("/dev/null", "w")))


def test_list_show_and_gc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    old, new = "a" * 64, "b" * 64
    publish(store, tmp_path, old)
    publish(store, tmp_path, new)
    assert seasonal.main(["engines", "list", "--store", str(store), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["engine_hash"] for e in listed] == [old, new]
    assert listed[0]["description"] == "TensorRT-LLM engine"
    assert seasonal.main(["engines", "show", "--store", str(store), new]) == 0
    assert json.loads(capsys.readouterr().out)["engine_hash"] == new
    assert seasonal.main(["engines", "gc", "--store", str(store), "--model", "llama-3-8b", "--keep", "0",
                          "--serving", old]) == 0
    out = capsys.readouterr().out
    assert f"keep {old[:16]} (serving)" in out and f"deleted {new[:16]}" in out
    assert cli.main(["list", "--store", str(store)]) == 0
    assert old[:16] in capsys.readouterr().out
    assert seasonal.main(["engines", "show", "--store", str(store), new]) == 2


def test_commands_prints_what_a_build_would_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(samples.plan_dict("llama-3-70b-fp8-tp4")))
    assert cli.main(["commands", "--plan", str(plan_file)]) == 0
    steps = json.loads(capsys.readouterr().out)
    assert [s["step"] for s in steps] == ["resolve", "convert", "build", "verify"]
    assert steps[2]["argv"][0] == "trtllm-build"
