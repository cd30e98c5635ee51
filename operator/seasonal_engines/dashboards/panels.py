"""Panel builders shared by the dashboards, on top of grafana-foundation-sdk.

Every panel queries the dashboard's ``$datasource`` (a Prometheus data source variable), so one JSON works
with whatever Prometheus a Grafana has. Helpers only assemble builders: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dashboard_b
from grafana_foundation_sdk.builders import heatmap as heatmap_b
from grafana_foundation_sdk.builders import prometheus as prometheus_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import statetimeline as statetimeline_b
from grafana_foundation_sdk.builders import table as table_b
from grafana_foundation_sdk.builders import timeseries as timeseries_b
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_m
from grafana_foundation_sdk.models import heatmap as heatmap_m
from grafana_foundation_sdk.models import prometheus as prometheus_m

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = dashboard_m.DataSourceRef(type_val="prometheus", uid="${" + DATASOURCE_VARIABLE + "}")

RED = "red"
LIMIT_STYLE = [  # an engine limit: a thick dashed red line over the traffic it bounds
    dashboard_m.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": RED}),
    dashboard_m.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 6]}),
    dashboard_m.DynamicConfigValue(id_val="custom.lineWidth", value=3),
    dashboard_m.DynamicConfigValue(id_val="custom.fillOpacity", value=0),
]

MODELLED_STYLE = [  # a modelled figure (the serving model's prediction): dotted, never mistaken for a measurement
    dashboard_m.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dot", "dash": [2, 6]}),
    dashboard_m.DynamicConfigValue(id_val="custom.lineWidth", value=2),
    dashboard_m.DynamicConfigValue(id_val="custom.fillOpacity", value=0),
    dashboard_m.DynamicConfigValue(id_val="custom.lineInterpolation", value="stepAfter"),
]


class Format(str, Enum):
    time_series = "time_series"
    heatmap = "heatmap"
    table = "table"


@dataclass(frozen=True)
class Series:
    """One PromQL query of a panel and how its series are named."""

    expr: str
    legend: str = ""
    instant: bool = False
    format: Format = Format.time_series


def targets(series: Sequence[Series]) -> list[cogbuilder.Builder[variants.Dataquery]]:
    out: list[cogbuilder.Builder[variants.Dataquery]] = []
    for i, s in enumerate(series):
        q = (prometheus_b.Dataquery().expr(s.expr).ref_id(chr(ord("A") + i)).datasource(DATASOURCE)
             .editor_mode(prometheus_m.QueryEditorMode.CODE).format(prometheus_m.PromQueryFormat(s.format.value)))
        q = q.instant() if s.instant else q.range()
        if s.legend:
            q = q.legend_format(s.legend)
        out.append(q)
    return out


def thresholds(*steps: tuple[float | None, str]) -> dashboard_b.ThresholdsConfig:
    return (dashboard_b.ThresholdsConfig().mode(dashboard_m.ThresholdsMode.ABSOLUTE)
            .steps([dashboard_m.Threshold(value=v, color=c) for v, c in steps]))


def _legend(table: bool = False) -> common_b.VizLegendOptions:
    legend = (common_b.VizLegendOptions().show_legend(True).placement(common.LegendPlacement.BOTTOM)
              .display_mode(common.LegendDisplayMode.TABLE if table else common.LegendDisplayMode.LIST))
    return legend.calcs(["lastNotNull", "max"]) if table else legend


def timeseries(title: str, description: str, series: Sequence[Series], *, unit: str = "short",
               width: int = 12, height: int = 8, limits: Sequence[str] = (), right_axis: Sequence[str] = (),
               right_unit: str = "short", stepped: bool = False, minimum: float | None = None,
               log_scale: bool = False, modelled: Sequence[str] = ()) -> timeseries_b.Panel:
    """A time series panel; ``limits`` are legends drawn as engine limits, ``right_axis`` legends go right,
    ``modelled`` legends are drawn dotted (predictions, not measurements)."""
    panel = (timeseries_b.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(targets(series)).unit(unit).span(width).height(height).legend(_legend(table=True))
             .line_width(1).fill_opacity(8).show_points(common.VisibilityMode.NEVER)
             .tooltip(common_b.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                      .sort(common.SortOrder.DESCENDING)))
    if stepped:
        panel = panel.line_interpolation(common.LineInterpolation.STEP_AFTER)
    if minimum is not None:
        panel = panel.min(minimum)
    if log_scale:
        panel = panel.scale_distribution(common_b.ScaleDistributionConfig().type(common.ScaleDistribution.LOG)
                                         .log(2))
    for legend in limits:
        panel = panel.override_by_name(legend, LIMIT_STYLE)
    for legend in modelled:
        panel = panel.override_by_name(legend, MODELLED_STYLE)
    for legend in right_axis:
        panel = panel.override_by_name(legend, [
            dashboard_m.DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
            dashboard_m.DynamicConfigValue(id_val="unit", value=right_unit),
            dashboard_m.DynamicConfigValue(id_val="custom.lineInterpolation", value="stepAfter"),
            dashboard_m.DynamicConfigValue(id_val="custom.lineWidth", value=2),
        ])
    return panel


def token_heatmap(title: str, description: str, expr: str, *, width: int = 12, height: int = 9) -> heatmap_b.Panel:
    """Bucket counts over time: Prometheus ``le`` buckets as rows, already counted (no calculation)."""
    return (heatmap_b.Panel().title(title).description(description).datasource(DATASOURCE)
            .targets(targets([Series(expr, "{{le}}", format=Format.heatmap)])).span(width).height(height)
            .calculate(False).max_data_points(120)
            .rows_frame(heatmap_b.RowsHeatmapOptions().layout(common.HeatmapCellLayout.LE).value("requests"))
            .color(heatmap_b.HeatmapColorOptions().mode(heatmap_m.HeatmapColorMode.SCHEME).scheme("Oranges")
                   .scale(heatmap_m.HeatmapColorScale.EXPONENTIAL).exponent(0.5).steps(64).fill("dark-orange"))
            .y_axis(heatmap_b.YAxisConfig().unit("short").decimals(0).axis_label("tokens"))
            .cell_gap(1).show_value(common.VisibilityMode.NEVER).show_legend().show_tooltip()
            .show_y_histogram())


def stat(title: str, description: str, series: Sequence[Series], *, unit: str = "short", width: int = 4,
         height: int = 4, steps: Sequence[tuple[float | None, str]] = ((None, "blue"),),
         text_mode: common.BigValueTextMode = common.BigValueTextMode.AUTO,
         mappings: Sequence[dashboard_m.ValueMap] = (), decimals: float | None = None) -> stat_b.Panel:
    panel = (stat_b.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(targets([Series(s.expr, s.legend, instant=True) for s in series])).unit(unit)
             .span(width).height(height).thresholds(thresholds(*steps)).text_mode(text_mode)
             .color_mode(common.BigValueColorMode.VALUE).graph_mode(common.BigValueGraphMode.NONE)
             .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    if mappings:
        panel = panel.mappings(list(mappings))
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def state_timeline(title: str, description: str, series: Sequence[Series], *, width: int = 12,
                   height: int = 6, mappings: Sequence[dashboard_m.ValueMap] = ()) -> statetimeline_b.Panel:
    panel = (statetimeline_b.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(targets(series)).span(width).height(height).show_value(common.VisibilityMode.NEVER)
             .merge_values(True).row_height(0.8).legend(_legend()))
    if mappings:
        panel = panel.mappings(list(mappings))
    return panel


def table(title: str, description: str, series: Sequence[Series], *, width: int = 24, height: int = 9,
          links: Sequence[dashboard_b.DashboardLink] = ()) -> table_b.Panel:
    """One row per label set; every query an instant query, its value a column (merged on the labels)."""
    panel = (table_b.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(targets([Series(s.expr, s.legend, instant=True, format=Format.table) for s in series]))
             .span(width).height(height).show_header(True)
             .with_transformation(dashboard_m.DataTransformerConfig(id_val="merge", options={}))
             .with_transformation(dashboard_m.DataTransformerConfig(id_val="organize", options={
                 "excludeByName": {"Time": True},
                 "renameByName": {f"Value #{chr(ord('A') + i)}": s.legend for i, s in enumerate(series)},
             })))
    if links:
        panel = panel.data_links(list(links))
    return panel


def value_text(mapping: dict[str, tuple[str, str]]) -> dashboard_m.ValueMap:
    """Value → (text, colour)."""
    return dashboard_m.ValueMap(options={k: dashboard_m.ValueMappingResult(text=t, color=c)
                                         for k, (t, c) in mapping.items()})


def row(title: str) -> dashboard_b.Row:
    return dashboard_b.Row(title)


def number_panels(board: dashboard_m.Dashboard) -> dashboard_m.Dashboard:
    """Give every panel and row a stable id, in layout order (Grafana links and shares panels by id)."""
    for i, panel in enumerate(board.panels or [], start=1):
        panel.id_val = i
    return board
