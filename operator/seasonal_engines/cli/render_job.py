"""``seasonal render-job``: print the build Job and its plan ConfigMap as YAML.

Reads an InferenceService manifest (``--spec``) and a plan.json (``--plan``) and prints the two
objects the operator would create, ConfigMap first (the Job mounts it), ready for ``kubectl
apply -f -`` or a GitOps repository. Rendering is ``core.build_jobs.render``; this only reads
files and writes YAML.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from seasonal_engines.cli import image_flags
from seasonal_engines.core import build_jobs


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="print the engine build Job and plan ConfigMap as YAML",
                       description="Render the Kubernetes Job that builds a plan's engine, and the ConfigMap "
                                   "holding the plan, for an InferenceService.")
    p.add_argument("--spec", type=Path, required=True, help="InferenceService manifest (YAML)")
    p.add_argument("--plan", type=Path, required=True, help="plan.json from `seasonal plan --json`")
    p.add_argument("--namespace", help="namespace when the manifest has none")
    p.add_argument("--uid", help="the InferenceService's metadata.uid (for the ownerReference) when the manifest "
                   "has none")
    p.add_argument("--no-owner-reference", action="store_true",
                   help="leave out ownerReferences (for manifests applied before the InferenceService exists)")
    image_flags.add_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = build_jobs.JobSettings(image_settings=image_flags.image_settings(args))
    service = _read_service(args.spec)
    meta = dict(service.get("metadata") or {})
    if args.namespace and not meta.get("namespace"):
        meta["namespace"] = args.namespace
    if args.uid:
        meta["uid"] = args.uid
    if not meta.get("namespace"):
        raise ValueError(f"{args.spec} has no metadata.namespace; pass --namespace")
    if not args.no_owner_reference and not meta.get("uid"):
        raise ValueError(f"{args.spec} has no metadata.uid (objects get one when created); pass --uid from "
                         "`kubectl get seis NAME -o jsonpath={.metadata.uid}`, or --no-owner-reference")
    service = {**service, "metadata": meta}
    try:
        plan = json.loads(args.plan.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{args.plan} is not JSON ({exc.msg} at line {exc.lineno})") from None
    manifests = build_jobs.render(plan, service, settings, owned=not args.no_owner_reference)
    print(yaml.safe_dump_all([manifests.config_map, manifests.job], sort_keys=False, width=120), end="")
    return 0


def _read_service(path: Path) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    found = [d for d in docs if isinstance(d, dict) and d.get("kind") == "InferenceService"]
    if len(found) != 1:
        raise ValueError(f"{path} must hold exactly one InferenceService, found {len(found)}")
    return found[0]
