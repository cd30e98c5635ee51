"""Every example is valid for the API server (schema + CEL) and for the operator (pydantic); broken copies
are refused by both, with a message naming the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from seasonal_engines.api import validation
from tests.api import crd_validation

def _inference_services(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind") ==
            "InferenceService"]


# Every manifest of ours under examples/ (Helm values files there are checked by the chart tests).
EXAMPLES = sorted(p for p in (crd_validation.REPO / "examples").rglob("*.yaml") if _inference_services(p))


def test_there_are_examples() -> None:
    names = {p.name for p in EXAMPLES}
    assert "llama-3-8b-h100-seasons.yaml" in names and "llama-3-70b-tp4-fp8-advisory.yaml" in names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_valid(path: Path) -> None:
    docs = _inference_services(path)
    assert docs, f"{path.name} holds no InferenceService"
    for doc in docs:
        assert crd_validation.server_side_errors(doc) == []
        validation.parse_manifest(doc)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node = doc
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


_DELETE = object()
SEASONS = "llama-3-8b-h100-seasons.yaml"
ADVISORY = "llama-3-70b-tp4-fp8-advisory.yaml"

# (example, mutation, field the messages must name, words the operator's message must contain)
BROKEN = {
    "quantile-above-one": (SEASONS, _set("spec.sizing.inputQuantile", 1.5), "inputQuantile", "less than 1"),
    "quantile-zero": (SEASONS, _set("spec.sizing.sequenceQuantile", 0), "sequenceQuantile", "greater than 0"),
    "both-sources": (ADVISORY, _set("spec.model.source.huggingFace", {"repo": "meta-llama/x"}), "source",
                     "exactly one"),
    "no-source": (ADVISORY, _set("spec.model.source", {}), "source", "exactly one"),
    "bad-mode": (SEASONS, _set("spec.mode", "Automatic"), "mode", "Auto"),
    "bad-strategy": (SEASONS, _set("spec.rollout.strategy", "Canary"), "strategy", "RollingUpdate"),
    "season-too-long": (SEASONS, _set("spec.seasons.0.duration", "200h"), "seasons", "200h"),
    "season-not-go-duration": (SEASONS, _set("spec.seasons.0.duration", "1d"), "duration", "pattern"),
    "duplicate-season": (SEASONS, _set("spec.seasons.1.name", "business-hours"), "seasons", "business-hours"),
    "missing-gpu": (SEASONS, _set("spec.hardware", {}), "gpuProduct", "required"),
    "unknown-field": (SEASONS, _set("spec.sizing.quantile", 0.9), "quantile", "not permitted"),
    "custom-without-metrics": (SEASONS, _set("spec.traffic.preset", "custom"), "traffic", "metrics"),
    "trtllm-1.3-tensorrt": (SEASONS, _set("spec.engine.trtllmVersion", "1.3.0"), "trtllmVersion", "1.2"),
    "tp-zero": (ADVISORY, _set("spec.model.tensorParallelSize", 0), "tensorParallelSize", "greater than or equal"),
    "bad-prometheus-url": (SEASONS, _set("spec.traffic.prometheusUrl", "prometheus:9090"), "prometheusUrl",
                           "pattern"),
}


@pytest.mark.parametrize("case", sorted(BROKEN), ids=str)
def test_broken_copy_is_refused_by_both_validators(case: str) -> None:
    example, mutate, field, words = BROKEN[case]
    doc = copy.deepcopy(_inference_services(crd_validation.REPO / "examples" / example)[0])
    mutate(doc)
    server = crd_validation.server_side_errors(doc)
    assert server, f"the API server would accept {case}"
    assert any(field in line for line in server), server
    with pytest.raises(validation.SpecError) as caught:
        validation.parse_manifest(doc)
    message = str(caught.value)
    assert field in message, message
    assert words.lower() in message.lower(), message


@pytest.mark.parametrize("case", ["season-longer-than-period", "bad-timezone", "bad-cron", "ladder-descending"])
def test_rules_only_the_operator_can_check(case: str) -> None:
    """Cron periods, IANA zones and list order are beyond CEL; the operator's model refuses them clearly."""
    doc = copy.deepcopy(_inference_services(crd_validation.REPO / "examples" / SEASONS)[0])
    season = doc["spec"]["seasons"][0]
    if case == "season-longer-than-period":
        season.update(schedule="0 * * * *", duration="2h")
        expect = ("spec.seasons[0]", "must not be longer than the time between two starts", "1h")
    elif case == "bad-timezone":
        season["timezone"] = "Europe/Atlantis"
        expect = ("spec.seasons[0].timezone", "unknown IANA timezone", "Europe/Atlantis")
    elif case == "bad-cron":
        season["schedule"] = "every morning"
        expect = ("spec.seasons[0]", "not a valid cron expression", "0 8 * * 1-5")
    else:
        doc["spec"]["sizing"]["ladder"] = [4096, 2048]
        expect = ("spec.sizing.ladder", "strictly ascending", "4096")
    with pytest.raises(validation.SpecError) as caught:
        validation.parse_manifest(doc)
    for words in expect:
        assert words in str(caught.value)


def test_kserve_manifest_is_pointed_at_its_own_operator() -> None:
    doc = copy.deepcopy(_inference_services(crd_validation.REPO / "examples" / SEASONS)[0])
    doc["apiVersion"] = "serving.kserve.io/v1beta1"
    with pytest.raises(validation.SpecError, match="apiVersion: must be seasonalengines.io/v1alpha1"):
        validation.parse_manifest(doc)
