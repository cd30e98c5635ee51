"""The chart's generated files: dashboards as JSON, alert rules as YAML, and the CRD copied from its
generator, keyed by their path inside ``charts/seasonal-engines``.

``render_all`` is pure (builds text); ``write`` and ``stale`` touch the chart directory. A test compares the
committed files with ``render_all`` so they cannot drift from the code.
"""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from seasonal_engines.api import crd
from seasonal_engines.dashboards import alert_rules, fleet_dashboard, service_dashboard

DASHBOARDS_DIR = "dashboards"
FILES_DIR = "files"
CRDS_DIR = "crds"


def dashboard_json(model: object) -> str:
    """Stable JSON: sorted keys, two-space indent, newline at the end (diffs stay readable)."""
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_all() -> dict[str, str]:
    """Every generated file's text by its path relative to the chart directory."""
    return {
        f"{DASHBOARDS_DIR}/{service_dashboard.FILENAME}": dashboard_json(service_dashboard.build()),
        f"{DASHBOARDS_DIR}/{fleet_dashboard.FILENAME}": dashboard_json(fleet_dashboard.build()),
        f"{FILES_DIR}/{alert_rules.FILENAME}": alert_rules.render(),
        f"{CRDS_DIR}/{crd.CRD_FILENAME}": crd.render(),
    }


def check_chart_dir(chart_dir: Path) -> None:
    if not (chart_dir / "Chart.yaml").is_file():
        raise FileNotFoundError(f"{chart_dir} is not the seasonal-engines chart (no Chart.yaml); pass "
                                "--chart-dir charts/seasonal-engines from the repository root")


def write(chart_dir: Path) -> list[str]:
    """Write every generated file; returns the paths that changed."""
    check_chart_dir(chart_dir)
    changed = []
    for rel, text in render_all().items():
        path = chart_dir / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(rel)
    return changed


def stale(chart_dir: Path) -> list[str]:
    """Generated paths whose committed text differs from the code's (missing ones included)."""
    check_chart_dir(chart_dir)
    return [rel for rel, text in render_all().items()
            if not (chart_dir / rel).is_file() or (chart_dir / rel).read_text(encoding="utf-8") != text]
