"""The InferenceService v1alpha1 spec: the single source of truth for the API.

The CRD in ``crds/`` is generated from these models (see ``crd.py``); every
field's description becomes the text ``kubectl explain`` shows. Rules that a
structural schema cannot express are written twice on purpose: as CEL
(``x-kubernetes-validations``, enforced by the API server) and as pydantic
validators (enforced by the operator, which may see objects created before a
CRD upgrade). Pure data: no I/O.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Annotated, Any

import annotated_types
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from seasonal_engines.api import durations

GROUP = "seasonalengines.io"
VERSION = "v1alpha1"
KIND = "InferenceService"
PLURAL = "inferenceservices"
SINGULAR = "inferenceservice"
# Never "isvc": KServe owns it, and users run both operators side by side.
SHORT_NAMES = ["seis"]
CATEGORIES = ["seasonal-engines"]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# InferenceService names become Service names (DNS-1035: a letter first) and label values (63 characters).
SERVICE_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
MAX_SERVICE_NAME = 63
# Spec durations are Go durations (what CEL's duration() parses, so the API server checks the bounds too),
# at most 7 digits per part.
DURATION_PATTERN = r"^([0-9]{1,7}(h|m|s))+$"
# http(s), host, optional port and base path: no userinfo, query or fragment (the operator appends the API path).
PROMETHEUS_URL = r"^https?://[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[-A-Za-z0-9._~%/]*)?$"
# The node-label values of the GPUs the planner has facts for; others need hardware.memoryGiB and
# hardware.computeCapability. tests/api checks this equals core.sizing.gpus.PRESETS.
# Five cron fields (what croniter and every cron accept: digits, names, * , / - ? L W #), so that the API server
# refuses prose; the operator checks the expression itself.
CRON_PATTERN = r"^[0-9A-Za-z*,/?#-]+( +[0-9A-Za-z*,/?#-]+){4}$"
# Labels a selector must not match on: the metric name, the bucket bound and the labels our queries add.
RESERVED_LABELS = ("le", "seasonal_part", "seasonal_occurrence")
KNOWN_GPU_PRODUCTS = ("NVIDIA-H100-80GB-HBM3", "NVIDIA-H200", "NVIDIA-A100-SXM4-80GB", "NVIDIA-L40S", "NVIDIA-L4")
DEFAULT_IMAGE = "nvcr.io/nvidia/tritonserver:26.07-trtllm-python-py3"
DEFAULT_LADDER = [
    512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384,
    24576, 32768, 49152, 65536, 98304, 131072,
]


class ApiModel(BaseModel):
    """Base for API objects: camelCase on the wire, unknown fields refused. Enum fields hold their values
    (plain strings, which compare equal to the members), defaults included: a default is validated like a
    value given, so a field never holds a member in one object and a string in another."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=True,
        validate_default=True,
    )


def cel(*rules: tuple[str, str]) -> dict[str, Any]:
    """The ``x-kubernetes-validations`` block for a model's JSON schema."""
    return {"x-kubernetes-validations": [{"rule": r, "message": m} for r, m in rules]}


@dataclass(frozen=True)
class Bounded(annotated_types.GroupedMetadata):
    """A spec duration from ``low`` to ``high`` inclusive, checked by the API server (CEL) and by pydantic:
    ``Annotated[str, Bounded("1m", "24h")]``."""

    low: str
    high: str

    def __iter__(self) -> Iterator[Any]:
        # The pattern first: the bound check only ever sees the form it parses.
        yield Field(pattern=DURATION_PATTERN, max_length=32, json_schema_extra=cel(
            (f"duration(self) >= duration('{self.low}') && duration(self) <= duration('{self.high}')",
             f"must be a duration from {self.low} to {self.high}")))
        yield AfterValidator(self.check)

    def check(self, value: str) -> str:
        if not durations.seconds(self.low) <= durations.seconds(value) <= durations.seconds(self.high):
            raise ValueError(f"must be a duration from {self.low} to {self.high}")
        return value


DAYS_OR_HOURS = r"^[0-9]{1,4}(d|h)$"


def _hours_cel(field: str) -> str:
    """CEL for a DAYS_OR_HOURS duration in hours (CEL's duration() knows no days)."""
    number = f"int({field}.substring(0, {field}.size() - 1))"
    return f"({field}.endsWith('d') ? {number} * 24 : {number})"


def _re2_error(pattern: str) -> str | None:
    """Why Prometheus (Go's RE2 syntax) would refuse ``pattern`` as a label-matcher regex; None if it would not."""
    import re2  # google-re2: the RE2 engine Prometheus' Go regexp shares its syntax with

    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(f"^(?:{pattern})$", options)  # Prometheus anchors matcher regexes this way
    except re2.error as exc:
        return str(exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc)
    return None


# --- model -----------------------------------------------------------------


class PvcSource(ApiModel):
    """A checkpoint on a PersistentVolumeClaim."""

    claim_name: str = Field(description="Name of the PersistentVolumeClaim holding the Hugging Face checkpoint.",
                            min_length=1, max_length=253)
    path: str = Field("/", description="Directory inside the claim that holds config.json and the weights.",
                      max_length=1024)


