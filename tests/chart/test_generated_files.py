"""The chart's dashboards, alert rules and CRD copy are exactly what the code generates, and the dashboards
hang together: every panel queries the data source variable, every variable a query uses is defined, and
the panels the product promises are there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from seasonal_engines.dashboards import alert_rules, fleet_dashboard, generating, service_dashboard
from tests.chart import chart_rendering as cr

GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__data", "__url_time_range"}
DASHBOARDS = {service_dashboard.FILENAME: service_dashboard.UID, fleet_dashboard.FILENAME: fleet_dashboard.UID}


def load(name: str) -> dict[str, Any]:
    return json.loads((cr.CHART / "dashboards" / name).read_text())


def test_committed_files_equal_the_generator_output() -> None:
    assert generating.stale(cr.CHART) == [], "stale generated files: run python -m seasonal_engines.dashboards"


def test_check_command_reports_a_hand_edit(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    shutil.copytree(cr.CHART, chart)
    run = [sys.executable, "-m", "seasonal_engines.dashboards", "--chart-dir", str(chart)]
    assert subprocess.run([*run, "--check"], capture_output=True, text=True).returncode == 0
    edited = chart / "dashboards" / service_dashboard.FILENAME
    edited.write_text(edited.read_text().replace("Coverage", "Covfefe"))
    result = subprocess.run([*run, "--check"], capture_output=True, text=True)
    assert result.returncode == 1 and service_dashboard.FILENAME in result.stderr
    rewrite = subprocess.run(run, capture_output=True, text=True)
    assert rewrite.returncode == 0 and service_dashboard.FILENAME in rewrite.stdout
    assert edited.read_text() == (cr.CHART / "dashboards" / service_dashboard.FILENAME).read_text()


def test_generator_refuses_a_directory_that_is_not_the_chart(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "seasonal_engines.dashboards", "--chart-dir", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--chart-dir" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.prometheus
def test_promtool_check_rules_passes() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: apt-get install -y prometheus"
    result = subprocess.run([promtool, "check", "rules", str(cr.CHART / "files" / "alerts.rules.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules.RULES)} rules found" in result.stdout + result.stderr


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_panels_query_the_datasource_variable(name: str) -> None:
    board = load(name)
    assert board["uid"] == DASHBOARDS[name]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels(board):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip() and target["datasource"] == panel["datasource"]
        assert panel["description"], panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_variable_a_query_uses_is_defined(name: str) -> None:
    board = load(name)
    defined = {v["name"] for v in board["templating"]["list"]} | GRAFANA_BUILTINS
    texts = [t["expr"] for p in panels(board) for t in p["targets"]]
    texts += [a["expr"] for a in board["annotations"].get("list", [])]
    texts += [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    used = {m for text in texts for m in re.findall(r"\$\{?(\w+)", text)}
    assert used - defined == set()
    assert "datasource" in defined


def test_service_dashboard_has_the_promised_views() -> None:
    board = load(service_dashboard.FILENAME)
    by_title = {p["title"]: p for p in panels(board)}
    heatmaps = [p for p in panels(board) if p["type"] == "heatmap"]
    assert len(heatmaps) == 2
    for h in heatmaps:
        (target,) = h["targets"]
        assert target["format"] == "heatmap" and target["legendFormat"] == "{{le}}"
        assert "_bucket" in target["expr"] and h["options"]["calculate"] is False
    # the engine's limits overlaid on the quantiles of what the heat maps show
    for title, limit in (("Prompt tokens against max_input_len", "max_input_len"),
                         ("Prompt + output tokens against max_seq_len", "max_seq_len")):
        panel = by_title[title]
        assert any(f'limit="{limit}"' in t["expr"] and t["legendFormat"] == limit for t in panel["targets"])
        override = next(o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == limit)
        assert {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 6]}} in override["properties"]
    exprs = "\n".join(t["expr"] for p in panels(board) for t in p["targets"])
    for metric in ("seasonal_operator_coverage_ratio", "seasonal_operator_drift_score",
                   "seasonal_operator_active_season", "seasonal_operator_builds_total",
                   "seasonal_operator_build_duration_seconds", "seasonal_operator_rollouts_total",
                   "nv_inference_first_response_histogram_ms_bucket", "nv_inference_request_duration_us",
                   "seasonal_operator_recommended_replicas", "seasonal_request_output_tokens_sum"):
        assert metric in exprs, metric
    annotations = {a["name"]: a for a in board["annotations"]["list"]}
    assert set(annotations) == {"Rollouts", "Engine switches"}
    assert all(a["datasource"]["uid"] == "${datasource}" and a["titleFormat"] for a in annotations.values())
    variables = [v["name"] for v in board["templating"]["list"]]
    assert variables == ["datasource", "namespace", "name", "model", "triton_model"]
