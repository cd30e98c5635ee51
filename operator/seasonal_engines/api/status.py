"""The InferenceService v1alpha1 status: what the operator observed and decided.

Written only by the operator. Conditions follow the Kubernetes API conventions (type, status, reason,
message, lastTransitionTime, observedGeneration). Pure data: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Annotated, Any

import pydantic
from pydantic import ConfigDict, Field, model_validator

from seasonal_engines.api.spec import ApiModel

HISTORY_LIMIT = 10


def _rfc3339(value: str) -> str:
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 time such as 2026-01-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no timezone; write it in UTC with a Z")
    return value


# Times in status: checked when read, so a hand-edited time starts the status afresh instead of failing later.
Time = Annotated[str, pydantic.AfterValidator(_rfc3339), Field(max_length=64)]
BUILD_DURATIONS_LIMIT = 20


class StatusModel(ApiModel):
    """Status objects tolerate fields from newer operators instead of failing a read."""

    model_config = ConfigDict(extra="ignore")


class Phase(str, Enum):
    pending = "Pending"          # accepted, nothing observed yet
    insufficient = "InsufficientTraffic"  # too few requests to plan from; keeps serving what it has
    planning = "Planning"
    building = "Building"
    rolling_out = "RollingOut"
    serving = "Serving"
    advisory = "Advisory"        # mode Advisory: plan recorded, nothing built
    degraded = "Degraded"        # serving, but the last build or rollout failed
    invalid = "Invalid"          # spec rejected; any serving engine is left alone


class ConditionStatus(str, Enum):
    true = "True"
    false = "False"
    unknown = "Unknown"


class Condition(StatusModel):
    """One aspect of the resource's state, as Kubernetes API conventions describe conditions."""

    type: str = Field(description="Condition type: SpecValid, TrafficAvailable, EngineReady, Building, "
                      "RollingOut, RolloutBlocked, Drifted, TrafficShifted, SeasonsDiscovered, Degraded or Synced.",
                      max_length=64)
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason for the last transition.", max_length=128)
    message: str = Field("", description="Human-readable details.", max_length=4096)
    last_transition_time: Time = Field(description="When the status last changed (RFC 3339).",
                                      json_schema_extra={"format": "date-time"})
    observed_generation: int | None = Field(None, description="metadata.generation the condition was set "
                                            "from.", ge=0)


class EnvelopeStatus(StatusModel):
    """The build-time limits of an engine."""

    max_input_len: int = Field(description="Longest prompt, tokens.", ge=1)
    max_seq_len: int = Field(description="Longest prompt plus output, tokens.", ge=1)
    max_batch_size: int = Field(description="Most requests in flight.", ge=1)
    max_num_tokens: int = Field(description="Most tokens batched per step.", ge=1)


class ServingPrediction(StatusModel):
    """What the serving model predicts for an engine at the peak of the traffic it was planned from.
    Modelled (a simulation of TensorRT-LLM's batching calibrated on NVIDIA's published throughput), not
    measured."""

    label: str = Field("modelled", description="Always modelled: a simulation, not a measurement.",
                       max_length=16)
    peak_rps: float = Field(description="Peak request rate the prediction is for, per second.", ge=0)
    replicas: int | None = Field(None, description="Fewest replicas that meet spec.rollout.slo at the peak; "
                                 "none without an SLO or when no count meets it.", ge=0)
    ttft_p50_seconds: float | None = Field(None, description="Time to first token, median, at the peak on "
                                           "those replicas.", ge=0)
    ttft_p99_seconds: float | None = Field(None, description="Time to first token, 99th percentile.", ge=0)
    itl_p50_seconds: float | None = Field(None, description="Inter-token latency (per request), median.", ge=0)
    itl_p99_seconds: float | None = Field(None, description="Inter-token latency, 99th percentile.", ge=0)
    output_tokens_per_second_per_gpu: float | None = Field(None, description="Output tokens per second per "
                                                           "GPU at maximum load on this traffic's mix.", ge=0)


