"""The layers hold: the core does no I/O, the build job needs only the standard library.

A static check of import statements (what import-linter would enforce), so that a convenience import
cannot quietly turn a pure module into one that talks to the world."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "operator" / "seasonal_engines" / "core"
BUILD = REPO / "engine_jobs" / "seasonal_build"

# Clients and transports: adapters only.
IO_PACKAGES = {"kopf", "kubernetes", "prometheus_api_client", "prometheus_client", "tritonclient", "requests",
               "aiohttp", "urllib3", "subprocess", "socket", "http", "grpc"}
SHELL_MODULES = {"seasonal_engines.adapters", "seasonal_engines.handlers", "seasonal_engines.reconciling",
                 "seasonal_engines.cli", "seasonal_engines.local"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_does_no_io(path: Path) -> None:
    found = imports(path)
    io = {n for n in found if n.split(".")[0] in IO_PACKAGES}
    shell = {n for n in found if any(n == m or n.startswith(m + ".") for m in SHELL_MODULES)}
    assert not io, f"{path.name} imports I/O packages {io}: move that code to seasonal_engines.adapters"
    assert not shell, f"{path.name} imports the imperative shell {shell}"


@pytest.mark.parametrize("path", sorted(p for p in BUILD.rglob("*.py") if "triton_models" not in p.parts),
                         ids=lambda p: str(p.relative_to(BUILD)))
def test_build_job_needs_only_the_standard_library(path: Path) -> None:
    third_party = {n for n in imports(path) if n.split(".")[0] not in sys.stdlib_module_names
                   and n.split(".")[0] != "seasonal_build"}
    allowed = {"tensorrt_llm"} if path.name == "trtllm.py" else set()
    # tritonclient validates config.pbtxt when present (tests, the operator image); imported lazily.
    allowed |= {"tritonclient.grpc", "tritonclient.grpc.model_config_pb2", "google.protobuf",
                "google.protobuf.text_format"}
    assert third_party <= allowed, f"{path.name} imports {third_party - allowed}: the build job runs in " \
                                   "NVIDIA's image with the standard library only"


def test_tensorrt_llm_is_imported_in_exactly_one_module() -> None:
    users = [p.name for p in BUILD.rglob("*.py") if any(n.split(".")[0] == "tensorrt_llm" for n in imports(p))]
    assert users == ["trtllm.py"], users
