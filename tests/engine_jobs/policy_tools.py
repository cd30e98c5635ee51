"""checkov for the build pod's policy test, in a virtual environment of its own.

checkov cannot share the test environment: it pins boto3, whose botocore requires python-dateutil<3,
while the kubernetes 37 client the operator uses requires python-dateutil>=3,
so pip refuses to install both. ``pyproject.toml`` declares the requirement as the ``policy`` extra;
this module installs exactly that requirement once, with the interpreter running the tests, into
``$SEASONAL_CACHE_DIR/checkov/<requirement digest>`` (default ``~/.cache/seasonal-engines``), and returns
the ``checkov`` executable. ``$SEASONAL_CHECKOV_BIN`` overrides the lookup.

CI can install it ahead of the tests::

    python -m tests.engine_jobs.policy_tools
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.testbed.binaries import cache_root

REPO = Path(__file__).resolve().parents[2]
OVERRIDE_ENV = "SEASONAL_CHECKOV_BIN"


def requirements() -> list[str]:
    """The ``policy`` extra of pyproject.toml."""
    doc = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return list(doc["project"]["optional-dependencies"]["policy"])


def checkov(timeout_s: float = 900) -> Path:
    """The checkov executable, installed into its own environment when missing."""
    override = os.environ.get(OVERRIDE_ENV)
    if override:
        return Path(override)
    reqs = requirements()
    digest = hashlib.sha256(("\n".join(reqs) + sys.version).encode()).hexdigest()[:16]
    target = cache_root() / "checkov" / digest
    executable, complete = target / "bin" / "checkov", target / ".complete"
    if complete.exists():
        return executable
    # A venv names its interpreter by absolute path, so it is built in place; the marker, written last,
    # says it is whole (a half-built one is removed and built again).
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=120)
        subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "-q", *reqs], check=True,
                       timeout=timeout_s)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    complete.write_text("\n".join(reqs) + "\n", encoding="utf-8")
    return executable


if __name__ == "__main__":
    print(checkov())
