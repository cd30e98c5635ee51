"""Every way Prometheus can fail us yields a typed TrafficUnavailable with a reason, never an exception and
never a profile built from nothing: stopped, empty, too few samples, slow, 5xx, 4xx, garbage, NaN; and a
counter reset leaves the profile right."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from seasonal_engines.adapters.prometheus import PrometheusTraffic
from seasonal_engines.core import presets, promql, reasons
from seasonal_engines.core.traffic import Dimension, TrafficProfile, TrafficUnavailable
from seasonal_engines.traces import openmetrics
from seasonal_engines.traces.readers import Trace

DAY0 = 1767571200.0  # 2026-01-05 00:00 UTC
MODEL = [promql.matcher("model", "=", "m")]


def trace(n: int = 600, span_s: float = 3600.0, seed: int = 1) -> Trace:
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.uniform(DAY0 + 1, DAY0 + span_s, n))
    return Trace(ts, rng.integers(20, 5000, n), rng.integers(1, 800, n), start_s=DAY0, end_s=DAY0 + span_s)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def unavailable(result: object, reason: str) -> TrafficUnavailable:
    assert isinstance(result, TrafficUnavailable), result
    assert result.reason == reason, result
    assert result.message
    return result


@pytest.mark.prometheus
def test_stopped_prometheus_is_unreachable(prometheus_factory) -> None:
    server = prometheus_factory()
    server.stop()
    result = PrometheusTraffic(server.url, timeout_s=2).window(presets.SEASONAL, MODEL, at(DAY0), 3600)
    assert str(server.port) in unavailable(result, reasons.PROMETHEUS_UNREACHABLE).message


@pytest.mark.prometheus
def test_empty_prometheus_has_no_data(prometheus_factory) -> None:
    server = prometheus_factory()
    result = PrometheusTraffic(server.url).window(presets.SEASONAL, MODEL, at(time.time()), 3600)
    assert "seasonal_request_input_tokens" in unavailable(result, reasons.NO_DATA).message


@pytest.mark.prometheus
def test_wrong_selector_has_no_data_and_fewer_samples_is_insufficient(prometheus_factory) -> None:
    server = prometheus_factory(openmetrics.to_text(trace(), presets.SEASONAL, 60.0, labels={"model": "m"}))
    reader = PrometheusTraffic(server.url)
    unavailable(reader.window(presets.SEASONAL, [promql.matcher("model", "=", "other")], at(DAY0 + 3600), 3600),
                reasons.NO_DATA)
    result = reader.window(presets.SEASONAL, MODEL, at(DAY0 + 3600), 3600, min_samples=1000)
    assert "fewer than the minimum 1000" in unavailable(result, reasons.INSUFFICIENT_SAMPLES).message
    ok = reader.window(presets.SEASONAL, MODEL, at(DAY0 + 3600), 3600, min_samples=500)
    assert isinstance(ok, TrafficProfile) and ok.samples >= 500


@pytest.mark.prometheus
def test_nan_in_the_data_is_refused(prometheus_factory) -> None:
    lines = []
    for k in range(10):
        t = int(DAY0) + 60 * k
        for name in ("in", "out"):
            for le, v in (("100.0", "NaN" if k >= 5 and name == "in" else str(k)), ("+Inf", str(2 * k))):
                lines.append(f'{name}_bucket{{model="m",le="{le}"}} {v} {t}')
    server = prometheus_factory("\n".join([*lines, "# EOF"]) + "\n")
    preset = presets.MetricPreset("t", "in", "out")
    result = PrometheusTraffic(server.url).window(preset, MODEL, at(DAY0 + 540), 540)
    assert "NaN" in unavailable(result, reasons.NAN_IN_DATA).message


@pytest.mark.prometheus
def test_counter_reset_leaves_the_profile_right(prometheus_factory) -> None:
    t = trace(n=3000, span_s=6 * 3600.0, seed=5)
    text = openmetrics.to_text(t, presets.SEASONAL, 60.0, labels={"model": "m"})
    reset = openmetrics.to_text(t, presets.SEASONAL, 60.0, labels={"model": "r"},
                                resets=[DAY0 + 2 * 3600 + 30, DAY0 + 4 * 3600 + 30])
    assert reset != text.replace('model="m"', 'model="r"')  # the restarts really change the series
    server = prometheus_factory(text.removesuffix("# EOF\n") + reset)
    reader = PrometheusTraffic(server.url)
    end = at(DAY0 + 6 * 3600)
    plain = reader.window(presets.SEASONAL, MODEL, end, 5 * 3600)
    restarted = reader.window(presets.SEASONAL, [promql.matcher("model", "=", "r")], end, 5 * 3600)
    assert isinstance(plain, TrafficProfile) and isinstance(restarted, TrafficProfile)
    assert restarted.samples == pytest.approx(plain.samples, rel=1e-12)
    for dim in Dimension:
        for q in (0.5, 0.9, 0.99, 0.999):
            assert restarted.quantile(dim, q) == pytest.approx(plain.quantile(dim, q), rel=1e-9)


class FakeServer:
    """A tiny HTTP server on loopback answering /api/v1/query with a chosen status, body and delay."""

    def __init__(self, status: int, body: bytes, delay_s: float = 0.0) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.requests += 1
                time.sleep(delay_s)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.requests = 0
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    servers: list[FakeServer] = []

    def start(status: int, body: bytes, delay_s: float = 0.0) -> FakeServer:
        servers.append(FakeServer(status, body, delay_s))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


@pytest.mark.parametrize("status, body, reason", [
    (500, b'{"status":"error","errorType":"internal","error":"boom"}', reasons.PROMETHEUS_ERROR),
    (503, b"Service Unavailable", reasons.PROMETHEUS_ERROR),
    (400, b'{"status":"error","errorType":"bad_data","error":"parse error"}', reasons.QUERY_REJECTED),
    (200, b"<html>this is not prometheus</html>", reasons.PROMETHEUS_GARBAGE),
    (200, b'{"status":"success","data":{"resultType":"vector"}}', reasons.PROMETHEUS_GARBAGE),
    (200, b'{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}', reasons.PROMETHEUS_GARBAGE),
    (200, b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}',
     reasons.PROMETHEUS_GARBAGE),
    (200, b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"seasonal_part":"input",'
          b'"le":"+Inf"},"value":[1,"NaN"]}]}}', reasons.NAN_IN_DATA),
    (200, b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"seasonal_part":"input",'
          b'"le":"ten"},"value":[1,"3"]}]}}', reasons.MALFORMED_HISTOGRAM),
    (200, b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"seasonal_part":"input",'
          b'"le":"10"},"value":[1,"3"]},{"metric":{"seasonal_part":"output","le":"+Inf"},"value":[1,"3"]}]}}',
     reasons.MALFORMED_HISTOGRAM),
    (200, b'{"status":"success","data":{"resultType":"vector","result":[]}}', reasons.NO_DATA),
], ids=["500", "503-text", "400", "html", "no-result", "scalar", "bad-value", "nan", "bad-le", "no-inf", "empty"])
def test_bad_answers_become_reasons(fake_server, status: int, body: bytes, reason: str) -> None:
    server = fake_server(status, body)
    reader = PrometheusTraffic(server.url, timeout_s=5)
    unavailable(reader.window(presets.SEASONAL, MODEL, at(DAY0), 3600), reason)
    assert server.requests == 1  # no retry storm against a failing Prometheus


def test_slow_prometheus_times_out(fake_server) -> None:
    server = fake_server(200, b'{"status":"success","data":{"resultType":"vector","result":[]}}', delay_s=3.0)
    started = time.monotonic()
    result = PrometheusTraffic(server.url, timeout_s=0.5).window(presets.SEASONAL, MODEL, at(DAY0), 3600)
    assert "0.5 s" in unavailable(result, reasons.PROMETHEUS_TIMEOUT).message
    assert time.monotonic() - started < 2.5