class EngineRef(StatusModel):
    """An engine in the store and where it served."""

    hash: str = Field(description="Content hash naming the engine in the store.", max_length=128)
    envelope: EnvelopeStatus = Field(description="The engine's limits.")
    season: str | None = Field(None, description="Season the engine was planned for; none for the trailing "
                               "window.", max_length=63)
    backend: str = Field("tensorrt", description="tensorrt, pytorch or cpu-stand-in.", max_length=32)
    built_at: Time | None = Field(None, description="When the build finished.",
                                 json_schema_extra={"format": "date-time"})
    rolled_out_at: Time | None = Field(None, description="When it began serving.",
                                      json_schema_extra={"format": "date-time"})
    generation: int | None = Field(None, description="Engine generation: increases with every rollout.", ge=0)
    reason: str | None = Field(None, description="Why it was chosen: Initial, Bootstrap, SeasonStart, "
                               "DriftBreach, BreachInterim, DriftWaste, SeasonGrown, SeasonShrunk, "
                               "SeasonProvisional.", max_length=64)
    prediction: ServingPrediction | None = Field(None, description="The serving model's prediction for this "
                                                 "engine (modelled); none for the bootstrap engine.")


class QuantilesStatus(StatusModel):
    """Token-length quantiles."""

    p50: float | None = Field(None, description="Median.")
    p90: float | None = Field(None, description="90th percentile.")
    p99: float | None = Field(None, description="99th percentile.")
    p999: float | None = Field(None, description="99.9th percentile.")


class TrafficStatus(StatusModel):
    """What the last evaluation observed."""

    window: str = Field(description="The window evaluated, for example 1h.", max_length=32)
    evaluated_at: Time = Field(description="Evaluation time.", json_schema_extra={"format": "date-time"})
    samples: float = Field(description="Requests in the window.", ge=0)
    input: QuantilesStatus = Field(description="Prompt tokens.")
    output: QuantilesStatus = Field(description="Generated tokens.")
    sequence: QuantilesStatus = Field(description="Prompt plus generated tokens.")
    sequence_source: str = Field(description="joint (exact) or bound (conservative, from the marginals).",
                                 max_length=16)
    rate_rps: float = Field(description="Mean request rate, per second.", ge=0)
    peak_rps: float = Field(description="Peak rate at the configured percentile of a Poisson model.", ge=0)
    censored_fraction: float | None = Field(None, description="Share of requests rejected for length or cut at "
                                            "the engine's limit; none when the source cannot tell.", ge=0, le=1)


class SeasonStatus(StatusModel):
    """The next season to start."""

    name: str = Field(description="Season name.", max_length=63)
    starts_at: Time = Field(description="Start time.", json_schema_extra={"format": "date-time"})
    engine_ready: bool = Field(False, description="Whether its engine is built and in the store.")
    engine_hash: str | None = Field(None, description="The engine planned for it.", max_length=128)


class ShiftStatus(StatusModel):
    """The last shift tests: the recent window against the traffic the serving engine was planned from."""

    shifted: bool = Field(description="A test of this evaluation found a shift.")
    confirmed: bool = Field(description="Shifts were found drift.shift.consecutiveEvaluations times in a row.")
    direction: str = Field(description="Up (longer requests) or Down.", max_length=8)
    dimension: str = Field(description="input or sequence: the dimension of the strongest test.", max_length=16)
    test: str = Field(description="location (mean rank of recent requests) or tail (share above the planning "
                      "traffic's p99).", max_length=16)
    observed: float = Field(description="Mean rank (location) or share above the bound (tail), recent window.")
    expected: float = Field(description="The same figure if nothing had moved.")
    p_value: float = Field(description="Chance of a figure this far from the expected one if nothing moved.",
                           ge=0, le=1)
    samples: float = Field(description="Requests in the recent window.", ge=0)
    message: str = Field(description="The strongest test, for people.", max_length=1024)


class BucketSharesStatus(StatusModel):
    """Cumulative share of requests at or below each finite bucket bound."""

    le: list[float] = Field(default_factory=list, description="Finite bucket bounds, ascending.", max_length=512)
    cdf: list[Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=list, description="Share of requests "
                                                             "at or below each bound.", max_length=512)

    @model_validator(mode="after")
    def _consistent(self) -> BucketSharesStatus:
        if len(self.le) != len(self.cdf):
            raise ValueError("le and cdf must have the same length")
        if any(not math.isfinite(b) for b in self.le) or any(b2 <= b1 for b1, b2 in zip(self.le, self.le[1:])):
            raise ValueError("le must be finite and strictly ascending")
        return self


class ShiftReferenceStatus(StatusModel):
    """The bucket distributions of the traffic the serving engine was planned from (for shift detection)."""

    input: BucketSharesStatus = Field(default_factory=BucketSharesStatus, description="Prompt tokens.")
    sequence: BucketSharesStatus = Field(default_factory=BucketSharesStatus, description="Prompt plus output.")
    samples: float = Field(0.0, description="Requests behind the shares.", ge=0, le=1e15)


