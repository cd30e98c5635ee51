"""The operator as the e2e tests run it: ``seasonal run`` in a process of its own, with two documented seams.

``python -m tests.e2e.operator_process [every seasonal run flag] [seams]`` builds the same settings
``seasonal run`` builds (``cli.run.settings_from``) and starts the same operator (``cli.run.start``),
authenticated by the kubeconfig in $KUBECONFIG (the tests mint one for the chart's ServiceAccount). The
seams, and nothing else, differ from production:

* ``--clock-origin EPOCH --clock-start ISO --speedup N``: the operator's clock reads ``start + N x (now -
  origin)``, so minutes of backfilled traffic pass in seconds; a restarted process continues the same clock.
  The Kubernetes controllers and kwok keep real time.
* ``--triton-map FILE``: pods run on kwok nodes, so no Triton listens at a pod's IP. The readiness check
  asks the real local tritonserver the test started for that engine instead (``{engine_hash:
  "host:port"}``, re-read at every check); an engine the file does not name is "not ready".
* ``--conflict-once``: before the first status write, change the object's labels (as another client
  would), so that the write meets a newer resourceVersion and the real API server answers 409.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from seasonal_engines.adapters.triton import check_model
from seasonal_engines.api.status import EngineRef
from seasonal_engines.cli import run as run_cli
from seasonal_engines.core.ports import ModelCheck


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="operator_process")
    sub = p.add_subparsers(dest="command", required=True)
    run_cli.add_parser(sub, "run")
    run_parser = sub.choices["run"]
    run_parser.add_argument("--clock-origin", type=float, required=True, help="wall time (epoch s) of --clock-start")
    run_parser.add_argument("--clock-start", required=True, help="operator time at --clock-origin (ISO 8601)")
    run_parser.add_argument("--speedup", type=float, default=60.0)
    run_parser.add_argument("--triton-map", type=Path, required=True)
    run_parser.add_argument("--conflict-once", action="store_true")
    return p


def triton_seam(path: Path) -> Any:
    def check(url: str, model: str, engine: EngineRef) -> ModelCheck:
        try:
            served = json.loads(path.read_text())
        except (OSError, ValueError):
            served = {}
        address = served.get(engine.hash)
        if address is None:
            return ModelCheck(False, False, f"no Triton serves engine {engine.hash[:12]} (asked for {url})")
        return check_model(address, model, engine, timeout_s=3.0)
    return check


def main() -> None:
    args = parser().parse_args(["run", *__import__("sys").argv[1:]])
    ours = run_cli.settings_from(args)
    start = datetime.fromisoformat(args.clock_start)
    origin, speedup = args.clock_origin, args.speedup

    def clock() -> datetime:
        return start + timedelta(seconds=(time.time() - origin) * speedup)

    api_client = run_cli.kube_api_client()
    if args.conflict_once:
        _conflict_before_first_write(api_client)
    import kopf

    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat.PLAIN)
    run_cli.start(ours, clock=clock, triton_check=triton_seam(args.triton_map), api_client=api_client)


def _conflict_before_first_write(api_client: Any) -> None:
    """Wrap the adapter's status write once: another client edits the object first (a real 409 follows)."""
    from kubernetes import client

    from seasonal_engines.adapters import kubernetes as adapter

    original = adapter.KubernetesCluster.write_status
    lock, done = threading.Lock(), []

    def write_status(self: adapter.KubernetesCluster, body: Any, status: Any) -> str:
        with lock:
            first = not done
            done.append(True)
        if first:
            meta = body["metadata"]
            client.CustomObjectsApi(api_client).patch_namespaced_custom_object(
                "seasonalengines.io", "v1alpha1", meta["namespace"], "inferenceservices", meta["name"],
                {"metadata": {"labels": {"testbed.seasonalengines.io/touched": "once"}}})
        return original(self, body, status)

    adapter.KubernetesCluster.write_status = write_status  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
