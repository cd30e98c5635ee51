"""The tables of docs/trtllm-contract.md, read as data: the written facts the contract tests check against.

A table follows a ``<!-- facts:NAME -->`` line; each row becomes a dict keyed by the header, with backticks
stripped. Reading the page itself (rather than a copy in code) keeps the doc and the tests one thing.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "trtllm-contract.md"


def _cell(text: str) -> str:
    return text.strip().replace("`", "")


@functools.cache
def table(name: str) -> tuple[dict[str, str], ...]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    try:
        start = lines.index(f"<!-- facts:{name} -->") + 1
    except ValueError:
        raise KeyError(f"docs/trtllm-contract.md has no table facts:{name}") from None
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([_cell(c) for c in line.strip().strip("|").split("|")])
    header, body = rows[0], [r for r in rows[2:]]
    return tuple(dict(zip(header, r)) for r in body)


def column(name: str, key: str) -> list[str]:
    return [row[key] for row in table(name)]


def dims(text: str) -> list[int]:
    return [int(x) for x in re.split(r"\s*,\s*", text.strip())]


def checkpoint_flags() -> dict[str, set[str]]:
    return {row["script"]: {f.strip() for f in row["flags"].split(",")} for row in table("checkpoint-flags")}
