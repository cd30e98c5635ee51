"""PromQL text for traffic profiles: validated, escaped label matchers and one batched query per evaluation.

A profile needs, per window, the bucket increases of the input, output and (when exported) sequence
histograms plus the increases of the censoring counters. All of them go into ONE instant query:

    label_replace(sum by (le) (increase(IN_bucket{sel}[1h] @ T)), "seasonal_part", "input", "", "")
    or label_replace(sum by (le) (increase(OUT_bucket{sel}[1h] @ T)), "seasonal_part", "output", "", "")
    or ...

``increase`` drops the metric name, so each part is tagged with a ``seasonal_part`` label; ``or`` keeps
every part because their label sets differ. A season's history (the same cron window over its last N
occurrences) sums N ``increase(...[d] @ end_k)`` terms per part, each tagged with its occurrence so that
``or`` keeps them apart, inside the part's ``sum``. ``@`` pins each window to absolute time, so the
answer does not depend on when the query runs. N is at most 52 (the spec's limit), so the query stays
bounded. Matcher values are escaped as PromQL string literals: a value can never end the string.

``history_query`` is the one *range* query of ``spec.seasonDiscovery``: the same parts, each an
``increase(...[1h])``, evaluated every hour over the history (at most 28 days, so at most 672 points per
series), from which ``core.hourly_history`` builds the hour-by-hour histograms.
Pure: builds text, sends nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from seasonal_engines.api.spec import LabelMatcher
from seasonal_engines.core.presets import CounterRef, MetricPreset

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
PART_LABEL = "seasonal_part"
OCCURRENCE_LABEL = "seasonal_occurrence"
RECENT_PREFIX = "recent_"  # parts of the recent window (shift detection), beside the trailing window's
# Every part a profile query can answer with: anything else in an answer did not come from our query.
PARTS = frozenset({"input", "output", "sequence", "rejected", "limit_stopped", RECENT_PREFIX + "input",
                   RECENT_PREFIX + "sequence"})
MAX_WINDOWS = 52
HISTORY_STEP_S = 3600.0  # one point per hour of history
MAX_HISTORY_POINTS = 28 * 24
# RE2 (Prometheus' regex engine) has no lookaround and no backreferences; Python's re would accept them.
_NOT_RE2 = re.compile(r"\(\?[=!<]|\(\?P=|\\[1-9]|[*+?}]\+")


class Op(str, Enum):
    eq = "="
    ne = "!="
    re = "=~"
    nre = "!~"


@dataclass(frozen=True)
class Matcher:
    """One label matcher, validated: ``label op "value"``."""

    label: str
    op: Op
    value: str

    def __post_init__(self) -> None:
        if not LABEL_NAME.match(self.label):
            raise ValueError(f"selector label {self.label!r} is not a Prometheus label name "
                             "([a-zA-Z_][a-zA-Z0-9_]*)")
        if self.label.startswith("__") or self.label in ("le", PART_LABEL, OCCURRENCE_LABEL):
            raise ValueError(f"selector label {self.label!r} is reserved (metric name, bucket bound or ours); "
                             "select on the service's own labels such as model or namespace")
        if self.op in (Op.re, Op.nre):
            if _NOT_RE2.search(self.value):
                raise ValueError(f"selector {self.label}{self.op.value} regex {self.value!r} uses lookaround, "
                                 "backreferences or possessive quantifiers, which Prometheus (RE2) rejects")
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"selector {self.label}{self.op.value} regex {self.value!r} is invalid: {exc}") \
                    from None

    def render(self) -> str:
        return f"{self.label}{self.op.value}{quote(self.value)}"


def matcher(label: str, op: str, value: str) -> Matcher:
    """A validated matcher from plain strings (``op`` one of ``= != =~ !~``)."""
    try:
        o = Op(op)
    except ValueError:
        raise ValueError(f"selector operator {op!r} is not one of =, !=, =~, !~") from None
    return Matcher(label, o, value)


_SELECTOR = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$', re.S)


def parse_matcher(text: str) -> Matcher:
    """A matcher from CLI text ``label="value"`` (or ``!=``, ``=~``, ``!~``), value in double quotes with
    backslash escapes."""
    m = _SELECTOR.match(text)
    if not m:
        raise ValueError(f"--selector {text!r} is not of the form label=\"value\" (operators = != =~ !~)")
    return matcher(m.group(1), m.group(2), _unescape(m.group(3)))


def from_spec(selector: Sequence[LabelMatcher]) -> tuple[Matcher, ...]:
    """Matchers from the spec's ``traffic.selector`` (``api.spec.LabelMatcher`` objects)."""
    out = []
    for i, m in enumerate(selector):
        try:
            out.append(matcher(m.label, m.op, m.value))
        except ValueError as exc:
            raise ValueError(f"traffic.selector[{i}]: {exc}") from None
    return tuple(out)


def quote(value: str) -> str:
    """A PromQL double-quoted string literal holding exactly ``value``."""
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)  # the PromQL lexer takes UTF-8 as is
    out.append('"')
    return "".join(out)


