"""checkov (``--framework kubernetes``) on what we ship and what the operator creates: the chart rendered with
the GPU-cluster example, and the Triton Deployment and references Job the operator renders. The checks that
matter pass; each finding that stays is named here and explained in docs/architecture.md ("Policy checks").
The build Job has its own test (tests/engine_jobs/test_build_pod.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from seasonal_engines.api import validation
from seasonal_engines.api.status import EngineRef, EnvelopeStatus
from seasonal_engines.core import build_jobs, deployments, engine_references
from tests.chart import chart_rendering as cr
from tests.engine_jobs import policy_tools

# run as non-root, no privilege escalation, capabilities dropped, seccomp, no host namespaces, requests
REQUIRED = {"CKV_K8S_23", "CKV_K8S_20", "CKV_K8S_37", "CKV_K8S_28", "CKV_K8S_31", "CKV_K8S_29", "CKV_K8S_30",
            "CKV_K8S_16", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19", "CKV_K8S_10", "CKV_K8S_12", "CKV_K8S_8",
            "CKV_K8S_9"}
REMAINING_CHART = {
    "CKV_K8S_43",  # image digest: image.digest pins one (the default is the release's tag)
    "CKV_K8S_15",  # pull policy Always: release tags are immutable; image.pullPolicy sets it
    "CKV_K8S_38",  # service-account token mounted: the operator talks to the API server with it
}
REMAINING_OPERATOR = {
    "CKV_K8S_43", "CKV_K8S_15",  # the Triton image is spec.engine.image (NVIDIA's tag); ours by tag
    "CKV_K8S_40",   # uid >= 10000: NGC images' own non-root user is triton-server, uid 1000
    "CKV_K8S_11", "CKV_K8S_13",  # Triton's CPU and memory limits depend on the model: the serving template's to set
    "CKV_K8S_22",   # read-only root filesystem for Triton: its backends write scratch files
    "CKV2_K8S_6",   # NetworkPolicy for Triton and references pods: clients and the store are the cluster's to allow
}


def checkov(path: Path) -> tuple[set[str], dict[str, set[str]]]:
    done = subprocess.run([str(policy_tools.checkov()), "--framework", "kubernetes", "-f", str(path),
                           "--skip-download", "-o", "json"], capture_output=True, text=True, timeout=600)
    results = json.loads(done.stdout)["results"]
    failed: dict[str, set[str]] = {}
    for c in results["failed_checks"]:
        failed.setdefault(c["check_id"], set()).add(c["resource"])
    return {c["check_id"] for c in results["passed_checks"]}, failed


@pytest.mark.helm
def test_the_chart_passes_the_checks_that_matter(helm_bin: Path, tmp_path: Path) -> None:
    path = tmp_path / "chart.yaml"
    path.write_text(yaml.safe_dump_all(cr.template(helm_bin, cr.VALUE_SETS["example-gpu-cluster"])))
    passed, failed = checkov(path)
    assert REQUIRED | {"CKV_K8S_11", "CKV_K8S_13"} <= passed  # and CPU and memory limits
    assert set(failed) == REMAINING_CHART, failed


def test_what_the_operator_creates_passes_the_checks_that_matter(tmp_path: Path) -> None:
    svc: dict[str, Any] = yaml.safe_load((cr.REPO_ROOT / "examples" / "llama-3-8b-h100-seasons.yaml").read_text())
    svc["metadata"].update(uid="0b6a4c9e-5d3f-4e61-9a47-1f2e3d4c5b6a", namespace="llm")
    spec = validation.parse_manifest(svc)
    engine = EngineRef(hash="ab" * 32, envelope=EnvelopeStatus(max_input_len=1024, max_seq_len=2048,
                                                                max_batch_size=64, max_num_tokens=8192))
    refs = engine_references.EngineReferences(owner="llm/chat", model="llama-3-8b", serving="ab" * 32)
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all([deployments.deployment(spec, svc, engine),
                                        build_jobs.references_job(refs, svc)]))
    passed, failed = checkov(path)
    assert REQUIRED - {"CKV_K8S_10", "CKV_K8S_12"} <= passed  # Triton's requests: the template's (as limits)
    assert set(failed) == REMAINING_OPERATOR, failed
