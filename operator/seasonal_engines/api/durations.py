"""Duration strings as users write them in specs: Prometheus form (``90s``, ``5m``, ``2h``, ``1d``, ``1w``,
or compound ``1h30m``) and the Go form that Kubernetes CEL's ``duration()`` accepts (h, m, s only).
Pure functions, no I/O."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
PATTERN = r"^([0-9]+(ms|s|m|h|d|w|y))+$"
GO_PATTERN = r"^([0-9]+(h|m|s))+$"
_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")


def seconds(text: str) -> float:
    """Seconds in a duration string; ValueError naming the accepted forms otherwise."""
    if not re.fullmatch(PATTERN, text or ""):
        raise ValueError(f"duration {text!r} is not of the form 30s, 5m, 2h, 1d or 1h30m")
    return float(sum(int(n) * _UNITS[u] for n, u in _PART.findall(text)))


def format_seconds(total: float) -> str:
    """The shortest readable duration for a number of seconds (``1d2h``, ``90s`` -> ``1m30s``)."""
    total = int(round(total))
    if total == 0:
        return "0s"
    out = []
    for unit in ("w", "d", "h", "m", "s"):
        n, total = divmod(total, int(_UNITS[unit]))
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def promql(text: str) -> str:
    """A duration for a PromQL range selector (Prometheus accepts the same units, minus compound 'ms' edge cases)."""
    return format_seconds(seconds(text)) if not text.endswith("ms") else text
