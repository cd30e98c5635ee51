"""Reading per-request traces in the public formats into one ``Trace`` value.

Formats, detected from the header (or the first JSON line):

| format | columns | timestamp |
|---|---|---|
| generic | ``timestamp_s,input_tokens,output_tokens`` | seconds (from any origin) |
| Azure LLM inference 2023/2024 | ``TIMESTAMP,ContextTokens,GeneratedTokens`` | UTC date-time text → Unix seconds |
| BurstGPT | ``Timestamp,Model,Request tokens,Response tokens,...`` | seconds from trace start |
| Mooncake (JSON lines) | ``{"timestamp", "input_length", "output_length", ...}`` | milliseconds → seconds |

Files may be compressed: a ``.gz``, ``.bz2`` or ``.xz`` suffix is read through the matching decompressor.
Rows are sorted by time (stable). Reads files; computes nothing beyond parsing.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import lzma
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, TextIO, cast

import numpy as np
from numpy.typing import NDArray


class TraceFormat(str, Enum):
    generic = "generic"
    azure = "azure"
    burstgpt = "burstgpt"
    mooncake = "mooncake"


# header columns per CSV format: (timestamp, input, output)
_CSV_COLUMNS: dict[TraceFormat, tuple[str, str, str]] = {
    TraceFormat.generic: ("timestamp_s", "input_tokens", "output_tokens"),
    TraceFormat.azure: ("TIMESTAMP", "ContextTokens", "GeneratedTokens"),
    TraceFormat.burstgpt: ("Timestamp", "Request tokens", "Response tokens"),
}


@dataclass(frozen=True, eq=False)
class Trace:
    """Requests in time order: arrival (seconds), prompt tokens, generated tokens.

    ``start_s``/``end_s`` delimit the period the trace covers (for rates); by default the first and last
    arrival. Timestamps of Azure traces are Unix seconds, so ``hours_of_day`` is UTC; traces with relative
    timestamps count hours from their origin, which for the shared ServeGen files is midnight of day 0.
    """

    timestamps_s: NDArray[Any]
    input_tokens: NDArray[Any]
    output_tokens: NDArray[Any]
    format: TraceFormat = TraceFormat.generic
    start_s: float | None = None
    end_s: float | None = None

    def __post_init__(self) -> None:
        n = len(self.timestamps_s)
        if len(self.input_tokens) != n or len(self.output_tokens) != n:
            raise ValueError("trace columns must have the same length")

    def __len__(self) -> int:
        return len(self.timestamps_s)

    @property
    def first_s(self) -> float:
        """Start of the covered period."""
        if self.start_s is not None:
            return self.start_s
        return float(self.timestamps_s[0]) if len(self) else 0.0

    @property
    def last_s(self) -> float:
        """End of the covered period."""
        if self.end_s is not None:
            return self.end_s
        return float(self.timestamps_s[-1]) if len(self) else 0.0

    @property
    def duration_s(self) -> float:
        return self.last_s - self.first_s

    def window(self, start_s: float, end_s: float) -> Trace:
        """Requests arriving in ``[start_s, end_s)``; the result covers exactly that period."""
        lo, hi = np.searchsorted(self.timestamps_s, [start_s, end_s], side="left")
        return self._take(slice(int(lo), int(hi)), start_s, end_s)

    def hours_of_day(self, lo: float, hi: float) -> Trace:
        """Requests whose hour of day (0-24, see the class note) is in ``[lo, hi)``; wraps past midnight
        when ``lo > hi`` (22, 6 is the night). The covered period is left as the whole trace's."""
        hour = (self.timestamps_s % 86400.0) / 3600.0
        mask = (hour >= lo) & (hour < hi) if lo <= hi else (hour >= lo) | (hour < hi)
        return Trace(self.timestamps_s[mask], self.input_tokens[mask], self.output_tokens[mask], self.format,
                     self.first_s, self.last_s)

    def shifted(self, offset_s: float) -> Trace:
        """The same requests with ``offset_s`` added to every timestamp (to place a relative trace at a date)."""
        return Trace(self.timestamps_s + offset_s, self.input_tokens, self.output_tokens, self.format,
                     self.first_s + offset_s, self.last_s + offset_s)

    def _take(self, sl: slice, start_s: float, end_s: float) -> Trace:
        return Trace(self.timestamps_s[sl], self.input_tokens[sl], self.output_tokens[sl], self.format,
                     float(start_s), float(end_s))


