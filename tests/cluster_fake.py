"""An in-memory stand-in for ``adapters.kubernetes.Cluster``, for unit tests of the reconciler and handlers.

It honours the adapter's contract, not Kubernetes': the methods the reconciler calls, with the same
return types; ``write_status`` replaces the stored status and bumps an integer resourceVersion, and raises
``StatusConflict`` when the body it is given is older, as the real API server answers 409. Tests that
need the real server's behaviour run against the control plane in ``tests/testbed/cluster.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from seasonal_engines.adapters.kubernetes import FieldConflict, StatusConflict
from seasonal_engines.core import build_jobs, decisions


@dataclass
class FakeCluster:
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refuse_applies_with: ApiException | None = None
    conflicts_before_write: int = 0   # status writes answered 409 (someone else wrote in between)
    status_writes: int = 0

    def add(self, body: Mapping[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(dict(body))
        obj["metadata"].setdefault("resourceVersion", "1")
        self.objects[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
        return copy.deepcopy(obj)

    # --- the InferenceService ---------------------------------------------------------------

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def write_status(self, body: Mapping[str, Any], status: Mapping[str, Any]) -> str:
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        stored = self.objects[key]
        if self.conflicts_before_write > 0:
            self.conflicts_before_write -= 1
            stored["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1)
        if body["metadata"].get("resourceVersion") != stored["metadata"]["resourceVersion"]:
            raise StatusConflict("the object has been modified")
        self.status_writes += 1
        stored["status"] = copy.deepcopy(dict(status))
        stored["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1)
        return str(stored["metadata"]["resourceVersion"])

    # --- gathering --------------------------------------------------------------------------

    def build_state(self, namespace: str, job_name: str) -> decisions.BuildObservation:
        if job_name not in self.jobs:
            return decisions.BuildObservation(job_name, decisions.JobState.missing)
        return decisions.BuildObservation(job_name, decisions.JobState.running)

    def published_engines(self, namespace: str, service: str) -> frozenset[str]:
        return frozenset()

    def rollout_state(self, spec: Any, owner: Mapping[str, Any], target: Any,
                      colour: str | None) -> decisions.RolloutObservation:
        return decisions.RolloutObservation(target.hash, False, False, False, message="not rolled yet")

    def colour_for(self, owner: Mapping[str, Any], engine_hash: str) -> str:
        return "blue"

    def live_colour(self, owner: Mapping[str, Any]) -> str | None:
        return None

    # --- applying ------------------------------------------------------------------------------

    def _record(self, kind: str, manifest: dict[str, Any]) -> list[FieldConflict]:
        if self.refuse_applies_with is not None:
            raise self.refuse_applies_with
        self.applied.append((kind, manifest))
        return []

    def start_build(self, namespace: str, manifests: build_jobs.BuildManifests) -> list[FieldConflict]:
        self._record("ConfigMap", manifests.config_map)
        self.jobs[manifests.job["metadata"]["name"]] = manifests.job
        return self._record("Job", manifests.job)

    def roll_out(self, spec: Any, owner: Mapping[str, Any], engine: Any, colour: str | None) -> list[FieldConflict]:
        return self._record("Deployment", {"engine": engine.hash, "colour": colour})

    def apply_service(self, spec: Any, owner: Mapping[str, Any], colour: str | None) -> list[FieldConflict]:
        return self._record("Service", {"colour": colour})

    def record_references(self, namespace: str, job: dict[str, Any]) -> list[FieldConflict]:
        return self._record("ReferencesJob", job)
