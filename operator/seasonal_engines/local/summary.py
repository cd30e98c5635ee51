"""The figures of a quickstart run: requests by outcome, builds, rollovers, the envelope over time.

Built from plain facts the session collects (``BuildFact``, ``RolloverFact``, the replayed workload and
each request's outcome), so that the summary, its JSON document and its table are pure functions of the
run. The engine is always called a CPU stand-in engine here: that is what served.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seasonal_engines.core.envelopes import Envelope
from seasonal_engines.local.timing import clock_text
from seasonal_engines.local.workload import Outcome, Workload

ENGINE_WORDS = "CPU stand-in engine (not a TensorRT-LLM engine)"


@dataclass(frozen=True)
class BuildFact:
    engine_hash: str
    reason: str
    season: str | None
    envelope: Envelope
    started: datetime
    process_seconds: float | None
    exit_code: int | None


@dataclass(frozen=True)
class RolloverFact:
    engine_hash: str
    reason: str | None
    season: str | None
    envelope: Envelope
    rollback: bool
    started: datetime
    serving_from: datetime | None   # when Triton had loaded it: requests meet it from then on
    load_seconds: float | None
    error: str | None


@dataclass(frozen=True)
class Segment:
    """From ``since`` on, requests met ``envelope``."""

    since: datetime
    envelope: Envelope
    engine_hash: str


def segments(rollovers: Sequence[RolloverFact]) -> list[Segment]:
    """The envelope Triton served over time, from the instants its loads completed."""
    loaded = sorted((r for r in rollovers if r.serving_from is not None), key=lambda r: r.serving_from)  # type: ignore[arg-type,return-value]
    return [Segment(r.serving_from, r.envelope, r.engine_hash) for r in loaded]  # type: ignore[arg-type]


def outcome_counts(outcomes: NDArray[Any]) -> dict[str, int]:
    tally = np.bincount(outcomes.astype(np.int64), minlength=len(Outcome))
    counts = {o.name: int(tally[o]) for o in Outcome}
    counts["sent"] = sum(counts[o.name] for o in Outcome if o not in (Outcome.not_sent, Outcome.skipped))
    return counts


def hours_over(workload: Workload, outcomes: NDArray[Any], fraction: float) -> tuple[int, int]:
    """(simulated hours whose share of requests beyond the serving envelope exceeds ``fraction``, hours
    with any answered or refused request)."""
    done = np.isin(outcomes, [Outcome.answered, Outcome.limit_stopped, Outcome.rejected])
    if not done.any():
        return 0, 0
    hour = np.floor(workload.at_s[done] / 3600.0).astype(np.int64)
    beyond = np.isin(outcomes[done], [Outcome.limit_stopped, Outcome.rejected])
    hours = np.unique(hour)
    over = sum(1 for h in hours if beyond[hour == h].mean() > fraction)
    return int(over), int(len(hours))


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _envelope(e: Envelope) -> dict[str, int]:
    return {"max_input_len": e.max_input_len, "max_seq_len": e.max_seq_len, "max_batch_size": e.max_batch_size,
            "max_num_tokens": e.max_num_tokens}


def document(*, workload: Workload, outcomes: NDArray[Any], origin: datetime, traffic_from: datetime,
             traffic_to: datetime, speed: float, min_samples: tuple[int, int], builds: Sequence[BuildFact],
             rollovers: Sequence[RolloverFact], prometheus_counted: float | None, breach_fraction: float,
             wall_seconds: float, interrupted: bool, paths: dict[str, str]) -> dict[str, Any]:
    """The run as a JSON-ready document (``summary.json``)."""
    counts = outcome_counts(outcomes)
    finished = counts["answered"] + counts["limit_stopped"] + counts["rejected"]
    beyond = counts["limit_stopped"] + counts["rejected"]
    over, with_traffic = hours_over(workload, outcomes, breach_fraction)
    return {
        "engine": ENGINE_WORDS,
        "interrupted": interrupted,
        "wall_seconds": round(wall_seconds, 1),
        "simulated": {"origin": origin.isoformat(), "from": traffic_from.isoformat(), "to": traffic_to.isoformat(),
                      "from_text": clock_text(traffic_from, origin), "to_text": clock_text(traffic_to, origin),
                      "hours": round((traffic_to - traffic_from).total_seconds() / 3600, 2), "speed": speed},
        "requests": {**counts, "replayed_share": round(workload.keep, 4), "in_span": len(workload),
                     "beyond_envelope_share": round(beyond / finished, 5) if finished else None},
        "min_samples": {"spec": min_samples[0], "used": min_samples[1]},
        "prometheus_counted": prometheus_counted,
        "hours_over_breach_fraction": over, "hours_with_traffic": with_traffic, "breach_fraction": breach_fraction,
        "builds": [{"engine_hash": b.engine_hash, "reason": b.reason, "season": b.season,
                    "envelope": _envelope(b.envelope), "started": _iso(b.started),
                    "process_seconds": None if b.process_seconds is None else round(b.process_seconds, 2),
                    "exit_code": b.exit_code} for b in builds],
        "rollovers": [{"engine_hash": r.engine_hash, "reason": r.reason, "season": r.season,
                       "envelope": _envelope(r.envelope), "rollback": r.rollback, "started": _iso(r.started),
                       "serving_from": _iso(r.serving_from),
                       "load_seconds": None if r.load_seconds is None else round(r.load_seconds, 2),
                       "error": r.error} for r in rollovers],
        "paths": paths,
    }


def table_rows(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary table: (what, value) rows."""
    req = doc["requests"]
    sim = doc["simulated"]
    share = req["beyond_envelope_share"]
    rows = [
        ("engine", doc["engine"]),
        ("simulated time", f"{sim['from_text']} → {sim['to_text']} ({sim['hours']:.1f} h at ×{sim['speed']:.0f}), "
                           f"{doc['wall_seconds']:.0f} s on the wall clock"),
        ("requests sent", f"{req['sent']} ({req['replayed_share']:.0%} of the trace's requests in the span)"),
        ("answered", str(req["answered"])),
        ("stopped at max_seq_len", str(req["limit_stopped"])),
        ("rejected (prompt too long)", str(req["rejected"])),
        ("not served (no engine loaded)", str(req["unavailable"])),
        ("beyond the envelope", "n/a" if share is None else f"{share:.2%} of the requests that reached an engine"),
        ("hours over the breach fraction", f"{doc['hours_over_breach_fraction']} of {doc['hours_with_traffic']} "
                                           f"(> {doc['breach_fraction']:.1%} beyond the envelope)"),
        ("counted by Prometheus", "n/a" if doc["prometheus_counted"] is None else f"{doc['prometheus_counted']:.0f}"
                                  " requests (the stand-in's seasonal_request_input_tokens_count)"),
        ("minSamples", f"{doc['min_samples']['used']} (spec {doc['min_samples']['spec']}, scaled to the replayed "
                       "share)"),
        ("builds", _by_reason(doc["builds"])),
        ("rollovers", _by_reason([r for r in doc["rollovers"] if r["serving_from"]])),
    ]
    if req["skipped"]:
        rows.append(("skipped (client backlog)", str(req["skipped"])))
    if doc["interrupted"]:
        rows.append(("interrupted", "yes: stopped early (Ctrl-C)"))
    return rows


def engine_rows(doc: dict[str, Any], origin: datetime) -> list[tuple[str, str, str, str, str]]:
    """(engine, season, why, limits, serving from) per rollover that served."""
    out = []
    for r in doc["rollovers"]:
        env = r["envelope"]
        since = clock_text(datetime.fromisoformat(r["serving_from"]), origin) if r["serving_from"] else (
            r["error"] or "never")
        out.append((r["engine_hash"][:12], r["season"] or "-", r["reason"] or "-",
                    f"in {env['max_input_len']} / seq {env['max_seq_len']}", since))
    return out


def _by_reason(items: Sequence[dict[str, Any]]) -> str:
    if not items:
        return "0"
    reasons: dict[str, int] = {}
    for item in items:
        key = item["reason"] or ("Rollback" if item.get("rollback") else "-")
        reasons[key] = reasons.get(key, 0) + 1
    return f"{len(items)} (" + ", ".join(f"{k} {v}" for k, v in reasons.items()) + ")"


__all__ = ["BuildFact", "RolloverFact", "Segment", "segments", "outcome_counts", "hours_over", "document",
           "table_rows", "engine_rows", "ENGINE_WORDS"]
