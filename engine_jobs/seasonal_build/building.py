"""The build, step by step: resolve, convert, build, verify, model repository, manifest, publish.

Each step prints one line when it starts and one when it ends (with its duration), flushed, so
the Job log shows where a build is and the manifest records how long each part took. Everything
is built into a staging directory of the store and published with one rename; on any failure
the staging directory is removed, and a build killed outright leaves only a ``.tmp-`` directory
that readers ignore and garbage collection removes. Idempotent: an engine already published
under the plan's hash is not rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import seasonal_build
from seasonal_build import commands, engine_store, manifests, plans, stand_in, triton_repo, trtllm, verification

STEPS = ("resolve", "convert", "build", "verify", "triton", "manifest", "publish")


@dataclass(frozen=True)
class Options:
    store: Path
    backend: plans.Backend | None = None  # overrides plan.backend (cpu-stand-in for local runs)
    checkpoint_dir: Path | None = None  # an already downloaded Hugging Face checkpoint: skips the source
    model_mount: Path = Path("/models")  # where the Job mounts a PVC model source
    work_dir: Path = Path("/scratch")  # scratch for downloads and the TensorRT-LLM checkpoint
    examples_dir: str = commands.EXAMPLES_DIR
    serving_store: str = engine_store.STORE_MOUNT  # the store's path inside Triton pods
    source_revision: str | None = None
    decode_ms_per_token: float = 0.0  # stand-in only
    calibration_dir: Path | None = None  # a local datasets directory (train split, text column) for calibration


@dataclass(frozen=True)
class Outcome:
    engine: engine_store.StoredEngine
    published: bool  # False: it was there already (before or during this build)
    timings: dict[str, float] = field(default_factory=dict)


class Progress:
    """Step lines on a stream, and the seconds each step took."""

    def __init__(self, out: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out or sys.stdout
        self.clock = clock
        self.timings: dict[str, float] = {}

    def say(self, message: str) -> None:
        print(f"[seasonal-build] {message}", file=self.out, flush=True)

    @contextlib.contextmanager
    def step(self, name: str, what: str) -> Iterator[None]:
        index = STEPS.index(name) + 1
        self.say(f"step {index}/{len(STEPS)} {name}: {what}")
        start = self.clock()
        try:
            yield
        except BaseException:
            self.say(f"step {index}/{len(STEPS)} {name}: FAILED after {self.clock() - start:.1f}s")
            raise
        self.timings[name] = self.clock() - start
        self.say(f"step {index}/{len(STEPS)} {name}: done in {self.timings[name]:.1f}s")

    def skip(self, name: str, why: str) -> None:
        self.say(f"step {STEPS.index(name) + 1}/{len(STEPS)} {name}: skipped ({why})")


def build(plan: plans.Plan, options: Options, *, runner: trtllm.Runner | None = None,
          progress: Progress | None = None, now: Callable[[], datetime] | None = None,
          versions: Callable[[], dict[str, Any]] | None = None) -> Outcome:
    """Build and publish the plan's engine (or find it already published)."""
    runner = runner or trtllm.subprocess_runner
    progress = progress or Progress()
    now = now or (lambda: datetime.now(timezone.utc))
    backend = options.backend or plan.backend
    if backend is plans.Backend.pytorch:
        raise plans.PlanError("plan.backend pytorch needs no engine build: the PyTorch backend applies the plan "
                              "as runtime settings")
    store = engine_store.EngineStore(options.store)
    existing = store.lookup(plan.model.name, plan.engine_hash)
    if existing is not None:
        _check_backend(existing, backend)
        progress.say(f"engine {plan.model.name}/{plan.engine_hash} is already published ({existing.backend}); "
                     "nothing to build")
        return Outcome(existing, published=False)
    image_versions: dict[str, Any] = {}
    if backend is plans.Backend.tensorrt:
        # Before any GPU hour: an engine built by another TensorRT-LLM than the plan's is never published.
        image_versions = _versions_or_refusal(versions or _image_versions)
        verification.verify_version(image_versions.get("tensorrt_llm"), plan, "this image has")
    progress.say(f"building {plan.model.name}/{plan.engine_hash} ({backend.value}) into {options.store}")
    staging = store.staging(plan.model.name, plan.engine_hash)
    scratch = scratch_dir(plan, options.work_dir)
    try:
        if backend is plans.Backend.cpu_stand_in:
            gpu, revision, version_info = _stand_in_steps(plan, options, staging, progress)
        else:
            gpu, revision, version_info = _trtllm_steps(plan, options, staging, scratch, runner, progress,
                                                        image_versions)
        with progress.step("manifest", "writing manifest.json (last, the completeness marker)"):
            sizes = {part: engine_store.tree_size(staging / part)
                     for part in (engine_store.ENGINE_DIR, engine_store.TRITON_DIR, engine_store.TOKENIZER_DIR)}
            sizes["total_bytes"] = sum(sizes.values())
            layout = {"engine": engine_store.ENGINE_DIR, "model_repository": engine_store.TRITON_DIR}
            if (staging / engine_store.TOKENIZER_DIR).is_dir():
                layout["tokenizer"] = engine_store.TOKENIZER_DIR
            doc = manifests.build(
                plan=dict(plan.raw), engine_hash=plan.engine_hash, model=plan.model.name, backend=backend.value,
                versions=version_info, gpu=gpu, envelope=_envelope(plan), sizes=sizes,
                timings=dict(progress.timings), source_revision=revision, created_at=now().isoformat(),
                layout=layout)
            engine_store.write_json_atomic(staging / manifests.FILENAME, doc)
        with progress.step("publish", f"renaming into {store.engine_dir(plan.model.name, plan.engine_hash)}"):
            result = store.publish(staging, plan.model.name, plan.engine_hash)
        if not result.published:
            _check_backend(result.engine, backend)
            progress.say("another builder published the same engine first; kept theirs")
        return Outcome(result.engine, result.published, dict(progress.timings))
    finally:
        if staging.exists():
            store.discard(staging)
        shutil.rmtree(scratch, ignore_errors=True)


