"""The quickstart's live progress display and its closing summary.

On a terminal (and with ``rich`` installed) a panel redraws a few times a second: simulated time, the
request rate, the sequence-length percentiles the operator read from Prometheus, the active season, the
drift state, the serving envelope, what is being built or rolled out, and the latest journal lines
(every build and rollover as it happens). Elsewhere (a pipe, CI, ``--plain``) the same facts come as
lines: each journal entry at once, a status line every simulated hour. The summary is a table either way.

Imperative shell: writes to the terminal; decides nothing.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from seasonal_engines.local.reconciling import JournalEntry

JOURNAL_LINES = 12
STYLES = {"build": "cyan", "built": "cyan", "rollover": "magenta", "serving": "bold green", "season": "yellow",
          "drift": "bold red", "warning": "red", "info": "dim"}


@dataclass(frozen=True)
class Snapshot:
    """What the display shows at one instant."""

    clock: str                 # simulated, "day 0 14:05"
    stage: str                 # warm-up or replaying
    wall_s: float
    budget_s: float
    speed: float
    sent: int
    answered: int
    limit_stopped: int
    rejected: int
    unavailable: int
    in_flight: int
    wall_rps: float            # requests sent per wall second, lately
    trace_rph: float           # the trace's requests per simulated hour at full rate, lately
    samples: float | None      # requests in the operator's trailing window (Prometheus)
    p99: float | None          # sequence length (input + output), trailing window
    p999: float | None
    season: str | None
    next_season: str | None
    phase: str
    drift: str
    serving: str               # what Triton serves now
    busy: str                  # the build or rollout under way, or ""


class Display(Protocol):
    def start(self, title: str) -> None: ...
    def note(self, clock: str, entry: JournalEntry) -> None: ...
    def update(self, snap: Snapshot) -> None: ...
    def stop(self) -> None: ...
    def summary(self, rows: Sequence[tuple[str, str]], engines: Sequence[tuple[str, ...]],
                files: Sequence[tuple[str, str]]) -> None: ...


def _tokens(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def status_line(s: Snapshot) -> str:
    return (f"[{s.clock}] {s.stage}: {s.wall_rps:.0f} req/s sent ({s.trace_rph:.0f}/h in the trace) | "
            f"p99 {_tokens(s.p99)} p99.9 {_tokens(s.p999)} | season {s.season or '-'} | drift {s.drift} | "
            f"serving {s.serving} | {s.phase}{' | ' + s.busy if s.busy else ''}")


class LineDisplay:
    """Plain lines, for pipes and CI."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._last_hour: str | None = None

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def start(self, title: str) -> None:
        self._print(title)

    def note(self, clock: str, entry: JournalEntry) -> None:
        self._print(f"[{clock}] {entry.text}")

    def update(self, snap: Snapshot) -> None:
        hour = snap.clock[:-3]  # "day 0 14"
        if hour != self._last_hour:
            self._last_hour = hour
            self._print(status_line(snap))

    def stop(self) -> None:
        pass

    def summary(self, rows: Sequence[tuple[str, str]], engines: Sequence[tuple[str, ...]],
                files: Sequence[tuple[str, str]]) -> None:
        width = max(len(k) for k, _ in rows)
        self._print("\nSummary")
        for key, value in rows:
            self._print(f"  {key:<{width}}  {value}")
        if engines:
            self._print("\nEngines served (CPU stand-in)")
            self._print(f"  {'engine':<12}  {'season':<12}  {'why':<14}  {'limits':<22}  serving from")
            for row in engines:
                self._print(f"  {row[0]:<12}  {row[1]:<12}  {row[2]:<14}  {row[3]:<22}  {row[4]}")
        self._print("")
        for key, value in files:
            self._print(f"{key}: {value}")


class LiveDisplay:
    """A panel redrawn in place (rich)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console()
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self.lines: deque[tuple[str, JournalEntry]] = deque(maxlen=JOURNAL_LINES)
        self.title = ""

    def start(self, title: str) -> None:
        self.title = title
        self.live.start()

    def note(self, clock: str, entry: JournalEntry) -> None:
        self.lines.append((clock, entry))

    def update(self, snap: Snapshot) -> None:
        self.live.update(self._render(snap))

    def stop(self) -> None:
        self.live.stop()

    def _render(self, s: Snapshot) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        grid.add_row("simulated time", f"{s.clock}  ({s.stage}, ×{s.speed:.0f}; wall {s.wall_s:.0f} s of "
                     f"{s.budget_s:.0f} s)")
        grid.add_row("traffic", f"{s.wall_rps:.0f} req/s sent to Triton ({s.trace_rph:.0f}/h in the trace), "
                     f"{s.in_flight} in flight")
        grid.add_row("requests", f"{s.sent} sent: {s.answered} answered, {s.limit_stopped} stopped at max_seq_len, "
                     f"{s.rejected} rejected, {s.unavailable} not served")
        grid.add_row("input+output (Prometheus)", f"p99 {_tokens(s.p99)}  p99.9 {_tokens(s.p999)}  over "
                     f"{_tokens(s.samples)} requests in the trailing window")
        grid.add_row("season", f"{s.season or '-'}" + (f"  (next: {s.next_season})" if s.next_season else ""))
        grid.add_row("drift", s.drift)
        grid.add_row("serving", s.serving)
        grid.add_row("operator", s.phase + (f": {s.busy}" if s.busy else ""))
        log = Text()
        for clock, entry in self._fitting(rows_used=grid.row_count + 4):
            log.append(f"[{clock}] ", style="dim")
            log.append(entry.text + "\n", style=STYLES.get(entry.kind, ""))
        return Group(Panel(grid, title=self.title, border_style="blue"),
                     Panel(log, title="rebuilds and rollovers", border_style="dim"))

    def _fitting(self, rows_used: int) -> list[tuple[str, JournalEntry]]:
        """The newest journal lines that fit below the status panel (a taller panel is cut at the bottom)."""
        width = max(20, self.console.size.width - 4)
        room = self.console.size.height - rows_used - 3
        picked: list[tuple[str, JournalEntry]] = []
        for clock, entry in reversed(self.lines):
            need = -(-(len(clock) + 3 + len(entry.text)) // width)
            if need > room:
                break
            room -= need
            picked.append((clock, entry))
        return picked[::-1]

    def summary(self, rows: Sequence[tuple[str, str]], engines: Sequence[tuple[str, ...]],
                files: Sequence[tuple[str, str]]) -> None:
        from rich.table import Table

        table = Table(title="Summary", show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in rows:
            table.add_row(key, value)
        self.console.print(table)
        if engines:
            t = Table(title="Engines served (CPU stand-in)")
            for name in ("engine", "season", "why", "limits", "serving from"):
                t.add_column(name)
            for row in engines:
                t.add_row(*row)
            self.console.print(t)
        for key, value in files:
            self.console.print(f"[bold]{key}[/bold]: {value}")


def choose(plain: bool) -> Display:
    """The live panel on a terminal with rich installed; lines otherwise."""
    if not plain and sys.stdout.isatty():
        try:
            return LiveDisplay()
        except ImportError:
            pass
    return LineDisplay()


__all__ = ["Snapshot", "Display", "LineDisplay", "LiveDisplay", "choose", "status_line"]
