"""A Prometheus that answers badly, on purpose: the operator stays small and on time, and says why.

A fake server on loopback answers the operator's one query with each hostile body (huge, dripped slowly,
NaN, near the float limit, negative, non-monotonic, HTML, truncated JSON). Each evaluation runs in a process
of its own (``evaluate_once``) so that its peak RSS is measured honestly: under 300 MB, within its
deadline, and a TrafficAvailable condition naming the reason. The server stops itself: every answer is
bounded in bytes and time.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import REPO_ROOT

TIMEOUT_S = 3.0


def vector(*samples: tuple[str, str | None, str]) -> bytes:
    result = [{"metric": {"seasonal_part": part, **({"le": le} if le is not None else {})}, "value": [1, v]}
              for part, le, v in samples]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()


def histogram(part: str, counts: list[tuple[str, str]]) -> list[tuple[str, str | None, str]]:
    return [(part, le, v) for le, v in counts]


GOOD_LE = [("100", "50"), ("1000", "90"), ("+Inf", "100")]
BODIES: dict[str, tuple[Callable[[http.server.BaseHTTPRequestHandler], None], str]] = {}


def _send(body: bytes, content_type: str = "application/json") -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return answer


def _huge(h: http.server.BaseHTTPRequestHandler) -> None:
    # 96 MiB of a valid-looking vector, streamed: the client must stop reading at its cap.
    chunk = b'{"metric":{"seasonal_part":"input","le":"1"},"value":[1,"1"]},' * 1024
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.end_headers()
    h.wfile.write(b'{"status":"success","data":{"resultType":"vector","result":[')
    for _ in range(96 * 1024 * 1024 // len(chunk)):
        h.wfile.write(chunk)


def _drip(h: http.server.BaseHTTPRequestHandler) -> None:
    # One byte every 0.2 s for at most 20 s: every read returns in time, the whole answer never does.
    body = vector(*histogram("input", GOOD_LE), *histogram("output", GOOD_LE))
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    for byte in body[:100]:
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(0.2)


CASES = {
    "huge": (_huge, "PrometheusGarbage"),
    "slow-drip": (_drip, "PrometheusTimeout"),
    "nan": (_send(vector(*histogram("input", [("100", "NaN"), ("+Inf", "3")]),
                         *histogram("output", GOOD_LE))), "NaNInData"),
    "near-float-max": (_send(vector(*histogram("input", [("100", "1.7e308"), ("+Inf", "1.7e308")]),
                                    *histogram("output", GOOD_LE))), "PrometheusGarbage"),
    "bound-1e300": (_send(vector(*histogram("input", [("1e300", "5"), ("+Inf", "6")]),
                                 *histogram("output", GOOD_LE))), "MalformedHistogram"),
    "negative-count": (_send(vector(*histogram("input", [("100", "-5"), ("+Inf", "6")]),
                                    *histogram("output", GOOD_LE))), "PrometheusGarbage"),
    "negative-bound": (_send(vector(*histogram("input", [("-100", "5"), ("+Inf", "6")]),
                                    *histogram("output", GOOD_LE))), "MalformedHistogram"),
    # PromQL's histogram_quantile repairs non-monotonic buckets; so do we, and the profile is usable.
    "non-monotonic": (_send(vector(*histogram("input", [("100", "60"), ("1000", "40"), ("+Inf", "100")]),
                                   *histogram("output", GOOD_LE))), "TrafficObserved"),
    "html": (_send(b"<html><body>db_password=hunter2</body></html>", "text/html"), "PrometheusGarbage"),
    "truncated-json": (_send(vector(*histogram("input", GOOD_LE))[:57]), "PrometheusGarbage"),
}


@pytest.fixture()
def hostile() -> Iterator[Callable[[str], str]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(case: str) -> str:
        answer = CASES[case][0]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the operator stopped reading, as it should

            def log_message(self, *args: object) -> None:
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_answer_costs_little_and_is_named(hostile: Callable[[str], str], case: str) -> None:
    url = hostile(case)
    done = subprocess.run([sys.executable, "-m", "tests.integration.evaluate_once", url, str(TIMEOUT_S)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["rss_mb"] < 300, report
    assert report["seconds"] < TIMEOUT_S + 2.0, report
    traffic = report["traffic"]
    assert traffic["reason"] == CASES[case][1], traffic
    assert "hunter2" not in json.dumps(traffic)  # nothing of the answer's text reaches status
