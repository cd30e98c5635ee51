"""Building into the store: verified, atomic, idempotent; failures and kills leave nothing visible."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seasonal_build import building, engine_store, manifests, plans, trtllm, verification
from tests.engine_jobs import samples

REPO = Path(__file__).resolve().parents[2]


def options(tmp_path: Path) -> building.Options:
    return building.Options(store=tmp_path / "store", checkpoint_dir=samples.hf_checkpoint(tmp_path / "hf"),
                            work_dir=tmp_path / "scratch")


def run_build(tmp_path: Path, p: plans.Plan, tools: samples.FakeTools) -> building.Outcome:
    return building.build(p, options(tmp_path), runner=tools, versions=samples.versions,
                          now=lambda: datetime(2026, 3, 1, 12, tzinfo=UTC),
                          progress=building.Progress(out=open(os.devnull, "w")))


def visible(store: Path) -> list[str]:
    """Every entry a reader of the store could take for an engine."""
    return [str(p.relative_to(store)) for p in store.glob("*/*") if not p.name.startswith(".")]


def leftovers(store: Path) -> list[str]:
    return [p.name for p in store.glob("*/.*") if p.name.startswith((".tmp-", ".trash-"))]


@pytest.mark.parametrize("preset", samples.PRESETS)
def test_a_build_publishes_a_verified_engine_with_its_manifest(preset: str, tmp_path: Path) -> None:
    p = samples.plan(preset)
    tools = samples.FakeTools(p)
    outcome = run_build(tmp_path, p, tools)
    assert outcome.published
    path = tmp_path / "store" / p.model.name / p.engine_hash
    assert outcome.engine.path == path
    assert {x.name for x in path.iterdir()} == {"engine", "triton", "tokenizer", "manifest.json"}
    doc = json.loads((path / "manifest.json").read_text())
    assert doc["backend"] == "tensorrt" and doc["description"] == manifests.TRTLLM_DESCRIPTION
    assert doc["gpu"] == {"name": "NVIDIA H100 80GB HBM3", "sm": "9.0", "product": p.gpu.product}
    assert doc["versions"]["tensorrt_llm"] == "1.2.1" and doc["versions"]["engine_config_version"] == "1.2.1"
    assert doc["source_revision"].startswith("content:")
    assert set(doc["timings_seconds"]) == {"resolve", "convert", "build", "verify", "triton"}
    assert doc["sizes"]["engine"] >= 1024 * p.model.world_size
    assert doc["sizes"]["total_bytes"] > doc["sizes"]["engine"]
    assert doc["plan"]["engine_hash"] == p.engine_hash and doc["envelope"]["max_seq_len"] == p.build["max_seq_len"]
    assert [c[0] for c in tools.calls] == ["python3", "trtllm-build", "nvidia-smi"]
    assert leftovers(tmp_path / "store") == []
    assert not (tmp_path / "scratch" / f"seasonal-build-{p.short_hash}").exists()


def test_an_engine_already_published_is_not_rebuilt(tmp_path: Path) -> None:
    p = samples.plan()
    run_build(tmp_path, p, samples.FakeTools(p))
    again = samples.FakeTools(p)
    outcome = run_build(tmp_path, p, again)
    assert not outcome.published and again.calls == []


@pytest.mark.parametrize("tools,error", [
    (dict(gpu_line="NVIDIA L40S, 8.9"), verification.VerificationError),
    (dict(engine_overrides={"max_seq_len": 4096}), verification.VerificationError),
    (dict(engine_overrides={"use_paged_context_fmha": False}), verification.VerificationError),
    (dict(fail_step="build"), trtllm.CommandFailed),
    (dict(fail_step="convert"), trtllm.CommandFailed),
], ids=["other SM", "other max_seq_len", "no paged context FMHA", "trtllm-build fails", "conversion fails"])
def test_a_failed_or_mismatched_build_leaves_nothing_in_the_store(tmp_path: Path, tools: dict, error: type) -> None:
    p = samples.plan()
    with pytest.raises(error):
        run_build(tmp_path, p, samples.FakeTools(p, **tools))
    store = tmp_path / "store"
    assert visible(store) == [] and leftovers(store) == []
    assert engine_store.EngineStore(store).lookup(p.model.name, p.engine_hash) is None


def test_a_failed_command_reports_its_last_output(tmp_path: Path) -> None:
    p = samples.plan()
    with pytest.raises(trtllm.CommandFailed, match="CUDA out of memory"):
        run_build(tmp_path, p, samples.FakeTools(p, fail_step="build"))


class OldTrtllm(samples.FakeTools):
    """trtllm-build from another TensorRT-LLM release than the plan pins."""

    def __call__(self, command, cwd=None):  # type: ignore[override]
        result = super().__call__(command, cwd)
        if command.step == "build":
            config_path = Path(command.argv[command.argv.index("--output_dir") + 1]) / "config.json"
            config = json.loads(config_path.read_text())
            config["version"] = "1.1.0"
            config_path.write_text(json.dumps(config))
        return result


def test_an_engine_built_by_another_trtllm_version_is_refused(tmp_path: Path) -> None:
    p = samples.plan()
    with pytest.raises(verification.VerificationError, match="TensorRT-LLM 1.1.0 but the plan pins 1.2.1"):
        run_build(tmp_path, p, OldTrtllm(p))
    assert visible(tmp_path / "store") == []


def _publish_racer(store: str, p_dict: dict, barrier, results) -> None:
    p = plans.parse(p_dict)
    s = engine_store.EngineStore(store)
    staged = s.staging(p.model.name, p.engine_hash)
    (staged / "engine").mkdir()
    (staged / "engine" / "rank0.engine").write_bytes(os.urandom(4096))
    doc = manifests.build(plan=p_dict, engine_hash=p.engine_hash, model=p.model.name, backend="tensorrt",
                          versions={}, gpu=None, envelope={}, sizes={"total_bytes": 4096}, timings={},
                          source_revision=None, created_at=datetime.now(UTC).isoformat(),
                          layout={"engine": "engine"})
    engine_store.write_json_atomic(staged / "manifest.json", doc)
    barrier.wait()  # all builders reach the rename together
    results.put(s.publish(staged, p.model.name, p.engine_hash).published)


def test_builders_publishing_the_same_hash_at_once_leave_exactly_one_engine(tmp_path: Path) -> None:
    racers = 6
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(racers), ctx.Queue()
    procs = [ctx.Process(target=_publish_racer, args=(str(tmp_path), samples.plan_dict(), barrier, results))
             for _ in range(racers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    outcomes = sorted(results.get(timeout=5) for _ in range(racers))
    assert outcomes == [False] * (racers - 1) + [True]
    store = engine_store.EngineStore(tmp_path)
    assert [e.engine_hash for e in store.list()] == [samples.plan_dict()["engine_hash"]]
    assert leftovers(tmp_path) == []
    engine = store.list()[0]
    assert len(list((engine.path / "engine").iterdir())) == 1  # one builder's files, never a mix


FAKE_TRTLLM_BUILD = """#!/bin/sh
# Stands in for trtllm-build: starts writing the engine, then takes forever.
while [ "$#" -gt 0 ]; do
  if [ "$1" = "--output_dir" ]; then out="$2"; fi
  shift