class SecretKeyRef(ApiModel):
    """A key of a Secret in the InferenceService's namespace."""

    name: str = Field(description="Name of the Secret.", min_length=1, max_length=253)
    key: str = Field("token", description="Key inside the Secret whose value is used.", max_length=253)


class HuggingFaceSource(ApiModel):
    """A checkpoint downloaded from the Hugging Face Hub at build time."""

    repo: str = Field(description="Repository id, for example meta-llama/Meta-Llama-3-8B-Instruct.",
                      pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", max_length=200)
    revision: str = Field("main", description="Branch, tag or commit. Pin a commit so that the engine hash "
                          "names exactly one set of weights.", max_length=100)
    token_secret_ref: SecretKeyRef | None = Field(None, description="Secret with a Hub token, for gated models.")


class ModelSource(ApiModel):
    """Where the checkpoint comes from: exactly one of pvc or huggingFace."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("has(self.pvc) != has(self.huggingFace)", "set exactly one of source.pvc or source.huggingFace"),
    ))

    pvc: PvcSource | None = Field(None, description="A checkpoint on a PersistentVolumeClaim.")
    hugging_face: HuggingFaceSource | None = Field(None, description="A checkpoint from the Hugging Face Hub.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelSource:
        if (self.pvc is None) == (self.hugging_face is None):
            raise ValueError("set exactly one of source.pvc or source.huggingFace")
        return self


class ModelArchitecture(ApiModel):
    """Architecture facts. Optional: when absent they are read from the checkpoint's config.json
    or from the preset named by model.name."""

    num_layers: int = Field(description="Transformer layers (num_hidden_layers).", ge=1, le=1024)
    hidden_size: int = Field(description="Hidden size.", ge=1, le=131072)
    num_attention_heads: int = Field(description="Query heads.", ge=1, le=1024)
    num_key_value_heads: int = Field(description="Key/value heads (GQA); equals numAttentionHeads for MHA.", ge=1,
                                     le=1024)
    head_dim: int | None = Field(None, description="Head dimension; default hiddenSize / numAttentionHeads.", ge=1,
                                 le=4096)
    max_position_embeddings: int = Field(description="Longest context the model was trained for, in tokens.", ge=1,
                                         le=10_485_760)
    vocab_size: int = Field(32000, description="Vocabulary size.", ge=1, le=4_194_304)
    parameter_count: int | None = Field(None, description="Total parameters; estimated from the shape when absent.",
                                        ge=1, le=10 ** 14)
    rope_scaling_factor: float | None = Field(None, description="RoPE scaling factor, when the checkpoint uses one.",
                                              gt=0, le=1024)


class Dtype(str, Enum):
    bfloat16 = "bfloat16"
    float16 = "float16"


class WeightQuantization(str, Enum):
    none = "none"
    fp8 = "fp8"
    int8_sq = "int8_sq"
    int8_wo = "int8_wo"
    int4_wo = "int4_wo"
    int4_awq = "int4_awq"
    w4a8_awq = "w4a8_awq"
    nvfp4 = "nvfp4"


class KvCacheQuantization(str, Enum):
    auto = "auto"
    fp8 = "fp8"
    int8 = "int8"


class Quantization(ApiModel):
    """Quantization of weights and of the KV cache."""

    weights: WeightQuantization = Field(WeightQuantization.none, description="Weight quantization format "
                                        "(ModelOpt qformat); none keeps the checkpoint's dtype.")
    kv_cache: KvCacheQuantization = Field(KvCacheQuantization.auto, description="KV cache dtype; auto uses the "
                                          "model dtype. fp8 halves KV memory per token.")


class ModelSpec(ApiModel):
    """The model to serve."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("self.tensorParallelSize * self.pipelineParallelSize <= 64",
         "tensorParallelSize x pipelineParallelSize must be at most 64 GPUs"),
    ))

    name: str = Field(description="Model name: a preset (llama-3-8b, llama-3-70b, llama-3.1-8b, llama-3.1-70b, "
                      "mistral-7b, mixtral-8x7b) or your own label when architecture or config.json gives the "
                      "facts. Used in engine store paths.", pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                      max_length=63)
    source: ModelSource = Field(description="Where the checkpoint comes from.")
    architecture: ModelArchitecture | None = Field(None, description="Architecture facts; read from the "
                                                   "checkpoint's config.json or the preset when absent.")
    dtype: Dtype = Field(Dtype.bfloat16, description="Compute dtype of the engine.")
    quantization: Quantization = Field(default_factory=Quantization, description="Weight and KV cache "
                                       "quantization.")
    tensor_parallel_size: int = Field(1, description="Tensor parallel ranks (GPUs per pipeline stage).",
                                      ge=1, le=64)
    pipeline_parallel_size: int = Field(1, description="Pipeline parallel stages.", ge=1, le=64)


# --- hardware --------------------------------------------------------------


