"""`seasonal replay` on a slice of a shared trace: the JSON contract, the plot, and clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seasonal_engines.cli import main as cli

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO / "examples" / "traces"
M_LARGE = TRACES / "servegen_m-large_14d.csv.xz"
SPEC = REPO / "examples" / "replay" / "servegen-m-large.yaml"
CONTRACT = ("requests", "beyond_envelope_fraction", "mean_slack", "rebuilds_per_day", "rollovers_per_day")


def test_replay_of_six_hours_prints_the_json_contract_and_draws_the_plot(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "replay.png"
    code = cli.main(["replay", "--trace", str(M_LARGE), "--spec", str(SPEC), "--hours", "6", "--json",
                     "--plot", str(png), "--shift", "3", "--build-minutes", "20-40"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    for key in CONTRACT:
        assert key in doc
    assert set(doc["baselines"]) == {"static_model_max", "static_global", "oracle"}
    for base in doc["baselines"].values():
        assert set(CONTRACT) <= set(base)
    n = doc["requests"]
    assert 1500 < n < 4000 and all(b["requests"] == n for b in doc["baselines"].values())
    # the model-max engine rejects nothing and reserves far more than the hour's p99.9
    full = doc["baselines"]["static_model_max"]
    assert full["beyond_envelope_fraction"] == 0 and full["mean_slack"] > 5
    assert full["rebuilds_per_day"] == 0 and full["rollovers_per_day"] == 0
    assert 0 <= doc["beyond_envelope_fraction"] <= 1 and doc["mean_slack"] > 0
    assert doc["rebuilds_per_day"] > 0  # six hours from a cold start: something was sized
    assert len(doc["detections"]) == 1 and doc["detections"][0]["shift_at"].startswith("2026-01-05T03:")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_replay_table_names_every_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["replay", "--trace", str(M_LARGE), "--spec", str(SPEC), "--hours", "2"]) == 0
    out = capsys.readouterr().out
    for name in ("policy", "static_model_max", "static_global", "oracle"):
        assert name in out


def test_an_invalid_spec_is_a_clean_error_naming_the_field(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.read_text().replace("headroom: 0.1", "headroom: -1").replace("headroom: 0.25",
                                                                                     "headroom: -1"))
    assert cli.main(["replay", "--trace", str(M_LARGE), "--spec", str(bad), "--hours", "1"]) == 2
    assert "spec.sizing.headroom" in capsys.readouterr().err


def test_a_bad_build_duration_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["replay", "--trace", str(M_LARGE), "--spec", str(SPEC), "--build-minutes", "40-20"]) == 2
    assert "--build-minutes" in capsys.readouterr().err
