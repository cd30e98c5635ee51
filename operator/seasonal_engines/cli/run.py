"""``seasonal run``: the operator process (kopf), as the Helm chart's Deployment starts it."""

from __future__ import annotations

import argparse
import logging
import os

from seasonal_engines.cli import image_flags


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="run the operator", description="Run the Seasonal Engines operator against "
                       "the cluster in the kubeconfig (or in-cluster service account).")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (default)")
    scope.add_argument("-n", "--namespace", action="append", default=[], help="watch this namespace (repeat)")
    peering = p.add_mutually_exclusive_group()
    peering.add_argument("--standalone", action="store_true", help="no peering: for exactly one replica")
    peering.add_argument("--peering", default=None, help="peering name shared by the replicas (so several "
                         "replicas never act twice)")
    p.add_argument("--metrics-port", type=int, default=9090, help="Prometheus metrics port (0 turns it off)")
    p.add_argument("--liveness", default="http://0.0.0.0:8080/healthz", help="liveness endpoint URL")
    p.add_argument("--log-format", choices=["json", "full", "plain"], default="json",
                   help="json (default: one object per line, with the object's namespace and name) or text")
    p.add_argument("--verbose", action="store_true")
    image_flags.add_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import kopf

    from seasonal_engines.core import build_jobs

    # Checked before kopf starts: a malformed image flag is an error on the command line, not in a handler.
    job_settings = build_jobs.JobSettings(image_settings=image_flags.image_settings(args))

    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat[args.log_format.upper()],
                   log_refkey="inferenceservice")
    logging.getLogger("seasonal_engines").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if args.metrics_port:
        os.environ["SEASONAL_METRICS_PORT"] = str(args.metrics_port)
    from seasonal_engines import handlers  # noqa: F401  registers the handlers

    kopf.run(clusterwide=not args.namespace, namespaces=args.namespace, standalone=args.standalone or None,
             peering_name=args.peering, liveness_endpoint=args.liveness or None,
             memo=kopf.Memo(job_settings=job_settings))
    return 0