def _unescape(body: str) -> str:
    table = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
    return re.sub(r"\\(.)", lambda m: table.get(m.group(1), "\\" + m.group(1)), body)


def selector(metric: str, matchers: Sequence[Matcher], extra: Sequence[tuple[str, str]] = ()) -> str:
    """``metric{m1,m2,...}`` with the service's matchers and fixed equality matchers ``extra``."""
    if not METRIC_NAME.match(metric):
        raise ValueError(f"metric name {metric!r} is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
    parts = [m.render() for m in matchers] + [Matcher(k, Op.eq, v).render() for k, v in extra]
    return metric + ("{" + ",".join(parts) + "}" if parts else "")


def duration(seconds: float) -> str:
    """A PromQL range duration: whole seconds, or milliseconds when fractional."""
    if not seconds > 0:
        raise ValueError(f"window must be positive, got {seconds} s")
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


@dataclass(frozen=True)
class Window:
    """``length_s`` seconds ending at ``end``."""

    end: datetime
    length_s: float


def _at(end: datetime) -> str:
    if end.tzinfo is None:
        raise ValueError(f"window end {end} has no timezone; pass an aware datetime (UTC)")
    ts = end.timestamp()
    return f"{ts:.3f}"


def _increase_terms(series: str, windows: Sequence[Window]) -> str:
    if len(windows) == 1:
        w = windows[0]
        return f"increase({series}[{duration(w.length_s)}] @ {_at(w.end)})"
    return " or ".join(
        f'label_replace(increase({series}[{duration(w.length_s)}] @ {_at(w.end)}), '
        f'"{OCCURRENCE_LABEL}", "{i}", "", "")' for i, w in enumerate(windows))


def histogram_part(metric: str, matchers: Sequence[Matcher], windows: Sequence[Window]) -> str:
    """Bucket increases of one histogram summed over series (and over windows), by ``le``."""
    return f"sum by (le) ({_increase_terms(selector(metric + '_bucket', matchers), windows)})"


def counter_part(counter: CounterRef, matchers: Sequence[Matcher], windows: Sequence[Window]) -> str:
    """Increase of one counter summed over series (and windows)."""
    return f"sum({_increase_terms(selector(counter.metric, matchers, counter.matchers), windows)})"


def profile_query(preset: MetricPreset, matchers: Sequence[Matcher], windows: Sequence[Window],
                  recent: Window | None = None) -> str:
    """The one query a profile evaluation sends: every part tagged with ``seasonal_part``. With ``recent``,
    the input (and sequence) buckets of that window too, as parts ``recent_input`` and ``recent_sequence``:
    shift detection costs no query of its own."""
    if not windows:
        raise ValueError("a profile query needs at least one window")
    if len(windows) > MAX_WINDOWS:
        raise ValueError(f"at most {MAX_WINDOWS} windows per query (season history is limited to 52), "
                         f"got {len(windows)}")
    parts: list[tuple[str, str]] = [
        ("input", histogram_part(preset.input_metric, matchers, windows)),
        ("output", histogram_part(preset.output_metric, matchers, windows)),
    ]
    if preset.sequence_metric:
        parts.append(("sequence", histogram_part(preset.sequence_metric, matchers, windows)))
    if preset.rejected:
        parts.append(("rejected", counter_part(preset.rejected, matchers, windows)))
    if preset.limit_stopped:
        parts.append(("limit_stopped", counter_part(preset.limit_stopped, matchers, windows)))
    if recent is not None:
        parts.append((RECENT_PREFIX + "input", histogram_part(preset.input_metric, matchers, [recent])))
        if preset.sequence_metric:
            parts.append((RECENT_PREFIX + "sequence", histogram_part(preset.sequence_metric, matchers, [recent])))
    return " or ".join(f'label_replace({expr}, "{PART_LABEL}", "{name}", "", "")' for name, expr in parts)


def history_query(preset: MetricPreset, matchers: Sequence[Matcher], step_s: float = HISTORY_STEP_S) -> str:
    """The range query of a service's hourly history: every part as its increase over the step up to each
    evaluation point, tagged with ``seasonal_part`` (send with the same step: an hour, or what an hour of
    simulated time takes on the wall clock in the local quickstart)."""
    hour = duration(step_s)

    def hist(metric: str) -> str:
        return f"sum by (le) (increase({selector(metric + '_bucket', matchers)}[{hour}]))"

    def counter(ref: CounterRef) -> str:
        return f"sum(increase({selector(ref.metric, matchers, ref.matchers)}[{hour}]))"

    parts = [("input", hist(preset.input_metric)), ("output", hist(preset.output_metric))]
    if preset.sequence_metric:
        parts.append(("sequence", hist(preset.sequence_metric)))
    if preset.rejected:
        parts.append(("rejected", counter(preset.rejected)))
    if preset.limit_stopped:
        parts.append(("limit_stopped", counter(preset.limit_stopped)))
    return " or ".join(f'label_replace({expr}, "{PART_LABEL}", "{name}", "", "")' for name, expr in parts)