class DriftStatus(StatusModel):
    """Drift between the traffic and the serving engine, and what drift remembers between evaluations."""

    state: str = Field("Stable", description="Stable, Breach, Waste or Insufficient.", max_length=32)
    reason: str | None = Field(None, description="CamelCase reason of the last verdict.", max_length=128)
    message: str | None = Field(None, description="The last verdict, for people.", max_length=4096)
    score: float | None = Field(None, description="Distribution-shift score (Jensen-Shannon, 0 = same, 1 = "
                                "disjoint) against the traffic the serving engine was planned from.", ge=0, le=1)
    beyond_fraction: float | None = Field(None, description="Share of requests beyond the serving envelope, "
                                          "censored ones included.", ge=0, le=1)
    breach_streak: int = Field(0, description="Evaluations in a row with a coverage breach.", ge=0)
    waste_streak: int = Field(0, description="Evaluations in a row with a wasteful envelope.", ge=0)
    shift_streak: int = Field(0, description="Evaluations in a row with a shift in request lengths.", ge=0)
    shift: ShiftStatus | None = Field(None, description="The last shift tests (absent when none could be made).")
    last_rebuild: Time | None = Field(None, description="When drift last triggered a rebuild.",
                                     json_schema_extra={"format": "date-time"})
    last_evaluated: Time | None = Field(None, description="The last evaluation that counted.",
                                       json_schema_extra={"format": "date-time"})
    reference: ShiftReferenceStatus | None = Field(None, description="Bucket distributions of the traffic the "
                                                   "serving engine was planned from (for the shift score).")


class DiscoveredSeason(StatusModel):
    """One season of the discovered schedule (the same fields as a spec season)."""

    name: str = Field(description="Season name.", max_length=63)
    schedule: str = Field(description="Cron expression for its start.", max_length=128)
    timezone: str = Field("UTC", description="IANA timezone of the schedule.", max_length=64)
    duration: str = Field(description="How long it lasts (Go duration form).", max_length=32)
    history: int = Field(description="Occurrences its plan pools at most.", ge=1, le=52)
    planned_max_seq_len: int | None = Field(None, description="max_seq_len a plan from the history reached "
                                            "when it was discovered.", ge=1)


class SeasonScheduleStatus(StatusModel):
    """The schedule spec.seasonDiscovery found, and the resizing state of the season in force."""

    seasons: list[DiscoveredSeason] = Field(default_factory=list, description="The seasons in force.",
                                            max_length=16)
    discovered_at: str = Field(description="When they were found; the next discovery is due one "
                               "seasonDiscovery.refresh later.", json_schema_extra={"format": "date-time"})
    history_hours: int = Field(0, description="Hours of history (with traffic) they were found from.", ge=0)
    requests: float = Field(0, description="Requests in that history.", ge=0)
    mean_envelope: float | None = Field(None, description="Mean max_seq_len over the day, at the quantile's "
                                        "upper bound, that the schedule was chosen for.", ge=0)
    static_envelope: int | None = Field(None, description="The same for one season all day.", ge=0)
    message: str = Field("", description="Why this schedule, for people.", max_length=1024)
    shrink_streak: int = Field(0, description="Evaluations in a row whose plan for the season in force was "
                               "smaller than the serving engine.", ge=0)
    last_counted_at: str | None = Field(None, description="The last evaluation counted in the streak.",
                                        json_schema_extra={"format": "date-time"})
    last_resized_at: str | None = Field(None, description="When the season in force was last resized.",
                                        json_schema_extra={"format": "date-time"})


class BuildStatus(StatusModel):
    """The build in progress, if any."""

    job_name: str = Field(description="The build Job.", max_length=253)
    engine_hash: str = Field(description="Engine it publishes.", max_length=128)
    season: str | None = Field(None, description="Season it is for.", max_length=63)
    reason: str = Field(description="Why it was started: Initial, Season, DriftBreach, DriftWaste.",
                        max_length=64)
    started_at: Time = Field(description="Start time.", json_schema_extra={"format": "date-time"})
    attempts: int = Field(1, description="Attempts so far.", ge=1)


