"""The build's steps as the GPU node runs them: the download step's record, trtllm-build's working directory, the
offline calibration set and the hint when a node has no network, and plans refused before any GPU work."""

from __future__ import annotations

import copy
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seasonal_build import building, commands, launching, plans, trtllm
from tests.engine_jobs import contract_facts as facts
from tests.engine_jobs import plan_kinds, samples


class Tools(samples.FakeTools):
    """The fake tools, also recording each command's working directory and playing the Hub download."""

    def __init__(self, plan: plans.Plan, snapshot: Path | None = None, **kwargs) -> None:
        super().__init__(plan, **kwargs)
        self.snapshot = snapshot
        self.cwds: dict[str, Path | None] = {}

    def __call__(self, command: commands.Command, cwd: Path | None = None) -> trtllm.RunResult:
        self.cwds[command.step] = cwd
        if command.step == "resolve" and self.snapshot is not None:
            self.calls.append(command.argv)
            return trtllm.RunResult(0, f"Fetching files\n{self.snapshot}\n")
        if command.step == "build" and cwd is not None:
            (cwd / "model.cache").write_bytes(b"timing cache")  # what trtllm-build leaves in its working dir
        return super().__call__(command, cwd)


def quiet() -> building.Progress:
    return building.Progress(out=open(os.devnull, "w"))


def build(tmp_path: Path, p: plans.Plan, tools: Tools, **options) -> building.Outcome:
    opts = building.Options(store=tmp_path / "store", work_dir=tmp_path / "scratch", **options)
    return building.build(p, opts, runner=tools, versions=samples.versions, progress=quiet(),
                          now=lambda: datetime(2026, 3, 1, tzinfo=UTC))


def hf_plan(kind: str = "bf16") -> plans.Plan:
    return plans.parse(plan_kinds.golden(plan_kinds.BY_NAME[kind], "plan"))


def test_the_download_step_records_the_snapshot_and_the_build_uses_it(tmp_path: Path) -> None:
    p = hf_plan()
    snapshot = samples.hf_checkpoint(tmp_path / "hf-cache" / "snapshots" / "0123abcd")
    fetch = Tools(p, snapshot)
    assert building.download(p, tmp_path / "scratch", fetch, quiet()) == snapshot
    assert len(fetch.calls) == 1 and fetch.calls[0][0] == "python3"
    tools = Tools(p, snapshot=None)
    outcome = build(tmp_path, p, tools)
    assert not any(c[0] == "python3" and c[1] == "-c" for c in tools.calls)  # no second download
    assert outcome.engine.manifest["source_revision"] == "0123abcd"  # snapshot directories are commits
    assert not (tmp_path / "scratch" / f"seasonal-build-{p.short_hash}").exists()  # scratch removed


def test_trtllm_build_runs_in_scratch_so_its_timing_cache_needs_no_writable_image(tmp_path: Path) -> None:
    p = samples.plan()
    tools = Tools(p)
    build(tmp_path, p, tools, checkpoint_dir=samples.hf_checkpoint(tmp_path / "hf"))
    cwd = tools.cwds["build"]
    assert cwd is not None and cwd.is_relative_to(tmp_path / "scratch")
    assert not cwd.exists()  # the timing cache went with the scratch directory
    assert not (Path.cwd() / "model.cache").exists()


def test_an_offline_calibration_set_is_used_and_recorded(tmp_path: Path) -> None:
    p = hf_plan("fp8-weights-default-kv")
    tools = Tools(p)
    calibration = tmp_path / "calibration" / "text"
    outcome = build(tmp_path, p, tools, checkpoint_dir=samples.hf_checkpoint(tmp_path / "hf"),
                    calibration_dir=calibration)
    convert = next(c for c in tools.calls if "quantize.py" in " ".join(c))
    assert convert[convert.index("--calib_dataset") + 1] == str(calibration)
    assert outcome.engine.manifest["versions"]["calibration_dir"] == str(calibration)


