"""The per-InferenceService dashboard: what traffic the engine sees, what its limits are, what the operator
decided, and what users feel.

Rows, top to bottom: the state now; sequence lengths (ISL/OSL heat maps, then their quantiles against the
engine's limits); coverage, drift and seasons; builds and rollouts; latency and load. Rollouts are
annotations on every time panel.

Grafana's heat-map panel cannot draw a line over its cells (grafana/grafana#11772), so the limits are
overlaid on the quantile panels right under each heat map, on the same time axis. Builds the dashboard
model only: no I/O.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_b
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_m

from seasonal_engines.dashboards import annotations as annotation_queries
from seasonal_engines.dashboards import panels, queries, variables
from seasonal_engines.dashboards.panels import Series

UID = "seasonal-engines-service"
TITLE = "Seasonal Engines / InferenceService"
FILENAME = "seasonal-engines-service.json"
QUANTILES = ((0.5, "p50"), (0.99, "p99"), (0.999, "p99.9"))


def build() -> dashboard_m.Dashboard:
    board = (dashboard_b.Dashboard(TITLE).uid(UID).tags(["seasonal-engines", "tensorrt-llm", "triton"])
             .description("One InferenceService (seasonalengines.io): traffic against its engine's limits, "
                          "coverage, drift, seasons, builds, rollouts and latency.")
             .time("now-6h", "now").refresh("1m").timezone("browser").readonly()
             .tooltip(dashboard_m.DashboardCursorSync.CROSSHAIR)
             .variables(variables.for_service())
             .annotation(annotation_queries.rollouts_in_progress()).annotation(annotation_queries.engine_switches())
             .link(dashboard_b.DashboardLink("All InferenceServices").type(dashboard_m.DashboardLinkType.DASHBOARDS)
                   .tags(["seasonal-engines"]).as_dropdown(False).include_vars(False).keep_time(True)))
    for section in (_now, _sequence_lengths, _coverage_drift_seasons, _builds_rollouts, _latency_load):
        board = section(board)
    return panels.number_panels(board.build())


def _now(board: dashboard_b.Dashboard) -> dashboard_b.Dashboard:
    op = queries.operator
    return (board.with_row(panels.row("Now"))
            .with_panel(panels.stat("Coverage", "Share of the trailing window's requests inside the serving "
                                    "engine's limits; rejected and limit-stopped requests count outside.",
                                    [Series(op("seasonal_operator_coverage_ratio"))], unit="percentunit",
                                    decimals=2, steps=((None, "red"), (0.99, "orange"), (0.995, "green"))))
            .with_panel(panels.stat("Censored", "Share of requests rejected for length or stopped at the "
                                    "engine's limit: the demand a too-small engine hides.",
                                    [Series(op("seasonal_operator_censored_fraction"))], unit="percentunit",
                                    decimals=2, steps=((None, "green"), (0.001, "orange"), (0.005, "red"))))
            .with_panel(panels.stat("Drift score", "Jensen-Shannon distance between the trailing window and "
                                    "the traffic the serving engine was planned from (0 = same).",
                                    [Series(op("seasonal_operator_drift_score"))], decimals=3,
                                    steps=((None, "green"), (0.1, "orange"), (0.3, "red"))))
            .with_panel(panels.stat("Active season", "The season in force now.",
                                    [Series(queries.active_season(), "{{season}}")],
                                    text_mode=common.BigValueTextMode.NAME))
            .with_panel(panels.stat("Traffic", "Whether the last evaluation had enough requests to plan from.",
                                    [Series(op("seasonal_operator_traffic_available"))],
                                    mappings=[panels.value_text({"1": ("available", "green"),
                                                                 "0": ("unavailable", "red")})]))
            .with_panel(panels.stat("Engine generation", "Rollouts completed.",
                                    [Series(op("seasonal_operator_engine_generation"))], decimals=0))
            .with_panel(panels.stat("Serving envelope", "Build-time limits of the engine Triton serves.",
                                    [Series(op("seasonal_operator_envelope_limit"), "{{limit}}")], width=12,
                                    text_mode=common.BigValueTextMode.VALUE_AND_NAME, decimals=0))
            .with_panel(panels.stat("Build running for", "Age of the build in progress (none: no build).",
                                    [Series(queries.running_for("seasonal_operator_build_started_timestamp_seconds"))],
                                    unit="s", width=6))
            .with_panel(panels.stat("Rollout running for", "Age of the rollout in progress (none: no rollout).",
                                    [Series(queries.running_for(
                                        "seasonal_operator_rollout_started_timestamp_seconds"))],
                                    unit="s", width=6, steps=((None, "green"), (1800, "orange"), (3600, "red")))))


def _quantiles(histogram: str) -> list[Series]:
    return [Series(queries.token_quantile(q, histogram), label) for q, label in QUANTILES]


def _sequence_lengths(board: dashboard_b.Dashboard) -> dashboard_b.Dashboard:
    return (board.with_row(panels.row("Sequence lengths"))
            .with_panel(panels.token_heatmap(
                "Prompt tokens (ISL) per request", "Requests per bucket of the exporter's input histogram "
                "(every request at admission, rejected ones included).", queries.token_heatmap(queries.INPUT_TOKENS)))
            .with_panel(panels.token_heatmap(
                "Output tokens (OSL) per request", "Requests per bucket of the exporter's output histogram "
                "(requests that ran; outputs stopped at the limit count at the limit).",
                queries.token_heatmap(queries.OUTPUT_TOKENS)))
            .with_panel(panels.timeseries(
                "Prompt tokens against max_input_len", "Quantiles of the heat map above with the serving "
                "engine's max_input_len overlaid: prompts above the red line are rejected.",
                [*_quantiles(queries.INPUT_TOKENS), Series(queries.envelope_limit("max_input_len"), "max_input_len")],
                limits=["max_input_len"], log_scale=True))
            .with_panel(panels.timeseries(
                "Prompt + output tokens against max_seq_len", "Quantiles of the exporter's joint sequence "
                "histogram with the engine's max_seq_len overlaid: longer requests stop at the red line.",
                [*_quantiles(queries.SEQUENCE_TOKENS), Series(queries.envelope_limit("max_seq_len"), "max_seq_len")],
                limits=["max_seq_len"], log_scale=True))
            .with_panel(panels.timeseries(
                "Requests the engine censored", "Prompts rejected for length and outputs stopped at the "
                "engine's limit, counted at admission, before the engine.",
                [Series(queries.exporter_rate(queries.REJECTED), "rejected: prompt too long"),
                 Series(queries.exporter_rate(queries.LIMIT_STOPPED), "stopped at max_seq_len")],
                unit="reqps", minimum=0))
            .with_panel(panels.timeseries(
                "Engine limits over time", "The serving engine's limits; each step is a rollout.",
                [Series(queries.operator("seasonal_operator_envelope_limit"), "{{limit}}")],
                stepped=True, log_scale=True)))


def _coverage_drift_seasons(board: dashboard_b.Dashboard) -> dashboard_b.Dashboard:
    op = queries.operator
    return (board.with_row(panels.row("Coverage, drift and seasons"))
            .with_panel(panels.timeseries(
                "Coverage", "Share of requests inside the serving envelope, and the censored share.",
                [Series(op("seasonal_operator_coverage_ratio"), "coverage"),
                 Series(op("seasonal_operator_censored_fraction"), "censored")],
                unit="percentunit", right_axis=["censored"], right_unit="percentunit"))
            .with_panel(panels.timeseries(
                "Drift score", "Distribution shift against the traffic the serving engine was planned from; "
                "the operator acts after spec.drift.consecutiveEvaluations in a row.",
                [Series(op("seasonal_operator_drift_score"), "drift score")], minimum=0))
            .with_panel(panels.state_timeline(
                "Active season", "Which season was in force when.",
                [Series(queries.active_season(), "{{season}}")],
                mappings=[panels.value_text({"1": ("active", "blue")})]))
            .with_panel(panels.state_timeline(
                "Drift verdict", "1 while drift confirms a coverage breach (engine too small) or waste (engine "
                "too large).", [Series(f"max by (kind) ({op('seasonal_operator_drifted')})", "{{kind}}")],
                mappings=[panels.value_text({"0": ("no", "green"), "1": ("yes", "red")})])))


def _builds_rollouts(board: dashboard_b.Dashboard) -> dashboard_b.Dashboard:
    duration = "seasonal_operator_build_duration_seconds"
    return (board.with_row(panels.row("Builds and rollouts"))
            .with_panel(panels.stat("Builds in range", "Engine builds by result over the dashboard's range.",
                                    [Series(queries.increase_by_result("seasonal_operator_builds_total"),
                                            "{{result}}")], width=6, decimals=0,
                                    text_mode=common.BigValueTextMode.VALUE_AND_NAME))
            .with_panel(panels.stat("Rollouts in range", "Rollouts by result over the dashboard's range.",
                                    [Series(queries.increase_by_result("seasonal_operator_rollouts_total"),
                                            "{{result}}")], width=6, decimals=0,
                                    text_mode=common.BigValueTextMode.VALUE_AND_NAME))
            .with_panel(panels.stat("Mean build duration", "Successful builds over the dashboard's range.",
                                    [Series(queries.mean_build_duration())], unit="s", width=6))
            .with_panel(panels.stat("p90 build duration", "From the build-duration histogram over the "
                                    "dashboard's range (bucket resolution).",
                                    [Series(f"histogram_quantile(0.9, sum by (le) (increase("
                                            f"{queries.operator(duration + '_bucket')}[{queries.RANGE}])))")],
                                    unit="s", width=6))
            .with_panel(panels.timeseries(
                "Build and rollout age", "How long the build and the rollout in progress have run; a rollout "
                "older than spec.rollout.readinessTimeout should have been rolled back.",
                [Series(queries.running_for("seasonal_operator_build_started_timestamp_seconds"), "build"),
                 Series(queries.running_for("seasonal_operator_rollout_started_timestamp_seconds"), "rollout")],
                unit="s", width=24, height=7, minimum=0)))


def _latency_load(board: dashboard_b.Dashboard) -> dashboard_b.Dashboard:
    return (board.with_row(panels.row("Latency and load"))
            .with_panel(panels.timeseries(
                "Time to first token: observed and modelled", "Observed: Triton's first-response histogram "
                "(the first streamed chunk of a decoupled model; needs Triton 2.52 (24.11) or newer and "
                "--metrics-config histogram_latencies=true, which the operator's Triton command sets). "
                "Modelled (dotted): the serving model's prediction for the serving engine at its planning "
                "traffic's peak on the replicas spec.rollout.slo needs; a simulation calibrated on NVIDIA's "
                "published throughput, not a measurement.",
                [Series(queries.ttft_quantile(0.5), "p50"), Series(queries.ttft_quantile(0.99), "p99"),
                 Series(queries.predicted_latency("ttft", "0.5"), "modelled p50"),
                 Series(queries.predicted_latency("ttft", "0.99"), "modelled p99")],
                unit="s", minimum=0, modelled=["modelled p50", "modelled p99"]))
            .with_panel(panels.timeseries(
                "Inter-token latency (derived mean)", "Derived, not measured per token: (Triton request time "
                "- time to first token) / (output tokens - 1), summed over requests. A mean: bursts and "
                "tails do not show. Empty without the time-to-first-token histogram.",
                [Series(queries.inter_token_latency(), "mean inter-token latency")],
                unit="s", minimum=0))
            .with_panel(panels.timeseries(
                "Request rate against recommended replicas", "Arrivals (exporter, rejected ones included), "
                "Triton successes and failures, the planned peak rate (Poisson percentile of the trailing "
                "window), and the replicas the latest plan recommends (right axis).",
                [Series(queries.arrival_rate(), "arrived"),
                 Series(queries.triton_rate(queries.TRITON_SUCCESS), "served"),
                 Series(queries.triton_rate(queries.TRITON_FAILURE), "failed"),
                 Series(queries.operator("seasonal_operator_peak_request_rate"), "planned peak"),
                 Series(queries.operator("seasonal_operator_recommended_replicas"), "recommended replicas")],
                unit="reqps", width=24, minimum=0, right_axis=["recommended replicas"])))
