"""kopf wiring: events and timers in, ``reconciling.Reconciler`` calls out. No decisions here.

Level-triggered: a timer re-evaluates every InferenceService from scratch; create, spec updates and
resume only nudge it sooner. Evaluations of one object never overlap (a per-object lock), and a tick
that is not yet due (the core's requeue time, capped by ``traffic.evaluationInterval``) does nothing.
kopf's own bookkeeping lives in annotations, so ``status`` is the operator's alone.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta
from typing import Any

import kopf

from seasonal_engines.adapters.kubernetes import Cluster
from seasonal_engines.adapters.metrics import OperatorMetrics
from seasonal_engines.api import durations
from seasonal_engines.api import spec as api
from seasonal_engines.core import build_jobs
from seasonal_engines.reconciling import Reconciler

TICK_SECONDS = float(os.environ.get("SEASONAL_TICK_SECONDS", "15"))
ANNOTATIONS_PREFIX = api.GROUP
log = logging.getLogger("seasonal_engines")

_state: dict[str, Any] = {}
_locks: dict[tuple[str, str], threading.Lock] = {}
_next_due: dict[tuple[str, str], datetime] = {}
# The status this process last wrote, per object. The operator is the only writer of status, and a timer
# can fire before the watch delivers our own previous patch: deciding from that stale body would start a
# second build. After a restart the cache is empty and the cluster's copy is the truth again.
_written: dict[tuple[str, str], dict[str, Any]] = {}
_guard = threading.Lock()


def _api_client() -> Any:
    from kubernetes import client, config

    try:
        config.load_incluster_config()
        return client.ApiClient()
    except config.ConfigException:
        return config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"))


def reconciler(memo: kopf.Memo) -> Reconciler:
    with _guard:
        if "reconciler" not in _state:
            metrics = _state.get("metrics") or OperatorMetrics()
            # `seasonal run` puts the settings built from its flags (the chart's values) in kopf's memo.
            job_settings = memo.get("job_settings") or build_jobs.JobSettings()
            _state["reconciler"] = Reconciler(cluster=Cluster(_api_client()), metrics=metrics,
                                              job_settings=job_settings)
        return _state["reconciler"]


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATIONS_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=ANNOTATIONS_PREFIX)
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = int(os.environ.get("SEASONAL_WATCH_TIMEOUT", "300"))
    settings.execution.max_workers = int(os.environ.get("SEASONAL_WORKERS", "8"))
    port = os.environ.get("SEASONAL_METRICS_PORT")
    if port and "metrics" not in _state:
        from prometheus_client import start_http_server

        metrics = OperatorMetrics()
        start_http_server(int(port), registry=metrics.registry)
        _state["metrics"] = metrics
        log.info("operator metrics on :%s/metrics", port)


def evaluate(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, *, force: bool) -> None:
    meta = body.get("metadata", {})
    key = (meta.get("namespace", ""), meta.get("name", ""))
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=force):
        return  # another evaluation of this object is running; the timer comes back
    try:
        rec = reconciler(memo)
        now = rec.clock()  # the reconciler's clock: tests run it faster than the wall
        if not force and now < _next_due.get(key, now):
            return
        current = dict(body)
        if key in _written:
            current["status"] = {**(body.get("status") or {}), **_written[key]}
        outcome = rec.reconcile(current)
        for event in outcome.events:
            kopf.event(body, type=event.type, reason=event.reason, message=event.message[:1024])
        if outcome.status is not None:
            _written[key] = outcome.status
            old = {k: v for k, v in (body.get("status") or {}).items() if k != "kopf"}
            for gone in set(old) - set(outcome.status):
                patch.status[gone] = None  # a merge patch deletes with null
            for k, v in outcome.status.items():
                patch.status[k] = v
        interval = _interval(body)
        wait = interval if outcome.requeue_after is None else min(interval, outcome.requeue_after)
        _next_due[key] = now + timedelta(seconds=max(1.0, wait))
    finally:
        lock.release()


def _interval(body: kopf.Body) -> float:
    try:
        return durations.seconds(body.get("spec", {}).get("traffic", {}).get("evaluationInterval") or "5m")
    except ValueError:
        return 300.0


@kopf.on.resume(api.GROUP, api.VERSION, api.PLURAL)
@kopf.on.create(api.GROUP, api.VERSION, api.PLURAL)
@kopf.on.update(api.GROUP, api.VERSION, api.PLURAL, field="spec")
def nudge(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    evaluate(body, patch, memo, force=True)


@kopf.timer(api.GROUP, api.VERSION, api.PLURAL, interval=TICK_SECONDS, sharp=False)
def tick(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    evaluate(body, patch, memo, force=False)


@kopf.on.delete(api.GROUP, api.VERSION, api.PLURAL)
def deleted(body: kopf.Body, **_: Any) -> None:
    # Engines are immutable and may serve other InferenceServices: deleting one removes nothing from the
    # store. The Triton Deployment, Service and build Jobs are owned and go with it.
    meta = body.get("metadata", {})
    key = (meta.get("namespace", ""), meta.get("name", ""))
    _next_due.pop(key, None)
    _locks.pop(key, None)
    _written.pop(key, None)
    log.info("%s/%s deleted; its engines stay in the store for garbage collection", *key)
