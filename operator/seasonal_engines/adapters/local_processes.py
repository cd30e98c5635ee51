"""Run a local server process on loopback: free ports, start, wait, stop.

The shared plumbing of ``local_prometheus`` and ``local_triton``, which start
real servers for the local quickstart and the integration tests. Every server
runs in its own process group with its output in a log file, so that a failure
message can quote the server's own last words and ``stop()`` leaves no
children behind. Imperative shell: processes, sockets and HTTP. Knows nothing
about what the server is.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOG_TAIL_CHARS = 4000
# Lines worth quoting from anywhere in a log: glog errors (Triton) and words of failure.
ERROR_LINE = re.compile(r"^E\d{4} |\berror\b|\bfail(ed|ure)?\b|\bpanic\b", re.IGNORECASE)
MAX_QUOTED_LINES = 30
MAX_LINE_CHARS = 400


# Loopback never goes through a proxy, whatever $http_proxy a CI machine sets.
LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerStartError(RuntimeError):
    """A local server did not start; the message carries its log tail."""


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    The kernel picks it; another process may still take it before our server
    binds, which the start functions handle by retrying on a fresh port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_loopback_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (held open together while picked)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def log_tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    """The last ``chars`` characters of a log file ('' when there is none)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return text[-chars:]


def failure_report(path: Path) -> str:
    """The error lines of a log, then its last lines: what a failure message should quote."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {path})"
    clip = [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " ..." for line in lines]
    errors = [line for line in clip if ERROR_LINE.search(line)][:MAX_QUOTED_LINES]
    tail = clip[-MAX_QUOTED_LINES:]
    return (
        f"--- error lines of {path} ---\n" + "\n".join(errors)
        + f"\n--- last {len(tail)} lines of {path} ---\n" + "\n".join(tail)
    )


@dataclass
class LocalProcess:
    """A started server process in its own process group, logging to a file."""

    name: str
    command: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        return log_tail(self.log_path, chars)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the server, then SIGKILL what is left of its process group. Idempotent.

        Only the leader gets SIGTERM: servers shut their own children down in
        order (Triton's Python stubs release their shared memory that way).
        """
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        # Children (Triton's Python stubs) can outlive their parent: kill the
        # group even when the leader has already exited.
        _signal_group(self.popen.pid, signal.SIGKILL)
        if self.popen.poll() is None:
            self.popen.wait(timeout=grace_s)
        atexit.unregister(self.stop_at_exit)

    def stop_at_exit(self) -> None:
        """Registered with atexit while the server runs: a script that crashed before ``stop()`` leaves none."""
        self.stop(grace_s=3.0)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def start_process(
    name: str,
    command: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> LocalProcess:
    """Start ``command`` in a new session (its own process group), output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            popen = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServerStartError(f"{name}: cannot execute {command[0]!r}: {exc}") from exc
    process = LocalProcess(name=name, command=list(command), log_path=log_path, popen=popen)
    atexit.register(process.stop_at_exit)
    return process


def http_status(url: str, timeout_s: float = 2.0) -> int | None:
    """The HTTP status of a GET, or None when nothing answers."""
    try:
        with LOOPBACK_OPENER.open(url, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return None


def wait_until_ok(process: LocalProcess, url: str, timeout_s: float) -> None:
    """Poll ``url`` until it answers 200; raise ServerStartError with the log tail otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not process.running():
            process.stop()  # its children may still run
            raise ServerStartError(
                f"{process.name} exited with code {process.popen.returncode} before {url} "
                f"answered.\ncommand: {' '.join(process.command)}\n{failure_report(process.log_path)}"
            )
        if http_status(url) == 200:
            return
        if time.monotonic() > deadline:
            process.stop()
            raise ServerStartError(
                f"{process.name} did not answer 200 on {url} within {timeout_s:.0f}s.\n"
                f"command: {' '.join(process.command)}\n{failure_report(process.log_path)}"
            )
        time.sleep(0.1)


def port_clash(process: LocalProcess) -> bool:
    """Whether the process died because a port was taken between pick and bind."""
    tail = process.log_tail().lower()
    return not process.running() and "already in use" in tail
