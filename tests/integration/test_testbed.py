"""The test bed itself works end to end: each fixture starts a real thing that answers.

Prometheus answers ``histogram_quantile`` over backfilled history; Triton
serves a Python-backend model and its metrics, which Prometheus can scrape;
helm and kubectl run. The Kubernetes control plane is tested in test_control_plane.py.
"""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc
import tritonclient.http

from seasonal_engines.adapters import local_prometheus
from tests.testbed import prometheus, triton

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z, whole minutes
# Per-minute request counts per bucket (non-cumulative): 2 at ≤100, 5 in (100,200], 2 in (200,400], 1 above.
PER_MINUTE = {"100": 2, "200": 5, "400": 2, "+Inf": 1}


def histogram_history(name: str, minutes: int, labels: str = 'model="m"') -> str:
    """OpenMetrics text: one cumulative histogram sampled every minute for ``minutes``."""
    lines = [f"# TYPE {name} histogram"]
    for minute in range(minutes + 1):
        timestamp = T0 + 60 * minute
        cumulative = 0
        for le, count in PER_MINUTE.items():
            cumulative += count * minute
            lines.append(f'{name}_bucket{{{labels},le="{le}"}} {cumulative} {timestamp}')
        lines.append(f"{name}_count{{{labels}}} {cumulative} {timestamp}")
        lines.append(f"{name}_sum{{{labels}}} {150 * cumulative} {timestamp}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


# --- Prometheus ---------------------------------------------------------------


@pytest.mark.prometheus
def test_backfilled_histogram_answers_histogram_quantile(prometheus_factory):
    server = prometheus_factory(histogram_history("seis_input_tokens", minutes=60))
    at = T0 + 3600

    def quantile(q: float) -> float:
        result = prometheus.instant_query(
            server.url, f"histogram_quantile({q}, sum by (le) (increase(seis_input_tokens_bucket[1h])))", at=at
        )
        assert len(result) == 1
        return float(result[0]["value"][1])

    # Over the hour: 120 ≤100, 420 ≤200, 540 ≤400, 600 in all.
    assert quantile(0.9) == pytest.approx(400.0)  # rank 540 ends the (200,400] bucket
    assert quantile(0.5) == pytest.approx(160.0)  # rank 300: 180 of 300 into (100,200]
    count = prometheus.instant_query(server.url, "increase(seis_input_tokens_count[1h])", at=at)
    assert float(count[0]["value"][1]) == pytest.approx(600.0)
    # Nothing before the history starts.
    assert prometheus.instant_query(server.url, "seis_input_tokens_count", at=T0 - 3600) == []


@pytest.mark.prometheus
def test_backfill_without_eof_is_refused_by_name(tmp_path):
    text = histogram_history("x", minutes=1).replace("# EOF\n", "")
    with pytest.raises(ValueError, match="openmetrics_text: must end with a '# EOF' line"):
        prometheus.start_prometheus(tmp_path, text)


@pytest.mark.prometheus
def test_backfill_with_a_blank_line_names_the_line(tmp_path):
    text = histogram_history("x", minutes=1).replace("# TYPE x histogram\n", "# TYPE x histogram\n\n")
    with pytest.raises(ValueError, match="openmetrics_text: line 2 is blank"):
        prometheus.start_prometheus(tmp_path, text)


@pytest.mark.prometheus
def test_backfill_promtool_errors_are_quoted(tmp_path):
    with pytest.raises(ValueError, match=r"(?s)openmetrics_text: promtool refused it.*not-a-number"):
        prometheus.start_prometheus(tmp_path, 'x_bucket{le="1"} not-a-number 1\n# EOF\n')


def test_missing_prometheus_binary_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setenv(local_prometheus.PROMETHEUS_ENV, str(tmp_path / "no-such-prometheus"))
    with pytest.raises(FileNotFoundError, match="SEASONAL_PROMETHEUS_BIN"):
        prometheus.start_prometheus(tmp_path)


# --- Triton -------------------------------------------------------------------


def echo(client: tritonclient.http.InferenceServerClient, values: list[float]) -> np.ndarray:
    tensor = tritonclient.http.InferInput("INPUT", [len(values)], "FP32")
    tensor.set_data_from_numpy(np.array(values, dtype=np.float32))
    return client.infer("echo", [tensor]).as_numpy("OUTPUT")


@pytest.mark.triton
@pytest.mark.prometheus
def test_triton_serves_python_model_and_metrics_prometheus_can_scrape(triton_factory, prometheus_factory):
    server = triton_factory(triton.MODELS)
    client = tritonclient.http.InferenceServerClient(server.http_url.removeprefix("http://"))
    try:
        assert echo(client, [1.0, 2.0, 3.0]).tolist() == [1.0, 2.0, 3.0]
        assert echo(client, [float(i) for i in range(10)]).tolist() == [float(i) for i in range(10)]
        assert client.get_model_config("echo")["backend"] == "python"
    finally:
        client.close()
    grpc_client = tritonclient.grpc.InferenceServerClient(server.grpc_url)
    try:
        assert grpc_client.is_model_ready("echo")
    finally:
        grpc_client.close()

    with urllib.request.urlopen(server.metrics_url, timeout=5) as response:
        metrics = response.read().decode()
    assert 'nv_inference_count{model="echo",version="1"} 2' in metrics
    # The model's custom histogram: one request of 3 elements (≤4), one of 10 (≤16).
    assert 'testbed_echo_input_length_bucket{model="echo",le="4"} 1' in metrics
    assert 'testbed_echo_input_length_bucket{model="echo",le="16"} 2' in metrics
    assert 'testbed_echo_input_length_count{model="echo"} 2' in metrics

    scraper = prometheus_factory(scrape_targets=[server.metrics_url])
    series = prometheus.wait_for_series(scraper.url, 'testbed_echo_input_length_count{job="local"}')
    assert float(series[0]["value"][1]) == 2.0


@pytest.mark.triton
def test_triton_explicit_model_control_loads_and_unloads(triton_factory):
    server = triton_factory(triton.MODELS, model_control="explicit")
    client = tritonclient.http.InferenceServerClient(server.http_url.removeprefix("http://"))
    try:
        assert not client.is_model_ready("echo")
        client.load_model("echo")
        assert client.is_model_ready("echo")
        assert echo(client, [4.0]).tolist() == [4.0]
        client.unload_model("echo")
        assert not client.is_model_ready("echo")
    finally:
        client.close()
    server.stop()
    assert not server.process.running()


@pytest.mark.triton
def test_triton_with_a_broken_model_fails_with_its_log(tmp_path, triton_factory):
    repository = tmp_path / "models"
    (repository / "broken" / "1").mkdir(parents=True)
    (repository / "broken" / "config.pbtxt").write_text('name: "broken"\nbackend: "python"\n')
    (repository / "broken" / "1" / "model.py").write_text("raise ImportError('deliberately broken')\n")
    with pytest.raises(RuntimeError, match="deliberately broken"):
        triton_factory(repository)


# --- helm and kubectl ------------------------------------------------------------


@pytest.mark.helm
def test_helm_and_kubectl_run(helm_bin: Path, kubectl_bin: Path):
    helm = subprocess.run([str(helm_bin), "version"], capture_output=True, text=True, check=True, timeout=30)
    assert 'Version:"v4.' in helm.stdout
    kubectl = subprocess.run(
        [str(kubectl_bin), "version", "--client"], capture_output=True, text=True, check=True, timeout=30
    )
    assert "Client Version: v1.35." in kubectl.stdout
