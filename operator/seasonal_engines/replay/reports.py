"""The replay's report: the JSON contract, drift detection delays for known shifts, and a terminal table.

JSON contract (``seasonal replay --json``): an object with ``requests``, ``beyond_envelope_fraction``,
``mean_slack``, ``rebuilds_per_day``, ``rollovers_per_day`` and ``baselines`` (``static_model_max``,
``static_global``, ``oracle``, each with the same keys), plus ``worst_hour_beyond_fraction``,
``p95_slack``, ``detections`` (one per known shift), churn by reason, the static engines at each ladder
step (``static_frontier``), the smallest of them with at least the policy's slack
(``static_at_equal_slack``), the best static engine in hindsight at the coverage target
(``best_hindsight_static``: the smallest step with at most ``sizing.maxBeyondFraction`` beyond, with its
figures) and the policy's mean slack over it and over the oracle's (``slack_ratio``), and the settings.
Figures are defined in ``replay.scoring``. Pure: dicts and text, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from seasonal_engines.core import reasons
from seasonal_engines.replay.scoring import Score
from seasonal_engines.replay.simulating import ReplayRun

DRIFT_REASONS = reasons.DRIFT_REASONS
SCHEMA = "seasonal-engines/replay/v1"


@dataclass(frozen=True)
class Detection:
    """How long the policy took to act on a known shift at ``shift_s``: the first drift build (or drift
    rollout of an engine already in the store) at or after it; and to report it, the first evaluation
    with a confirmed shift (condition TrafficShifted). None fields: it never acted, or never reported."""

    shift_s: float
    detected_s: float | None
    serving_s: float | None      # the responding engine took the traffic
    evaluations: int | None      # evaluations counted by drift from the shift to the detection, inclusive
    reported_s: float | None = None
    reported_evaluations: int | None = None  # counted evaluations from the shift to the report, inclusive

    def to_json(self, interval_s: float) -> dict[str, Any]:
        delay = None if self.detected_s is None else self.detected_s - self.shift_s
        return {"shift_at": _iso(self.shift_s), "detected_at": _iso(self.detected_s),
                "serving_at": _iso(self.serving_s),
                "delay_minutes": None if delay is None else round(delay / 60.0, 2),
                "delay_intervals": None if delay is None else round(delay / interval_s, 2),
                "delay_evaluations": self.evaluations,
                "shift_reported_at": _iso(self.reported_s),
                "shift_report_minutes": None if self.reported_s is None else
                round((self.reported_s - self.shift_s) / 60.0, 2),
                "shift_report_evaluations": self.reported_evaluations}


def detections(run: ReplayRun, shifts_s: Sequence[float]) -> list[Detection]:
    out = []
    for shift in sorted(shifts_s):
        reported = next((e.at_s for e in run.evaluations if e.shift_confirmed and e.at_s >= shift), None)
        report_evals = None if reported is None else \
            sum(1 for e in run.evaluations if e.counted and shift <= e.at_s <= reported)
        acted = sorted([b.started_s for b in run.builds if b.reason in DRIFT_REASONS and b.started_s >= shift]
                       + [r.started_s for r in run.rollouts if r.reason in DRIFT_REASONS and r.started_s >= shift])
        if not acted:
            out.append(Detection(shift, None, None, None, reported, report_evals))
            continue
        at = acted[0]
        serving = next((r.ready_s for r in run.rollouts if r.reason in DRIFT_REASONS and r.started_s >= at), None)
        counted = sum(1 for e in run.evaluations if e.counted and shift <= e.at_s <= at)
        out.append(Detection(shift, at, serving, counted, reported, report_evals))
    return out


def shift_reports(run: ReplayRun, after_s: float | None = None) -> int:
    """Times a confirmed shift began (condition TrafficShifted turning True), in the trace or after ``after_s``."""
    start = run.start_s if after_s is None else after_s
    count, before = 0, False
    for e in run.evaluations:
        if e.shift_confirmed and not before and e.at_s >= start:
            count += 1
        before = e.shift_confirmed
    return count


def drift_rollovers(run: ReplayRun, after_s: float | None = None) -> int:
    """Rollouts drift caused (in the trace, or after ``after_s``)."""
    start = run.start_s if after_s is None else after_s
    return sum(1 for r in run.rollouts_in_trace() if r.reason in DRIFT_REASONS and r.started_s >= start)


def report(run: ReplayRun, policy: Score, baselines: Mapping[str, Score], *, shifts_s: Sequence[float] = (),
           trace_name: str = "", spec_name: str = "", settings: Mapping[str, Any] | None = None,
           frontier: Sequence[tuple[int, Score]] = (), max_beyond: float = 0.001) -> dict[str, Any]:
    """The replay's JSON document (see the module docstring). ``max_beyond`` is the coverage target the
    best static engine in hindsight is chosen at (the spec's ``sizing.maxBeyondFraction``)."""
    equal = next(((s, sc) for s, sc in frontier if sc.mean_slack >= policy.mean_slack), None)
    best = next(((s, sc) for s, sc in frontier if sc.beyond_envelope_fraction <= max_beyond + 1e-12), None)
    oracle = baselines.get("oracle")
    return {
        "schema": SCHEMA,
        "trace": trace_name,
        "spec": spec_name,
        **policy.to_json(),
        "baselines": {name: s.to_json() for name, s in baselines.items()},
        "start": _iso(run.start_s),
        "end": _iso(run.end_s),
        "evaluations": len(run.evaluations),
        "builds_by_reason": dict(Counter(b.reason for b in run.builds_in_trace())),
        "rollovers_by_reason": dict(Counter(r.reason or "unknown" for r in run.rollouts_in_trace())),
        "detections": [d.to_json(run.interval_s) for d in detections(run, shifts_s)],
        "schedule_changes": [{"at": _iso(t), "message": m} for t, m in run.schedule_changes],
        "static_frontier": [{"max_seq_len": s, "beyond_envelope_fraction": sc.to_json()["beyond_envelope_fraction"],
                             "mean_slack": sc.to_json()["mean_slack"]} for s, sc in frontier],
        "static_at_equal_slack": None if equal is None else {"max_seq_len": equal[0], **{
            k: v for k, v in equal[1].to_json().items() if k in ("beyond_envelope_fraction", "mean_slack")}},
        "best_hindsight_static": None if best is None else {"max_seq_len": best[0], "max_beyond_fraction": max_beyond,
                                                            **best[1].to_json()},
        "slack_ratio": {"to_best_hindsight_static": _ratio(policy.mean_slack, best[1].mean_slack if best else None),
                        "to_oracle": _ratio(policy.mean_slack, oracle.mean_slack if oracle else None)},
        "settings": dict(settings or {}),
    }


_COLUMNS = (("requests", "requests", "{:,}"), ("beyond_envelope_fraction", "beyond", "{:.3%}"),
            ("worst_hour_beyond_fraction", "worst hour", "{:.2%}"), ("mean_slack", "mean slack", "{:.2f}"),
            ("p95_slack", "p95 slack", "{:.2f}"), ("rebuilds_per_day", "rebuilds/day", "{:.2f}"),
            ("rollovers_per_day", "rollovers/day", "{:.2f}"))


def _ratio(a: float, b: float | None) -> float | None:
    if b is None or not (b > 0) or a != a:  # NaN slack: no hour qualified
        return None
    return round(a / b, 4)


def table(doc: Mapping[str, Any]) -> str:
    """The report as a terminal table: the policy and each baseline (the best static engine in hindsight
    included), one row each."""
    best = doc.get("best_hindsight_static")
    extra_rows = [(f"best_static_{best['max_seq_len']}", best)] if best else []
    rows = [("policy", doc), *doc["baselines"].items(), *extra_rows]
    header = ["engine", *(title for _, title, _ in _COLUMNS)]
    cells = [[name, *(_cell(r.get(key), fmt) for key, _, fmt in _COLUMNS)] for name, r in rows]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [header, *cells]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    extra = [f"evaluations: {doc['evaluations']}, builds by reason: {_counts(doc['builds_by_reason'])}, "
             f"rollovers by reason: {_counts(doc['rollovers_by_reason'])}"]
    ratios = doc.get("slack_ratio") or {}
    if best:
        extra.append(f"best static engine in hindsight (smallest ladder step with at most "
                     f"{best['max_beyond_fraction']:.2%} beyond): max_seq_len {best['max_seq_len']}; policy slack / "
                     f"its slack {_cell(ratios.get('to_best_hindsight_static'), '{:.2f}')}, / oracle's "
                     f"{_cell(ratios.get('to_oracle'), '{:.2f}')}")
    eq = doc.get("static_at_equal_slack")
    if eq:
        extra.append(f"static engine with at least the policy's slack: max_seq_len {eq['max_seq_len']}, slack "
                     f"{eq['mean_slack']:.2f}, beyond {eq['beyond_envelope_fraction']:.3%}")
    for d in doc["detections"]:
        extra.append(f"shift at {d['shift_at']}: " + ("not acted on" if d["detected_at"] is None else
                     f"acted on at {d['detected_at']} ({d['delay_minutes']} min, {d['delay_evaluations']} "
                     f"evaluations), new engine serving at {d['serving_at']}"))
    return "\n".join(lines + [""] + extra)


def _cell(v: Any, fmt: str) -> str:
    return "n/a" if v is None else fmt.format(v)


def _counts(c: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


__all__ = ["Detection", "detections", "drift_rollovers", "report", "table", "SCHEMA", "DRIFT_REASONS"]
