"""``python -m seasonal_build``: build an engine from a plan, and look after the engine store.

Sub-commands:
  build       --plan plan.json --store /engines [--backend cpu-stand-in] ...   build and publish
  download    --plan plan.json --work-dir /scratch                           fetch the Hugging Face checkpoint
                                                                             (the build Job's token-holding step)
  commands    --plan plan.json                                               print the commands a build runs
  repository  --plan plan.json --out DIR [--engine cpu-stand-in]             write the model repository the plan
                                                                             gets, without building (GitOps, tests)
  list        --store DIR [--model M] [--json]                               published engines
  gc          --store DIR --model M --keep N [--serving H] [--keep-hash H]...  garbage-collect

Exit codes:
  0  published, or already published (idempotent)
  2  bad input: an invalid plan, a missing file or checkpoint
  3  verification failed: this image's TensorRT-LLM is not the plan's (checked before any GPU work), the
     engine differs from its plan, was built on another SM or TensorRT-LLM version, or its model
     repository contradicts it; nothing was published
  4  a build command (download, convert, trtllm-build, nvidia-smi) failed; nothing was published
  5  the store holds something broken under this hash
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from seasonal_build import building, commands, engine_store, plans, runtime_limits, triton_repo, trtllm, verification

EXIT_OK, EXIT_INPUT, EXIT_VERIFY, EXIT_COMMAND, EXIT_STORE = 0, 2, 3, 4, 5


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m seasonal_build", description="Build TensorRT-LLM engines (or the "
                                "CPU stand-in) from Seasonal Engines plans and manage the engine store.")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build and publish the plan's engine")
    b.add_argument("--plan", type=Path, required=True, help="plan.json from the operator's planner")
    b.add_argument("--store", type=Path, default=Path(engine_store.STORE_MOUNT), help="engine store root")
    b.add_argument("--backend", choices=[x.value for x in plans.Backend if x is not plans.Backend.pytorch],
                   help="override plan.backend (cpu-stand-in builds the CPU stand-in)")
    b.add_argument("--checkpoint-dir", type=Path, help="an already present Hugging Face checkpoint")
    b.add_argument("--model-mount", type=Path, default=Path("/models"), help="where a PVC model source is mounted")
    b.add_argument("--work-dir", type=Path, default=Path("/scratch"), help="scratch space for the checkpoint")
    b.add_argument("--examples-dir", default=commands.EXAMPLES_DIR, help="TensorRT-LLM's examples directory")
    b.add_argument("--serving-store", default=engine_store.STORE_MOUNT,
                   help="the store's mount path inside Triton pods (written into config.pbtxt)")
    b.add_argument("--source-revision", help="checkpoint revision to record when the source has no commit")
    b.add_argument("--decode-ms-per-token", type=float, default=0.0, help="stand-in only: simulated decode time")
    b.add_argument("--calibration-dir", type=Path, help="a local datasets directory (train split, text column) "
                   "to calibrate on instead of the Hugging Face Hub's cnn_dailymail (for nodes without network)")
    d = sub.add_parser("download", help="fetch the plan's Hugging Face checkpoint into the scratch directory")
    d.add_argument("--plan", type=Path, required=True)
    d.add_argument("--work-dir", type=Path, default=Path("/scratch"))
    c = sub.add_parser("commands", help="print the commands a TensorRT-LLM build of this plan runs (JSON)")
    c.add_argument("--plan", type=Path, required=True)
    c.add_argument("--examples-dir", default=commands.EXAMPLES_DIR)
    c.add_argument("--calibration-dir", help="as for build")
    r = sub.add_parser("repository", help="write the Triton model repository the plan would get, without building")
    r.add_argument("--plan", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True, help="the repository directory (created; must be empty)")
    r.add_argument("--serving-store", default=engine_store.STORE_MOUNT,
                   help="the store's mount path inside Triton pods (engine and tokenizer paths derive from it)")
    r.add_argument("--tokenizer-dir", help="the tokenizer directory the pre/postprocessing models load (default: "
                   "the published engine's tokenizer/ under --serving-store; for PyTorch plans, the checkpoint)")
    r.add_argument("--model-dir", help="PyTorch plans: the checkpoint directory model.yaml names (default: the "
                   "PVC mount /models/<path> or the Hugging Face repo id)")
    r.add_argument("--llmapi-model-dir", default=triton_repo.LLMAPI_MODEL_DIR,
                   help="PyTorch plans: where the serving image keeps NVIDIA's llmapi model")
    r.add_argument("--engine", choices=["tensorrt_llm", "cpu-stand-in"], default="tensorrt_llm",
                   help="cpu-stand-in: our CPU stand-in in place of the engine, under the same config interface")
    ls = sub.add_parser("list", help="list published engines")
    ls.add_argument("--store", type=Path, required=True)
    ls.add_argument("--model")
    ls.add_argument("--json", action="store_true")
    gc = sub.add_parser("gc", help="delete engines no one references beyond the newest N")
    gc.add_argument("--store", type=Path, required=True)
    gc.add_argument("--model", required=True)
    gc.add_argument("--keep", type=int, default=5, help="unreferenced engines to keep (newest)")
    gc.add_argument("--serving", action="append", default=[], help="hash of a serving engine (repeatable)")
    gc.add_argument("--keep-hash", action="append", default=[], help="hash referenced by a season or history")
    gc.add_argument("--stale-after-seconds", type=float, default=24 * 3600,
                    help="remove staging directories of dead builds older than this")
    gc.add_argument("--dry-run", action="store_true")
    refs = sub.add_parser("refs", help="record which engines an InferenceService holds on to (gc keeps them)")
    refs.add_argument("--store", type=Path, required=True)
    refs.add_argument("--model", required=True)
    refs.add_argument("--owner", required=True, help="<namespace>/<name> of the InferenceService")
    refs.add_argument("--serving", help="the serving engine's hash")
    refs.add_argument("--history", action="append", default=[], help="a rollback target or engine in flight")
    refs.add_argument("--season", action="append", default=[], metavar="NAME=HASH", help="a season's engine")
    refs.add_argument("--keep", type=int, help="the owner's spec.engine.store.keep")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return {"build": _build, "download": _download, "commands": _commands, "repository": _repository,
                "list": _list, "gc": _gc, "refs": _refs}[args.command](args)
    except (plans.PlanError, FileNotFoundError, ValueError, LookupError) as exc:
        print(f"seasonal_build {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except verification.VerificationError as exc:
        print(f"seasonal_build {args.command}: verification failed: {exc}", file=sys.stderr)
        return EXIT_VERIFY
    except trtllm.CommandFailed as exc:
        print(f"seasonal_build {args.command}: {exc}", file=sys.stderr)
        return EXIT_COMMAND
    except engine_store.StoreError as exc:
        print(f"seasonal_build {args.command}: store error: {exc}", file=sys.stderr)
        return EXIT_STORE


def _build(args: argparse.Namespace) -> int:
    plan = plans.load(args.plan)
    options = building.Options(
        store=args.store, backend=plans.Backend(args.backend) if args.backend else None,
        checkpoint_dir=args.checkpoint_dir, model_mount=args.model_mount, work_dir=args.work_dir,
        examples_dir=args.examples_dir, serving_store=args.serving_store, source_revision=args.source_revision,
        decode_ms_per_token=args.decode_ms_per_token, calibration_dir=args.calibration_dir)
    outcome = building.build(plan, options)
    state = "published" if outcome.published else "already published"
    print(f"[seasonal-build] {state}: {outcome.engine.path} ({outcome.engine.backend})", flush=True)
    return EXIT_OK


def _download(args: argparse.Namespace) -> int:
    plan = plans.load(args.plan)
    building.download(plan, args.work_dir)
    return EXIT_OK


def _commands(args: argparse.Namespace) -> int:
    plan = plans.load(args.plan)
    print(json.dumps([c.to_dict() for c in planned_commands(plan, args.examples_dir, args.calibration_dir)], indent=2))
    return EXIT_OK


def planned_commands(plan: plans.Plan, examples_dir: str = commands.EXAMPLES_DIR,
                     calibration_dir: str | None = None) -> list[commands.Command]:
    """The commands a TensorRT-LLM build of ``plan`` runs, with placeholder directories."""
    if plan.backend is not plans.Backend.tensorrt:
        raise plans.PlanError(f"plan.backend {plan.backend.value} runs no TensorRT-LLM build commands")
    listed = []
    hf = plan.model.source.get("huggingFace")
    if isinstance(hf, dict) and hf.get("repo"):
        listed.append(commands.download(hf["repo"], hf.get("revision", "main"), "<scratch>/hf"))
    return listed + [commands.checkpoint(plan, "<checkpoint>", "<trtllm-checkpoint>", examples_dir, calibration_dir),
                     commands.trtllm_build(plan, "<trtllm-checkpoint>", "<engine>"), commands.gpu_query()]


def _repository(args: argparse.Namespace) -> int:
    plan = plans.load(args.plan)
    if args.out.exists() and any(args.out.iterdir()):
        raise ValueError(f"--out {args.out} is not empty: write the repository into a new directory")
    if plan.backend is plans.Backend.cpu_stand_in:
        raise plans.PlanError("plan.backend cpu-stand-in has its own one-model repository: build it with "
                              "`build --backend cpu-stand-in`")
    root = building.serving_root(plan, args.serving_store)
    if plan.backend is plans.Backend.pytorch:
        model_dir = args.model_dir or _pytorch_model_dir(plan)
        paths = triton_repo.Paths(engine_dir=model_dir, tokenizer_dir=args.tokenizer_dir or model_dir)
    else:
        paths = triton_repo.Paths(engine_dir=f"{root}/{engine_store.ENGINE_DIR}",
                                  tokenizer_dir=args.tokenizer_dir or f"{root}/{engine_store.TOKENIZER_DIR}")
    args.out.mkdir(parents=True, exist_ok=True)
    triton_repo.write_repository(plan, args.out, paths, engine=args.engine, llmapi_model_dir=args.llmapi_model_dir)
    models = triton_repo.read_dir(args.out)
    if plan.backend is plans.Backend.tensorrt:
        engine_dir = paths.engine_dir
        if args.engine == "cpu-stand-in":
            engine_dir = str((args.out / triton_repo.TRT / triton_repo.STAND_IN_ENGINE_DIR).resolve())
        facts = verification.engine_facts(runtime_limits.stand_in_engine_config(plan))
        found = triton_repo.problems(models, facts, engine_dir)
        if found:
            raise verification.VerificationError("the repository does not fit the plan's engine:\n  "
                                                 + "\n  ".join(found))
    print(f"[seasonal-build] wrote {', '.join(sorted(models))} into {args.out}", flush=True)
    return EXIT_OK


def _pytorch_model_dir(plan: plans.Plan) -> str:
    """Where the PyTorch backend finds the checkpoint: the PVC mount, else the Hub repository id."""
    source = plan.model.source
    if "pvc" in source:
        return "/models/" + str(source["pvc"].get("path", "")).strip("/")
    hf = source.get("huggingFace") or {}
    if not hf.get("repo"):
        raise plans.PlanError("plan.model.source needs pvc or huggingFace.repo for the PyTorch backend's model.yaml")
    return str(hf["repo"])


def _list(args: argparse.Namespace) -> int:
    print(format_list(engine_store.EngineStore(args.store).list(args.model), as_json=args.json))
    return EXIT_OK


def _gc(args: argparse.Namespace) -> int:
    store = engine_store.EngineStore(args.store)
    # Ids as `list` prints them, resolved first: an id that names nothing is an error, never ignored.
    serving = {store.resolve(i, args.model).engine_hash for i in args.serving}
    kept = {store.resolve(i, args.model).engine_hash for i in args.keep_hash}
    report = store.collect(args.model, keep_last=args.keep, serving=serving, referenced=kept,
                           stale_after_seconds=args.stale_after_seconds, dry_run=args.dry_run)
    print(format_gc(report, dry_run=args.dry_run))
    return EXIT_OK


def _refs(args: argparse.Namespace) -> int:
    seasons = {}
    for item in args.season:
        name, sep, engine_hash = item.partition("=")
        if not sep or not name or not engine_hash:
            raise ValueError(f"--season {item!r} must be NAME=HASH")
        seasons[name] = engine_hash
    if args.keep is not None and not 0 <= args.keep <= 1000:
        raise ValueError(f"--keep must be within 0..1000, got {args.keep}")
    refs = engine_store.References(owner=args.owner, serving=args.serving, seasons=seasons,
                                   history=tuple(args.history), keep=args.keep)
    path = engine_store.EngineStore(args.store).write_references(args.model, refs)
    print(f"[seasonal-build] recorded {len(refs.hashes())} engine(s) for {args.owner} in {path}", flush=True)
    return EXIT_OK


def format_list(engines: list[engine_store.StoredEngine], as_json: bool = False) -> str:
    """Engines as a table (or JSON); stand-ins say so in the description column."""
    if as_json:
        return json.dumps([{"model": e.model, "engine_hash": e.engine_hash, "backend": e.backend,
                            "description": e.manifest.get("description"), "created_at": e.manifest.get("created_at"),
                            "envelope": e.manifest.get("envelope"), "size_bytes": e.size_bytes, "path": str(e.path)}
                           for e in engines], indent=2)
    rows = []
    for e in engines:
        env = e.manifest.get("envelope") or {}
        rows.append(f"{e.model:<20} {e.engine_hash[:16]}  {str(e.manifest.get('description')):<40} "
                    f"{str(e.manifest.get('created_at')):<33} in {env.get('max_input_len')} / seq "
                    f"{env.get('max_seq_len')} / bs {env.get('max_batch_size')}")
    return "\n".join(rows) if rows else "(no engines)"


def format_gc(report: engine_store.GcReport, dry_run: bool) -> str:
    verb = "would delete" if dry_run else "deleted"
    lines = [f"keep {h[:16]} ({reason.value})" for h, reason in report.decision.keep]
    lines += [f"{verb} {h[:16]}" for h in report.decision.delete]
    lines += [f"{verb} {name} (staging of a dead build)" for name in report.removed_temporaries]
    lines.append(f"{verb} {len(report.decision.delete)} engine(s), {report.decision.freed_bytes} bytes")
    return "\n".join(lines)
