"""An in-memory ``core.ports.Cluster``, for unit tests of the reconciler and handlers.

It honours the port's contract, not Kubernetes': the methods the reconciler calls, with the same
return types (mypy checks it against the Protocol); ``write_status`` replaces the stored status and bumps
an integer resourceVersion, and raises ``StatusConflict`` when the body it is given is older, as the real
API server answers 409. Builds run until ``finish_builds`` says so, rollouts are ready once
``rollouts_ready`` is set. Tests that need the real server's behaviour run against the control plane in
``tests/testbed/cluster.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from seasonal_engines.api import spec as api
from seasonal_engines.api.status import EngineRef
from seasonal_engines.core import build_jobs, observations, ports
from seasonal_engines.core.ports import FieldConflict, StatusConflict


@dataclass
class FakeCluster:
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refuse_applies_with: ApiException | None = None
    conflicts_before_write: int = 0   # status writes answered 409 (someone else wrote in between)
    status_writes: int = 0
    finished_builds: set[str] = field(default_factory=set)   # Job names whose build succeeded
    rollouts_ready: bool = False                              # every rollout is ready at once
    live: str | None = None                                   # BlueGreen: the colour the Service selects

    def add(self, body: Mapping[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(dict(body))
        obj["metadata"].setdefault("resourceVersion", "1")
        self.objects[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
        return copy.deepcopy(obj)

    def finish_builds(self) -> None:
        """Every build Job started so far succeeds (its engine is published)."""
        self.finished_builds |= set(self.jobs)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.applied]

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

    def build_state(self, namespace: str, job_name: str) -> observations.BuildObservation:
        if job_name not in self.jobs:
            return observations.BuildObservation(job_name, observations.JobState.missing)
        if job_name in self.finished_builds:
            return observations.BuildObservation(job_name, observations.JobState.succeeded)
        return observations.BuildObservation(job_name, observations.JobState.running)

    def published_engines(self, namespace: str, service: str) -> frozenset[str]:
        return frozenset(job["metadata"]["annotations"][build_jobs.ANNOTATION_FULL_HASH]
                         for name, job in self.jobs.items() if name in self.finished_builds)

    def rollout_state(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any], target: EngineRef,
                      colour: str | None) -> observations.RolloutObservation:
        if self.rollouts_ready:
            return observations.RolloutObservation(target.hash, True, True, True)
        return observations.RolloutObservation(target.hash, False, False, False, message="not rolled yet")

    def colour_for(self, owner: Mapping[str, Any], engine_hash: str) -> str:
        for kind, manifest in reversed(self.applied):
            if kind == "Deployment" and manifest["engine"] == engine_hash and manifest["colour"]:
                return str(manifest["colour"])
        return "green" if self.live == "blue" else "blue"

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

    def roll_out(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any], engine: EngineRef,
                 colour: str | None) -> list[FieldConflict]:
        return self._record("Deployment", {"engine": engine.hash, "colour": colour})

    def apply_service(self, spec: api.InferenceServiceSpec, owner: Mapping[str, Any],
                      colour: str | None) -> list[FieldConflict]:
        self.live = colour
        return self._record("Service", {"colour": colour})

    def record_references(self, namespace: str, job: dict[str, Any]) -> list[FieldConflict]:
        return self._record("ReferencesJob", job)


def _conforms(cluster: FakeCluster) -> ports.Cluster:
    return cluster  # mypy checks here that the fake is a ports.Cluster