class HardwareSpec(ApiModel):
    """The GPU the engine is built for and served on. TensorRT engines only run on the SM they were built on."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("self.gpuProduct in [" + ", ".join(f"'{p}'" for p in KNOWN_GPU_PRODUCTS) + "] || "
         "(has(self.memoryGiB) && has(self.computeCapability))",
         "hardware.gpuProduct has no preset: set hardware.memoryGiB and hardware.computeCapability, or use one of "
         + ", ".join(KNOWN_GPU_PRODUCTS)),
    ))

    gpu_product: str = Field(description="Value of the nvidia.com/gpu.product node label, for example "
                             "NVIDIA-H100-80GB-HBM3. Build Jobs and Triton pods are pinned to it.",
                             min_length=1, max_length=63, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
    memory_gi_b: float | None = Field(None, alias="memoryGiB", description="GPU memory in GiB; taken from the "
                                      "GPU preset when absent.", gt=0, le=4096)
    compute_capability: str | None = Field(None, description="Compute capability such as 9.0; taken from the GPU "
                                           "preset when absent.", pattern=r"^[0-9]{1,2}\.[0-9]$", max_length=4)

    @model_validator(mode="after")
    def _known_or_described(self) -> HardwareSpec:
        if self.gpu_product not in KNOWN_GPU_PRODUCTS and (self.memory_gi_b is None or self.compute_capability is None):
            raise ValueError(f"hardware.gpuProduct {self.gpu_product!r} has no preset: set hardware.memoryGiB and "
                             f"hardware.computeCapability, or use one of {', '.join(KNOWN_GPU_PRODUCTS)}")
        return self


# --- engine ----------------------------------------------------------------


class Backend(str, Enum):
    tensorrt = "tensorrt"
    pytorch = "pytorch"


class EngineStoreSpec(ApiModel):
    """The PersistentVolumeClaim holding immutable, content-addressed engines."""

    claim_name: str = Field(description="PersistentVolumeClaim mounted by build Jobs (read-write) and Triton "
                            "pods (read-only).", min_length=1, max_length=253)
    keep: int = Field(5, description="Engines kept per model by garbage collection, besides the serving engine "
                      "and those referenced by seasons and history.", ge=1, le=100)


class EngineSpec(ApiModel):
    """How engines are built."""

    backend: Backend = Field(Backend.tensorrt, description="tensorrt builds engines with trtllm-build "
                             "(TensorRT-LLM 1.2 or older); pytorch applies the same sizing as runtime settings "
                             "with no build.")
    image: str = Field(DEFAULT_IMAGE, description="Container image for build Jobs and Triton; builds and "
                       "serving must use the same TensorRT-LLM and TensorRT.", min_length=1, max_length=512)
    trtllm_version: str = Field("1.2.1", description="TensorRT-LLM version inside the image. The tensorrt backend "
                                "needs 1.2.x or older: 1.3 removed trtllm-build.",
                                pattern=r"^[0-9]+\.[0-9]+(\.[0-9]+)?([.a-z0-9]*)$", max_length=32)
    store: EngineStoreSpec = Field(description="Where engines are published.")
    build_deadline: Annotated[str, Bounded("10m", "48h")] = Field(
        "2h", description="activeDeadline of a build Job (for example 90m, 2h), from 10m to 48h.")
    build_lead_time: Annotated[str, Bounded("0s", "168h")] = Field(
        "1h", description="How long before a season starts its engine build begins, up to 168h; the operator "
        "uses the larger of this and the p95 of recorded build durations.")


# --- traffic ---------------------------------------------------------------


class Preset(str, Enum):
    seasonal = "seasonal"
    vllm = "vllm"
    nim = "nim"
    dynamo = "dynamo"
    triton_trtllm = "triton-trtllm"
    custom = "custom"


class MatchOp(str, Enum):
    eq = "="
    ne = "!="
    re = "=~"
    nre = "!~"


class LabelMatcher(ApiModel):
    """A PromQL label matcher added to every query."""

    # CEL's matches() compiles with Go's regexp, exactly as Prometheus does: an invalid regex fails the rule.
    model_config = ConfigDict(json_schema_extra=cel(
        # Either side errors when the regex does not compile, and an error fails the rule.
        ("(self.op != '=~' && self.op != '!~') || ''.matches('^(?:' + self.value + ')$') || "
         "!''.matches('^(?:' + self.value + ')$')",
         "selector regex is not valid RE2 (Prometheus' regex syntax): no lookaround or backreferences"),
        ("!self.label.startsWith('__') && !(self.label in [" + ", ".join(f"'{x}'" for x in RESERVED_LABELS) + "])",
         "selector label is reserved (the metric name, the bucket bound or a label the operator's queries add): "
         "select on the service's own labels such as model or namespace"),
    ))

    label: str = Field(description="Label name; not the metric name (__name__ and other __ labels) nor le, "
                       "seasonal_part or seasonal_occurrence, which the operator's queries use.",
                       pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", max_length=128)
    op: MatchOp = Field(MatchOp.eq, description="Matcher operator.")
    value: str = Field(description="Value or regular expression (RE2 syntax, as Prometheus matches); escaped "
                       "before it reaches PromQL.", max_length=1024)

    @model_validator(mode="after")
    def _regex_is_re2(self) -> LabelMatcher:
        if self.label.startswith("__") or self.label in RESERVED_LABELS:
            raise ValueError(f"selector label {self.label!r} is reserved (the metric name, the bucket bound or a "
                             "label the operator's queries add); select on the service's own labels such as model "
                             "or namespace")
        if self.op in (MatchOp.re, MatchOp.nre):
            why = _re2_error(self.value)
            if why is not None:
                raise ValueError(f"selector {self.label}{self.op} regex {self.value!r} is not valid RE2, the syntax "
                                 f"Prometheus uses ({why}); RE2 has no lookaround or backreferences")
        return self


class CustomMetrics(ApiModel):
    """Metric names for preset custom: histogram base names without _bucket."""

    input_tokens: str = Field(description="Histogram of prompt tokens per request.",
                              pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=256)
    output_tokens: str = Field(description="Histogram of generated tokens per request.",
                               pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=256)
    rejected_requests: str | None = Field(None, description="Counter of requests rejected for length, if any.",
                                          pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=256)
    limit_stopped_requests: str | None = Field(None, description="Counter of outputs stopped by the engine's "
                                               "limit, if any.", pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$",
                                               max_length=256)


class TrafficSpec(ApiModel):
    """Where observed sequence lengths come from."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("self.preset != 'custom' || has(self.metrics)", "preset custom needs traffic.metrics"),
        ("self.preset == 'custom' || !has(self.metrics)", "traffic.metrics is only read with preset custom"),
    ))

    prometheus_url: str = Field(description="Base URL of the Prometheus API, for example "
                                "http://prometheus-operated.monitoring:9090: http or https, host, optional port and "
                                "base path, no query, fragment or user. The operator only sends POST "
                                "<base>/api/v1/query.", max_length=512,
                                json_schema_extra={"pattern": PROMETHEUS_URL})
    preset: Preset = Field(Preset.seasonal, description="Metric names to read: seasonal (our Triton token exporter, "
                           "finest buckets and censoring counters), vllm, nim, dynamo, triton-trtllm (buckets stop "
                           "at 1000 tokens) or custom.")
    metrics: CustomMetrics | None = Field(None, description="Metric names, with preset custom.")
    selector: list[LabelMatcher] = Field(default_factory=list, description="Label matchers selecting this "
                                         "service's series.", max_length=16)
    window: Annotated[str, Bounded("1m", "168h")] = Field(
        "1h", description="Trailing window for drift evaluation, from 1m to 168h.")
    evaluation_interval: Annotated[str, Bounded("10s", "24h")] = Field(
        "5m", description="How often traffic is evaluated, from 10s to 24h.")
    min_samples: int = Field(1000, description="Fewer requests than this in a window: traffic is insufficient "
                             "and nothing is planned from it.", ge=1, le=10_000_000)
    peak_percentile: float = Field(0.99, description="Percentile of the Poisson arrival model used for the peak "
                                   "request rate.", gt=0, lt=1)

    @field_validator("prometheus_url")
    @classmethod
    def _prometheus_url(cls, v: str) -> str:
        if not re.fullmatch(PROMETHEUS_URL, v):
            hint = ""
            if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", v):
                hint = f"; did you mean http://{v}?"
            elif re.search(r"[?#@]", v):
                hint = "; remove the query, fragment or user: the operator adds /api/v1/query itself"
            raise ValueError(f"{v!r} is not an http(s) URL of host, optional port and base path{hint}")
        return v

    @model_validator(mode="after")
    def _metrics_iff_custom(self) -> TrafficSpec:
        if self.preset == Preset.custom and self.metrics is None:
            raise ValueError("preset custom needs traffic.metrics (inputTokens, outputTokens)")
        if self.preset != Preset.custom and self.metrics is not None:
            raise ValueError("traffic.metrics is only read with preset custom; remove it or set preset: custom")
        return self


