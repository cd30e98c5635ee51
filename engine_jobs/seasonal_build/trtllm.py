"""Where the build touches TensorRT-LLM and the GPU: runs commands, reads versions and compute capability.

The only module that imports ``tensorrt_llm``, and only lazily (when the package metadata cannot
say the version). Commands run through a :data:`Runner`, so tests inject a fake one and never
need a GPU or TensorRT-LLM; :func:`subprocess_runner` is the real one: it streams the child's
output to ours (the Job log) and keeps the tail for error messages.
"""

from __future__ import annotations

import collections
import importlib.metadata
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from seasonal_build import commands, verification

TAIL_LINES = 40
MAX_CAPTURE = 1 << 20  # keep at most 1 MiB of a command's output in memory


@dataclass(frozen=True)
class RunResult:
    returncode: int
    output: str  # the captured output (stdout and stderr interleaved), at most MAX_CAPTURE characters

    def tail(self, lines: int = TAIL_LINES) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


Runner = Callable[[commands.Command, "Path | None"], RunResult]


class CommandFailed(RuntimeError):
    """A build command exited non-zero; ``hint`` says what to do when the output shows why."""

    def __init__(self, command: commands.Command, result: RunResult, hint: str | None = None) -> None:
        message = (f"{command.step} step failed: `{command.argv[0]}` exited with {result.returncode}; "
                   f"last output:\n{result.tail()}")
        super().__init__(message + (f"\n{hint}" if hint else ""))
        self.command = command
        self.result = result
        self.hint = hint


# What the Hub client and requests print when the node cannot reach the network.
NETWORK_FAILURES = ("Temporary failure in name resolution", "Name or service not known",
                    "Failed to establish a new connection", "Max retries exceeded", "Network is unreachable",
                    "couldn't connect to 'https://huggingface.co'", "OfflineModeIsEnabled", "LocalEntryNotFoundError",
                    "ConnectionError", "ConnectTimeout")


def shows_no_network(output: str) -> bool:
    return any(marker in output for marker in NETWORK_FAILURES)


def subprocess_runner(command: commands.Command, cwd: Path | None = None, out: TextIO | None = None) -> RunResult:
    """Run a command, echoing its output line by line (prefixed with the step) and capturing it."""
    stream = out or sys.stdout
    captured: collections.deque[str] = collections.deque()
    size = 0
    try:
        proc = subprocess.Popen(list(command.argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", bufsize=1)
    except FileNotFoundError:
        return RunResult(127, f"{command.argv[0]}: command not found (is this NVIDIA's TensorRT-LLM image?)")
    assert proc.stdout is not None
    for line in proc.stdout:
        stream.write(f"  [{command.step}] {line}")
        stream.flush()
        captured.append(line)
        size += len(line)
        while size > MAX_CAPTURE and captured:
            size -= len(captured.popleft())
    return RunResult(proc.wait(), "".join(captured))


def run_checked(runner: Runner, command: commands.Command, cwd: Path | None = None,
                offline_hint: str | None = None) -> RunResult:
    """Run a command; raise :class:`CommandFailed` when it fails (with ``offline_hint`` when its output
    shows the node has no network)."""
    result = runner(command, cwd)
    if result.returncode != 0:
        hint = offline_hint if offline_hint and shows_no_network(result.output) else None
        raise CommandFailed(command, result, hint)
    return result


def trtllm_version() -> str:
    """TensorRT-LLM's version in this image: from package metadata, else by importing it."""
    for dist in ("tensorrt_llm", "tensorrt-llm"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        import tensorrt_llm  # noqa: PLC0415 - the one place it is imported, and only when metadata is missing
    except ImportError:
        raise RuntimeError("TensorRT-LLM is not installed here; run the build in the plan's image "
                           "(nvcr.io/nvidia/tritonserver:<yy.mm>-trtllm-python-py3)") from None
    return str(tensorrt_llm.__version__)


def tensorrt_version() -> str | None:
    """TensorRT's version, recorded with the engine (engines load only on the TensorRT that built them)."""
    for dist in ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt_cu13_libs", "tensorrt_cu12_libs"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def gpu(runner: Runner) -> tuple[str, str]:
    """(GPU name, compute capability) of the build node, from nvidia-smi."""
    return verification.parse_gpu_query(run_checked(runner, commands.gpu_query()).output)
