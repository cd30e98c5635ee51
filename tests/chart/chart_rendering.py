"""Render the Helm chart with the real helm binary (no cluster) and read the manifests back."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "seasonal-engines"
EXAMPLE_VALUES = REPO_ROOT / "examples" / "values-gpu-cluster.yaml"
RELEASE = "se"
NAMESPACE = "seasonal-engines"
KUBE_VERSION = "1.35.0"

# Value sets every chart test runs with: the defaults, the example for a GPU cluster, and the other
# branches (namespaced RBAC with peering, every toggle on, or everything optional off).
NAMESPACED = ["--set", "operator.watchNamespaces={llm,research}", "--set", "operator.replicas=3",
              "--set", "operator.standalone=false",
              "--set", "metrics.serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true",
              "--set", "triton.podMonitor.enabled=true"]
MINIMAL = ["--set", "metrics.service.enabled=false", "--set", "grafana.dashboards.enabled=false",
           "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=existing"]
VALUE_SETS: dict[str, list[str]] = {
    "default": [],
    "example-gpu-cluster": ["-f", str(EXAMPLE_VALUES)],
    "namespaced-peering": NAMESPACED,
    "minimal": MINIMAL,
}


def helm(helm_bin: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(helm_bin), *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    return result


def template(helm_bin: Path, values: Sequence[str] = (), *, include_crds: bool = False) -> list[dict[str, Any]]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION, *values]
    if include_crds:
        args.append("--include-crds")
    text = helm(helm_bin, *args).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


def of_kind(docs: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: Sequence[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]
