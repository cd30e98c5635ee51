"""Metric presets: which Prometheus series each serving stack exports for prompt and output lengths, with
what bucket layout, and what it can tell about censoring (requests an engine rejected or cut short).

Facts per preset (see ../shared/reference/trtllm-triton-facts.md §5):

| preset | input / output histograms | model label | buckets | censoring |
|---|---|---|---|---|
| seasonal | ``seasonal_request_input_tokens`` / ``seasonal_request_output_tokens``, joint ``seasonal_request_sequence_tokens`` | model | log-spaced, <=10% wide, 16..131072 | both counters, exact |
| vllm | ``vllm:request_prompt_tokens`` / ``vllm:request_generation_tokens`` | model_name | 1-2-5 up to max_model_len | finish reason ``length`` mixes the client's max_tokens with the engine's limit: an upper bound only; length rejections (HTTP 400) are not counted |
| nim | ``request_prompt_tokens`` / ``request_generation_tokens`` | model_name | 1-2-5 (vLLM's) | not exported |
| dynamo | ``dynamo_frontend_input_sequence_tokens`` / ``dynamo_frontend_output_sequence_tokens`` | model | exporter-defined | not exported |
| triton-trtllm | ``nv_llm_input_token_len`` / ``nv_llm_output_token_len`` | model | 10, 50, 100, 500, 1000 | not exported; observed only for completed requests |

Our own exporter (``seasonal_build/triton_models/token_metrics.py``) writes the ``seasonal`` series:
``seasonal_request_input_tokens`` (every request at admission, rejected ones included),
``seasonal_request_output_tokens`` and ``seasonal_request_sequence_tokens`` (input + output; requests that
ran), ``seasonal_request_max_tokens`` (the client's requested output limit),
``seasonal_request_output_tokens_by_input`` (output length by ``input_le``, the input length's octave),
``seasonal_requests_rejected_length_total`` and ``seasonal_requests_limit_stopped_total``; all labelled
``model``. Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from seasonal_engines.api.spec import Preset, TrafficSpec
from seasonal_engines.core import histograms


class Censoring(str, Enum):
    exact = "exact"              # the counter counts exactly what it says
    upper_bound = "upper_bound"  # the counter includes the censored requests and others besides


@dataclass(frozen=True)
class CounterRef:
    """A counter series, with label matchers that pick the relevant part (``finished_reason="length"``)."""

    metric: str
    matchers: tuple[tuple[str, str], ...] = ()  # (label, exact value)
    censoring: Censoring = Censoring.exact


@dataclass(frozen=True)
class MetricPreset:
    """Names and facts of one exporter's token-length series."""

    name: str
    input_metric: str                       # histogram base names (no _bucket)
    output_metric: str
    sequence_metric: str | None = None      # histogram of input + output per request (joint)
    max_tokens_metric: str | None = None    # histogram of the requested output limit
    rejected: CounterRef | None = None      # requests rejected for length
    limit_stopped: CounterRef | None = None  # outputs stopped by the engine's limit
    model_label: str = "model"
    bounds: tuple[float, ...] = ()          # the exporter's bucket layout (+Inf last)
    notes: tuple[str, ...] = ()             # caveats reported with every profile

    @property
    def max_resolved(self) -> float:
        """Largest finite bucket bound: no quantile above it can be resolved from this preset's data."""
        finite = [b for b in self.bounds if b != float("inf")]
        return finite[-1] if finite else float("inf")


def one_two_five(max_value: float) -> tuple[float, ...]:
    """vLLM's ``build_1_2_5_buckets``: 1, 2, 5, 10, 20, 50, ... up to ``max_value``, then +Inf."""
    out: list[float] = []
    mantissa = [1, 2, 5]
    exponent = 0
    while True:
        for m in mantissa:
            v = m * 10**exponent
            if v > max_value:
                return (*out, float("inf"))
            out.append(float(v))
        exponent += 1


SEASONAL_LAYOUT = histograms.log_buckets()
# The joint series: coarser output buckets (two per octave) per input octave, to bound its cardinality.
JOINT_OUTPUT_LAYOUT = histograms.log_buckets(max_width=0.42)
JOINT_INPUT_OCTAVES = tuple(float(16 * 2**i) for i in range(14)) + (float("inf"),)

