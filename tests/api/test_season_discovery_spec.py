"""spec.seasonDiscovery: exclusive with spec.seasons, every number and duration bounded, and the status it
writes. The API server's side of the same refusals: the discovery cases in ``hostile_manifests.CASES``, run
against the real API server by tests/e2e/test_manifests_on_the_api_server.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from seasonal_engines.api import validation
from seasonal_engines.api.status import InferenceServiceStatus
from tests.api import crd_validation

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "llama-3-8b-h100-discovery.yaml"


def doc(**discovery: Any) -> dict[str, Any]:
    d = yaml.safe_load(EXAMPLE.read_text())
    d["spec"]["seasonDiscovery"].update(discovery)
    return d


def test_the_example_reads_with_its_defaults() -> None:
    spec = validation.parse_manifest(doc())
    sd = spec.season_discovery
    assert sd is not None and spec.seasons == []
    assert (sd.history, sd.refresh, sd.max_seasons, sd.timezone) == ("14d", "1d", 4, "Europe/Berlin")
    assert (sd.churn_penalty, sd.confidence, sd.tail_requests) == (0.05, 0.75, 10)
    assert sd.history_hours() == 336


def test_seasons_and_discovery_together_are_refused() -> None:
    d = doc()
    d["spec"]["seasons"] = [{"name": "day", "schedule": "0 8 * * *", "duration": "10h"}]
    with pytest.raises(validation.SpecError, match="spec.seasons or spec.seasonDiscovery, not both"):
        validation.parse_manifest(d)


@pytest.mark.parametrize("field, value, words", [
    ("maxSeasons", 9, "less than or equal to 8"),
    ("maxSeasons", 0, "greater than or equal to 1"),
    ("churnPenalty", 1.5, "less than or equal to 1"),
    ("confidence", 1.0, "less than 1"),
    ("tailRequests", 0.5, "greater than or equal to 1"),
])
def test_numbers_out_of_bounds_are_refused(field: str, value: Any, words: str) -> None:
    d = doc(**{field: value})
    with pytest.raises(validation.SpecError) as caught:
        validation.parse_manifest(d)
    assert field in str(caught.value) and words in str(caught.value)


@pytest.mark.parametrize("updates, words", [
    ({"history": "3d"}, "seasonDiscovery.history must be from 7d to 28d, got 3d"),
    ({"history": "60d"}, "from 7d to 28d"),
    ({"refresh": "30m"}, "should match pattern '^[0-9]{1,4}(d|h)$'"),
    ({"refresh": "0h"}, "seasonDiscovery.refresh must be from 1h to the history"),
    ({"history": "7d", "refresh": "8d"}, "from 1h to the history (7d)"),
    ({"timezone": "Mars/Olympus"}, "unknown IANA timezone 'Mars/Olympus'"),
])
def test_durations_and_zones_are_checked_by_the_operator(updates: dict[str, Any], words: str) -> None:
    with pytest.raises(validation.SpecError) as caught:
        validation.parse_manifest(doc(**updates))
    assert words in str(caught.value)


def test_the_status_it_writes_reads_back() -> None:
    status = InferenceServiceStatus.model_validate({"seasonSchedule": {
        "seasons": [{"name": "hours-08-20", "schedule": "0 8 * * *", "timezone": "Europe/Berlin", "duration": "12h",
                     "history": 2, "plannedMaxSeqLen": 8192}],
        "discoveredAt": "2026-01-05T00:00:00Z", "historyHours": 336, "requests": 1.5e5, "meanEnvelope": 6144.0,
        "staticEnvelope": 8192, "message": "2 seasons", "shrinkStreak": 1, "lastResizedAt": "2026-01-05T01:00:00Z",
        "fromANewerOperator": True}})
    assert status.season_schedule is not None and status.season_schedule.seasons[0].history == 2
    crd = crd_validation.load_crd()
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert "seasonSchedule" in schema["properties"]
    assert copy.deepcopy(schema)["properties"]["seasonSchedule"]["properties"]["seasons"]["maxItems"] == 16
