"""The decision core stays in small pieces: no function in ``seasonal_engines.core`` above cyclomatic
complexity 15 (radon's measure) or longer than 60 lines, unless a ``# shape:`` comment on the line above its
``def`` says in one line why it stays whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from radon.complexity import cc_visit
from radon.visitors import Function

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "operator" / "seasonal_engines" / "core"
MAX_COMPLEXITY = 15
MAX_LINES = 60
REASON = "# shape:"


def functions(path: Path) -> list[Function]:
    out: list[Function] = []
    for block in cc_visit(path.read_text()):
        if isinstance(block, Function):
            out.append(block)
        else:  # a class: its methods
            out += list(block.methods)
    return out


def excused(lines: list[str], f: Function) -> bool:
    """A ``# shape:`` reason on the line above the ``def`` (above its decorators, if any)."""
    i = f.lineno - 2
    while i >= 0 and lines[i].lstrip().startswith("@"):
        i -= 1
    return i >= 0 and lines[i].strip().startswith(REASON) and len(lines[i].strip()) > len(REASON) + 10


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_functions_are_small_or_say_why(path: Path) -> None:
    lines = path.read_text().splitlines()
    too_big = [f"{f.fullname} (line {f.lineno}): complexity {f.complexity}, {f.endline - f.lineno + 1} lines"
               for f in functions(path)
               if (f.complexity > MAX_COMPLEXITY or f.endline - f.lineno + 1 > MAX_LINES) and not excused(lines, f)]
    assert not too_big, (f"split these, or say why each stays whole with a '{REASON} ...' line above its def: "
                         + "; ".join(too_big))