SEASONAL = MetricPreset(
    name="seasonal",
    input_metric="seasonal_request_input_tokens",
    output_metric="seasonal_request_output_tokens",
    sequence_metric="seasonal_request_sequence_tokens",
    max_tokens_metric="seasonal_request_max_tokens",
    rejected=CounterRef("seasonal_requests_rejected_length_total"),
    limit_stopped=CounterRef("seasonal_requests_limit_stopped_total"),
    model_label="model",
    bounds=SEASONAL_LAYOUT,
)

VLLM = MetricPreset(
    name="vllm",
    input_metric="vllm:request_prompt_tokens",
    output_metric="vllm:request_generation_tokens",
    limit_stopped=CounterRef("vllm:request_success_total", (("finished_reason", "length"),),
                             Censoring.upper_bound),
    model_label="model_name",
    bounds=one_two_five(131072),
    notes=("vllm: buckets are 1-2-5 steps (a factor of 2-2.5 wide), so quantiles are coarse",
           "vllm: finished_reason=\"length\" also counts outputs that reached the client's max_tokens, so it "
           "bounds the limit-stopped share from above; prompts rejected for length (HTTP 400) are not counted"),
)

NIM = MetricPreset(
    name="nim",
    input_metric="request_prompt_tokens",
    output_metric="request_generation_tokens",
    model_label="model_name",
    bounds=one_two_five(131072),
    notes=("nim: buckets are 1-2-5 steps, so quantiles are coarse",
           "nim: no length-rejection or limit-stop counter is documented; the censored share is unknown"),
)

DYNAMO = MetricPreset(
    name="dynamo",
    input_metric="dynamo_frontend_input_sequence_tokens",
    output_metric="dynamo_frontend_output_sequence_tokens",
    model_label="model",
    bounds=SEASONAL_LAYOUT,  # layout assumed for trace conversion; live data carries its own le values
    notes=("dynamo: no length-rejection or limit-stop counter; the censored share is unknown",),
)

TRITON_TRTLLM = MetricPreset(
    name="triton-trtllm",
    input_metric="nv_llm_input_token_len",
    output_metric="nv_llm_output_token_len",
    model_label="model",
    bounds=(10.0, 50.0, 100.0, 500.0, 1000.0, float("inf")),
    notes=("triton-trtllm: buckets stop at 1000 tokens; no quantile or limit above 1000 can be resolved "
           "(such quantiles read as 1000)",
           "triton-trtllm: observed only for completed requests and no length-rejection counter exists; "
           "the censored share is unknown"),
)

PRESETS: dict[str, MetricPreset] = {p.name: p for p in (SEASONAL, VLLM, NIM, DYNAMO, TRITON_TRTLLM)}


def get(name: str) -> MetricPreset:
    """A preset by name; ValueError listing the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown metrics preset {name!r}; choose one of {', '.join(PRESETS)} or custom "
                         "(with traffic.metrics)") from None


def custom(input_metric: str, output_metric: str, rejected: str | None = None,
           limit_stopped: str | None = None, bounds: tuple[float, ...] = SEASONAL_LAYOUT) -> MetricPreset:
    """A preset for ``preset: custom`` from the spec's ``traffic.metrics`` names."""
    return MetricPreset(
        name="custom", input_metric=input_metric, output_metric=output_metric,
        rejected=CounterRef(rejected) if rejected else None,
        limit_stopped=CounterRef(limit_stopped) if limit_stopped else None,
        bounds=bounds,
        notes=() if rejected and limit_stopped else
        ("custom: without both censoring counters the censored share is unknown or a lower bound",),
    )


def from_spec(traffic: TrafficSpec) -> MetricPreset:
    """The preset an ``api.spec.TrafficSpec`` names (``custom`` built from its ``metrics``)."""
    if traffic.preset == Preset.custom:
        m = traffic.metrics
        if m is None:
            raise ValueError("preset custom needs traffic.metrics (inputTokens, outputTokens)")
        return custom(m.input_tokens, m.output_tokens, m.rejected_requests, m.limit_stopped_requests)
    return get(traffic.preset)
