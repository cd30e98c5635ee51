"""One operator evaluation in a process of its own, for measuring what a Prometheus answer costs it.

``python -m tests.integration.evaluate_once URL [TIMEOUT_S]`` evaluates an InferenceService whose traffic
comes from URL with the operator's Reconciler (against the in-memory cluster of tests/cluster_fake.py) and
prints one JSON line: the process' peak RSS, the evaluation's wall time, and the TrafficAvailable condition
it wrote. The peak RSS is the whole process' (the operator's imports included), read from VmHWM: getrusage's
ru_maxrss would also count the parent's memory at fork time, which Linux carries across exec.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from seasonal_engines import settings as configuration
from seasonal_engines.reconciling import Reconciler
from tests.cluster_fake import FakeCluster


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    url = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    cluster = FakeCluster()
    body = cluster.add({
        "apiVersion": "seasonalengines.io/v1alpha1", "kind": "InferenceService",
        "metadata": {"name": "chat", "namespace": "llm", "uid": "u", "generation": 1},
        "spec": {"model": {"name": "llama-3-8b", "source": {"pvc": {"claimName": "weights"}}},
                 "hardware": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"}, "engine": {"store": {"claimName": "e"}},
                 "traffic": {"prometheusUrl": url, "minSamples": 10}}})
    ours = configuration.OperatorSettings(prometheus=configuration.PrometheusSettings(timeout_seconds=timeout))
    reconciler = Reconciler(cluster=cluster, settings=ours,  # type: ignore[arg-type]
                            clock=lambda: datetime(2026, 1, 5, 1, 0, tzinfo=UTC))
    started = time.monotonic()
    outcome = reconciler.reconcile(body)
    took = time.monotonic() - started
    conditions = {c["type"]: c for c in (outcome.status or {}).get("conditions", [])}
    print(json.dumps({"rss_mb": peak_rss_mb(), "seconds": took,
                      "traffic": conditions.get("TrafficAvailable")}))


if __name__ == "__main__":
    main()
