"""Dashboard annotations from the operator's metrics: rollouts in progress and engine switches.

grafana-foundation-sdk's ``AnnotationQuery`` model has no Prometheus-specific fields (title, tags, step),
so a small model adds them to the JSON Grafana's Prometheus data source reads. Builders only: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as dashboard_m

from seasonal_engines.dashboards import panels, queries


class PrometheusAnnotation(dashboard_m.AnnotationQuery):
    """An annotation query with the fields of Grafana's Prometheus annotation editor."""

    def __init__(self, name: str, expr: str, icon_color: str, title: str, text: str, tag_keys: str = "",
                 step: str = "60s") -> None:
        super().__init__(name=name, datasource=panels.DATASOURCE, enable=True, hide=False, icon_color=icon_color,
                         expr=expr)
        self.title = title
        self.text = text
        self.tag_keys = tag_keys
        self.step = step

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        payload.update({"titleFormat": self.title, "textFormat": self.text, "tagKeys": self.tag_keys,
                        "step": self.step, "useValueForTime": False})
        return payload


@dataclass(frozen=True)
class AnnotationBuilder(cogbuilder.Builder[dashboard_m.AnnotationQuery]):
    annotation: PrometheusAnnotation

    def build(self) -> dashboard_m.AnnotationQuery:
        return self.annotation


def rollouts_in_progress(matchers: str = queries.SERVICE) -> AnnotationBuilder:
    """A region from a rollout's start until it ends (the start-time gauge is 0 between rollouts)."""
    return AnnotationBuilder(PrometheusAnnotation(
        "Rollouts", f"seasonal_operator_rollout_started_timestamp_seconds{{{matchers}}} > 0", "orange",
        "Rollout in progress", "{{namespace}}/{{name}}: rolling out a new engine", "namespace,name"))


def engine_switches(matchers: str = queries.SERVICE) -> AnnotationBuilder:
    """A mark where the engine generation changed: a rollout completed (or rolled back)."""
    return AnnotationBuilder(PrometheusAnnotation(
        "Engine switches", f"changes(seasonal_operator_engine_generation{{{matchers}}}[2m]) > 0", "green",
        "Engine switched", "{{namespace}}/{{name}}: new serving engine", "namespace,name"))
