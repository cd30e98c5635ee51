"""The fleet dashboard: every InferenceService at a glance, and the operator's own health.

A table with one row per InferenceService (coverage, drift, season, generation, traffic, replicas) linking
to its own dashboard, coverage of all services over time, builds and rollouts in progress or failed, and
the operator's evaluation rate and duration. Builds the dashboard model only: no I/O.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_b
from grafana_foundation_sdk.models import dashboard as dashboard_m

from seasonal_engines.dashboards import annotations as annotation_queries
from seasonal_engines.dashboards import panels, service_dashboard, variables
from seasonal_engines.dashboards.panels import Series

UID = "seasonal-engines-fleet"
TITLE = "Seasonal Engines / Fleet"
FILENAME = "seasonal-engines-fleet.json"
NS = 'namespace=~"$namespace"'
RATE = "$__rate_interval"
RANGE = "$__range"


def _m(metric: str, extra: str = "") -> str:
    return f"{metric}{{{NS}{', ' + extra if extra else ''}}}"


def _failures(counter: str, result: str) -> str:
    return f"sum by (namespace, name) (increase({_m(counter, result)}[{RANGE}]))"


def build() -> dashboard_m.Dashboard:
    service_link = (dashboard_b.DashboardLink("Open ${__data.fields.namespace}/${__data.fields.name}")
                    .type(dashboard_m.DashboardLinkType.LINK)
                    .url(f"/d/{service_dashboard.UID}/?var-namespace=${{__data.fields.namespace}}"
                         "&var-name=${__data.fields.name}&${__url_time_range}"))
    board = (dashboard_b.Dashboard(TITLE).uid(UID).tags(["seasonal-engines", "tensorrt-llm", "triton"])
            .description("All InferenceServices (seasonalengines.io) and the Seasonal Engines operator.")
            .time("now-24h", "now").refresh("1m").timezone("browser").readonly()
            .tooltip(dashboard_m.DashboardCursorSync.CROSSHAIR)
            .variables(variables.for_fleet())
            .annotation(annotation_queries.engine_switches(NS))
            .with_row(panels.row("InferenceServices"))
            .with_panel(panels.table(
                "InferenceServices", "The latest value of each operator gauge; a row links to the service's "
                "dashboard.",
                [Series(_m("seasonal_operator_coverage_ratio"), "coverage"),
                 Series(_m("seasonal_operator_drift_score"), "drift score"),
                 Series(f'max by (namespace, name, season) ({_m("seasonal_operator_active_season")}) == 1',
                        "active season"),
                 Series(_m("seasonal_operator_engine_generation"), "generation"),
                 Series(_m("seasonal_operator_traffic_available"), "traffic available"),
                 Series(_m("seasonal_operator_recommended_replicas"), "recommended replicas")],
                links=[service_link]))
            .with_panel(panels.timeseries(
                "Coverage by InferenceService", "Share of each service's requests inside its engine's limits.",
                [Series(_m("seasonal_operator_coverage_ratio"), "{{namespace}}/{{name}}")], unit="percentunit"))
            .with_panel(panels.timeseries(
                "Builds and rollouts in progress", "How many InferenceServices are building or rolling out.",
                [Series(f'count({_m("seasonal_operator_build_started_timestamp_seconds")} > 0)', "building"),
                 Series(f'count({_m("seasonal_operator_rollout_started_timestamp_seconds")} > 0)', "rolling out")],
                stepped=True, minimum=0))
            .with_panel(panels.timeseries(
                "Failed builds and rollouts in range", "Failures per InferenceService over the dashboard's "
                "range.", [Series(_failures("seasonal_operator_builds_total", 'result="failed"'),
                                  "build {{namespace}}/{{name}}"),
                           Series(_failures("seasonal_operator_rollouts_total", 'result=~"failed|rolled_back"'),
                                  "rollout {{namespace}}/{{name}}")],
                minimum=0))
            .with_row(panels.row("Operator"))
            .with_panel(panels.timeseries(
                "Evaluations", "Evaluations per second by result (ok, invalid, error).",
                [Series(f'sum by (result) (rate({_m("seasonal_operator_evaluations_total")}[{RATE}]))',
                        "{{result}}")], unit="ops", minimum=0))
            .with_panel(panels.timeseries(
                "Evaluation duration", "Wall time of one evaluation, gather to apply.",
                [Series(f"histogram_quantile({q}, sum by (le) (rate("
                        f'{_m("seasonal_operator_evaluation_duration_seconds_bucket")}[{RATE}])))', label)
                 for q, label in ((0.5, "p50"), (0.99, "p99"))], unit="s", minimum=0))
            .build())
    return panels.number_panels(board)
