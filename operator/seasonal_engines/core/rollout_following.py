"""Rollouts, as the decision core starts and follows them: one at a time; done when every replica runs the
engine and each one's Triton serves it with the plan's config; failed (or not ready within
``rollout.readinessTimeout``) rolls back to the previous engine, and a failed rollback leaves it to a
person. Steps of ``core.decisions.decide``, writing through a ``drafts.Draft``. Pure: no I/O.
"""

from __future__ import annotations

from datetime import timedelta

from seasonal_engines.api import durations
from seasonal_engines.api.spec import InferenceServiceSpec
from seasonal_engines.api.status import HISTORY_LIMIT, EngineRef, EnvelopeStatus, RolloutStatus
from seasonal_engines.core import actions, build_following, drift, reasons, status_codec, times
from seasonal_engines.core import conditions as cond
from seasonal_engines.core.drafts import Draft
from seasonal_engines.core.observations import RolloutObservation


def start(d: Draft, spec: InferenceServiceSpec, target: EngineRef) -> None:
    """Start moving the Deployment to ``target`` (a smaller engine waits for the downsize window)."""
    if target.reason == reasons.DRIFT_WASTE and not drift.downsize_allowed(spec.drift, d.obs.now):
        d.condition(cond.ROLLING_OUT, False, reasons.WAITING_FOR_DOWNSIZE_WINDOW,
                    f"engine {target.hash[:12]} waits for drift.downsizeWindow")
        return
    previous = d.status.serving_engine
    d.actions.append(actions.RollOut(target, previous))
    d.set(rollout=RolloutStatus(engine_hash=target.hash, previous_hash=previous.hash if previous else None,
                                started_at=times.rfc3339(d.obs.now)))
    d.condition(cond.ROLLING_OUT, True, reasons.ROLLOUT_STARTED,
                f"rolling {spec.rollout.strategy} to engine {target.hash[:12]} "
                f"({status_codec.envelope_of(target).summary()})", event="Normal")
    d.requeue.append(actions.BUSY_REQUEUE)


def follow(d: Draft, spec: InferenceServiceSpec) -> None:
    """The rollout in status: done, still under way (perhaps waiting for a node), or failed."""
    ro = d.status.rollout
    assert ro is not None
    seen = d.obs.rollout
    if _ready(seen, ro):
        _succeeded(d, ro)
        return
    timeout = timedelta(seconds=durations.seconds(spec.rollout.readiness_timeout))
    if not _failed_now(seen, ro) and d.obs.now - times.parse_time(ro.started_at) <= timeout:
        _under_way(d, spec, ro)
        return
    _unblock(d)
    why = (seen.message if seen and seen.message else "") or (
        f"not ready within rollout.readinessTimeout {spec.rollout.readiness_timeout}")
    if ro.rollback:
        _rollback_failed(d, ro, why)
    else:
        _failed(d, spec, ro, why)


def _ready(seen: RolloutObservation | None, ro: RolloutStatus) -> bool:
    """Every replica runs the engine, and each one's Triton serves it with the plan's config."""
    return seen is not None and seen.engine_hash == ro.engine_hash and seen.deployment_ready \
        and seen.model_ready and seen.config_matches


def _failed_now(seen: RolloutObservation | None, ro: RolloutStatus) -> bool:
    """The Deployment gave up on the engine, or Triton serves a model whose config is not the plan's (never
    call that ready)."""
    if seen is None:
        return False
    return (seen.engine_hash == ro.engine_hash and seen.failed) or \
        (seen.deployment_ready and seen.model_ready and not seen.config_matches)


def _under_way(d: Draft, spec: InferenceServiceSpec, ro: RolloutStatus) -> None:
    seen = d.obs.rollout
    d.condition(cond.ROLLING_OUT, True, reasons.ROLLBACK_IN_PROGRESS if ro.rollback else
                reasons.ROLLOUT_IN_PROGRESS, f"rolling out engine {ro.engine_hash[:12]}"
                + (f": {seen.message}" if seen and seen.message else ""))
    if seen is not None and seen.unschedulable:
        serving = d.status.serving_engine
        d.condition(cond.ROLLOUT_BLOCKED, True, reasons.UNSCHEDULABLE,
                    f"a new pod of engine {ro.engine_hash[:12]} waits for a node with "
                    f"{build_following.gpus_wanted(spec)}"
                    + (f"; engine {serving.hash[:12]} keeps serving" if serving else "")
                    + f"; rolled back after rollout.readinessTimeout {spec.rollout.readiness_timeout}: "
                    f"{seen.unschedulable}", event="Warning")
    else:
        _unblock(d)
    d.requeue.append(actions.BUSY_REQUEUE)


