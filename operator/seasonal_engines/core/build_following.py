"""Builds, as the decision core starts and follows them: one build at a time, a new Job name per attempt,
at most ``MAX_BUILD_ATTEMPTS`` failures in a row with a doubling backoff between them, and a failed build
never rolled out. Steps of ``core.decisions.decide``, writing through a ``drafts.Draft``. Pure: no I/O.
"""

from __future__ import annotations

from datetime import timedelta

from seasonal_engines.api import durations
from seasonal_engines.api.spec import InferenceServiceSpec
from seasonal_engines.api.status import BUILD_DURATIONS_LIMIT, BuildStatus
from seasonal_engines.core import actions, build_jobs, names, planners, reasons, times
from seasonal_engines.core import conditions as cond
from seasonal_engines.core.drafts import Draft
from seasonal_engines.core.observations import JobState

MAX_BUILD_ATTEMPTS = 3
BUILD_BACKOFF = timedelta(minutes=2)  # doubled after each failure in a row
DEADLINE_GRACE = timedelta(minutes=5)  # past engine.buildDeadline before a running Job counts as failed


def backoff(failures: int) -> timedelta:
    """The wait after ``failures`` failed builds in a row: 2, 4, 8 ... minutes."""
    return BUILD_BACKOFF * int(2 ** max(0, failures - 1))


def gpus_wanted(spec: InferenceServiceSpec) -> str:
    gpus = spec.model.tensor_parallel_size * spec.model.pipeline_parallel_size
    return f"{gpus} free {build_jobs.GPU_RESOURCE} labelled {build_jobs.GPU_PRODUCT_LABEL}={spec.hardware.gpu_product}"


def follow(d: Draft, spec: InferenceServiceSpec) -> None:
    """The build in status: finished (its engine in the store), still running, or failed."""
    b = d.status.build
    assert b is not None
    seen = d.obs.build
    state = seen.state if seen is not None and seen.job_name == b.job_name else JobState.missing
    if state == JobState.succeeded or (state == JobState.missing and b.engine_hash in d.obs.store):
        _succeeded(d)
        return
    if state == JobState.running:
        if d.obs.now - times.parse_time(b.started_at) <= \
                timedelta(seconds=durations.seconds(spec.engine.build_deadline)) + DEADLINE_GRACE:
            _running(d, spec)
            return
        message = f"Job {b.job_name} ran past engine.buildDeadline {spec.engine.build_deadline}"
    else:
        message = (seen.message if seen is not None and seen.message else
                   f"Job {b.job_name} " + ("failed" if state == JobState.failed else "disappeared before its "
                                           "engine reached the store"))
    _failed(d, message)


def _succeeded(d: Draft) -> None:
    b = d.status.build
    assert b is not None
    took = (d.obs.now - times.parse_time(b.started_at)).total_seconds()
    d.set(build=None, build_failures=0,
          build_durations_seconds=[*d.status.build_durations_seconds, round(took, 1)][-BUILD_DURATIONS_LIMIT:])
    d.condition(cond.BUILDING, False, reasons.BUILD_SUCCEEDED,
                f"engine {b.engine_hash[:12]} built in {durations.format_seconds(took)} ({b.reason})",
                event="Normal")
    if d.status.target_engine is not None and d.status.target_engine.hash == b.engine_hash:
        d.set(target_engine=d.status.target_engine.model_copy(update={"built_at": times.rfc3339(d.obs.now)}))


def _running(d: Draft, spec: InferenceServiceSpec) -> None:
    b, seen = d.status.build, d.obs.build
    assert b is not None
    if seen is not None and seen.unschedulable:
        d.condition(cond.BUILDING, True, reasons.BUILD_UNSCHEDULABLE,
                    f"Job {b.job_name} waits for a node with {gpus_wanted(spec)}: {seen.unschedulable}",
                    event="Warning")
    else:
        d.condition(cond.BUILDING, True, reasons.BUILD_IN_PROGRESS,
                    f"Job {b.job_name} builds engine {b.engine_hash[:12]} ({b.reason})")
    d.requeue.append(actions.BUSY_REQUEUE)


def _failed(d: Draft, message: str) -> None:
    b = d.status.build
    assert b is not None
    failures = d.status.build_failures + 1
    d.set(build=None, build_failures=failures, last_build_failure_at=times.rfc3339(d.obs.now))
    if d.status.target_engine is not None and d.status.target_engine.hash == b.engine_hash:
        d.set(target_engine=None)  # a failed build never rolls out
    retry = (f"; retrying after {durations.format_seconds(backoff(failures).total_seconds())}"
             if failures < MAX_BUILD_ATTEMPTS else f"; {MAX_BUILD_ATTEMPTS} failures in a row: no more builds "
             "until the spec changes")
    d.condition(cond.BUILDING, False, reasons.BUILD_FAILED, message + retry, event="Warning")
    d.condition(cond.DEGRADED, True, reasons.BUILD_FAILED, message + retry)


def may_build(d: Draft) -> bool:
    """No build under way, fewer than MAX_BUILD_ATTEMPTS failures in a row, and the backoff has passed (else
    a requeue for when it will have)."""
    s = d.status
    if s.build is not None or s.build_failures >= MAX_BUILD_ATTEMPTS:
        return False
    if s.build_failures and s.last_build_failure_at:
        ready_at = times.parse_time(s.last_build_failure_at) + backoff(s.build_failures)
        if d.obs.now < ready_at:
            d.requeue.append((ready_at - d.obs.now).total_seconds())
            return False
    return True


def start(d: Draft, engine: planners.PlannedEngine, reason: str) -> None:
    spec = d.obs.spec
    assert spec is not None
    # A new name per attempt, deterministic: a restart finds the Job again, a failed one stays for its logs.
    serial = d.status.builds_started + 1
    name = names.build_job(spec.model.name, engine.hash, serial)
    d.actions.append(actions.StartBuild(engine, reason, name, serial))
    d.set(build=BuildStatus(job_name=name, engine_hash=engine.hash, season=engine.season, reason=reason,
                            started_at=times.rfc3339(d.obs.now), attempts=d.status.build_failures + 1),
          builds_started=serial)
    d.condition(cond.BUILDING, True, reasons.BUILD_STARTED,
                f"Job {name} builds engine {engine.hash[:12]} ({engine.envelope.summary()}) for "
                f"{engine.season or 'the trailing window'}: {reason}", event="Normal")
    d.requeue.append(actions.BUSY_REQUEUE)


__all__ = ["follow", "start", "may_build", "backoff", "gpus_wanted", "MAX_BUILD_ATTEMPTS", "BUILD_BACKOFF"]
