"""Fine-grained token-length metrics for any Triton Python-backend model (Triton's custom metrics API).

Triton exports no token histograms and the TensorRT-LLM backend's stop at 1000 tokens, too coarse to size
an engine. A model that sees requests (our token exporter in front of an ensemble, or the CPU stand-in)
records each one here, through ``pb_utils.MetricFamily`` (HISTOGRAM, COUNTER, GAUGE), all labelled
``model``:

| metric | kind | what |
|---|---|---|
| ``seasonal_request_input_tokens`` | histogram | prompt tokens of every request at admission, rejected ones included |
| ``seasonal_request_max_tokens`` | histogram | the output limit the client asked for (``max_tokens``) |
| ``seasonal_request_output_tokens`` | histogram | tokens generated, per request that ran |
| ``seasonal_request_sequence_tokens`` | histogram | prompt + generated tokens, per request that ran: the exact distribution of what ``max_seq_len`` limits |
| ``seasonal_request_output_tokens_by_input`` | histogram | generated tokens by ``input_le``, the power of two (16..131072, or +Inf) at or above the prompt length: the joint distribution, coarse |
| ``seasonal_requests_rejected_length_total`` | counter | requests refused because the prompt (or prompt + output) exceeds the engine's limits |
| ``seasonal_requests_limit_stopped_total`` | counter | outputs stopped by the engine's ``max_seq_len``, not by ``max_tokens`` or an end token |
| ``seasonal_engine_limit_tokens`` | gauge | the serving engine's limits, ``limit`` = ``max_input_len`` / ``max_seq_len`` (when known) |

Histogram buckets are log-spaced, 8 per doubling from 16 to 131072 (each at most 9.1% wider than the
previous bound, rounded to 0.1); the by-input series uses 2 per doubling. The operator's ``seasonal``
preset (``seasonal_engines.core.presets``) reads exactly these names; a test keeps the layouts equal.

Standard library only; ``triton_python_backend_utils`` is imported when the first ``TokenMetrics`` is made
(or passed in, for tests), so this file imports anywhere. Copy it next to the ``model.py`` that uses it.
"""

from __future__ import annotations

import math
from typing import Any

INPUT = "seasonal_request_input_tokens"
MAX_TOKENS = "seasonal_request_max_tokens"
OUTPUT = "seasonal_request_output_tokens"
SEQUENCE = "seasonal_request_sequence_tokens"
OUTPUT_BY_INPUT = "seasonal_request_output_tokens_by_input"
REJECTED = "seasonal_requests_rejected_length_total"
LIMIT_STOPPED = "seasonal_requests_limit_stopped_total"
LIMITS = "seasonal_engine_limit_tokens"


def log_bounds(lo: float = 16, hi: float = 131072, max_width: float = 0.1) -> list[float]:
    """Finite bucket bounds: ``lo * 2**(i/k)`` rounded to 0.1, ``k`` steps per doubling so that each bucket
    is at most ``max_width`` wider than its lower bound. Same rule as ``core.histograms.log_buckets``."""
    per_octave = math.ceil(math.log(2) / math.log1p(max_width) - 1e-12)
    steps = math.ceil(per_octave * math.log2(hi / lo) - 1e-9)
    return sorted({round(lo * 2 ** (i / per_octave), 1) for i in range(steps + 1)})


FINE_BOUNDS = log_bounds()
JOINT_OUTPUT_BOUNDS = log_bounds(max_width=0.42)
JOINT_INPUT_OCTAVES = [16.0 * 2**i for i in range(14)]


def input_octave(input_tokens: float) -> str:
    """The ``input_le`` label of a prompt length: the smallest power of two bound at or above it."""
    for bound in JOINT_INPUT_OCTAVES:
        if input_tokens <= bound:
            return str(int(bound))
    return "+Inf"


_FAMILIES: dict[tuple[int, str], Any] = {}


def finish_reason(input_tokens: int, output_tokens: int, max_tokens: int, max_seq_len: int) -> str:
    """Why a response ended, in the words every repository's front model returns: the client's
    ``max_tokens`` (``length``), the engine's ``max_seq_len`` (``engine_limit``), or the model (``stop``)."""
    if output_tokens >= max_tokens:
        return "length"
    if input_tokens + output_tokens >= max_seq_len:
        return "engine_limit"
    return "stop"


