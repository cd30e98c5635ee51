"""Every PromQL expression of the Grafana dashboards and the alert rules returns data from a real Prometheus.

The Prometheus holds an hour of history for three InferenceServices, written the way production writes it:

- the operator's series come from ``OperatorMetrics.record`` fed one decision per scrape (builds, a
  rollout, a season change, a coverage breach, failed builds, a stuck rollout, missing traffic), exposed
  with prometheus_client's OpenMetrics exposition and stamped with the scrape time;
- the token exporter's histograms and censoring counters are the real Azure conversation trace passed
  through ``seasonal_engines.traces.openmetrics`` with each service's engine limits;
- Triton's ``nv_*`` series are derived from the same requests (time to first token from the prompt
  length, a fixed decode time per token), with the names and label sets a real tritonserver exports
  (checked against the test bed's below; its 2.51 predates the first-response histogram).

Queries run as Grafana would: panel targets as range queries over the hour (stat and table targets as
instant queries), variables substituted, ``label_values`` as a series query.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from seasonal_engines.adapters.metrics import OperatorMetrics
from seasonal_engines.api import status as st
from seasonal_engines.core import actions, censoring
from seasonal_engines.core.presets import SEASONAL
from seasonal_engines.dashboards import alert_rules, fleet_dashboard, generating, service_dashboard
from seasonal_engines.traces import openmetrics, read_trace
from tests.testbed import prometheus as tb_prometheus

pytestmark = pytest.mark.prometheus

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO / "examples" / "traces" / "azure2023_conv.csv.xz"
CHART = REPO / "charts" / "seasonal-engines"
SCRAPE_S = 30
EVAL_MIN = 55          # evaluate at this minute of the history
ITL_S = 0.025          # the stand-in decode time per generated token after the first
TRITON_TTFT_BUCKETS_MS = (100.0, 500.0, 2000.0, 5000.0, math.inf)  # Triton's defaults
# Label names per Triton metric, as tritonserver 2.51 exports them (test_triton_exports_these_label_sets).
TRITON_LABELS = {
    "nv_inference_request_success": {"model", "version"},
    "nv_inference_request_failure": {"model", "version", "reason"},
    "nv_inference_request_duration_us": {"model", "version"},
    "nv_inference_first_response_histogram_ms": {"model", "version"},
}


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    envelopes: tuple[tuple[int, int, int, int], ...] = ()  # by generation; empty: no engine yet

    @property
    def pod(self) -> str:  # named like core.deployments.deployment_name's pods
        return f"{self.name}-triton-7c9d5f6b8-k2x4q"


CHAT = Service("llm", "llama-3-8b-chat", ((8192, 9216, 64, 8192), (16384, 16384, 96, 8192)))
BATCH = Service("llm", "mistral-7b-batch", ((2048, 2560, 32, 4096),))
ADVISOR = Service("research", "llama-3-70b-advisory")
GRAFANA = {"namespace": CHAT.namespace, "name": CHAT.name, "model": CHAT.name, "triton_model": "ensemble",
           "__rate_interval": "2m", "__interval": "1m", "__range": "1h"}


# --- history -----------------------------------------------------------------------------------------


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def engine(envelope: tuple[int, int, int, int], season: str | None) -> st.EngineRef:
    i, s, b, n = envelope
    # The serving model's prediction as the planner attaches it (a longer engine reserves more KV: slower).
    prediction = st.ServingPrediction(peak_rps=4.0, replicas=2, ttft_p50_seconds=0.05 * s / 8192,
                                      ttft_p99_seconds=0.4 * s / 8192, itl_p50_seconds=0.007, itl_p99_seconds=0.012,
                                      output_tokens_per_second_per_gpu=2200.0)
    return st.EngineRef(hash=f"{i:05d}{s:05d}{b:04d}" + "a" * 8, season=season, prediction=prediction,
                        envelope=st.EnvelopeStatus(max_input_len=i, max_seq_len=s, max_batch_size=b, max_num_tokens=n))


def traffic_summary(t: float, samples: int, censored: float, peak: float) -> st.TrafficStatus:
    q = st.QuantilesStatus()
    return st.TrafficStatus(window="10m", evaluated_at=_iso(t), samples=samples, input=q, output=q, sequence=q,
                             sequence_source="joint", rate_rps=samples / 600, peak_rps=peak,
                             censored_fraction=censored)


def condition(t: float, available: bool) -> st.Condition:
    return st.Condition(type="TrafficAvailable", status="True" if available else "False",
                        reason="Enough" if available else "TooFewRequests", last_transition_time=_iso(t))


class Timeline:
    """One decision per service per scrape, with the events the operator would post at that moment."""

    def __init__(self, trace: Any, t0: float):
        self.trace, self.t0 = trace, t0

    def window(self, t: float, envelope: tuple[int, int, int, int]) -> tuple[int, float, float]:
        """Requests in the trailing 10 minutes, their share beyond the envelope, and a peak rate."""
        ts = self.trace.timestamps_s
        sel = (ts > t - 600) & (ts <= t)
        inp, out = self.trace.input_tokens[sel], self.trace.output_tokens[sel]
        beyond = float(np.mean((inp > envelope[0]) | (inp + out > envelope[1]))) if sel.any() else 0.0
        per_min = np.bincount(((ts[sel] - (t - 600)) // 60).astype(int), minlength=10)
        return int(sel.sum()), beyond, float(per_min.max()) / 60 * 1.2

    def chat(self, t: float, minute: int) -> tuple[actions.Decision, int]:
        gen = 2 if minute >= 34 else 1
        env = CHAT.envelopes[gen - 1]
        season = "business-hours" if minute < 28 else (None if minute < 30 else "evening")
        n, beyond, peak = self.window(t, env)
        events: list[str] = {5: ["BuildStarted"], 12: ["RolloutStarted"], 14: ["RolloutFailed", "RolledBack"],
                             20: ["BuildSucceeded"], 30: ["RolloutStarted"], 34: ["RolloutSucceeded"],
                             52: ["RolloutStarted"], 53: ["BuildStarted"]}.get(minute, [])
        building = 5 <= minute < 20 or minute >= 53
        rolling = 12 <= minute < 14 or 30 <= minute < 34 or minute >= 52
        status = st.InferenceServiceStatus(
            phase="Serving", serving_engine=engine(env, season), engine_generation=gen, active_season=season,
            build=st.BuildStatus(job_name="build-x", engine_hash="b" * 16, reason="Season",
                                 started_at=_iso(self.t0 + (5 if minute < 20 else 53) * 60)) if building else None,
            rollout=st.RolloutStatus(engine_hash="c" * 16,
                                     started_at=_iso(self.t0 + (12 if minute < 14 else 30 if minute < 34 else 52) * 60))
            if rolling else None,
            traffic=traffic_summary(t, n, beyond, peak), conditions=[condition(t, True)],
            drift=st.DriftStatus(state="Stable", score=0.03 + 0.02 * math.sin(minute / 6), beyond_fraction=beyond),
            build_durations_seconds=[900.0] if minute >= 20 else [])
        return _decision(status, events), max(1, math.ceil(peak / 2))

    def batch(self, t: float, minute: int) -> tuple[actions.Decision, int]:
        env = BATCH.envelopes[0]
        n, beyond, peak = self.window(t, env)
        events = {10: ["BuildStarted"], 25: ["BuildFailed"], 27: ["BuildStarted"], 40: ["BuildFailed"],
                  42: ["BuildStarted"], 50: ["BuildFailed"]}.get(minute, [])
        building = 10 <= minute < 25 or 27 <= minute < 40 or 42 <= minute < 50
        status = st.InferenceServiceStatus(
            phase="Degraded", serving_engine=engine(env, None), engine_generation=3,
            build=st.BuildStatus(job_name="build-y", engine_hash="d" * 16, reason="DriftBreach",
                                 started_at=_iso(t)) if building else None,
            # a rollout that started 20 minutes before the history and never finished
            rollout=st.RolloutStatus(engine_hash="e" * 16, started_at=_iso(self.t0 - 1200)),
            traffic=traffic_summary(t, n, beyond, peak), conditions=[condition(t, True)],
            drift=st.DriftStatus(state="Breach" if minute >= 3 else "Stable", score=0.35, beyond_fraction=beyond,
                                 shift=st.ShiftStatus(shifted=True, confirmed=minute >= 2, direction="Up",
                                                      dimension="input", test="location", observed=0.71,
                                                      expected=0.5, p_value=1e-7, samples=110.0,
                                                      message="input lengths longer")))
        return _decision(status, events), max(1, math.ceil(peak / 2))

    def advisor(self, t: float, minute: int) -> tuple[actions.Decision, int | None]:
        status = st.InferenceServiceStatus(phase="InsufficientTraffic", conditions=[condition(t, False)])
        return _decision(status, []), None


def _decision(status: st.InferenceServiceStatus, reasons: list[str]) -> actions.Decision:
    return actions.Decision(status=status, events=tuple(actions.Event("Normal", r, r) for r in reasons))


def _labels(labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + inner + "}" if inner else ""


class Families:
    """OpenMetrics families collected over time, written back family by family (promtool wants that)."""

    def __init__(self) -> None:
        self.meta: dict[str, tuple[str, str]] = {}
        self.series: dict[str, dict[tuple[str, str], list[str]]] = defaultdict(lambda: defaultdict(list))

    def add(self, family: str, kind: str, sample: str, labels: dict[str, str], value: float, t: float) -> None:
        self.meta.setdefault(family, (kind, family.replace("_", " ")))
        self.series[family][(sample, _labels(labels))].append(f"{value!r} {int(t)}")

    def add_document(self, text: str) -> None:
        """Merge an OpenMetrics document that has timestamps already (one family may repeat across calls)."""
        family = ""
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, family, kind = line.split(" ", 3)
                self.meta.setdefault(family, (kind, family))
            elif line and not line.startswith("#"):
                head, value, ts = line.rsplit(" ", 2)
                name, _, rest = head.partition("{")
                self.series[family][(name, "{" + rest if rest else "")].append(f"{value} {ts}")

    def text(self) -> str:
        out = []
        for family, (kind, help_text) in self.meta.items():
            out += [f"# TYPE {family} {kind}", f"# HELP {family} {help_text}"]
            for (sample, labels), points in self.series[family].items():
                out += [f"{sample}{labels} {p}" for p in points]
        return "\n".join(out + ["# EOF"]) + "\n"


def operator_history(families: Families, timeline: Timeline, times: np.ndarray) -> None:
    metrics = OperatorMetrics()
    scrape = {"job": "se-seasonal-engines-metrics", "instance": "10.0.3.17:9090"}
    for t in times:
        minute = int((t - timeline.t0) // 60)
        for svc, decide in ((CHAT, timeline.chat), (BATCH, timeline.batch), (ADVISOR, timeline.advisor)):
            decision, replicas = decide(float(t), minute)
            metrics.record(svc.namespace, svc.name, decision, seconds=0.02 + 0.01 * (minute % 7),
                           recommended_replicas=replicas)
        for fam in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
            for s in fam.samples:
                if not s.name.endswith("_created"):
                    families.add(fam.name, fam.type, s.name, {**s.labels, **scrape}, float(s.value), float(t))


def triton_history(families: Families, trace: Any, svc: Service, times: np.ndarray) -> None:
    """Triton's series for the requests that reached the engine; prompts beyond its limit fail."""
    env = svc.envelopes[-1] if svc is BATCH else svc.envelopes[0]
    slot = np.searchsorted(times, trace.timestamps_s, side="left")
    keep = slot < len(times)
    slot, inp, out = slot[keep], trace.input_tokens[keep].astype(np.int64), trace.output_tokens[keep].astype(np.int64)
    adm = censoring.admit(inp, out, env[0], env[1])
    ran = ~adm.rejected
    ttft_ms = 40.0 + 0.08 * inp[ran]
    duration_us = (ttft_ms / 1e3 + (adm.served_output[ran] - 1) * ITL_S) * 1e6
    n = len(times)

    def cumulative(where: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.cumsum(np.bincount(where, weights=weights, minlength=n)[:n])

    base = {"model": "ensemble", "version": "1", "namespace": svc.namespace, "pod": svc.pod}
    success, failures = cumulative(slot[ran]), cumulative(slot[adm.rejected])
    busy, ttft_sum = cumulative(slot[ran], duration_us), cumulative(slot[ran], ttft_ms)
    buckets = {le: cumulative(slot[ran][ttft_ms <= le]) for le in TRITON_TTFT_BUCKETS_MS}
    for i, t in enumerate(times):
        families.add("nv_inference_request_success", "unknown", "nv_inference_request_success", base,
                     float(success[i]), t)
        for reason in ("OTHER", "BACKEND", "REJECTED", "CANCELED"):
            value = float(failures[i]) if reason == "BACKEND" else 0.0  # the model raised: a backend error
            families.add("nv_inference_request_failure", "unknown", "nv_inference_request_failure",
                         {**base, "reason": reason}, value, t)
        families.add("nv_inference_request_duration_us", "unknown", "nv_inference_request_duration_us", base,
                     float(busy[i]), t)
        hist = "nv_inference_first_response_histogram_ms"
        for le, counts in buckets.items():
            le_text = "+Inf" if le == math.inf else repr(le)
            families.add(hist, "histogram", hist + "_bucket", {**base, "le": le_text}, float(counts[i]), t)
        families.add(hist, "histogram", hist + "_count", base, float(success[i]), t)
        families.add(hist, "histogram", hist + "_sum", base, float(ttft_sum[i]), t)


@dataclass(frozen=True)
class Bed:
    url: str
    t0: float
    at: float


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    trace = read_trace(TRACE)
    t0 = math.floor(trace.first_s / SCRAPE_S) * SCRAPE_S
    times = openmetrics.scrape_times(t0, trace.last_s, SCRAPE_S)
    families = Families()
    for svc in (CHAT, BATCH):
        env = svc.envelopes[0]
        families.add_document(openmetrics.to_text(
            trace, SEASONAL, SCRAPE_S, start_s=t0, end_s=trace.last_s,
            labels={"namespace": svc.namespace, "pod": svc.pod, "model": svc.name},
            engine=openmetrics.Engine(max_input_len=env[0], max_seq_len=env[1])))
        triton_history(families, trace, svc, times)
    operator_history(families, Timeline(trace, t0), times)
    server = tb_prometheus.start_prometheus(tmp_path_factory.mktemp("prometheus"), families.text())
    try:
        yield Bed(server.url, t0, t0 + EVAL_MIN * 60)
    finally:
        server.stop()


# --- the queries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    where: str
    expr: str
    instant: bool


def dashboard_queries() -> list[Query]:
    out = []
    for name in (service_dashboard.FILENAME, fleet_dashboard.FILENAME):
        board = json.loads((CHART / generating.DASHBOARDS_DIR / name).read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                out.append(Query(f"{name}: #{panel['id']} {panel['title']} [{target['refId']}]", target["expr"],
                                 bool(target.get("instant"))))
        for annotation in board["annotations"].get("list", []):
            out.append(Query(f"{name}: annotation {annotation['name']}", annotation["expr"], False))
    return out


def rule_queries() -> list[Query]:
    doc = yaml.safe_load((CHART / generating.FILES_DIR / "alerts.rules.yaml").read_text())
    return [Query(f"alert {r['alert']}", r["expr"], True) for g in doc["groups"] for r in g["rules"]]


def variable_queries() -> list[tuple[str, str, str]]:
    """(dashboard: variable, label_values query, the value the bed must offer)."""
    expected = {"namespace": CHAT.namespace, "name": CHAT.name, "model": CHAT.name, "triton_model": "ensemble"}
    out = []
    for name in (service_dashboard.FILENAME, fleet_dashboard.FILENAME):
        board = json.loads((CHART / generating.DASHBOARDS_DIR / name).read_text())
        out += [(f"{name}: ${v['name']}", v["query"], expected[v["name"]])
                for v in board["templating"]["list"] if v["type"] == "query"]
    return out


def substitute(expr: str, **overrides: str) -> str:
    """Grafana's interpolation, for the chat service unless overridden."""
    values = {**GRAFANA, **overrides}
    text = re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)
    assert "$" not in text, text
    return text


def query(url: str, expr: str, *, at: float, start: float | None = None, step: int = 60) -> list[dict[str, Any]]:
    if start is None:
        return tb_prometheus.instant_query(url, expr, at=at)
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": at, "step": step})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=30) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


DASHBOARD_QUERIES = dashboard_queries()
RULE_QUERIES = rule_queries()


def test_the_queries_were_found() -> None:
    assert len(DASHBOARD_QUERIES) >= 40 and len(RULE_QUERIES) == len(alert_rules.RULES) == 5
    assert len(variable_queries()) == 5


@pytest.mark.parametrize("q", DASHBOARD_QUERIES, ids=[q.where for q in DASHBOARD_QUERIES])
def test_dashboard_query_returns_data(bed: Bed, q: Query) -> None:
    start = None if q.instant else bed.t0 + 300
    result = query(bed.url, substitute(q.expr), at=bed.at, start=start)
    assert result, f"{q.where}: no data for {substitute(q.expr)}"
    values = [float(v) for r in result for v in ([r["value"][1]] if "value" in r else [p[1] for p in r["values"]])]
    assert all(math.isfinite(v) for v in values), f"{q.where}: {values[:5]}"


@pytest.mark.parametrize("q", RULE_QUERIES, ids=[q.where for q in RULE_QUERIES])
def test_alert_rule_fires_on_the_service_that_is_in_trouble(bed: Bed, q: Query) -> None:
    result = query(bed.url, q.expr, at=bed.at)
    who = {(r["metric"].get("namespace"), r["metric"].get("name")) for r in result}
    expected = ({(ADVISOR.namespace, ADVISOR.name)} if "TrafficUnavailable" in q.where
                else {(BATCH.namespace, BATCH.name)})
    assert who == expected, f"{q.where}: {result}"


@pytest.mark.parametrize(("where", "variable_query", "value"), variable_queries(),
                         ids=[v[0] for v in variable_queries()])
def test_variable_offers_the_service(bed: Bed, where: str, variable_query: str, value: str) -> None:
    m = re.fullmatch(r"label_values\((.+), (\w+)\)", variable_query)
    assert m, variable_query
    params = urllib.parse.urlencode({"match[]": substitute(m.group(1)), "start": bed.t0, "end": bed.at})
    with urllib.request.urlopen(f"{bed.url}/api/v1/label/{m.group(2)}/values?{params}", timeout=10) as response:
        values = json.load(response)["data"]
    assert value in values, f"{where}: {values}"


def _instant(bed: Bed, expr: str) -> float:
    (sample,) = query(bed.url, substitute(expr), at=bed.at)
    return float(sample["value"][1])


def test_panels_show_the_values_that_were_recorded(bed: Bed) -> None:
    from seasonal_engines.dashboards import queries as q

    assert _instant(bed, q.envelope_limit("max_input_len")) == CHAT.envelopes[1][0]
    assert _instant(bed, q.envelope_limit("max_seq_len")) == CHAT.envelopes[1][1]
    assert _instant(bed, q.operator("seasonal_operator_engine_generation")) == 2
    (season,) = query(bed.url, substitute(q.active_season()), at=bed.at)
    assert season["metric"]["season"] == "evening"
    before = query(bed.url, substitute(q.active_season()), at=bed.t0 + 29 * 60)
    assert [s["metric"]["season"] for s in before] == ["(between seasons)"]
    # the derived inter-token latency recovers the decode time per token the history was made with
    assert _instant(bed, q.inter_token_latency()) == pytest.approx(ITL_S, rel=0.01)
    # the batch engine rejects about a seventh of the trace's prompts; the chat engine almost none
    batch = {"name": BATCH.name, "model": BATCH.name}
    (rejected,) = query(bed.url, substitute(q.exporter_rate(q.REJECTED), **batch), at=bed.at)
    (arrived,) = query(bed.url, substitute(q.arrival_rate(), **batch), at=bed.at)
    assert 0.05 < float(rejected["value"][1]) / float(arrived["value"][1]) < 0.3
    ttft_p99 = _instant(bed, q.ttft_quantile(0.99))
    assert 0.1 < ttft_p99 <= 5.0


# --- the Triton names and labels the history assumes, from a real tritonserver -----------------------

STREAMING_MODEL = '''
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """Decoupled: two responses per request, as a streaming LLM sends tokens."""

    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            tokens = pb_utils.get_input_tensor_by_name(request, "IN")
            for _ in range(2):
                sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", tokens.as_numpy())]))
            sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        return None
'''
STREAMING_CONFIG = '''
backend: "python"
max_batch_size: 0
model_transaction_policy { decoupled: true }
input [ { name: "IN", data_type: TYPE_FP32, dims: [ 1 ] } ]
output [ { name: "OUT", data_type: TYPE_FP32, dims: [ 1 ] } ]
'''


def _stream_one_request(grpc_url: str) -> None:
    import queue

    import tritonclient.grpc as grpcclient

    answers: queue.Queue[object] = queue.Queue()
    client = grpcclient.InferenceServerClient(grpc_url)
    try:
        client.start_stream(callback=lambda result, error: answers.put(error or result))
        tokens = grpcclient.InferInput("IN", [1], "FP32")
        tokens.set_data_from_numpy(np.array([1.0], dtype=np.float32))
        client.async_stream_infer("ensemble", [tokens])
        got = [answers.get(timeout=30) for _ in range(2)]
        assert all(not isinstance(g, Exception) for g in got), got
    finally:
        client.stop_stream()
        client.close()


@pytest.mark.triton
def test_triton_exports_these_label_sets(tmp_path: Path) -> None:
    """The history's Triton series have the names and labels of a real server's, and the dashboards use no
    other ``nv_*`` metric. The first-response (TTFT) histogram exists only for decoupled models and only
    from Triton 2.52 (24.11) on; the test bed's CPU server is 2.51, so for it the label set is checked only
    when the server is new enough (its labels are model and version in Triton's own tests)."""
    from tests.testbed import triton

    model = tmp_path / "models" / "ensemble"
    (model / "1").mkdir(parents=True)
    (model / "1" / "model.py").write_text(STREAMING_MODEL)
    (model / "config.pbtxt").write_text(STREAMING_CONFIG)
    server = triton.start_triton(tmp_path / "models", tmp_path / "triton",
                                 extra_args=["--metrics-config=histogram_latencies=true"])
    try:
        _stream_one_request(server.grpc_url)
        text = urllib.request.urlopen(server.metrics_url, timeout=10).read().decode()
        version = json.load(urllib.request.urlopen(f"{server.http_url}/v2", timeout=10))["version"]
    finally:
        server.stop()
    seen: dict[str, set[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^(nv_\w+)\{([^}]*)\} ", line)
        if m and 'model="ensemble"' in m.group(2):
            name = m.group(1)
            if "le=" in m.group(2) or name.endswith(("_histogram_ms_sum", "_histogram_ms_count")):
                name = re.sub(r"_(bucket|sum|count)$", "", name)
            seen[name] = set(re.findall(r"(\w+)=", m.group(2))) - {"le"}
    ttft = "nv_inference_first_response_histogram_ms"
    for metric, labels in TRITON_LABELS.items():
        if metric == ttft and metric not in seen:
            assert tuple(int(x) for x in version.split(".")[:2]) < (2, 52), f"Triton {version} has no {ttft}"
            continue
        assert seen.get(metric) == labels, f"{metric}: tritonserver {version} exports {seen.get(metric)}"
    used = {re.sub(r"_(bucket|sum|count)$", "", m) for q in DASHBOARD_QUERIES for m in re.findall(r"nv_\w+", q.expr)}
    assert used == set(TRITON_LABELS)
