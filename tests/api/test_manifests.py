"""Every example is valid for the operator; every broken or hostile copy (``hostile_manifests.CASES`` and
``OPERATOR_ONLY``) is refused by ``seasonal validate``'s parser with a message naming the field. The same
copies meet the real API server in ``tests/e2e/test_manifests_on_the_api_server.py``."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from seasonal_engines.api import validation
from tests.api import hostile_manifests as hm


def test_there_are_examples_and_enough_hostile_cases() -> None:
    assert {"llama-3-8b-h100-seasons.yaml", "llama-3-70b-tp4-fp8-advisory.yaml"} <= {p.name for p in hm.EXAMPLES}
    assert len(hm.CASES) >= 60


@pytest.mark.parametrize("path", hm.EXAMPLES, ids=lambda p: p.name)
def test_example_is_valid(path: Path) -> None:
    for doc in hm.inference_services(path):
        validation.parse_manifest(doc)


@pytest.mark.parametrize("case", sorted({**hm.CASES, **hm.OPERATOR_ONLY}), ids=str)
def test_a_broken_copy_is_refused_naming_the_field(case: str) -> None:
    spec = {**hm.CASES, **hm.OPERATOR_ONLY}[case]
    with pytest.raises(validation.SpecError) as caught:
        validation.parse_manifest(hm.broken(spec))
    message = str(caught.value)
    assert spec.field in message, message
    assert spec.words.lower() in message.lower(), message


def test_seasonal_validate_prints_the_field_and_exits_1(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(hm.broken(hm.CASES["prometheus-url-without-scheme"])))
    done = subprocess.run([sys.executable, "-m", "seasonal_engines", "validate", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "spec.traffic.prometheusUrl" in done.stdout and "did you mean http://127.0.0.1:9090" in done.stdout


def test_a_yaml_error_is_named_with_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("apiVersion: seasonalengines.io/v1alpha1\nkind: InferenceService\nspec:\n  model: [unclosed\n")
    done = subprocess.run([sys.executable, "-m", "seasonal_engines", "validate", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{path}:5:1: not valid YAML" in done.stderr, done.stderr  # where the unclosed list runs out


def test_validate_warns_about_recreate_but_accepts_it(tmp_path: Path) -> None:
    import yaml

    doc = copy.deepcopy(hm.inference_services(hm.REPO / "examples" / hm.SEASONS)[0])
    doc["spec"]["rollout"] = {"strategy": "Recreate"}
    path = tmp_path / "recreate.yaml"
    path.write_text(yaml.safe_dump(doc))
    done = subprocess.run([sys.executable, "-m", "seasonal_engines", "validate", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "valid" in done.stdout
    assert "warning: spec.rollout.strategy: Recreate stops every serving pod" in done.stdout


def test_kserve_manifest_is_pointed_at_its_own_operator() -> None:
    doc = copy.deepcopy(hm.inference_services(hm.REPO / "examples" / hm.SEASONS)[0])
    doc["apiVersion"] = "serving.kserve.io/v1beta1"
    with pytest.raises(validation.SpecError, match="apiVersion: must be seasonalengines.io/v1alpha1"):
        validation.parse_manifest(doc)
