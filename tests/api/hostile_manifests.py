"""Broken and hostile InferenceServices, named: what a careless or hostile author might write, the field each
refusal must name, and words of the operator's own message. ``tests/api/test_manifests.py`` runs them through
``seasonal validate``'s parser; ``tests/e2e/test_manifests_on_the_api_server.py`` through the real API server.

Each case is a copy of an example with one change. ``server_field`` is what the API server's refusal must
name (None: the API server cannot judge it, see ``OPERATOR_ONLY``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SEASONS = "llama-3-8b-h100-seasons.yaml"
DISCOVERY = "llama-3-8b-h100-discovery.yaml"
ADVISORY = "llama-3-70b-tp4-fp8-advisory.yaml"
_DELETE = object()


def inference_services(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind") ==
            "InferenceService"]


EXAMPLES = sorted(p for p in (REPO / "examples").rglob("*.yaml") if inference_services(p))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node = doc
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        last = parts[-1]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = copy.deepcopy(value)
    return mutate


@dataclass(frozen=True)
class Case:
    example: str
    mutate: Callable[[dict[str, Any]], None]
    field: str                 # the operator's message names it
    words: str                 # ... and says this
    server_field: str | None   # the API server's refusal names it (None: only the operator can judge)


def _template(spec: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return _set("spec.serving", {"template": {"spec": spec}})


_PRIVILEGED = ("reaches beyond the pod", "spec.serving")
CASES: dict[str, Case] = {
    # --- from the hardening issue ---------------------------------------------------------------
    "prometheus-url-with-fragment": Case(SEASONS, _set("spec.traffic.prometheusUrl", "http://host/any/path#"),
                                         "spec.traffic.prometheusUrl", "remove the query, fragment or user",
                                         "spec.traffic.prometheusUrl"),
    "prometheus-url-with-query": Case(SEASONS, _set("spec.traffic.prometheusUrl", "http://host/api?x=1"),
                                      "spec.traffic.prometheusUrl", "remove the query", "spec.traffic.prometheusUrl"),
    "prometheus-url-with-user": Case(SEASONS, _set("spec.traffic.prometheusUrl", "http://admin:pw@host:9090"),
                                     "spec.traffic.prometheusUrl", "remove the query, fragment or user",
                                     "spec.traffic.prometheusUrl"),
    "prometheus-url-without-scheme": Case(SEASONS, _set("spec.traffic.prometheusUrl", "127.0.0.1:9090"),
                                          "spec.traffic.prometheusUrl", "did you mean http://127.0.0.1:9090",
                                          "spec.traffic.prometheusUrl"),
    "prometheus-url-other-scheme": Case(SEASONS, _set("spec.traffic.prometheusUrl", "file:///etc/passwd"),
                                        "spec.traffic.prometheusUrl", "not an http(s) URL",
                                        "spec.traffic.prometheusUrl"),
    "min-samples-3e7": Case(SEASONS, _set("spec.traffic.minSamples", 30_000_000), "spec.traffic.minSamples",
                            "less than or equal to 10000000", "spec.traffic.minSamples"),
    "min-samples-2e12": Case(SEASONS, _set("spec.traffic.minSamples", 2_000_000_000_000), "spec.traffic.minSamples",
                             "less than or equal", "spec.traffic.minSamples"),
    "build-lead-time-in-years": Case(SEASONS, _set("spec.engine.buildLeadTime", "9999999999999y"),
                                     "spec.engine.buildLeadTime", "pattern", "spec.engine.buildLeadTime"),
    "build-deadline-huge": Case(SEASONS, _set("spec.engine.buildDeadline", "999999999999999h"),
                                "spec.engine.buildDeadline", "pattern", "spec.engine.buildDeadline"),
    "build-deadline-zero": Case(SEASONS, _set("spec.engine.buildDeadline", "0s"), "spec.engine.buildDeadline",
                                "from 10m to 48h", "spec.engine.buildDeadline"),
    "window-zero": Case(SEASONS, _set("spec.traffic.window", "0s"), "spec.traffic.window", "from 1m to 168h",
                        "spec.traffic.window"),
    "evaluation-interval-zero": Case(SEASONS, _set("spec.traffic.evaluationInterval", "0s"),
                                     "spec.traffic.evaluationInterval", "from 10s to 24h",
                                     "spec.traffic.evaluationInterval"),
    "regex-lookahead": Case(SEASONS, _set("spec.traffic.selector", [{"label": "model", "op": "=~", "value": "(?=x)"}]),
                            "spec.traffic.selector[0]", "not valid RE2", "spec.traffic.selector[0]"),
    "regex-trailing-backslash": Case(SEASONS, _set("spec.traffic.selector", [{"label": "model", "op": "!~",
                                                                              "value": "a\\"}]),
                                     "spec.traffic.selector[0]", "not valid RE2", "spec.traffic.selector[0]"),
    "regex-backreference": Case(SEASONS, _set("spec.traffic.selector", [{"label": "m", "op": "=~", "value": "(a)\\1"}]),
                                "spec.traffic.selector[0]", "not valid RE2", "spec.traffic.selector[0]"),
    "gpu-without-preset-or-facts": Case(SEASONS, _set("spec.hardware", {"gpuProduct": "NVIDIA-B200"}),
                                        "spec.hardware", "has no preset", "spec.hardware"),
    "template-privileged": Case(SEASONS, _template({"containers": [{"name": "triton", "securityContext": {
        "privileged": True}}]}), "spec.serving", _PRIVILEGED[0], _PRIVILEGED[1]),
    "template-hostpath-root": Case(SEASONS, _template({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}),
                                   "spec.serving", _PRIVILEGED[0], _PRIVILEGED[1]),
    "template-host-network": Case(SEASONS, _template({"hostNetwork": True}), "spec.serving", _PRIVILEGED[0],
                                  _PRIVILEGED[1]),
    "template-host-pid": Case(SEASONS, _template({"hostPID": True}), "spec.serving", _PRIVILEGED[0], _PRIVILEGED[1]),
    "template-host-ipc": Case(SEASONS, _template({"hostIPC": True}), "spec.serving", _PRIVILEGED[0], _PRIVILEGED[1]),
    "template-service-account": Case(SEASONS, _template({"serviceAccountName": "cluster-admin-sa"}), "spec.serving",
                                     _PRIVILEGED[0], _PRIVILEGED[1]),
    "template-added-capability": Case(SEASONS, _template({"containers": [{"name": "triton", "securityContext": {
        "capabilities": {"add": ["SYS_ADMIN"]}}}]}), "spec.serving", _PRIVILEGED[0], _PRIVILEGED[1]),
    "template-privilege-escalation": Case(SEASONS, _template({"containers": [{"name": "t", "securityContext": {
        "allowPrivilegeEscalation": True}}]}), "spec.serving", _PRIVILEGED[0], _PRIVILEGED[1]),
    "template-privileged-init-container": Case(SEASONS, _template({"initContainers": [{"name": "i", "securityContext": {
        "privileged": True}}]}), "spec.serving", _PRIVILEGED[0], _PRIVILEGED[1]),
    "name-with-dots": Case(SEASONS, _set("metadata.name", "chat.v2"), "metadata.name", "DNS-1035 label",
                           "metadata.name"),
    "name-leading-digit": Case(SEASONS, _set("metadata.name", "9chat"), "metadata.name", "DNS-1035 label",
                               "metadata.name"),
    "name-64-characters": Case(SEASONS, _set("metadata.name", "c" * 64), "metadata.name", "at most 63 characters",
                               "metadata.name"),
    "selector-on-the-metric-name": Case(SEASONS, _set("spec.traffic.selector", [{"label": "__name__",
                                                                                 "value": "x"}]),
                                        "spec.traffic.selector[0]", "is reserved", "spec.traffic.selector[0]"),
    "selector-on-the-bucket-bound": Case(SEASONS, _set("spec.traffic.selector", [{"label": "le", "value": "1"}]),
                                         "spec.traffic.selector[0]", "is reserved", "spec.traffic.selector[0]"),
    # --- more bounds -----------------------------------------------------------------------------------
    "replicas-1001": Case(SEASONS, _set("spec.serving.replicas", 1001), "spec.serving.replicas", "less than or equal",
                          "spec.serving.replicas"),
    "tensor-parallel-65": Case(ADVISORY, _set("spec.model.tensorParallelSize", 65), "spec.model.tensorParallelSize",
                               "less than or equal", "spec.model.tensorParallelSize"),
    "headroom-5": Case(SEASONS, _set("spec.sizing.headroom", 5), "spec.sizing.headroom", "less than or equal",
                       "spec.sizing.headroom"),
    "ladder-step-15": Case(SEASONS, _set("spec.sizing.ladder", [15, 4096]), "spec.sizing.ladder",
                           "greater than or equal", "spec.sizing.ladder"),
    "ladder-step-2-million": Case(SEASONS, _set("spec.sizing.ladder", [4096, 2_097_152]), "spec.sizing.ladder",
                                  "less than or equal", "spec.sizing.ladder"),
    "ladder-65-steps": Case(SEASONS, _set("spec.sizing.ladder", list(range(16, 16 + 65))), "spec.sizing.ladder",
                            "at most 64", "spec.sizing.ladder"),
    "max-batch-size-5000": Case(SEASONS, _set("spec.sizing.maxBatchSize", 5000), "spec.sizing.maxBatchSize",
                                "less than or equal", "spec.sizing.maxBatchSize"),
    "kv-fraction-one": Case(SEASONS, _set("spec.sizing.kvCacheFreeGpuMemFraction", 1.0),
                            "spec.sizing.kvCacheFreeGpuMemFraction", "less than 1",
                            "spec.sizing.kvCacheFreeGpuMemFraction"),
    "quantile-above-one": Case(SEASONS, _set("spec.sizing.inputQuantile", 1.5), "spec.sizing.inputQuantile",
                               "less than 1", "spec.sizing.inputQuantile"),
    "season-history-53": Case(SEASONS, _set("spec.seasons.0.history", 53), "spec.seasons[0].history",
                              "less than or equal", "spec.seasons[0].history"),
    "season-duration-zero": Case(SEASONS, _set("spec.seasons.0.duration", "0s"), "spec.seasons[0]", "",
                                 "spec.seasons[0]"),
    "season-longer-than-a-week": Case(SEASONS, _set("spec.seasons.0.duration", "200h"), "spec.seasons[0]", "200h",
                                      "spec.seasons[0]"),
    "season-prose-cron": Case(SEASONS, _set("spec.seasons.0.schedule", "every morning at eight"),
                              "spec.seasons[0].schedule", "pattern", "spec.seasons[0].schedule"),
    "seventeen-seasons": Case(SEASONS, lambda d: d["spec"].__setitem__("seasons", [
        {**d["spec"]["seasons"][0], "name": f"s{i}"} for i in range(17)]), "spec.seasons", "at most 16",
        "spec.seasons"),
    "shift-window-25h": Case(SEASONS, _set("spec.drift.shift.window", "25h"), "spec.drift.shift.window",
                             "from 1m to 24h", "spec.drift.shift.window"),
    "shift-significance-0.6": Case(SEASONS, _set("spec.drift.shift.significance", 0.6),
                                   "spec.drift.shift.significance", "less than 0.5", "spec.drift.shift.significance"),
    "waste-factor-one": Case(SEASONS, _set("spec.drift.wasteFactor", 1.0), "spec.drift.wasteFactor", "greater than 1",
                             "spec.drift.wasteFactor"),
    "consecutive-101": Case(SEASONS, _set("spec.drift.consecutiveEvaluations", 101),
                            "spec.drift.consecutiveEvaluations", "less than or equal",
                            "spec.drift.consecutiveEvaluations"),
    "rebuild-interval-721h": Case(SEASONS, _set("spec.drift.minRebuildInterval", "721h"),
                                  "spec.drift.minRebuildInterval", "from 0s to 720h",
                                  "spec.drift.minRebuildInterval"),
    "readiness-timeout-25h": Case(SEASONS, _set("spec.rollout.readinessTimeout", "25h"),
                                  "spec.rollout.readinessTimeout", "from 1m to 24h", "spec.rollout.readinessTimeout"),
    "slo-ttft-an-hour-and-more": Case(SEASONS, _set("spec.rollout.slo", {"ttftP99Seconds": 3601}),
                                      "spec.rollout.slo.ttftP99Seconds", "less than or equal",
                                      "spec.rollout.slo.ttftP99Seconds"),
    "architecture-hidden-200k": Case(ADVISORY, _set("spec.model.architecture", {
        "numLayers": 80, "hiddenSize": 200_000, "numAttentionHeads": 64, "numKeyValueHeads": 8,
        "maxPositionEmbeddings": 8192}), "spec.model.architecture.hiddenSize", "less than or equal",
        "spec.model.architecture.hiddenSize"),
    "seventeen-matchers": Case(SEASONS, _set("spec.traffic.selector", [{"label": f"l{i}", "value": "x"}
                                                                      for i in range(17)]),
                               "spec.traffic.selector", "at most 16", "spec.traffic.selector"),
    "downsize-window-prose-cron": Case(SEASONS, _set("spec.drift.downsizeWindow", {"schedule": "at night please",
                                                                                    "duration": "4h"}),
                                       "spec.drift.downsizeWindow.schedule", "pattern",
                                       "spec.drift.downsizeWindow.schedule"),
    "unknown-weight-quantization": Case(ADVISORY, _set("spec.model.quantization.weights", "fp4"),
                                        "spec.model.quantization.weights", "fp8", "spec.model.quantization.weights"),
    "empty-engine-image": Case(SEASONS, _set("spec.engine.image", ""), "spec.engine.image", "at least 1",
                               "spec.engine.image"),
    # --- season discovery -------------------------------------------------------------------------------
    "discovery-and-seasons": Case(DISCOVERY, _set("spec.seasons", [{"name": "day", "schedule": "0 8 * * *",
                                                                    "duration": "10h"}]),
                                  "spec.seasons or spec.seasonDiscovery", "not both", "spec"),
    "discovery-nine-seasons": Case(DISCOVERY, _set("spec.seasonDiscovery.maxSeasons", 9),
                                   "spec.seasonDiscovery.maxSeasons", "less than or equal to 8",
                                   "spec.seasonDiscovery.maxSeasons"),
    "discovery-churn-above-one": Case(DISCOVERY, _set("spec.seasonDiscovery.churnPenalty", 1.5),
                                      "spec.seasonDiscovery.churnPenalty", "less than or equal to 1",
                                      "spec.seasonDiscovery.churnPenalty"),
    "discovery-confidence-one": Case(DISCOVERY, _set("spec.seasonDiscovery.confidence", 1.0),
                                     "spec.seasonDiscovery.confidence", "less than 1",
                                     "spec.seasonDiscovery.confidence"),
    "discovery-tail-half": Case(DISCOVERY, _set("spec.seasonDiscovery.tailRequests", 0.5),
                                "spec.seasonDiscovery.tailRequests", "greater than or equal to 1",
                                "spec.seasonDiscovery.tailRequests"),
    "discovery-three-days": Case(DISCOVERY, _set("spec.seasonDiscovery.history", "3d"), "spec.seasonDiscovery",
                                 "from 7d to 28d", "spec.seasonDiscovery"),
    "discovery-refresh-longer-than-history": Case(DISCOVERY, _set("spec.seasonDiscovery.refresh", "30d"),
                                                  "spec.seasonDiscovery", "from 1h to the history",
                                                  "spec.seasonDiscovery"),
    "discovery-refresh-in-minutes": Case(DISCOVERY, _set("spec.seasonDiscovery.refresh", "30m"),
                                         "spec.seasonDiscovery.refresh", "pattern", "spec.seasonDiscovery.refresh"),
    # --- broken examples (the examples README lists what the API server answers) ---------------------
    "both-sources": Case(ADVISORY, _set("spec.model.source.huggingFace", {"repo": "meta-llama/x"}),
                         "spec.model.source", "exactly one", "spec.model.source"),
    "no-source": Case(ADVISORY, _set("spec.model.source", {}), "spec.model.source", "exactly one",
                      "spec.model.source"),
    "bad-mode": Case(SEASONS, _set("spec.mode", "Automatic"), "spec.mode", "Auto", "spec.mode"),
    "bad-strategy": Case(SEASONS, _set("spec.rollout.strategy", "Canary"), "spec.rollout.strategy", "RollingUpdate",
                         "spec.rollout.strategy"),
    "duplicate-season": Case(SEASONS, _set("spec.seasons.1.name", "business-hours"), "spec.seasons",
                             "business-hours", "spec.seasons"),
    "missing-gpu": Case(SEASONS, _set("spec.hardware", {}), "spec.hardware.gpuProduct", "required",
                        "spec.hardware.gpuProduct"),
    "unknown-field": Case(SEASONS, _set("spec.sizing.quantile", 0.9), "spec.sizing.quantile", "not permitted",
                          "spec.sizing.quantile"),
    "custom-without-metrics": Case(SEASONS, _set("spec.traffic.preset", "custom"), "spec.traffic", "metrics",
                                   "spec.traffic"),
    "trtllm-1.3-with-tensorrt": Case(SEASONS, _set("spec.engine.trtllmVersion", "1.3.0"), "trtllmVersion", "1.2",
                                     "spec"),
    "both-template-and-reference": Case(SEASONS, _set("spec.serving", {"template": {"spec": {}},
                                                                       "deploymentRef": {"name": "mine"}}),
                                        "spec.serving", "not both", "spec.serving"),
}

# What CEL cannot know: cron periods, IANA zone names, list order. The operator refuses them (condition
# SpecValid False, and `seasonal validate`); the API server accepts them.
OPERATOR_ONLY: dict[str, Case] = {
    "season-longer-than-its-period": Case(SEASONS, lambda d: d["spec"]["seasons"][0].update(
        schedule="0 * * * *", duration="2h"), "spec.seasons[0]",
        "must not be longer than the time between two starts", None),
    "unknown-timezone": Case(SEASONS, _set("spec.seasons.0.timezone", "Europe/Atlantis"), "spec.seasons[0].timezone",
                             "unknown IANA timezone", None),
    "cron-out-of-range": Case(SEASONS, _set("spec.seasons.0.schedule", "0 25 * * *"), "spec.seasons[0]",
                              "not a valid cron expression", None),
    "ladder-descending": Case(SEASONS, _set("spec.sizing.ladder", [4096, 2048]), "spec.sizing.ladder",
                              "strictly ascending", None),
}


def broken(case: Case) -> dict[str, Any]:
    doc = copy.deepcopy(inference_services(REPO / "examples" / case.example)[0])
    case.mutate(doc)
    return doc
