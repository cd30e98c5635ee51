"""The PromQL the dashboards ask, as plain strings with Grafana template variables.

Three sources of series, each selected by its own labels:

- the operator's metrics (``adapters/metrics.py``): ``namespace`` and ``name`` of the InferenceService;
- the Triton token exporter (``core/presets.py``, preset ``seasonal``): ``model`` is the exporter's
  label, ``namespace`` the one Prometheus Operator adds to every target it scrapes;
- Triton's own ``nv_*`` metrics: ``model`` is the Triton model name (``spec.serving.modelName``,
  usually ``ensemble``, the same in every Triton), so the InferenceService's pods are told apart by the
  ``pod`` target label: the operator names them after its Deployment, ``<name>-triton[-colour]-...``
  (``core.deployments.deployment_name``).

Grafana variables used: ``$namespace``, ``$name``, ``$model``, ``$triton_model``, ``$__rate_interval``,
``$__range``. Pure strings: no I/O, no Grafana objects.
"""

from __future__ import annotations

SERVICE = 'namespace="$namespace", name="$name"'
EXPORTER = 'namespace="$namespace", model="$model"'
TRITON_PODS = 'namespace="$namespace", pod=~"$name-triton-.+"'
TRITON = f'{TRITON_PODS}, model="$triton_model"'
RATE = "$__rate_interval"
RANGE = "$__range"

# Exporter histograms (base names; the series carry _bucket/_count/_sum).
INPUT_TOKENS = "seasonal_request_input_tokens"
OUTPUT_TOKENS = "seasonal_request_output_tokens"
SEQUENCE_TOKENS = "seasonal_request_sequence_tokens"
REJECTED = "seasonal_requests_rejected_length_total"
LIMIT_STOPPED = "seasonal_requests_limit_stopped_total"

# Triton core metrics (TTFT needs --metrics-config histogram_latencies=true).
TRITON_SUCCESS = "nv_inference_request_success"
TRITON_FAILURE = "nv_inference_request_failure"
TRITON_REQUEST_US = "nv_inference_request_duration_us"
TRITON_TTFT_MS = "nv_inference_first_response_histogram_ms"


def operator(metric: str, extra: str = "") -> str:
    """An operator series of the selected InferenceService."""
    return f"{metric}{{{SERVICE}{', ' + extra if extra else ''}}}"


def envelope_limit(limit: str) -> str:
    """One limit of the serving engine (tokens or requests)."""
    return f'max({operator("seasonal_operator_envelope_limit", f"limit={_quote(limit)}")})'


def token_heatmap(histogram: str) -> str:
    """Requests per bucket per interval, in Grafana's heat-map frame format (one series per ``le``)."""
    return f"sum by (le) (increase({histogram}_bucket{{{EXPORTER}}}[{RATE}]))"


def token_quantile(q: float, histogram: str) -> str:
    """The q-quantile of a token histogram over the rate interval, as ``histogram_quantile`` computes it."""
    return f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket{{{EXPORTER}}}[{RATE}])))"


def exporter_rate(counter: str) -> str:
    return f"sum(rate({counter}{{{EXPORTER}}}[{RATE}]))"


def arrival_rate() -> str:
    """Requests arriving at the exporter per second (rejected ones included: it counts at admission)."""
    return f"sum(rate({INPUT_TOKENS}_count{{{EXPORTER}}}[{RATE}]))"


def triton_rate(counter: str) -> str:
    return f"sum(rate({counter}{{{TRITON}}}[{RATE}]))"


def ttft_quantile(q: float) -> str:
    """Time to first token in seconds (Triton's histogram is in milliseconds)."""
    return (f"histogram_quantile({q}, sum by (le) (rate({TRITON_TTFT_MS}_bucket{{{TRITON}}}[{RATE}]))) / 1000")


def predicted_latency(latency: str, quantile: str) -> str:
    """The serving model's prediction for the serving engine (``latency`` ttft or itl), seconds: modelled."""
    labels = f"latency={_quote(latency)}, quantile={_quote(quantile)}"
    return f'max({operator("seasonal_operator_predicted_latency_seconds", labels)})'


def inter_token_latency() -> str:
    """Mean seconds per generated token after the first, derived: (request time - TTFT) / (tokens - 1).

    Triton exports no inter-token histogram for this stack, so this is a ratio of sums over the rate
    interval (a request-weighted mean, not a percentile): request time and TTFT from Triton, output tokens
    from the exporter.
    """
    busy = (f"sum(rate({TRITON_REQUEST_US}{{{TRITON}}}[{RATE}])) / 1e6"
            f" - sum(rate({TRITON_TTFT_MS}_sum{{{TRITON}}}[{RATE}])) / 1e3")
    tokens = (f"sum(rate({OUTPUT_TOKENS}_sum{{{EXPORTER}}}[{RATE}]))"
              f" - sum(rate({OUTPUT_TOKENS}_count{{{EXPORTER}}}[{RATE}]))")
    return f"({busy}) / ({tokens})"


def increase_by_result(counter: str) -> str:
    """Events over the dashboard's range, by result."""
    return f"sum by (result) (increase({operator(counter)}[{RANGE}]))"


def mean_build_duration() -> str:
    base = "seasonal_operator_build_duration_seconds"
    return (f"sum(increase({operator(base + '_sum')}[{RANGE}])) / "
            f"sum(increase({operator(base + '_count')}[{RANGE}]))")


def running_for(timestamp_metric: str) -> str:
    """Seconds since the build or rollout in progress started (no series when none is: the gauge is 0)."""
    return f"time() - ({operator(timestamp_metric)} > 0)"


def active_season() -> str:
    """The season in force; the between-seasons series (``season=""``) gets a readable name."""
    return ('label_replace(max by (season) (' + operator("seasonal_operator_active_season") +
            ') == 1, "season", "(between seasons)", "season", "")')


def label_values(metric: str, label: str, matchers: str = "") -> str:
    """A Grafana variable query (``label_values``), not PromQL: the test bed turns it into a series query."""
    selector = f"{{{matchers}}}" if matchers else ""
    return f"label_values({metric}{selector}, {label})"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
