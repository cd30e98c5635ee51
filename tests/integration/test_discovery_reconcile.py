"""The operator's reconciler with spec.seasonDiscovery against a real Prometheus: one range query for the
history (cached between evaluations, re-read every evaluation while the service is young), the schedule
in status, its Event, and the query budget. The cluster is a stand-in that answers at once (builds and
rollouts are not what is tested here)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from seasonal_engines.core import actions, observations, presets, reasons
from seasonal_engines.reconciling import Reconciler
from seasonal_engines.traces import openmetrics, read_trace
from tests.cluster_fake import FakeCluster

REPO = Path(__file__).resolve().parents[2]
DAY0 = datetime(2026, 1, 5, tzinfo=UTC)


class StandInCluster(FakeCluster):
    """What the reconciler asks of Kubernetes, answered at once: builds succeed, rollouts are ready."""

    def __init__(self) -> None:
        super().__init__()
        self.published: set[str] = set()

    def published_engines(self, namespace: str, service: str) -> frozenset[str]:
        return frozenset(self.published)

    def build_state(self, namespace: str, job_name: str) -> observations.BuildObservation:
        return observations.BuildObservation(job_name, observations.JobState.succeeded)

    def rollout_state(self, spec: Any, owner: Any, engine: Any, colour: Any) -> observations.RolloutObservation:
        return observations.RolloutObservation(engine.hash, True, True, True)


def body(url: str) -> dict[str, Any]:
    doc = yaml.safe_load((REPO / "examples" / "llama-3-8b-h100-discovery.yaml").read_text())
    doc["metadata"].update(uid="00000000-0000-0000-0000-000000000001", generation=1)
    doc["spec"]["model"]["name"] = "llama-3.1-8b"
    doc["spec"]["model"]["source"] = {"huggingFace": {"repo": "meta-llama/Llama-3.1-8B-Instruct"}}
    doc["spec"]["traffic"].update(prometheusUrl=url, selector=[{"label": "model", "value": "m"}], minSamples=300)
    doc["spec"]["seasonDiscovery"]["timezone"] = "UTC"
    doc["metadata"].setdefault("namespace", "llm")
    return copy.deepcopy(doc)


@pytest.mark.prometheus
def test_discovery_reads_one_history_query_keeps_the_schedule_and_stays_in_budget(prometheus_factory) -> None:
    trace = read_trace(REPO / "examples" / "traces" / "servegen_m-large_14d.csv.xz").window(0, 3 * 86400)
    text = openmetrics.to_text(trace.shifted(DAY0.timestamp()), presets.SEASONAL, 60.0, labels={"model": "m"})
    server = prometheus_factory(text)
    clock = {"now": DAY0 + timedelta(days=3)}
    cluster = StandInCluster()
    rec = Reconciler(cluster=cluster, clock=lambda: clock["now"])  # type: ignore[arg-type]
    svc = cluster.add(body(server.url))
    sent: list[int] = []
    for i in range(4):
        before = sum(p.queries_sent for p in rec.sources.values())
        out = rec.reconcile(svc)
        sent.append(sum(p.queries_sent for p in rec.sources.values()) - before)
        for a in out.decision.actions:
            if isinstance(a, actions.StartBuild):
                cluster.published.add(a.engine.hash)
        svc = cluster.read_service(svc["metadata"]["namespace"], svc["metadata"]["name"])
        if i == 0:
            schedule = out.decision.status.season_schedule
            assert schedule is not None and schedule.history_hours >= 70, schedule
            assert schedule.requests > 20_000
            assert [s.name for s in schedule.seasons], schedule
            assert reasons.SEASONS_DISCOVERED in [e.reason for e in out.events]
        clock["now"] += timedelta(minutes=5)
    # the first evaluation: the trailing window and the history; afterwards the history is cached (older
    # than a day) and each evaluation sends the trailing window's query only
    assert sent[0] == 2 and sent[1:] == [1, 1, 1], sent
    assert svc["status"]["seasonSchedule"]["discoveredAt"] == "2026-01-08T00:00:00Z"
    later = [e.reason for e in out.events]
    assert reasons.SEASONS_DISCOVERED not in later, "the schedule is not announced again before refresh"
