"""``seasonal validate FILE...``: check InferenceService manifests the way the operator will read them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from seasonal_engines.api import spec as api
from seasonal_engines.api import validation


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="validate InferenceService manifests",
                       description="Validate InferenceService manifests (every document of kind InferenceService "
                                   "in each file) and print each problem with its field path.")
    p.add_argument("files", nargs="+", type=Path, help="YAML files")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
            failed += 1
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            print(f"{path}{where}: not valid YAML: {what}", file=sys.stderr)
            failed += 1
            continue
        found = [d for d in docs if d.get("kind") == api.KIND]
        if not found:
            print(f"{path}: no {api.KIND} documents", file=sys.stderr)
            failed += 1
        for doc in found:
            name = (doc.get("metadata") or {}).get("name", "<unnamed>")
            try:
                parsed = validation.parse_manifest(doc)
            except validation.SpecError as exc:
                failed += 1
                print(f"{path}: {name}: invalid")
                for err in exc.errors:
                    print(f"  {err}")
            else:
                print(f"{path}: {name}: valid")
                for warning in validation.warnings(parsed):
                    print(f"  warning: {warning}")
    return 1 if failed else 0
