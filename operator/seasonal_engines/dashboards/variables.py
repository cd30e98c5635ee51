"""Template variables of the dashboards: the Prometheus data source, then the InferenceService and the
exporter's and Triton's model names in its namespace.

Builders only: no I/O.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_b
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as dashboard_m

from seasonal_engines.dashboards import panels, queries

# Always exported for every InferenceService the operator evaluated, whatever its state.
SERVICE_METRIC = "seasonal_operator_evaluations_total"


def datasource() -> dashboard_b.DatasourceVariable:
    return dashboard_b.DatasourceVariable(panels.DATASOURCE_VARIABLE).label("Prometheus").type("prometheus")


def _query(name: str, label: str, query: str, description: str) -> dashboard_b.QueryVariable:
    return (dashboard_b.QueryVariable(name).label(label).description(description).query(query)
            .datasource(panels.DATASOURCE).refresh(dashboard_m.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dashboard_m.VariableSort.ALPHABETICAL_ASC))


def for_service() -> list[cogbuilder.Builder[dashboard_m.VariableModel]]:
    return [
        datasource(),
        _query("namespace", "Namespace", queries.label_values(SERVICE_METRIC, "namespace"),
               "Namespace of the InferenceService."),
        _query("name", "InferenceService", queries.label_values(SERVICE_METRIC, "name", 'namespace="$namespace"'),
               "The InferenceService (seasonalengines.io)."),
        _query("model", "Exporter model", queries.label_values(f"{queries.INPUT_TOKENS}_count", "model",
                                                               'namespace="$namespace"'),
               "The token exporter's model label: the value spec.traffic.selector matches."),
        _query("triton_model", "Triton model", queries.label_values(queries.TRITON_SUCCESS, "model",
                                                                    queries.TRITON_PODS),
               "Triton's model name (spec.serving.modelName, usually ensemble).")
        .current(dashboard_m.VariableOption(selected=True, text="ensemble", value="ensemble")),
    ]


def for_fleet() -> list[cogbuilder.Builder[dashboard_m.VariableModel]]:
    return [
        datasource(),
        _query("namespace", "Namespace", queries.label_values(SERVICE_METRIC, "namespace"),
               "Namespaces with InferenceServices.").multi(True).include_all(True).all_value(".*"),
    ]
