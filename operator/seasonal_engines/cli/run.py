"""``seasonal run``: the operator process (kopf), as the Helm chart's Deployment starts it.

The command line becomes one ``settings.OperatorSettings`` (bounds checked, a bad flag names itself);
``start`` builds the reconciler from it, registers the handlers and hands both to kopf. Tests start the
same ``start`` with their own clock and Triton seam (``tests/e2e/operator_process.py``).
"""

from __future__ import annotations

import argparse
import logging
import os
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from seasonal_engines import settings as configuration
from seasonal_engines.cli import image_flags
from seasonal_engines.core import build_jobs


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="run the operator", description="Run the Seasonal Engines operator against "
                       "the cluster in the kubeconfig (or in-cluster service account).")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (default)")
    scope.add_argument("-n", "--namespace", action="append", default=[], help="watch this namespace (repeat)")
    peering = p.add_mutually_exclusive_group()
    peering.add_argument("--standalone", action="store_true", help="no peering: for exactly one replica")
    peering.add_argument("--peering", default=None, help="peering name shared by the replicas (so several "
                         "replicas never act twice)")
    p.add_argument("--priority", default="auto", help="peering priority: an integer, or auto (derived from the "
                   "pod name in $POD_ID, so that every replica has its own and exactly one is active)")
    p.add_argument("--peering-lifetime", type=int, default=60, help="seconds a silent replica counts as alive; "
                   "the standby takes over this long after the active one died (5..600)")
    p.add_argument("--metrics-address", default="0.0.0.0", help="address the metrics endpoint listens on")
    p.add_argument("--metrics-port", type=int, default=9090, help="Prometheus metrics port (0 turns it off)")
    p.add_argument("--liveness", default="http://0.0.0.0:8080/healthz", help="liveness endpoint URL (its host "
                   "is the listen address); empty turns it off")
    p.add_argument("--prometheus-timeout", type=float, default=10.0, help="deadline of one Prometheus request, "
                   "seconds (0.5..120)")
    p.add_argument("--prometheus-max-reply-mib", type=int, default=16, help="largest Prometheus answer read, "
                   "MiB (1..256)")
    p.add_argument("--tick", type=float, default=15.0, help="timer period per InferenceService, seconds")
    p.add_argument("--build-pod-annotation", action="append", default=[], metavar="KEY=VALUE",
                   help="annotation on build pods (repeatable), e.g. "
                   "cluster-autoscaler.kubernetes.io/safe-to-evict=false")
    p.add_argument("--log-format", choices=["json", "full", "plain"], default="json",
                   help="json (default: one object per line, with the object's namespace and name) or text")
    p.add_argument("--verbose", action="store_true")
    image_flags.add_arguments(p)
    p.set_defaults(run=run)


def settings_from(args: argparse.Namespace) -> configuration.OperatorSettings:
    """The settings the command line asks for; ValueError naming the flag when one is out of bounds."""
    if args.priority == "auto":
        priority = auto_priority(os.environ.get("POD_ID"))
    else:
        try:
            priority = int(args.priority)
        except ValueError:
            raise ValueError(f"--priority must be an integer or auto, got {args.priority!r}") from None
    if not 1 <= args.prometheus_max_reply_mib <= 256:
        raise ValueError(f"--prometheus-max-reply-mib must be within 1..256, got {args.prometheus_max_reply_mib}")
    return configuration.OperatorSettings(
        loop=configuration.LoopSettings(tick_seconds=args.tick),
        prometheus=configuration.PrometheusSettings(timeout_seconds=args.prometheus_timeout,
                                                    max_reply_bytes=args.prometheus_max_reply_mib * 1024 * 1024),
        peering=configuration.PeeringSettings(name=args.peering, standalone=args.peering is None, priority=priority,
                                              lifetime_seconds=args.peering_lifetime),
        listen=configuration.ListenSettings(metrics_host=args.metrics_address, metrics_port=args.metrics_port,
                                            liveness_url=args.liveness or None),
        jobs=build_jobs.JobSettings(image_settings=image_flags.image_settings(args),
                                    pod_annotations=_pairs(args.build_pod_annotation, "--build-pod-annotation")),
        namespaces=tuple(args.namespace),
    ).check()


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or len(key) > 316 or len(value) > 4096:
            raise ValueError(f"{flag} {item!r} must be KEY=VALUE")
        out[key] = value
    return out


def auto_priority(pod_id: str | None) -> int:
    """A priority of its own for every replica (kopf pauses all replicas of equal priority): a checksum of
    the pod name, which is unique among a Deployment's pods. 0 outside a pod."""
    if not pod_id:
        return 0
    return zlib.crc32(pod_id.encode()) % 1_000_000 + 1


def run(args: argparse.Namespace) -> int:
    import kopf

    ours = settings_from(args)  # a bad flag is a ValueError naming it: `seasonal` prints it, exit code 2
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat[args.log_format.upper()],
                   log_refkey="inferenceservice")
    logging.getLogger("seasonal_engines").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    start(ours)
    return 0


def start(ours: configuration.OperatorSettings, *, clock: Callable[[], datetime] | None = None,
          triton_check: Any = None, api_client: Any = None, stop_flag: Any = None) -> None:
    """Build the reconciler from ``ours`` and run kopf until stopped. ``clock``, ``triton_check`` and
    ``api_client`` are seams for tests; the defaults are the wall clock, tritonclient and the kubeconfig
    (or in-cluster) credentials."""
    import kopf

    from seasonal_engines import handlers
    from seasonal_engines.adapters.kubernetes import KubernetesCluster
    from seasonal_engines.adapters.metrics import OperatorMetrics
    from seasonal_engines.adapters.triton import check_model
    from seasonal_engines.reconciling import Reconciler

    metrics = OperatorMetrics()
    if ours.listen.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(ours.listen.metrics_port, addr=ours.listen.metrics_host, registry=metrics.registry)
    timeout = ours.triton.timeout_seconds
    check = triton_check or (lambda url, model, engine: check_model(url, model, engine, timeout_s=timeout))
    cluster = KubernetesCluster(api_client or kube_api_client(), triton_check=check,
                                image_settings=ours.jobs.image_settings)
    reconciler = Reconciler(cluster=cluster, settings=ours, metrics=metrics)
    if clock is not None:
        reconciler.clock = clock
    registry = kopf.OperatorRegistry()
    handlers.register(registry, ours)
    kopf.run(registry=registry, memo=kopf.Memo({handlers.MEMO_RECONCILER: reconciler}),
             clusterwide=not ours.namespaces, namespaces=list(ours.namespaces),
             standalone=ours.peering.standalone or None, peering_name=ours.peering.name,
             priority=ours.peering.priority, liveness_endpoint=ours.listen.liveness_url, stop_flag=stop_flag)


def kube_api_client() -> Any:
    """In-cluster credentials when running in a pod, else the kubeconfig ($KUBECONFIG or ~/.kube/config)."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
        return client.ApiClient()
    except config.ConfigException:
        return config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"))
