"""``python -m seasonal_build``: build an engine from a plan, and look after the engine store.

Sub-commands:
  build     --plan plan.json --store /engines [--backend cpu-stand-in] ...   build and publish
  commands  --plan plan.json                                               print the commands a build runs
  list      --store DIR [--model M] [--json]                               published engines
  gc        --store DIR --model M --keep N [--serving H] [--keep-hash H]...  garbage-collect

Exit codes:
  0  published, or already published (idempotent)
  2  bad input: an invalid plan, a missing file or checkpoint
  3  verification failed: the engine differs from its plan, was built on another SM or TensorRT-LLM
     version, or its model repository contradicts it; nothing was published
  4  a build command (download, convert, trtllm-build, nvidia-smi) failed; nothing was published
  5  the store holds something broken under this hash
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from seasonal_build import building, commands, engine_store, plans, trtllm, verification

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
    c = sub.add_parser("commands", help="print the commands a TensorRT-LLM build of this plan runs (JSON)")
    c.add_argument("--plan", type=Path, required=True)
    c.add_argument("--examples-dir", default=commands.EXAMPLES_DIR)
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
        return {"build": _build, "commands": _commands, "list": _list, "gc": _gc,
                "refs": _refs}[args.command](args)
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
        decode_ms_per_token=args.decode_ms_per_token)
    outcome = building.build(plan, options)
    state = "published" if outcome.published else "already published"
    print(f"[seasonal-build] {state}: {outcome.engine.path} ({outcome.engine.backend})", flush=True)
    return EXIT_OK


def _commands(args: argparse.Namespace) -> int:
    plan = plans.load(args.plan)
    listed = [commands.checkpoint(plan, "<checkpoint>", "<trtllm-checkpoint>", args.examples_dir),
              commands.trtllm_build(plan, "<trtllm-checkpoint>", "<engine>"), commands.gpu_query()]
    print(json.dumps([c.to_dict() for c in listed], indent=2))
    return EXIT_OK


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