def test_a_calibrating_step_without_network_says_how_to_run_offline(tmp_path: Path) -> None:
    p = hf_plan("int8-weight-only-int8-kv")

    class NoNetwork(Tools):
        def __call__(self, command, cwd=None):  # type: ignore[override]
            if command.step == "convert":
                return trtllm.RunResult(1, "datasets ... ConnectionError: Couldn't reach "
                                           "'ccdv/cnn_dailymail' (Temporary failure in name resolution)")
            return super().__call__(command, cwd)

    with pytest.raises(trtllm.CommandFailed, match="the node has no network") as err:
        build(tmp_path, p, NoNetwork(p), checkpoint_dir=samples.hf_checkpoint(tmp_path / "hf"))
    assert "--calibration-dir" in str(err.value) and "text column" in str(err.value)


@pytest.mark.parametrize("weights,kv,flag,value", [
    ("fp8", "auto", "use_fp8_context_fmha", "enable"),  # the builder turns it off: must be planned off
    ("none", "fp8", "use_paged_context_fmha", "enable"),
    ("int8_wo", "int8", "use_paged_context_fmha", "enable"),
])
def test_a_plan_the_builder_would_change_is_refused_before_any_gpu_work(weights: str, kv: str, flag: str,
                                                                       value: str) -> None:
    d = copy.deepcopy(samples.plan_dict())
    d["model"]["quantization"] = {"weights": weights, "kv_cache": kv}
    d["checkpoint"] = {"method": "quantize", "script": "examples/quantization/quantize.py",
                       "args": {"qformat": "full_prec" if weights == "none" else weights}}
    d["build"][flag] = value
    d["runtime"].update(enable_chunked_context=False, enable_kv_cache_reuse=False)
    with pytest.raises(plans.PlanError, match=f"plan.build.{flag} is enable but trtllm-build turns it off"):
        plans.parse(d)


def test_chunked_context_without_paged_context_fmha_is_refused() -> None:
    d = copy.deepcopy(samples.plan_dict())
    d["build"]["use_paged_context_fmha"] = "disable"
    with pytest.raises(plans.PlanError, match="need paged context FMHA"):
        plans.parse(d)


def test_phi_and_qwen_plans_cannot_pass_flags_their_converters_lack() -> None:
    for family, flag in (("phi", "int8_kv_cache"), ("qwen", "fp8_kv_cache"), ("gemma", "tp_size")):
        d = copy.deepcopy(samples.plan_dict())
        d["model"]["family"] = family
        d["checkpoint"] = {"method": "convert", "args": {flag: True if flag.endswith("cache") else 1,
                                                         **({"ckpt-type": "hf"} if family == "gemma" else {})}}
        with pytest.raises(plans.PlanError, match=f"plan.checkpoint.args.{flag}"):
            plans.parse(d)


def test_the_serving_command_is_the_launch_scripts_in_the_foreground() -> None:
    repo = "/engines/llama-3-70b/abc/triton"
    argv = launching.serve_argv(repo, 4)
    assert argv[:2] == ["mpirun", "--allow-run-as-root"]
    ranks = " ".join(argv[2:]).split(" : ")
    assert len(ranks) == 4
    for rank, args in enumerate(ranks):
        parts = args.split()
        assert parts[:3] == ["-n", "1", "tritonserver"] and f"--model-repository={repo}" in parts
        assert f"--backend-config=python,shm-region-prefix-name=prefix{rank}_" in parts
        assert "--disable-auto-complete-config" in parts
        assert ("--load-model=tensorrt_llm" in parts) is (rank > 0)
        assert ("--model-control-mode=explicit" in parts) is (rank > 0)
    assert "subprocess.Popen" in (facts.DOC.read_text())  # why not the script: it returns at once
    assert launching.serve_argv(repo, 1)[0] == "tritonserver"
    assert launching.serve_argv(repo, 2, backend="pytorch")[0] == "tritonserver"  # llmapi spawns its workers
    with pytest.raises(ValueError):
        launching.serve_argv(repo, 0)


def test_download_refuses_a_pvc_source(tmp_path: Path) -> None:
    d = copy.deepcopy(samples.plan_dict())
    d["model"]["source"] = {"pvc": {"claimName": "weights"}}
    with pytest.raises(plans.PlanError, match="nothing to download"):
        building.download(plans.parse(d), tmp_path, Tools(plans.parse(d)), quiet())
    assert json.dumps(d)  # the plan itself stays valid for a build