class RolloutStatus(StatusModel):
    """The rollout in progress, if any."""

    engine_hash: str = Field(description="Engine being rolled out.", max_length=128)
    previous_hash: str | None = Field(None, description="Engine to return to on failure.", max_length=128)
    started_at: Time = Field(description="Start time.", json_schema_extra={"format": "date-time"})
    rollback: bool = Field(False, description="Whether this rollout is itself a rollback.")


class SeasonEngine(StatusModel):
    """The engine last planned for a season (kept from garbage collection)."""

    season: str = Field(description="Season name.", max_length=63)
    hash: str = Field(description="Engine hash.", max_length=128)


class InferenceServiceStatus(StatusModel):
    """Observed state of an InferenceService."""

    phase: Phase = Field(Phase.pending, description="Where the resource is in its life cycle.")
    observed_generation: int | None = Field(None, description="Last metadata.generation acted on.", ge=0)
    envelope: str | None = Field(None, description="The serving engine's limits in short form, for kubectl.",
                                 max_length=128)
    serving_engine: EngineRef | None = Field(None, description="The engine Triton serves.")
    engine_generation: int = Field(0, description="Increases with every completed rollout.", ge=0)
    target_engine: EngineRef | None = Field(None, description="The engine being built or rolled out.")
    build: BuildStatus | None = Field(None, description="The build in progress.")
    rollout: RolloutStatus | None = Field(None, description="The rollout in progress.")
    traffic: TrafficStatus | None = Field(None, description="The last traffic evaluation.")
    active_season: str | None = Field(None, description="The season in force now.", max_length=63)
    next_season: SeasonStatus | None = Field(None, description="The next season to start.")
    season_schedule: SeasonScheduleStatus | None = Field(None, description="Seasons found by "
                                                         "spec.seasonDiscovery, when it is set.")
    drift: DriftStatus | None = Field(None, description="Drift state.")
    advised_plan: EngineRef | None = Field(None, description="The engine a fresh plan would build now "
                                           "(always set in Advisory mode).")
    conditions: list[Condition] = Field(default_factory=list, description="Current conditions, one per type.",
                                        max_length=16, json_schema_extra={"x-kubernetes-list-type": "map",
                                                                          "x-kubernetes-list-map-keys": ["type"]})
    engine_history: list[EngineRef] = Field(default_factory=list, description="Recently served engines, newest "
                                            "first, for rollback and garbage collection.",
                                            max_length=HISTORY_LIMIT)
    build_failures: int = Field(0, description="Build failures in a row; builds stop after three until the "
                                "spec changes.", ge=0, le=1000)
    builds_started: int = Field(0, description="Build Jobs started for this InferenceService so far; each "
                                "attempt's Job is named with the next number, so a failed Job stays for its logs "
                                "and is never mistaken for the next attempt.", ge=0, le=10 ** 9)
    last_build_failure_at: Time | None = Field(None, description="When the last build failed.",
                                              json_schema_extra={"format": "date-time"})
    failed_rollouts: list[str] = Field(default_factory=list, description="Engines whose rollout failed; "
                                       "not rolled out again until the spec changes.", max_length=HISTORY_LIMIT)
    season_engines: list[SeasonEngine] = Field(default_factory=list, description="The engine last planned for "
                                               "each season.", max_length=16,
                                               json_schema_extra={"x-kubernetes-list-type": "map",
                                                                  "x-kubernetes-list-map-keys": ["season"]})
    references_recorded: str | None = Field(None, description="Digest of the engine references last recorded "
                                            "in the engine store (serving, rollback targets, seasons' engines), "
                                            "which garbage collection keeps.", max_length=64)
    build_durations_seconds: list[float] = Field(default_factory=list, description="Durations of recent "
                                                 "successful builds, for season lead times.",
                                                 max_length=BUILD_DURATIONS_LIMIT)


def read(raw: Any) -> tuple[InferenceServiceStatus, str | None]:
    """The stored status as the operator's model, and why it had to start afresh (None when it did not):
    a status this operator cannot read (hand-edited, or from a newer schema) is never acted on half-read."""
    data = {k: v for k, v in raw.items() if k != "kopf"} if isinstance(raw, Mapping) else {}
    if raw is not None and not isinstance(raw, Mapping):
        return InferenceServiceStatus(), f"status is a {type(raw).__name__}, not an object"
    try:
        return InferenceServiceStatus.model_validate(data), None
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "status"
        return InferenceServiceStatus(), f"status.{where}: {first.get('msg', 'unreadable')}"