def _rollback_failed(d: Draft, ro: RolloutStatus, why: str) -> None:
    d.set(rollout=None, target_engine=None)
    d.condition(cond.ROLLING_OUT, False, reasons.ROLLBACK_FAILED, f"rollback to {ro.engine_hash[:12]} "
                f"failed: {why}", event="Warning")
    d.condition(cond.DEGRADED, True, reasons.ROLLBACK_FAILED, f"rollback to {ro.engine_hash[:12]} failed: "
                f"{why}; fix the Deployment by hand", event=None)


def _failed(d: Draft, spec: InferenceServiceSpec, ro: RolloutStatus, why: str) -> None:
    """The new engine did not come up: remember it as failed, and roll back to the previous one."""
    previous = d.status.serving_engine
    d.set(failed_rollouts=[ro.engine_hash, *d.status.failed_rollouts][:HISTORY_LIMIT])
    d.condition(cond.DEGRADED, True, reasons.ROLLOUT_FAILED, f"engine {ro.engine_hash[:12]}: {why}; it is not "
                "rolled out again until the spec changes", event="Warning")
    if spec.rollout.auto_rollback and previous is not None:
        d.actions.append(actions.RollOut(previous, None, rollback=True))
        d.set(rollout=RolloutStatus(engine_hash=previous.hash, previous_hash=ro.engine_hash,
                                    started_at=times.rfc3339(d.obs.now), rollback=True), target_engine=previous)
        d.condition(cond.ROLLING_OUT, True, reasons.ROLLBACK_IN_PROGRESS,
                    f"rolling back to engine {previous.hash[:12]} ({why})", event="Warning")
        d.requeue.append(actions.BUSY_REQUEUE)
    else:
        d.set(rollout=None, target_engine=None)
        d.condition(cond.ROLLING_OUT, False, reasons.ROLLOUT_FAILED, f"engine {ro.engine_hash[:12]}: {why}; "
                    "rollout.autoRollback is off or no previous engine exists")


def _unblock(d: Draft) -> None:
    if cond.is_true(d.status.conditions, cond.ROLLOUT_BLOCKED):
        d.condition(cond.ROLLOUT_BLOCKED, False, reasons.SCHEDULED, "every new pod found a node")


def _succeeded(d: Draft, ro: RolloutStatus) -> None:
    _unblock(d)
    if ro.rollback:
        d.set(rollout=None, target_engine=None)
        d.condition(cond.ROLLING_OUT, False, reasons.ROLLED_BACK, f"back on engine {ro.engine_hash[:12]}",
                    event="Warning")
        return
    target = d.status.target_engine
    engine = (target or EngineRef(hash=ro.engine_hash, envelope=EnvelopeStatus(
        max_input_len=1, max_seq_len=1, max_batch_size=1, max_num_tokens=1))).model_copy(
        update={"rolled_out_at": times.rfc3339(d.obs.now), "generation": d.status.engine_generation + 1})
    history = [engine, *[e for e in d.status.engine_history if e.hash != engine.hash]][:HISTORY_LIMIT]
    d.set(serving_engine=engine, envelope=status_codec.envelope_of(engine).summary(), rollout=None,
          target_engine=None, engine_generation=d.status.engine_generation + 1, engine_history=history)
    d.condition(cond.ROLLING_OUT, False, reasons.ROLLOUT_SUCCEEDED, f"engine {engine.hash[:12]} serves")
    d.condition(cond.ENGINE_READY, True, reasons.ROLLOUT_SUCCEEDED,
                f"engine {engine.hash[:12]} ({status_codec.envelope_of(engine).summary()}) is ready in Triton",
                event="Normal")
    d.condition(cond.DEGRADED, False, reasons.ROLLOUT_SUCCEEDED, "serving the planned engine")
    if d.status.drift is not None:
        d.set(drift=d.status.drift.model_copy(update={"breach_streak": 0, "waste_streak": 0}))


__all__ = ["start", "follow"]