def read_trace(path: str | Path) -> Trace:
    """Read a trace file in any supported format (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"trace file {p} does not exist")
    with _open_text(p) as f:
        first = f.readline()
        f.seek(0)
        if first.lstrip().startswith("{"):
            return _read_mooncake(f, p)
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        fmt = _detect(header, p)
        cols = [header.index(c) for c in _CSV_COLUMNS[fmt]]
        ts_raw: list[str] = []
        inp: list[str] = []
        out: list[str] = []
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                ts_raw.append(row[cols[0]])
                inp.append(row[cols[1]])
                out.append(row[cols[2]])
            except IndexError:
                raise ValueError(f"{p}:{lineno}: expected {len(header)} columns, got {len(row)}") from None
    if fmt is TraceFormat.azure:
        ts = _parse_datetimes(ts_raw, p)
    else:
        ts = _numbers(ts_raw, p, "timestamp", np.float64)
    return _sorted(ts, _numbers(inp, p, "input tokens", np.int64), _numbers(out, p, "output tokens", np.int64),
                   fmt)


def _detect(header: list[str], p: Path) -> TraceFormat:
    for fmt, cols in _CSV_COLUMNS.items():
        if all(c in header for c in cols):
            return fmt
    raise ValueError(f"{p}: unknown trace header {header[:6]}; expected one of: "
                     + "; ".join(",".join(c) for c in _CSV_COLUMNS.values())
                     + "; or Mooncake JSON lines with timestamp, input_length, output_length")


_DECOMPRESSORS: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _open_text(p: Path) -> TextIO:
    opener = _DECOMPRESSORS.get(p.suffix.lower())
    if opener is None:
        return p.open("r", encoding="utf-8", newline="")
    return cast(TextIO, opener(p, "rt", encoding="utf-8", newline=""))


def _read_mooncake(f: TextIO, p: Path) -> Trace:
    ts: list[float] = []
    inp: list[int] = []
    out: list[int] = []
    for lineno, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            ts.append(float(rec["timestamp"]) / 1000.0)  # Mooncake timestamps are milliseconds
            inp.append(int(rec["input_length"]))
            out.append(int(rec["output_length"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{p}:{lineno}: not a Mooncake record with timestamp, input_length and "
                             f"output_length ({exc})") from None
    return _sorted(np.asarray(ts, dtype=np.float64), np.asarray(inp, dtype=np.int64),
                   np.asarray(out, dtype=np.int64), TraceFormat.mooncake)


def _numbers(values: list[str], p: Path, what: str, dtype: type) -> NDArray[Any]:
    try:
        arr: NDArray[Any] = np.asarray(np.asarray(values, dtype=np.float64), dtype=dtype)
    except ValueError:
        bad = next(v for v in values if not _is_number(v))
        raise ValueError(f"{p}: {what} column holds {bad!r}, not a number") from None
    if dtype is np.int64 and (arr < 0).any():
        raise ValueError(f"{p}: {what} column holds negative counts")
    return arr


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def _parse_datetimes(values: list[str], p: Path) -> NDArray[Any]:
    """UTC date-time text (``2023-11-16 18:15:46.6805900``, 7 fractional digits) to Unix seconds."""
    try:
        ns = np.asarray([v.strip().rstrip("Z") for v in values], dtype="datetime64[ns]")
    except ValueError as exc:
        raise ValueError(f"{p}: TIMESTAMP column is not 'YYYY-MM-DD HH:MM:SS[.fffffff]' UTC ({exc})") from None
    return ns.astype(np.int64).astype(np.float64) / 1e9


def _sorted(ts: NDArray[Any], inp: NDArray[Any], out: NDArray[Any], fmt: TraceFormat) -> Trace:
    if len(ts) and np.any(np.diff(ts) < 0):
        order = np.argsort(ts, kind="stable")
        ts, inp, out = ts[order], inp[order], out[order]
    return Trace(ts, inp, out, fmt)


def to_datetime(seconds: float) -> datetime:
    """Unix seconds to an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)
