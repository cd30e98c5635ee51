"""Which engines garbage collection deletes: a pure decision over one model's engines.

Kept, always: the serving engine, every engine a season or the status history references, and
the ``keep_last`` newest of the rest. Everything else is deleted, oldest first. Staging
directories of builds that died are deleted once older than a threshold (a live build's staging
directory is younger than its Job's deadline). No I/O: the store lists, this decides, the store deletes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum


class Reason(str, Enum):
    serving = "serving"
    referenced = "referenced"  # by a season or the status history
    recent = "recent"  # among the keep_last newest unreferenced engines
    expired = "expired"  # deleted


@dataclass(frozen=True)
class Candidate:
    engine_hash: str
    created_at: float  # seconds since the epoch
    size_bytes: int = 0


@dataclass(frozen=True)
class Decision:
    keep: tuple[tuple[str, Reason], ...]
    delete: tuple[str, ...]  # oldest first
    freed_bytes: int

    def reason(self, engine_hash: str) -> Reason:
        for h, r in self.keep:
            if h == engine_hash:
                return r
        if engine_hash in self.delete:
            return Reason.expired
        raise KeyError(engine_hash)


def decide(engines: Sequence[Candidate], *, serving: Iterable[str], referenced: Iterable[str],
           keep_last: int) -> Decision:
    """The engines to keep (with why) and to delete. ``keep_last`` counts only unreferenced engines."""
    if keep_last < 0:
        raise ValueError(f"keep_last must be 0 or more, got {keep_last}")
    serving_set, referenced_set = set(serving), set(referenced)
    keep: list[tuple[str, Reason]] = []
    rest: list[Candidate] = []
    for e in engines:
        if e.engine_hash in serving_set:
            keep.append((e.engine_hash, Reason.serving))
        elif e.engine_hash in referenced_set:
            keep.append((e.engine_hash, Reason.referenced))
        else:
            rest.append(e)
    # Newest first; the hash breaks ties so the decision never depends on listing order.
    rest.sort(key=lambda e: (-e.created_at, e.engine_hash))
    keep += [(e.engine_hash, Reason.recent) for e in rest[:keep_last]]
    expired = sorted(rest[keep_last:], key=lambda e: (e.created_at, e.engine_hash))
    return Decision(keep=tuple(keep), delete=tuple(e.engine_hash for e in expired),
                    freed_bytes=sum(e.size_bytes for e in expired))


def stale(entries: Iterable[tuple[str, float]], *, now: float, older_than_seconds: float) -> list[str]:
    """Names of staging or trash directories (name, mtime) untouched for longer than the threshold."""
    return sorted(name for name, mtime in entries if now - mtime > older_than_seconds)