def _family(pb_utils: Any, name: str, description: str, kind: Any) -> Any:
    """One family per name per process: Triton keeps families by name, and so must we (they must outlive
    their metrics)."""
    key = (id(pb_utils), name)
    if key not in _FAMILIES:
        _FAMILIES[key] = pb_utils.MetricFamily(name=name, description=description, kind=kind)
    return _FAMILIES[key]


class TokenMetrics:
    """Per-model token-length metrics. Call ``observe_admission`` for every request, then either
    ``observe_rejection`` (refused for length) or ``observe_completion`` (ran)."""

    def __init__(self, model: str, max_input_len: int | None = None, max_seq_len: int | None = None,
                 pb_utils: Any = None) -> None:
        if pb_utils is None:
            import triton_python_backend_utils  # only inside Triton's Python backend

            pb_utils = triton_python_backend_utils
        hist = pb_utils.MetricFamily.HISTOGRAM
        counter = pb_utils.MetricFamily.COUNTER
        labels = {"model": str(model)}
        self._labels = labels
        self._input = _family(pb_utils, INPUT, "Prompt tokens per request, at admission (rejected ones "
                              "included)", hist).Metric(labels=labels, buckets=FINE_BOUNDS)
        self._max_tokens = _family(pb_utils, MAX_TOKENS, "Output tokens the client asked for (max_tokens)",
                                   hist).Metric(labels=labels, buckets=FINE_BOUNDS)
        self._output = _family(pb_utils, OUTPUT, "Generated tokens per request that ran",
                               hist).Metric(labels=labels, buckets=FINE_BOUNDS)
        self._sequence = _family(pb_utils, SEQUENCE, "Prompt plus generated tokens per request that ran",
                                 hist).Metric(labels=labels, buckets=FINE_BOUNDS)
        self._by_input_family = _family(pb_utils, OUTPUT_BY_INPUT, "Generated tokens per request that ran, by "
                                        "the power-of-two bound (input_le) of its prompt length", hist)
        self._by_input: dict[str, Any] = {}
        self._rejected = _family(pb_utils, REJECTED, "Requests refused because they exceed the engine's "
                                 "length limits", counter).Metric(labels=labels)
        self._limit_stopped = _family(pb_utils, LIMIT_STOPPED, "Outputs stopped by the engine's max_seq_len "
                                      "rather than by max_tokens or an end token", counter).Metric(labels=labels)
        self._limits: list[Any] = []
        if max_input_len is not None or max_seq_len is not None:
            gauges = _family(pb_utils, LIMITS, "Length limits of the serving engine, in tokens",
                             pb_utils.MetricFamily.GAUGE)
            for name, value in (("max_input_len", max_input_len), ("max_seq_len", max_seq_len)):
                if value is not None:
                    gauge = gauges.Metric(labels={**labels, "limit": name})
                    gauge.set(float(value))
                    self._limits.append(gauge)

    def observe_admission(self, input_tokens: float, max_tokens: float | None = None) -> None:
        """A request arrived with this prompt length (and requested output limit, when it sent one)."""
        self._input.observe(float(input_tokens))
        if max_tokens is not None:
            self._max_tokens.observe(float(max_tokens))

    def observe_rejection(self, input_tokens: float | None = None) -> None:
        """The request was refused for length (it was already counted by ``observe_admission``)."""
        self._rejected.increment(1.0)

    def observe_completion(self, input_tokens: float, output_tokens: float, limit_stopped: bool = False) -> None:
        """The request ran and generated ``output_tokens``; ``limit_stopped`` when the engine's limit ended it."""
        self._output.observe(float(output_tokens))
        self._sequence.observe(float(input_tokens + output_tokens))
        octave = input_octave(input_tokens)
        metric = self._by_input.get(octave)
        if metric is None:
            metric = self._by_input_family.Metric(labels={**self._labels, "input_le": octave},
                                                  buckets=JOINT_OUTPUT_BOUNDS)
            self._by_input[octave] = metric
        metric.observe(float(output_tokens))
        if limit_stopped:
            self._limit_stopped.increment(1.0)