# --- sizing ----------------------------------------------------------------


class SizingPolicy(ApiModel):
    """How observed quantiles become engine limits."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("!has(self.ladder) || self.ladder.all(x, x >= 16)", "every ladder step must be at least 16 tokens"),
    ))

    input_quantile: float = Field(0.999, description="Quantile of prompt length that max_input_len covers, "
                                  "inside (0, 1).", gt=0, lt=1)
    sequence_quantile: float = Field(0.999, description="Quantile of prompt+output length that max_seq_len "
                                     "covers, inside (0, 1).", gt=0, lt=1)
    headroom: float = Field(0.1, description="Extra fraction added to each quantile before rounding up.",
                            ge=0, le=4)
    ladder: tuple[Annotated[int, Field(ge=16, le=1_048_576)], ...] = Field(
        tuple(DEFAULT_LADDER), description="Sizes limits round up to, ascending, so that neighbouring seasons "
        "share engines; each from 16 to 1048576 tokens.", min_length=1, max_length=64)
    max_beyond_fraction: float = Field(0.001, description="Largest share of requests allowed beyond the limits; "
                                       "limits grow until the planning window's share is no larger.", ge=0, lt=1)
    max_batch_size: int | None = Field(None, description="Fixed max_batch_size; derived from KV memory and peak "
                                       "concurrency when absent.", ge=1, le=4096)
    kv_cache_free_gpu_mem_fraction: float = Field(0.9, description="Share of free GPU memory given to the KV "
                                                  "cache, inside (0, 1).", gt=0, lt=1)

    @field_validator("ladder")
    @classmethod
    def _ladder_ascending(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError(f"ladder must be strictly ascending, got {v}")
        if v[0] < 16:
            raise ValueError("every ladder step must be at least 16 tokens")
        return v


# --- seasons ---------------------------------------------------------------


class Season(ApiModel):
    """A recurring window with its own engine: cron start, IANA timezone, duration."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("duration(self.duration) > duration('0s')", "season duration must be positive"),
        ("duration(self.duration) <= duration('168h')", "season duration must be at most 168h (a week)"),
    ))

    name: str = Field(description="Season name (a DNS label), shown in status and on engines.",
                      pattern=DNS_LABEL, max_length=63)
    schedule: str = Field(description="Cron expression for the season's start, for example '0 8 * * 1-5'.",
                          min_length=9, max_length=128, pattern=CRON_PATTERN)
    timezone: str = Field("UTC", description="IANA timezone the schedule is read in, for example Europe/Berlin.",
                          max_length=64)
    duration: str = Field(description="How long the season lasts, in Go duration form (for example 10h, 90m); "
                          "at most the time between two starts.", pattern=DURATION_PATTERN, max_length=32)
    history: int = Field(4, description="Past occurrences of this season that its engine is planned from.",
                         ge=1, le=52)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        return known_timezone(v)

    @model_validator(mode="after")
    def _schedule_and_duration(self) -> Season:
        from croniter import croniter  # local: keeps module import cheap for the CRD generator

        if not croniter.is_valid(self.schedule):
            raise ValueError(f"schedule {self.schedule!r} is not a valid cron expression (five fields, "
                             "for example '0 8 * * 1-5')")
        period = shortest_period(self.schedule, self.timezone)
        if durations.seconds(self.duration) <= 0:
            raise ValueError(f"duration {self.duration} must be longer than 0 (and at most 168h)")
        # Equal is allowed: the window ends at the next start, so a '0 0 * * *' season of 24h is always on.
        if durations.seconds(self.duration) > period.total_seconds():
            raise ValueError(f"duration {self.duration} must not be longer than the time between two starts "
                             f"of {self.schedule!r} ({durations.format_seconds(period.total_seconds())})")
        return self


