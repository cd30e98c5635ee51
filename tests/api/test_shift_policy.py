"""drift.shift: defaults, the recent window capped at half the trailing window, and a clear error for 0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from seasonal_engines.api import validation

REPO = Path(__file__).resolve().parents[2]


def parsed(traffic_window: str, shift: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    doc = yaml.safe_load((REPO / "examples" / "llama-3-8b-h100-seasons.yaml").read_text())
    doc["spec"]["traffic"]["window"] = traffic_window
    if shift is not None:
        doc["spec"].setdefault("drift", {})["shift"] = shift
    return validation.parse_manifest(doc)


def test_defaults_read_the_last_15_minutes() -> None:
    spec = parsed("2h")
    assert spec.drift.shift.enabled and spec.drift.shift.consecutive_evaluations == 1
    assert spec.shift_window_seconds() == 900.0


def test_the_recent_window_is_at_most_half_the_trailing_window() -> None:
    assert parsed("20m").shift_window_seconds() == 600.0
    assert parsed("2h", {"window": "45m"}).shift_window_seconds() == 2700.0
    assert parsed("2h", {"enabled": False}).shift_window_seconds() is None


def test_a_zero_window_is_refused_with_the_fix() -> None:
    with pytest.raises(validation.SpecError,
                       match=r"spec.drift.shift.window: must be a duration from 1m to 24h \(got '0s'\)"):
        parsed("1h", {"window": "0s"})
    with pytest.raises(validation.SpecError, match="significance"):
        parsed("1h", {"significance": 0.7})