def _trtllm_steps(plan: plans.Plan, options: Options, staging: Path, scratch: Path, runner: trtllm.Runner,
                  progress: Progress, version_info: dict[str, Any]
                  ) -> tuple[dict[str, str], str | None, dict[str, Any]]:
    engine_dir = staging / engine_store.ENGINE_DIR
    with progress.step("resolve", "locating the Hugging Face checkpoint"):
        model_dir, revision = _resolve(plan, options, scratch, runner)
        progress.say(f"checkpoint {model_dir} (revision {revision or 'unknown'})")
    checkpoint_dir = scratch / "trtllm-checkpoint"
    with progress.step("convert", f"{plan.checkpoint_method.value} with TP={plan.model.tp} PP={plan.model.pp}"):
        calibration = str(options.calibration_dir) if options.calibration_dir else None
        if calibration is not None and commands.calibrates(plan):
            version_info["calibration_dir"] = calibration
        command = commands.checkpoint(plan, str(model_dir), str(checkpoint_dir), options.examples_dir, calibration)
        progress.say(command.shell())
        trtllm.run_checked(runner, command, offline_hint=_offline_hint(plan, options))
    with progress.step("build", "trtllm-build with the plan's flags"):
        command = commands.trtllm_build(plan, str(checkpoint_dir), str(engine_dir))
        progress.say(command.shell())
        work = scratch / "trtllm-build"  # trtllm-build writes model.cache into its working directory
        work.mkdir(parents=True, exist_ok=True)
        trtllm.run_checked(runner, command, cwd=work)
    with progress.step("verify", "engine config.json against the plan, GPU against the planned SM"):
        config = verification.read_engine_config(engine_dir)
        facts = verification.verify_engine(plan, config, sorted(p.name for p in engine_dir.glob("rank*.engine")))
        gpu_name, sm = trtllm.gpu(runner)
        verification.verify_sm(plan, sm, gpu_name)
        built = str(facts.version or version_info.get("tensorrt_llm") or "")
        verification.verify_version(built, plan, "the engine was built by")
        version_info["engine_config_version"] = facts.version
        progress.say(f"engine matches its plan; built on {gpu_name} (SM {sm}) by TensorRT-LLM {built}")
    with progress.step("triton", "writing the TensorRT-LLM model repository"):
        root = serving_root(plan, options.serving_store)
        paths = triton_repo.Paths(engine_dir=f"{root}/{engine_store.ENGINE_DIR}",
                                  tokenizer_dir=f"{root}/{engine_store.TOKENIZER_DIR}")
        triton_repo.copy_tokenizer(model_dir, staging / engine_store.TOKENIZER_DIR)
        repo = staging / engine_store.TRITON_DIR
        triton_repo.write_repository(plan, repo, paths)
        triton_repo.check_dir(repo, facts, paths.engine_dir)
    return {"name": gpu_name, "sm": sm, "product": plan.gpu.product}, revision, version_info


def serving_root(plan: plans.Plan, serving_store: str) -> str:
    """Where a published engine lives as the serving pods see the store."""
    return f"{serving_store.rstrip('/')}/{plan.model.name}/{plan.engine_hash}"


def scratch_dir(plan: plans.Plan, work_dir: Path) -> Path:
    """The build's scratch directory (the download step fills it first; the build removes it)."""
    return work_dir / f"seasonal-build-{plan.short_hash}"


def _offline_hint(plan: plans.Plan, options: Options) -> str | None:
    if not commands.calibrates(plan) or options.calibration_dir is not None:
        return None
    return ("the node has no network, and this checkpoint step calibrates on a dataset from the Hugging Face Hub "
            "(cnn_dailymail). Stage a calibration set on a PVC (a datasets directory with a train split and a text "
            "column; its path must not contain 'cnn_dailymail') and pass --calibration-dir (build Jobs: the operator "
            "setting calibration_claim mounts that PVC at /calibration)")