def known_timezone(v: str) -> str:
    """``v`` when it names an IANA timezone; ValueError naming the fix otherwise."""
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {v!r}; use a name such as UTC or Europe/Berlin") from None
    return v


@functools.lru_cache(maxsize=256)  # pure and costly (64 cron steps); validation asks for it per Season built
def shortest_period(schedule: str, tz: str, samples: int = 64) -> timedelta:
    """Shortest gap between consecutive starts of a cron schedule (sampled over the next occurrences)."""
    from croniter import croniter

    start = datetime(2026, 1, 1, tzinfo=UTC).astimezone(zoneinfo.ZoneInfo(tz))
    it = croniter(schedule, start)
    times: list[datetime] = [it.get_next(datetime) for _ in range(samples)]
    return min(b - a for a, b in zip(times, times[1:]))


class SeasonDiscovery(ApiModel):
    """Seasons found from the service's own history instead of written by hand.

    Every ``refresh`` the operator reads the last ``history`` of hourly length histograms (one Prometheus
    range query), profiles the sizing quantile hour by hour of the week with its sampling error, and cuts
    the day into at most ``maxSeasons`` seasons where that lowers the mean envelope by more than the churn
    it costs; otherwise one season, the whole day. Each season is planned from its newest occurrences,
    as many as hold ``tailRequests`` requests beyond the sizing quantile, and resized between its
    boundaries: up at once when its traffic needs more, down only when enough requests say so. The
    schedule in force is shown in ``status.seasonSchedule``; it changes at most once per ``refresh``."""

    model_config = ConfigDict(json_schema_extra=cel(
        (_hours_cel("self.history") + " >= 168 && " + _hours_cel("self.history") + " <= 672",
         "seasonDiscovery.history must be from 7d to 28d"),
        (_hours_cel("self.refresh") + " >= 1 && " + _hours_cel("self.refresh") + " <= " + _hours_cel("self.history"),
         "seasonDiscovery.refresh must be from 1h to the history"),
    ))

    history: str = Field("14d", description="How much history to read: from 7d to 28d (days or hours, for "
                         "example 14d or 336h). A younger service uses what it has (one season until two days "
                         "are seen).", pattern=DAYS_OR_HOURS, max_length=8)
    refresh: str = Field("1d", description="How often seasons are discovered again, from 1h to the history "
                         "(days or hours); the schedule never changes more often.", pattern=DAYS_OR_HOURS,
                         max_length=8)
    max_seasons: int = Field(4, description="Most seasons a day is cut into (1: one engine, resized as "
                             "traffic moves).", ge=1, le=8)
    timezone: str = Field("UTC", description="IANA timezone whose hours of the day the seasons follow.",
                          max_length=64)
    churn_penalty: float = Field(0.05, description="Share of the mean envelope each season change per day "
                                 "must save to be worth its rollover.", ge=0, le=1)
    confidence: float = Field(0.75, description="Confidence of the upper bound on a season's quantile (from "
                              "order statistics of its newest history) that its engine may shrink to: higher "
                              "waits for more requests before shrinking.", ge=0.5, lt=1)
    tail_requests: float = Field(10, description="Requests beyond the sizing quantile a season's plan pools: "
                                 "its newest occurrences are added until they hold tailRequests / (1 - "
                                 "sequenceQuantile) requests (10 000 at p99.9).", ge=1, le=1000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return known_timezone(v)

    @model_validator(mode="after")
    def _bounded(self) -> SeasonDiscovery:
        history = durations.seconds(self.history)
        if not 7 * 86400 <= history <= 28 * 86400:
            raise ValueError(f"seasonDiscovery.history must be from 7d to 28d, got {self.history}")
        refresh = durations.seconds(self.refresh)
        if not 3600 <= refresh <= history:
            raise ValueError(f"seasonDiscovery.refresh must be from 1h to the history ({self.history}), got "
                             f"{self.refresh}")
        return self

    def history_hours(self) -> int:
        return int(durations.seconds(self.history) // 3600)


# --- drift and rollout -----------------------------------------------------


class DownsizeWindow(ApiModel):
    """A low-traffic window in which downward rebuilds may roll out."""

    schedule: str = Field(description="Cron expression for the window's start.", min_length=9, max_length=128,
                          pattern=CRON_PATTERN)
    timezone: str = Field("UTC", description="IANA timezone of the schedule.", max_length=64)
    duration: Annotated[str, Bounded("1m", "168h")] = Field(description="Window length in Go duration form, from 1m to "
                                                     "168h.")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        return Season._known_timezone(v)

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(v):
            raise ValueError(f"schedule {v!r} is not a valid cron expression (five fields, for example '0 2 * * *')")
        return v


class ShiftPolicy(ApiModel):
    """Early warning that request lengths moved away from the traffic the serving engine was planned from.

    Compares the last ``window`` of requests with that traffic, bucket for bucket, in the same PromQL query
    as the trailing window. A shift is reported (condition TrafficShifted, an Event, a metric); it does not
    rebuild by itself, because a few minutes of requests are too few to plan from: a coverage breach does."""

    enabled: bool = Field(True, description="Test every evaluation for a shift in input and sequence lengths.")
    window: Annotated[str, Bounded("1m", "24h")] = Field(
        "15m", description="The recent window compared with the planning traffic, from 1m to 24h. Shorter reacts "
        "sooner but holds fewer requests. At most half of traffic.window is used.")
    significance: float = Field(0.001, description="Chance of a false alarm per evaluation when nothing moved "
                                "(statistical significance, split across the tests).", gt=0, lt=0.5)
    min_effect: float = Field(0.1, description="Least move that counts, as the mean rank of recent requests within "
                              "the planning traffic minus one half (0: no move; a 2x step in lengths moves it "
                              "about 0.2). Keeps production-size samples from alarming on trivial moves.",
                              ge=0, lt=0.5)
    consecutive_evaluations: int = Field(1, description="Evaluations in a row a shift must be seen before it is "
                                         "reported.", ge=1, le=100)


class DriftPolicy(ApiModel):
    """When traffic that moved away from the serving engine triggers a rebuild."""

    breach_fraction: float = Field(0.005, description="Share of requests beyond the serving envelope (rejected "
                                   "and limit-stopped ones included) that counts as a coverage breach.", gt=0, lt=1)
    waste_factor: float = Field(1.5, description="The envelope is wasteful when it is this many times larger "
                                "than a fresh plan needs.", gt=1, le=100)
    consecutive_evaluations: int = Field(3, description="Evaluations in a row a breach or waste must persist "
                                         "before acting (hysteresis).", ge=1, le=100)
    min_rebuild_interval: Annotated[str, Bounded("0s", "720h")] = Field(
        "6h", description="Least time between two drift rebuilds, up to 720h. Breaches ignore it: rejecting "
        "requests is worse than one more build.")
    downsize_window: DownsizeWindow | None = Field(None, description="When set, downward rebuilds roll out only "
                                                    "inside this window.")
    shift: ShiftPolicy = Field(default_factory=ShiftPolicy, description="Early warning of a shift in request "
                               "lengths (reported, never rebuilds by itself).")


class Strategy(str, Enum):
    rolling_update = "RollingUpdate"
    blue_green = "BlueGreen"
    recreate = "Recreate"


class Slo(ApiModel):
    """Latency objectives checked after a rollout."""

    ttft_p99_seconds: float | None = Field(None, description="p99 time to first token, seconds.", gt=0, le=3600)
    itl_p99_seconds: float | None = Field(None, description="p99 inter-token latency, seconds.", gt=0, le=60)


class RolloutPolicy(ApiModel):
    """How Triton moves to a new engine."""

    strategy: Strategy = Field(Strategy.rolling_update, description="RollingUpdate (maxSurge 1, maxUnavailable 0: "
                               "no serving pod goes before its replacement is ready; needs one spare set of GPUs "
                               "and waits, condition RolloutBlocked, while there is none), BlueGreen (a second "
                               "Deployment; the Service switches when it is ready; needs the GPUs twice) or "
                               "Recreate (stops the serving pods first: downtime, needs no spare GPU).")
    readiness_timeout: Annotated[str, Bounded("1m", "24h")] = Field(
        "30m", description="How long a rollout may take (waiting for a GPU included) before it is rolled back, "
        "from 1m to 24h.")
    auto_rollback: bool = Field(True, description="Roll back to the previous engine when a rollout fails or "
                                "times out.")
    slo: Slo | None = Field(None, description="Optional latency objectives.")


# --- serving ---------------------------------------------------------------


class DeploymentRef(ApiModel):
    """An existing Deployment the operator patches instead of creating its own."""

    name: str = Field(description="Deployment name in the same namespace.", pattern=DNS_LABEL, max_length=253)
    container: str = Field("triton", description="Container that runs tritonserver.", max_length=63)


def _open(description: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object schema that keeps unknown fields and names only the ones the API server must see."""
    node: dict[str, Any] = {"type": "object", "description": description, "x-kubernetes-preserve-unknown-fields": True}
    if properties:
        node["properties"] = properties
    return node


def _flag(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


def _containers(kind: str) -> dict[str, Any]:
    return {"type": "array", "maxItems": 32, "description": f"The pod's {kind}.", "items": _open(
        "A container.", {"securityContext": _open("Container security settings.", {
            "privileged": _flag("Privileged mode: refused unless serving.allowPrivileged."),
            "allowPrivilegeEscalation": _flag("Privilege escalation: refused unless serving.allowPrivileged."),
            "capabilities": _open("Linux capabilities.", {"add": {
                "type": "array", "maxItems": 64, "description": "Added capabilities: refused unless "
                "serving.allowPrivileged.", "items": {"type": "string", "maxLength": 64}}}),
        })})}


# Just enough of a pod template for CEL to refuse what would let an InferenceService author take the node:
# the rest of the template is kept as written (and validated by the API server in the Deployment).
TEMPLATE_SCHEMA = _open("Pod template.", {"spec": _open("Pod spec.", {
    "hostNetwork": _flag("Host network: refused unless serving.allowPrivileged."),
    "hostPID": _flag("Host PID namespace: refused unless serving.allowPrivileged."),
    "hostIPC": _flag("Host IPC namespace: refused unless serving.allowPrivileged."),
    "serviceAccountName": {"type": "string", "maxLength": 253, "description": "Service account: refused unless "
                           "serving.allowPrivileged (Triton pods run without API credentials)."},
    "volumes": {"type": "array", "maxItems": 64, "description": "Volumes.", "items": _open("A volume.", {
        "hostPath": _open("A node directory: refused unless serving.allowPrivileged.")})},
    "containers": _containers("containers"), "initContainers": _containers("init containers"),
})})


def _privileged_asks(template: dict[str, Any]) -> list[str]:
    """What in a pod template reaches beyond the pod: host namespaces, hostPath, privileged containers, added
    capabilities, another service account. Each as the field path that asks for it."""
    found = template.get("spec")
    spec: dict[str, Any] = found if isinstance(found, dict) else {}
    asks = [f"template.spec.{k}" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    if spec.get("serviceAccountName") or spec.get("serviceAccount"):
        asks.append("template.spec.serviceAccountName")
    for i, v in enumerate(spec.get("volumes") or []):
        if isinstance(v, dict) and "hostPath" in v:
            asks.append(f"template.spec.volumes[{i}].hostPath")
    for kind in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(kind) or []):
            sc = c.get("securityContext") if isinstance(c, dict) else None
            if not isinstance(sc, dict):
                continue
            if sc.get("privileged"):
                asks.append(f"template.spec.{kind}[{i}].securityContext.privileged")
            if sc.get("allowPrivilegeEscalation"):
                asks.append(f"template.spec.{kind}[{i}].securityContext.allowPrivilegeEscalation")
            if isinstance(sc.get("capabilities"), dict) and sc["capabilities"].get("add"):
                asks.append(f"template.spec.{kind}[{i}].securityContext.capabilities.add")
    return asks


_PRIVILEGED_CEL = " || ".join([
    "!has(self.template) || !has(self.template.spec)",
    "((!has(self.template.spec.hostNetwork) || !self.template.spec.hostNetwork)"
    " && (!has(self.template.spec.hostPID) || !self.template.spec.hostPID)"
    " && (!has(self.template.spec.hostIPC) || !self.template.spec.hostIPC)"
    " && !has(self.template.spec.serviceAccountName)"
    " && (!has(self.template.spec.volumes) || self.template.spec.volumes.all(v, !has(v.hostPath)))"
    + "".join(f" && (!has(self.template.spec.{k}) || self.template.spec.{k}.all(c, !has(c.securityContext) ||"
              " ((!has(c.securityContext.privileged) || !c.securityContext.privileged)"
              " && (!has(c.securityContext.allowPrivilegeEscalation) || !c.securityContext.allowPrivilegeEscalation)"
              " && (!has(c.securityContext.capabilities) || !has(c.securityContext.capabilities.add)"
              " || size(c.securityContext.capabilities.add) == 0))))"
              for k in ("containers", "initContainers")) + ")",
])


class ServingSpec(ApiModel):
    """The Triton Deployment serving the engine."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("!(has(self.template) && has(self.deploymentRef))", "set serving.template or serving.deploymentRef, not both"),
        ("self.allowPrivileged || " + _PRIVILEGED_CEL,
         "serving.template asks for host namespaces, hostPath volumes, privileged or escalating containers, added "
         "capabilities or its own serviceAccountName: remove them, or set serving.allowPrivileged: true (and let "
         "your admission policy decide who may)"),
    ))

    replicas: int = Field(1, description="Triton replicas.", ge=0, le=1000)
    model_name: str = Field("ensemble", description="Triton model checked for readiness after a rollout.",
                            min_length=1, max_length=128)
    template: dict[str, Any] | None = Field(None, description="Pod template for an operator-owned Triton "
                                            "Deployment; the operator adds the engine volume, GPU resources, node "
                                            "selector and a restricted securityContext (non-root uid 1000, the "
                                            "NGC Triton images' triton-server user).",
                                            json_schema_extra={k: v for k, v in TEMPLATE_SCHEMA.items()
                                                               if k != "description"})
    deployment_ref: DeploymentRef | None = Field(None, description="An existing Triton Deployment to manage "
                                                 "instead. It must carry the label "
                                                 "seasonalengines.io/managed-by-inferenceservice=<this name>: a "
                                                 "Deployment is never changed without its owner's consent.")
    allow_privileged: bool = Field(False, description="Let serving.template ask for host namespaces, hostPath "
                                   "volumes, privileged or escalating containers, added capabilities or its own "
                                   "service account. Off: such templates are refused. Cluster admins can forbid "
                                   "this field with their own admission policy.")

    @model_validator(mode="after")
    def _one_source(self) -> ServingSpec:
        if self.template is not None and self.deployment_ref is not None:
            raise ValueError("set serving.template or serving.deploymentRef, not both")
        if self.template is not None and not self.allow_privileged:
            asks = _privileged_asks(self.template)
            if asks:
                raise ValueError(f"{', '.join('serving.' + a for a in asks)}: reaches beyond the pod (host "
                                 "namespaces, hostPath, privileged or escalating containers, added capabilities, "
                                 "another service account); remove it, or set serving.allowPrivileged: true")
        return self


class Mode(str, Enum):
    auto = "Auto"
    advisory = "Advisory"


class InferenceServiceSpec(ApiModel):
    """Desired state of an InferenceService: a model served by Triton with engines sized to its traffic."""

    model_config = ConfigDict(json_schema_extra=cel(
        ("self.engine.backend != 'tensorrt' || self.engine.trtllmVersion.matches('^(0[.]|1[.][0-2]([.]|$))')",
         "engine.backend tensorrt needs engine.trtllmVersion 1.2.x or older (1.3 removed trtllm-build); "
         "or set engine.backend: pytorch"),
        ("!has(self.seasonDiscovery) || !has(self.seasons) || size(self.seasons) == 0",
         "set spec.seasons or spec.seasonDiscovery, not both"),
    ))

    mode: Mode = Field(Mode.auto, description="Auto builds and rolls out engines; Advisory plans and reports "
                       "only.")
    model: ModelSpec = Field(description="The model.")
    hardware: HardwareSpec = Field(description="The GPU.")
    engine: EngineSpec = Field(description="Engine build settings.")
    traffic: TrafficSpec = Field(description="Traffic source.")
    sizing: SizingPolicy = Field(default_factory=SizingPolicy, description="Sizing policy.")
    seasons: list[Season] = Field(default_factory=list, description="Seasons, each with its own engine. Without "
                                  "seasons one engine follows the trailing window.", max_length=16,
                                  json_schema_extra={"x-kubernetes-list-type": "map",
                                                     "x-kubernetes-list-map-keys": ["name"]})
    season_discovery: SeasonDiscovery | None = Field(None, description="Find the seasons from the service's "
                                                     "history instead (exclusive with seasons).")
    drift: DriftPolicy = Field(default_factory=DriftPolicy, description="Drift policy.")
    rollout: RolloutPolicy = Field(default_factory=RolloutPolicy, description="Rollout policy.")
    serving: ServingSpec = Field(default_factory=ServingSpec, description="Serving settings.")

    @field_validator("seasons")
    @classmethod
    def _unique_season_names(cls, seasons: list[Season]) -> list[Season]:
        names = [s.name for s in seasons]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"season names must be unique; repeated: {', '.join(dup)}")
        return seasons

    @model_validator(mode="after")
    def _cross_checks(self) -> InferenceServiceSpec:
        if self.engine.backend == Backend.tensorrt and not trtllm_has_build(self.engine.trtllm_version):
            raise ValueError(f"engine.trtllmVersion {self.engine.trtllm_version} has no trtllm-build (removed in "
                             "1.3): pin 1.2.x or older, or set engine.backend: pytorch")
        if self.season_discovery is not None and self.seasons:
            raise ValueError("set spec.seasons or spec.seasonDiscovery, not both: discovery finds the seasons "
                             "itself (remove spec.seasons, or remove spec.seasonDiscovery to keep your own)")
        return self

    def shift_window_seconds(self) -> float | None:
        """The recent window shift detection reads: drift.shift.window, at most half of traffic.window;
        None when shift detection is off."""
        if not self.drift.shift.enabled:
            return None
        return min(durations.seconds(self.drift.shift.window), durations.seconds(self.traffic.window) / 2)


def trtllm_has_build(version: str) -> bool:
    """TensorRT-LLM 1.3 removed the TensorRT engine path; 1.2.x is the last line with trtllm-build."""
    m = re.match(r"^(\d+)\.(\d+)", version)
    return m is not None and (int(m.group(1)), int(m.group(2))) <= (1, 2)


__all__ = [
    "GROUP", "VERSION", "KIND", "PLURAL", "SINGULAR", "SHORT_NAMES", "CATEGORIES",
    "InferenceServiceSpec", "ModelSpec", "HardwareSpec", "EngineSpec", "TrafficSpec", "SizingPolicy",
    "Season", "SeasonDiscovery", "DriftPolicy", "ShiftPolicy", "RolloutPolicy", "ServingSpec",
]
