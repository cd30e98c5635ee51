"""kopf wiring: events and timers in, ``reconciling.Reconciler`` calls out. No decisions here, and no state
at module level: ``register`` adds the handlers to a registry with the settings ``cli.run`` built, and
everything per process (the reconciler) or per object (its lock, when it is next due, which body is stale)
lives in kopf's ``memo``.

Level-triggered: a timer re-evaluates every InferenceService from scratch; create, spec updates and
resume only nudge it sooner. Evaluations of one object never overlap (a per-object lock), and a tick
that is not yet due (the core's requeue time, capped by ``traffic.evaluationInterval``) does nothing.
The body kopf hands a handler only says which object to look at: it can be older than our last status
write (a timer fires before the watch delivers the write), and after kopf's own patches it can even carry
a newer resourceVersion with older content. So every evaluation decides from the object as the API server
has it now (one GET), and writes status with that resourceVersion as a precondition: nothing is ever
decided from a stale body or merged with what this process remembers. kopf's own bookkeeping lives in
annotations, so ``status`` is the operator's alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import kopf

from seasonal_engines import settings as configuration
from seasonal_engines.api import durations
from seasonal_engines.api import spec as api
from seasonal_engines.reconciling import Reconciler

ANNOTATIONS_PREFIX = api.GROUP
MEMO_RECONCILER = "reconciler"
MEMO_OBJECT = "seasonal_object"
log = logging.getLogger("seasonal_engines")


@dataclass
class ObjectState:
    """What one process remembers of one InferenceService between evaluations (kept in its kopf memo)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    next_due: datetime | None = None


def register(registry: kopf.OperatorRegistry, ours: configuration.OperatorSettings) -> None:
    """Add the operator's handlers to ``registry``; ``ours`` also shapes kopf itself."""
    resource = (api.GROUP, api.VERSION, api.PLURAL)
    # A registry of our own starts empty: kopf's default credentials (in-cluster service account, else the
    # kubeconfig) must be asked for, or kopf runs out of credentials before its first request.
    kopf.on.login(registry=registry)(kopf.login_via_client)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:  # kopf's settings, not ours
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATIONS_PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=ANNOTATIONS_PREFIX)
        settings.posting.level = logging.INFO
        settings.watching.server_timeout = ours.loop.watch_timeout_seconds
        settings.execution.max_workers = ours.loop.workers
        settings.peering.lifetime = ours.peering.lifetime_seconds
        settings.peering.priority = ours.peering.priority

    @kopf.on.resume(*resource, registry=registry)
    @kopf.on.create(*resource, registry=registry)
    @kopf.on.update(*resource, field="spec", registry=registry)
    def nudge(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        evaluate(body, memo, force=True)

    @kopf.timer(*resource, interval=ours.loop.tick_seconds, sharp=False, registry=registry)
    def tick(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        evaluate(body, memo, force=False)

    @kopf.on.delete(*resource, registry=registry)
    def deleted(body: kopf.Body, **_: Any) -> None:
        # Engines are immutable and may serve other InferenceServices: deleting one removes nothing from the
        # store. The Triton Deployment, Service and build Jobs are owned and go with it.
        meta = body.get("metadata", {})
        log.info("%s/%s deleted; its engines stay in the store for garbage collection",
                 meta.get("namespace", ""), meta.get("name", ""))


EventPoster = Callable[..., None]


def evaluate(body: kopf.Body, memo: kopf.Memo, *, force: bool, post: EventPoster = kopf.event) -> None:
    """One evaluation of one object, unless another is running or (for a tick) it is not due yet.
    ``post`` sends an Event (kopf's poster, which needs a running operator; tests pass their own)."""
    reconciler: Reconciler = memo[MEMO_RECONCILER]
    state: ObjectState = memo.setdefault(MEMO_OBJECT, ObjectState())
    if not state.lock.acquire(blocking=force):
        return  # another evaluation of this object is running; the timer comes back
    try:
        now = reconciler.clock()
        if not force and state.next_due is not None and now < state.next_due:
            return
        outcome = reconciler.reconcile_latest(body)
        if outcome is None:
            return  # deleted meanwhile
        for event in outcome.events:
            post(body, type=event.type, reason=event.reason, message=event.message[:1024])
        wait = _interval(body) if outcome.requeue_after is None else min(_interval(body), outcome.requeue_after)
        state.next_due = now + timedelta(seconds=max(1.0, wait))
    finally:
        state.lock.release()


def _interval(body: kopf.Body) -> float:
    try:
        return durations.seconds(body.get("spec", {}).get("traffic", {}).get("evaluationInterval") or "5m")
    except ValueError:
        return 300.0


__all__ = ["register", "evaluate", "ObjectState", "MEMO_RECONCILER"]
