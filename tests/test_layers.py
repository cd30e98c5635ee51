"""The build job needs only the standard library: what the import-linter contracts cannot say.

The layers themselves (the core imports no shell module and no client or transport, adapters no command
line, ``tensorrt_llm`` only in ``seasonal_build.trtllm``) are contracts in pyproject.toml
(``[tool.importlinter]``), checked by ``lint-imports`` in ``.ci/run``. A linter can forbid named packages;
that ``seasonal_build`` imports nothing but the standard library is checked here, statement by statement."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "engine_jobs" / "seasonal_build"


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


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
