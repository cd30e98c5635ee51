"""``seasonal engines``: list, look up and garbage-collect engines in a store directory.

For a store mounted locally (the quickstart's, or a PVC mounted into a debug pod). The layout,
the atomic publish and the retention rules live in ``seasonal_build`` (``engine_store`` and
``retention``), shared with the build job; this module only parses arguments and prints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seasonal_build import cli as build_cli
from seasonal_build import engine_store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="list or garbage-collect engines in an engine store directory",
                       description="Inspect and clean an engine store (<store>/<model>/<hash>/).")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="published engines, oldest first")
    ls.add_argument("--store", type=Path, required=True)
    ls.add_argument("--model", help="only this model's engines")
    ls.add_argument("--json", action="store_true", help="print JSON")
    show = actions.add_parser("show", help="one engine's manifest")
    show.add_argument("--store", type=Path, required=True)
    show.add_argument("engine_hash", help="engine id: its hash, or a unique prefix of it as `list` prints")
    gc = actions.add_parser("gc", help="delete engines nobody references beyond the newest N")
    gc.add_argument("--store", type=Path, required=True)
    gc.add_argument("--model", required=True)
    gc.add_argument("--keep", type=int, default=5, help="unreferenced engines kept, newest first")
    gc.add_argument("--serving", action="append", default=[], metavar="ID", help="serving engine, by hash or "
                    "unique prefix (repeatable); the operator's records in the store are kept anyway")
    gc.add_argument("--keep-hash", action="append", default=[], metavar="ID",
                    help="another engine to keep, by hash or unique prefix (repeatable)")
    gc.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = engine_store.EngineStore(args.store)
    if not args.store.is_dir():
        raise FileNotFoundError(f"engine store {args.store} does not exist")
    if args.action == "list":
        print(build_cli.format_list(store.list(args.model), as_json=args.json))
        return 0
    try:
        if args.action == "show":
            print(json.dumps(store.resolve(args.engine_hash).manifest, indent=2))
            return 0
        serving = {store.resolve(i, args.model).engine_hash for i in args.serving}
        kept = {store.resolve(i, args.model).engine_hash for i in args.keep_hash}
    except LookupError as exc:
        raise ValueError(str(exc.args[0])) from None
    report = store.collect(args.model, keep_last=args.keep, serving=serving, referenced=kept, dry_run=args.dry_run)
    print(build_cli.format_gc(report, dry_run=args.dry_run))
    return 0
