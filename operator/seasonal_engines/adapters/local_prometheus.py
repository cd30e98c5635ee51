"""Start a real Prometheus on loopback, optionally pre-filled with history.

Used by the local quickstart and by the integration tests. History comes as
OpenMetrics text (timestamps in seconds, a final ``# EOF`` line) and is turned
into TSDB blocks with ``promtool tsdb create-blocks-from openmetrics`` before
the server starts; live series come from scrape targets. Retention is set to a
century so that backfilled blocks from long ago are not dropped at start.

Binaries: ``$SEASONAL_PROMETHEUS_BIN`` / ``$SEASONAL_PROMTOOL_BIN`` when set,
else ``prometheus``/``promtool`` on PATH (Debian package ``prometheus``).
Imperative shell: files, processes, HTTP. It does not query for the operator;
that is ``adapters.prometheus``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from seasonal_engines.adapters import local_processes

PROMETHEUS_ENV = "SEASONAL_PROMETHEUS_BIN"
PROMTOOL_ENV = "SEASONAL_PROMTOOL_BIN"
INSTALL_HINT = "install it with `apt-get install -y prometheus` (Debian) or point ${env} at the binary"
START_ATTEMPTS = 3


@dataclass(frozen=True)
class PrometheusBinaries:
    prometheus: Path
    promtool: Path


def _find_binary(name: str, env_var: str) -> Path:
    override = os.environ.get(env_var)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise FileNotFoundError(f"${env_var}={override} is not an executable file; fix or unset it")
        return path
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"`{name}` is not on PATH: " + INSTALL_HINT.replace("${env}", f"${env_var}"))
    return Path(found)


def find_binaries() -> PrometheusBinaries:
    """Locate prometheus and promtool, failing loudly with the install command."""
    return PrometheusBinaries(
        prometheus=_find_binary("prometheus", PROMETHEUS_ENV),
        promtool=_find_binary("promtool", PROMTOOL_ENV),
    )


def backfill_openmetrics(openmetrics_text: str, data_dir: Path, promtool: Path | None = None) -> None:
    """Write ``openmetrics_text`` as TSDB blocks into ``data_dir``."""
    if not openmetrics_text.rstrip().endswith("# EOF"):
        raise ValueError("openmetrics_text: must end with a '# EOF' line (OpenMetrics requires it); append '# EOF\\n'")
    blank = next((n for n, line in enumerate(openmetrics_text.rstrip("\n").split("\n"), 1) if not line.strip()), None)
    if blank is not None:
        raise ValueError(f"openmetrics_text: line {blank} is blank; OpenMetrics allows no empty lines, drop it")
    tool = promtool or find_binaries().promtool
    data_dir.mkdir(parents=True, exist_ok=True)
    source = data_dir.parent / f"{data_dir.name}.backfill.om"
    source.write_text(openmetrics_text if openmetrics_text.endswith("\n") else openmetrics_text + "\n")
    result = subprocess.run(
        [str(tool), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ValueError(
            f"openmetrics_text: promtool refused it (exit {result.returncode}); fix the text. "
            f"promtool said:\n{(result.stdout + result.stderr)[-local_processes.LOG_TAIL_CHARS:]}"
        )


def scrape_config(scrape_targets: Sequence[str], scrape_interval: str, job_name: str = "local") -> dict[str, Any]:
    """A Prometheus config scraping each target; a target is ``host:port`` or a full URL.

    Targets sharing scheme and metrics path share one job; further groups get
    ``job_name-2``, ``job_name-3``... (a job has a single path).
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for target in scrape_targets:
        parsed = urllib.parse.urlsplit(target if "://" in target else f"http://{target}")
        if not parsed.netloc:
            raise ValueError(f"scrape_targets: {target!r} has no host:port; use e.g. '127.0.0.1:8002'")
        key = (parsed.scheme, parsed.path or "/metrics")
        groups.setdefault(key, []).append(parsed.netloc)
    jobs = [
        {
            "job_name": job_name if index == 0 else f"{job_name}-{index + 1}",
            "scheme": scheme,
            "metrics_path": path,
            "static_configs": [{"targets": hosts}],
        }
        for index, ((scheme, path), hosts) in enumerate(groups.items())
    ]
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": jobs,
    }


@dataclass
class PrometheusServer:
    """A running Prometheus; ``stop()`` (or leaving the ``with`` block) ends it."""

    url: str
    port: int
    data_dir: Path
    config_path: Path
    process: local_processes.LocalProcess = field(repr=False)

    def stop(self) -> None:
        self.process.stop()

    def log_tail(self) -> str:
        return self.process.log_tail()

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_prometheus(
    workdir: Path,
    openmetrics_text: str | None = None,
    scrape_targets: Sequence[str] = (),
    scrape_interval: str = "1s",
    ready_timeout_s: float = 30.0,
) -> PrometheusServer:
    """Backfill (optional), start Prometheus on a free loopback port and wait for ``/-/ready``."""
    binaries = find_binaries()
    workdir = Path(workdir)
    data_dir = workdir / "tsdb"
    data_dir.mkdir(parents=True, exist_ok=True)
    if openmetrics_text is not None:
        backfill_openmetrics(openmetrics_text, data_dir, binaries.promtool)
    config_path = workdir / "prometheus.yml"
    # JSON is valid YAML: no YAML writer needed.
    config_path.write_text(json.dumps(scrape_config(scrape_targets, scrape_interval), indent=2))
    for attempt in range(1, START_ATTEMPTS + 1):
        port = local_processes.free_loopback_port()
        command = [
            str(binaries.prometheus),
            f"--storage.tsdb.path={data_dir}",
            "--storage.tsdb.retention.time=100y",
            f"--config.file={config_path}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        process = local_processes.start_process("prometheus", command, workdir / f"prometheus-{attempt}.log")
        url = f"http://127.0.0.1:{port}"
        try:
            local_processes.wait_until_ok(process, f"{url}/-/ready", ready_timeout_s)
        except local_processes.ServerStartError:
            if attempt < START_ATTEMPTS and local_processes.port_clash(process):
                continue
            raise
        return PrometheusServer(url=url, port=port, data_dir=data_dir, config_path=config_path, process=process)
    raise AssertionError("unreachable")  # the loop returns or raises


def instant_query(url: str, promql: str, at: float | None = None, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """``/api/v1/query`` result list (vector/matrix items); raises on a PromQL error."""
    params = {"query": promql}
    if at is not None:
        params["time"] = repr(float(at))
    request_url = f"{url}/api/v1/query?{urllib.parse.urlencode(params)}"
    try:
        with local_processes.LOOPBACK_OPENER.open(request_url, timeout=timeout_s) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:  # PromQL errors come as 400/422 with a JSON body
        text = exc.read().decode(errors="replace")
        try:
            body = json.loads(text)
        except ValueError:
            raise ValueError(f"promql {promql!r}: HTTP {exc.code}: {text[:500]}") from None
    if body.get("status") != "success":
        raise ValueError(f"promql {promql!r}: {body.get('errorType')}: {body.get('error')}")
    result = body["data"]["result"]
    return result if isinstance(result, list) else [result]


def wait_for_series(url: str, promql: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Poll an instant query until it returns something (e.g. after the first scrapes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = instant_query(url, promql)
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"no series for {promql!r} at {url} within {timeout_s:.0f}s")
        time.sleep(0.2)
