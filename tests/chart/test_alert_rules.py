"""The alert rules fire when they should and not before, with readable annotations: Prometheus' own rule
unit tests (``promtool test rules``) over series shaped like the operator's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from seasonal_engines.dashboards import alert_rules
from tests.chart import chart_rendering as cr

RULES = {r.name: r for r in alert_rules.RULES}


def annotations(alert: str, **values: str) -> dict[str, str]:
    """The rule's annotations as Prometheus renders them for namespace llm and the given name/value."""
    rule = RULES[alert]
    out = {}
    for key, text in (("summary", rule.summary), ("description", rule.description)):
        text = text.replace("{{ $labels.namespace }}", "llm").replace("{{ $labels.name }}", values["name"])
        for template, rendered in values.items():
            if template != "name":  # the service's name, substituted above; "name" is also an English word
                text = text.replace(template, rendered)
        out[key] = text
    return out


def expected(alert: str, name: str, **values: str) -> list[dict[str, Any]]:
    return [{"exp_labels": {"severity": RULES[alert].severity.value, "namespace": "llm", "name": name},
             "exp_annotations": annotations(alert, name=name, **values)}]


def failed(name: str) -> list[dict[str, Any]]:
    return expected("SeasonalEnginesBuildFailed", name, **{'{{ $value | printf "%.0f" }}': "1"})


def unit_tests() -> dict[str, Any]:
    S = 'namespace="llm", name="{}"'.format
    series = [
        # "chat": coverage 97 % with a confirmed breach from minute 5
        {"series": f"seasonal_operator_coverage_ratio{{{S('chat')}}}", "values": "0.97x90"},
        {"series": f'seasonal_operator_drifted{{{S("chat")}, kind="Breach"}}', "values": "0x4 1x86"},
        {"series": f'seasonal_operator_drifted{{{S("chat")}, kind="Waste"}}', "values": "0x90"},
        # "batch": its first build failure at minute 70 (the counter series is born at 1); "chat": none;
        # "embed": failed before the test's history began, and again at minute 80
        {"series": f'seasonal_operator_builds_total{{{S("batch")}, result="failed"}}', "values": "_x70 1x20"},
        {"series": f'seasonal_operator_builds_total{{{S("chat")}, result="failed"}}', "values": "0x90"},
        {"series": f'seasonal_operator_builds_total{{{S("embed")}, result="failed"}}', "values": "1x79 2x10"},
        *[{"series": f'seasonal_operator_evaluations_total{{{S(n)}, result="ok"}}', "values": "0+1x90"}
          for n in ("chat", "batch", "embed")],
        # "batch": a rollout started at t=600 s and never finished; "chat" has none
        {"series": f"seasonal_operator_rollout_started_timestamp_seconds{{{S('batch')}}}", "values": "0x9 600x80"},
        {"series": f"seasonal_operator_rollout_started_timestamp_seconds{{{S('chat')}}}", "values": "0x90"},
        # "advisor": traffic unavailable from minute 6
        {"series": f"seasonal_operator_traffic_available{{{S('advisor')}}}", "values": "1x5 0x80"},
        {"series": f"seasonal_operator_traffic_available{{{S('chat')}}}", "values": "1x90"},
        # "chat": longer requests confirmed from minute 10 to 50 (too short to alert); "batch": from minute 20
        # on; shorter requests never alert
        {"series": f'seasonal_operator_traffic_shifted{{{S("chat")}, direction="Up"}}', "values": "0x9 1x40 0x40"},
        {"series": f'seasonal_operator_traffic_shifted{{{S("batch")}, direction="Up"}}', "values": "0x19 1x70"},
        {"series": f'seasonal_operator_traffic_shifted{{{S("embed")}, direction="Down"}}', "values": "1x90"},
    ]
    value = '{{ $value | humanizePercentage }}'
    cases = [
        ("SeasonalEnginesCoverageBreach", "15m", []),
        ("SeasonalEnginesCoverageBreach", "21m", expected("SeasonalEnginesCoverageBreach", "chat", **{value: "97%"})),
        ("SeasonalEnginesBuildFailed", "9m", []),
        ("SeasonalEnginesBuildFailed", "69m", []),
        ("SeasonalEnginesBuildFailed", "72m", failed("batch")),
        ("SeasonalEnginesBuildFailed", "81m", failed("batch") + failed("embed")),
        ("SeasonalEnginesRolloutStuck", "72m", []),
        ("SeasonalEnginesRolloutStuck", "76m", expected("SeasonalEnginesRolloutStuck", "batch",
                                                         **{"{{ $value | humanizeDuration }}": "1h 6m 0s"})),
        ("SeasonalEnginesTrafficUnavailable", "30m", []),
        ("SeasonalEnginesTrafficUnavailable", "37m", expected("SeasonalEnginesTrafficUnavailable", "advisor")),
        ("SeasonalEnginesLengthsShiftedUp", "60m", []),
        ("SeasonalEnginesLengthsShiftedUp", "81m", expected("SeasonalEnginesLengthsShiftedUp", "batch")),
    ]
    return {
        "rule_files": [str(cr.CHART / "files" / alert_rules.FILENAME)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series,
                   "alert_rule_test": [{"eval_time": t, "alertname": a, "exp_alerts": e} for a, t, e in cases]}],
    }


@pytest.mark.prometheus
def test_alerts_fire_after_their_for_duration_with_rendered_annotations(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: apt-get install -y prometheus"
    assert {c["alertname"] for c in unit_tests()["tests"][0]["alert_rule_test"]} == set(RULES)
    test_file = tmp_path / "alerts.test.yaml"
    test_file.write_text(yaml.safe_dump(unit_tests(), sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_names_the_inference_service_and_has_a_severity() -> None:
    for rule in alert_rules.RULES:
        assert rule.name.startswith("SeasonalEngines")
        assert "{{ $labels.namespace }}/{{ $labels.name }}" in rule.description
        assert rule.for_.endswith("m")