done
mkdir -p "$out"
head -c 1048576 /dev/zero > "$out/rank0.engine"
echo "building rank 0 ..."
sleep 120
"""
FAKE_CONVERT = """import sys, os, pathlib
out = pathlib.Path(sys.argv[sys.argv.index('--output_dir') + 1]); out.mkdir(parents=True, exist_ok=True)
(out / 'config.json').write_text('{}')
"""


def fake_tensorrt_llm(directory: Path, version: str = "1.2.1") -> Path:
    """A ``tensorrt_llm`` package that only says its version (what the build reads before any GPU work)."""
    package = directory / "tensorrt_llm"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"__version__ = {version!r}\n")
    return directory


def test_a_build_killed_halfway_leaves_nothing_visible(tmp_path: Path) -> None:
    p = samples.plan()
    bin_dir, examples = tmp_path / "bin", tmp_path / "examples"
    bin_dir.mkdir()
    (bin_dir / "trtllm-build").write_text(FAKE_TRTLLM_BUILD)
    (bin_dir / "trtllm-build").chmod(0o755)
    script = examples / "models" / "core" / "llama" / "convert_checkpoint.py"
    script.parent.mkdir(parents=True)
    script.write_text(FAKE_CONVERT)
    (bin_dir / "python3").symlink_to(sys.executable)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(samples.plan_dict()))
    store = tmp_path / "store"
    fake = fake_tensorrt_llm(tmp_path / "site")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": f"{REPO / 'engine_jobs'}:{fake}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "seasonal_build", "build", "--plan", str(plan_file), "--store", str(store),
         "--checkpoint-dir", str(samples.hf_checkpoint(tmp_path / "hf")), "--examples-dir", str(examples),
         "--work-dir", str(tmp_path / "scratch")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        for line in proc.stdout:
            if "building rank 0" in line or time.monotonic() > deadline:
                break
        partial = list(store.glob(f"{p.model.name}/.tmp-*/engine/rank0.engine"))
        assert partial, "the fake build never started writing"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    s = engine_store.EngineStore(store)
    assert visible(store) == [] and s.list() == [] and s.lookup(p.model.name, p.engine_hash) is None
    assert len(leftovers(store)) == 1  # the dead build's staging directory, invisible to readers
    report = s.collect(p.model.name, keep_last=5, stale_after_seconds=3600)
    assert report.removed_temporaries == ()  # might still be a live build: kept
    report = s.collect(p.model.name, keep_last=5, stale_after_seconds=0, now=time.time() + 1)
    assert len(report.removed_temporaries) == 1 and leftovers(store) == []


def test_a_directory_without_a_valid_manifest_is_not_an_engine(tmp_path: Path) -> None:
    p = samples.plan()
    broken = tmp_path / p.model.name / p.engine_hash
    (broken / "engine").mkdir(parents=True)
    s = engine_store.EngineStore(tmp_path)
    assert s.list() == []
    with pytest.raises(engine_store.StoreError, match="not a complete engine"):
        s.lookup(p.model.name, p.engine_hash)
    (broken / "manifest.json").write_text(json.dumps({"schema": manifests.SCHEMA, "engine_hash": "0" * 64,
                                                      "model": p.model.name}))
    with pytest.raises(engine_store.StoreError, match="manifest names"):
        s.lookup(p.model.name, p.engine_hash)


def test_cli_exit_codes_say_what_went_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from seasonal_build import cli

    assert cli.main(["build", "--plan", str(tmp_path / "missing.json"), "--store", str(tmp_path)]) == cli.EXIT_INPUT
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**samples.plan_dict(), "backend": "pytorch"}))
    assert cli.main(["build", "--plan", str(bad), "--store", str(tmp_path)]) == cli.EXIT_INPUT
    good = tmp_path / "plan.json"
    good.write_text(json.dumps(samples.plan_dict()))
    build = ["build", "--plan", str(good), "--store", str(tmp_path / "s"), "--checkpoint-dir",
             str(samples.hf_checkpoint(tmp_path / "hf")), "--examples-dir", str(tmp_path / "none"),
             "--work-dir", str(tmp_path / "w")]
    # No TensorRT-LLM here: refused before any step, naming the plan's image.
    assert cli.main(build) == cli.EXIT_VERIFY
    assert "run the build in the plan's image" in capsys.readouterr().err
    # Another TensorRT-LLM than the plan pins: refused before any GPU work, with both fixes.
    monkeypatch.syspath_prepend(str(fake_tensorrt_llm(tmp_path / "rc8", "1.2.0rc8")))
    assert cli.main(build) == cli.EXIT_VERIFY
    err = capsys.readouterr().err
    assert "this image has TensorRT-LLM 1.2.0rc8 but the plan pins 1.2.1" in err
    assert not (tmp_path / "w").exists()  # nothing ran
    monkeypatch.delitem(sys.modules, "tensorrt_llm")
    monkeypatch.syspath_prepend(str(fake_tensorrt_llm(tmp_path / "good")))
    # No GPU here: the pipeline fails at its first command, and says so.
    assert cli.main(build) == cli.EXIT_COMMAND
    assert visible(tmp_path / "s") == [] and leftovers(tmp_path / "s") == []