def _stand_in_steps(plan: plans.Plan, options: Options, staging: Path, progress: Progress
                    ) -> tuple[None, str | None, dict[str, Any]]:
    progress.skip("resolve", "the CPU stand-in needs no checkpoint")
    progress.skip("convert", "the CPU stand-in needs no checkpoint")
    engine_dir = staging / engine_store.ENGINE_DIR
    repo = staging / engine_store.TRITON_DIR
    with progress.step("build", "writing the CPU stand-in (not a TensorRT-LLM engine)"):
        stand_in.write(plan, engine_dir, repo, options.decode_ms_per_token)
    with progress.step("verify", "stand-in limits against the plan"):
        doc = json.loads((engine_dir / stand_in.ENGINE_FILE).read_text(encoding="utf-8"))
        if doc != stand_in.engine_document(plan):
            raise verification.VerificationError("stand-in.json differs from the plan")
    with progress.step("triton", "checking the stand-in model repository against its engine"):
        stand_in.check_dir(repo, engine_dir)
    info = {"seasonal_build": seasonal_build.__version__, "python": platform.python_version()}
    return None, options.source_revision, info


DOWNLOAD_RECORD = "download.json"


def download(plan: plans.Plan, work_dir: Path, runner: trtllm.Runner | None = None,
             progress: Progress | None = None) -> Path:
    """Fetch the plan's Hugging Face checkpoint into its scratch directory and record where it is.

    The build Job runs this as its own step, the only one that sees the Hugging Face token; the build
    step then finds the snapshot through ``download.json`` and needs no token.
    """
    runner = runner or trtllm.subprocess_runner
    progress = progress or Progress()
    hf = plan.model.source.get("huggingFace")
    if not isinstance(hf, dict) or not hf.get("repo"):
        raise plans.PlanError("plan.model.source has no huggingFace.repo: nothing to download (a pvc source is "
                              "mounted instead)")
    scratch = scratch_dir(plan, work_dir)
    scratch.mkdir(parents=True, exist_ok=True)
    progress.say(f"downloading {hf['repo']}@{hf.get('revision', 'main')} (configs, safetensors, tokenizer; no "
                 f"original/ weights) into {scratch / 'hf'}")
    result = trtllm.run_checked(runner, commands.download(hf["repo"], hf.get("revision", "main"), str(scratch / "hf")),
                                offline_hint="the node cannot reach huggingface.co: put the checkpoint on a PVC and "
                                             "use spec.model.source.pvc")
    path = Path(result.output.strip().splitlines()[-1])
    engine_store.write_json_atomic(scratch / DOWNLOAD_RECORD, {"path": str(path), "revision": path.name,
                                                               "repo": hf["repo"]})
    progress.say(f"snapshot {path}")
    return path


def _resolve(plan: plans.Plan, options: Options, scratch: Path, runner: trtllm.Runner) -> tuple[Path, str | None]:
    """The Hugging Face checkpoint directory and the revision it holds."""
    record = scratch / DOWNLOAD_RECORD
    if options.checkpoint_dir is not None:
        path = options.checkpoint_dir
        revision = options.source_revision or _content_revision(path)
    elif "pvc" in plan.model.source:
        inside = str(plan.model.source["pvc"].get("path", "/")).lstrip("/")
        path = options.model_mount / inside
        revision = options.source_revision or _content_revision(path)
    elif "huggingFace" in plan.model.source:
        if not record.is_file():
            download(plan, options.work_dir, runner)
        doc = json.loads(record.read_text(encoding="utf-8"))
        path, revision = Path(doc["path"]), str(doc["revision"])  # snapshot directories are named by commit
    else:
        raise plans.PlanError("plan.model.source must have pvc or huggingFace")
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} holds no config.json: it is not a Hugging Face checkpoint (check "
                                "spec.model.source)")
    return path, revision


def _content_revision(path: Path) -> str | None:
    """For checkpoints without a commit: a digest of config.json and the weight files' names and sizes."""
    config = path / "config.json"
    if not config.is_file():
        return None
    h = hashlib.sha256(config.read_bytes())
    for p in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f"{p.name}:{p.stat().st_size}".encode())
    return f"content:{h.hexdigest()[:16]}"


def _versions_or_refusal(versions: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return dict(versions())
    except RuntimeError as exc:  # no TensorRT-LLM in this image at all
        raise verification.VerificationError(str(exc)) from None


def _image_versions() -> dict[str, Any]:
    return {"tensorrt_llm": trtllm.trtllm_version(), "tensorrt": trtllm.tensorrt_version(),
            "seasonal_build": seasonal_build.__version__, "python": platform.python_version()}


def _envelope(plan: plans.Plan) -> dict[str, int]:
    return {k: plan.build_int(k) for k in ("max_input_len", "max_seq_len", "max_batch_size", "max_num_tokens")}


def _check_backend(engine: engine_store.StoredEngine, backend: plans.Backend) -> None:
    if engine.backend != backend.value:
        raise engine_store.StoreError(
            f"{engine.path} already holds a {engine.backend} engine under this hash, not {backend.value}; "
            "use a separate store for stand-ins or plan with backend cpu-stand-in")
