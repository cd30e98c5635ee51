"""Reading traffic profiles from Prometheus' HTTP API, with every failure turned into a value.

One evaluation sends ONE instant query (``core.promql.profile_query``): the bucket increases of the input,
output and sequence histograms and the censoring counters of a trailing window, or of a season's past
occurrences summed. ``history`` sends ONE range query (``core.promql.history_query``, hourly points over at
most 28 days) for ``spec.seasonDiscovery`` and returns a ``core.hourly_history.HourlyHistory``. Answers are
parsed into histograms and handed to ``core.traffic``. Whatever goes
wrong (unreachable, slow, HTTP 5xx, 4xx, an answer that is not Prometheus JSON, NaN, no series, too few
requests) comes back as ``TrafficUnavailable(reason, message)``; nothing raises to the caller and no profile
is ever built from nothing. Counter resets need no handling here: ``increase`` already accounts for them.

The URL is anybody's who may write an InferenceService, so the transport is deliberately narrow: only
``POST <base>/api/v1/query`` is ever sent (the spec refuses a query, fragment or userinfo in the URL), the
whole request has one deadline (a slowly dripped answer cannot hold an evaluation), the answer is read up
to a size cap, and no text of the answer reaches status or Events: messages are our own, naming the
reason and the HTTP status at most. Numbers are checked before they reach the planner (finite,
non-negative, bounded bucket bounds and counts).

I/O only at this edge; the decisions are in ``core``.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import socket
import ssl
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from seasonal_engines.core import histograms, hourly_history, promql, reasons, traffic
from seasonal_engines.core.histograms import Histogram
from seasonal_engines.core.presets import Censoring, MetricPreset
from seasonal_engines.core.traffic import TrafficProfile, TrafficUnavailable

Result = TrafficProfile | TrafficUnavailable
API_PATH = "/api/v1/query"
RANGE_PATH = "/api/v1/query_range"
MAX_BOUND = float(2 ** 31)   # tokens: no engine gets near; a larger finite bucket bound is garbage
MAX_COUNT = 1e15             # requests in one window: far beyond any deployment, far below float overflow
log = logging.getLogger("seasonal_engines")


class _Refusal(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class PrometheusTraffic:
    """A Prometheus API to read profiles from. ``queries_sent`` counts the PromQL queries, for budgets."""

    url: str
    timeout_s: float = 10.0
    headers: dict[str, str] | None = None
    max_reply_bytes: int = 16 * 1024 * 1024
    queries_sent: int = 0

    def window(self, preset: MetricPreset, matchers: Sequence[promql.Matcher], end: datetime,
               window_s: float, *, min_samples: int = 1, peak_percentile: float = 0.99,
               recent_s: float | None = None) -> Result:
        """The profile of the ``window_s`` seconds ending at ``end``; with ``recent_s``, its last ``recent_s``
        seconds as ``profile.recent`` (same query)."""
        recent = None if recent_s is None else promql.Window(end, recent_s)
        return self.windows(preset, matchers, [promql.Window(end, window_s)], min_samples=min_samples,
                            peak_percentile=peak_percentile, recent=recent)

    def season(self, preset: MetricPreset, matchers: Sequence[promql.Matcher],
               occurrences: Sequence[tuple[datetime, datetime]], *, min_samples: int = 1,
               peak_percentile: float = 0.99) -> Result:
        """The profile of a season's past occurrences ``(start, end)``, summed."""
        windows = [promql.Window(e, (e - s).total_seconds()) for s, e in occurrences]
        return self.windows(preset, matchers, windows, min_samples=min_samples, peak_percentile=peak_percentile)

    def windows(self, preset: MetricPreset, matchers: Sequence[promql.Matcher],
                windows: Sequence[promql.Window], *, min_samples: int = 1,
                peak_percentile: float = 0.99, recent: promql.Window | None = None) -> Result:
        """The profile of several windows summed, from one query (with ``recent``, that window as well)."""
        try:
            query = promql.profile_query(preset, matchers, windows, recent)
        except ValueError as exc:
            return TrafficUnavailable(reasons.QUERY_REJECTED, str(exc))
        answer = self._query(query, max(w.end for w in windows))
        if isinstance(answer, TrafficUnavailable):
            return answer
        start = min(w.end - timedelta(seconds=w.length_s) for w in windows)
        end = max(w.end for w in windows)
        covered = sum(w.length_s for w in windows)
        return profile_from_answer(answer, preset, start, end, covered, min_samples=min_samples,
                                   peak_percentile=peak_percentile, recent=recent)

    def history(self, preset: MetricPreset, matchers: Sequence[promql.Matcher], end: datetime,
                hours: int, *,
                step_s: float = promql.HISTORY_STEP_S) -> hourly_history.HourlyHistory | TrafficUnavailable:
        """The ``hours`` steps (hours) of histograms ending at ``end`` (whole seconds), from one range query."""
        if not 1 <= hours <= promql.MAX_HISTORY_POINTS:
            raise ValueError(f"history hours must be in 1..{promql.MAX_HISTORY_POINTS}, got {hours}")
        end = end.replace(microsecond=0)
        try:
            query = promql.history_query(preset, matchers, step_s)
        except ValueError as exc:
            return TrafficUnavailable(reasons.QUERY_REJECTED, str(exc))
        start = end - timedelta(seconds=step_s * (hours - 1))
        answer = self._query(query, end, start=start, step_s=step_s)
        if isinstance(answer, TrafficUnavailable):
            return answer
        return history_from_answer(answer, preset, end, hours, step_s=step_s)

    def _query(self, query: str, at: datetime, *, start: datetime | None = None,
               step_s: float = promql.HISTORY_STEP_S) -> list[Any] | TrafficUnavailable:
        """An instant query at ``at``; with ``start``, a range query from ``start`` to ``at`` by ``step_s``."""
        self.queries_sent += 1
        if start is None:
            path, form, kind = API_PATH, {"query": query, "time": f"{at.timestamp():.3f}"}, "vector"
        else:
            path, kind = RANGE_PATH, "matrix"
            form = {"query": query, "start": f"{start.timestamp():.3f}", "end": f"{at.timestamp():.3f}",
                    "step": promql.duration(step_s)}
        try:
            status, body = self._post(path, urllib.parse.urlencode(form))
        except _Refusal as exc:
            return TrafficUnavailable(exc.reason, str(exc))
        return answer_vector(status, body, self.url, kind)

    def _post(self, api_path: str, form: str) -> tuple[int, bytes]:
        """POST ``form`` to the query endpoint: (HTTP status, body), within one deadline and the size cap."""
        target = urllib.parse.urlsplit(self.url)
        if target.scheme not in ("http", "https") or not target.hostname or target.query or target.fragment \
                or target.username or target.password:
            raise _Refusal(reasons.QUERY_REJECTED, f"traffic.prometheusUrl {self.url!r} is not an http(s) URL of "
                           "scheme, host, port and base path only")
        deadline = time.monotonic() + self.timeout_s
        conn_type = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        kwargs: dict[str, Any] = {"context": ssl.create_default_context()} if target.scheme == "https" else {}
        conn = conn_type(target.hostname, target.port, timeout=self.timeout_s, **kwargs)
        path = target.path.rstrip("/") + api_path
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                   **(self.headers or {})}
        try:
            conn.request("POST", path, body=form.encode(), headers=headers)
            _deadline_left(conn, deadline)
            response = conn.getresponse()
            chunks, size = [], 0
            while True:
                _deadline_left(conn, deadline)
                chunk = response.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_reply_bytes:
                    raise _Refusal(reasons.PROMETHEUS_GARBAGE, f"Prometheus at {self.url} answered more than "
                                   f"{self.max_reply_bytes // (1024 * 1024)} MiB; refused unread")
                chunks.append(chunk)
            return response.status, b"".join(chunks)
        except _Refusal:
            raise
        except TimeoutError:
            raise _Refusal(reasons.PROMETHEUS_TIMEOUT, f"Prometheus at {self.url} did not answer within "
                           f"{self.timeout_s:g} s") from None
        except (ssl.SSLError, ConnectionError, socket.gaierror, OSError) as exc:
            raise _Refusal(reasons.PROMETHEUS_UNREACHABLE, f"cannot reach Prometheus at {self.url} "
                           f"({type(exc).__name__})") from None
        except http.client.HTTPException as exc:
            raise _Refusal(reasons.PROMETHEUS_GARBAGE, f"Prometheus at {self.url} did not answer in HTTP "
                           f"({type(exc).__name__})") from None
        finally:
            conn.close()


def _deadline_left(conn: http.client.HTTPConnection, deadline: float) -> None:
    """Shrink the socket timeout to what is left of the request's deadline (raises when none is left)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    if conn.sock is not None:
        conn.sock.settimeout(left)


def answer_vector(status: int, body: bytes, url: str, kind: str = "vector") -> list[Any] | TrafficUnavailable:
    """The result (``kind``: vector, or matrix for a range query) of an answer, or why not; the answer's own
    text never goes out."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if 400 <= status < 500 and isinstance(doc, dict) and doc.get("status") == "error":
        kind = str(doc.get("errorType") or "")[:32]
        log.warning("Prometheus at %s rejected the query: %.300s", url, doc.get("error"))
        return TrafficUnavailable(reasons.QUERY_REJECTED, f"Prometheus at {url} rejected the query (HTTP {status}"
                                  + (f", {kind}" if kind.isidentifier() else "") + "); check the preset, "
                                  "metric names and selector")
    if status >= 400 or status < 200:
        return TrafficUnavailable(reasons.PROMETHEUS_ERROR, f"Prometheus at {url} answered HTTP {status}")
    if not isinstance(doc, dict) or doc.get("status") != "success":
        return TrafficUnavailable(reasons.PROMETHEUS_GARBAGE, f"Prometheus at {url} answered something that is "
                                  "not its API's JSON; is traffic.prometheusUrl the Prometheus base URL?")
    data = doc.get("data")
    if not isinstance(data, dict) or data.get("resultType") != kind or not isinstance(data.get("result"), list):
        return TrafficUnavailable(reasons.PROMETHEUS_GARBAGE, f"Prometheus at {url} answered with no {kind}")
    return list(data["result"])


@dataclass(frozen=True)
class Parts:
    """A parsed answer: bucket pairs per histogram part, a value per counter part."""

    buckets: dict[str, list[tuple[float, float]]]
    counters: dict[str, float]


def parse_answer(result: list[Any]) -> Parts | TrafficUnavailable:
    """Split the tagged vector of ``profile_query`` into parts; garbage and NaN become values."""
    buckets: dict[str, list[tuple[float, float]]] = {}
    counters: dict[str, float] = {}
    for item in result:
        try:
            labels = item["metric"]
            part = labels[promql.PART_LABEL]
            value = float(item["value"][1])
            le_text = labels.get("le")
        except (KeyError, TypeError, IndexError, ValueError):
            return TrafficUnavailable(reasons.PROMETHEUS_GARBAGE, "a sample in the answer is not of the form "
                                      "{metric: {part, le}, value: [time, number]}")
        if not isinstance(part, str) or part not in promql.PARTS:
            return TrafficUnavailable(reasons.PROMETHEUS_GARBAGE, "a sample in the answer belongs to no part of "
                                      "the query")
        if not math.isfinite(value):
            return TrafficUnavailable(reasons.NAN_IN_DATA, f"the {part} increase is {value} (le={_le(le_text)}); "
                                      "the exporter wrote NaN or infinite values")
        if value < 0 or value > MAX_COUNT:
            return TrafficUnavailable(reasons.PROMETHEUS_GARBAGE, f"the {part} increase {value:g} is outside "
                                      f"0..{MAX_COUNT:g}: no counter of requests looks like that")
        if le_text is None:
            counters[part] = counters.get(part, 0.0) + value
            continue
        try:
            le = float(le_text)
        except (ValueError, TypeError):
            return TrafficUnavailable(reasons.MALFORMED_HISTOGRAM, f"the {part} histogram has a bucket bound "
                                      f"le={_le(le_text)} that is not a number")
        if math.isnan(le) or le < 0 or (le != math.inf and le > MAX_BOUND):
            return TrafficUnavailable(reasons.MALFORMED_HISTOGRAM, f"the {part} histogram has a bucket bound "
                                      f"le={_le(le_text)} outside 0..{MAX_BOUND:g} tokens (or +Inf)")
        buckets.setdefault(part, []).append((le, value))
    return Parts(buckets, counters)


def profile_from_answer(result: list[Any], preset: MetricPreset, start: datetime, end: datetime,
                        covered_s: float, *, min_samples: int = 1, peak_percentile: float = 0.99,
                        recent: promql.Window | None = None) -> Result:
    """A profile, or why not, from the answer to ``profile_query`` (``recent``: the window asked for beside
    it, attached as ``profile.recent`` when its input histogram came back)."""
    parts = parse_answer(result)
    if isinstance(parts, TrafficUnavailable):
        return parts
    hists: dict[str, Histogram] = {}
    recent_parts = (promql.RECENT_PREFIX + "input", promql.RECENT_PREFIX + "sequence")
    for name in ("input", "output", "sequence", *recent_parts):
        pairs = parts.buckets.get(name)
        if not pairs:
            continue
        h = histograms.from_buckets(pairs)
        if h.bounds[-1] != math.inf:
            return TrafficUnavailable(reasons.MALFORMED_HISTOGRAM, f"the {name} histogram has no le=\"+Inf\" "
                                      "bucket, so no quantile can be computed (PromQL answers NaN too)")
        hists[name] = h
    window_text = f"{start.isoformat()} .. {end.isoformat()}"
    if "input" not in hists or "output" not in hists:
        missing = " and ".join(n for n, m in (("input", preset.input_metric), ("output", preset.output_metric))
                               if n not in hists)
        return TrafficUnavailable(reasons.NO_DATA, f"no {missing} histogram series "
                                  f"({preset.input_metric}, {preset.output_metric}) in {window_text}; check "
                                  "the preset and the selector")
    samples = hists["input"].total
    if samples <= 0 or samples < min_samples:
        return TrafficUnavailable(reasons.INSUFFICIENT_SAMPLES, f"{samples:.0f} requests in {window_text}, fewer "
                                  f"than the minimum {min_samples}; nothing is planned from so little")
    notes = list(preset.notes)
    rejected = limit_stopped = upper = None
    for ref, key in ((preset.rejected, "rejected"), (preset.limit_stopped, "limit_stopped")):
        if ref is None:
            continue
        value = parts.counters.get(key)
        if value is None:
            notes.append(f"counter {ref.metric} has no series in the window; censoring by it is unknown")
        elif ref.censoring == Censoring.upper_bound:
            upper = (upper or 0.0) + value
        elif key == "rejected":
            rejected = value
        else:
            limit_stopped = value
    profile = traffic.profile_from_histograms(
        start, end, hists["input"], hists["output"], hists.get("sequence"),
        peak_percentile=peak_percentile, rejected=rejected, limit_stopped=limit_stopped,
        censored_upper=upper, covered_s=covered_s, notes=notes)
    if recent is None or recent_parts[0] not in hists:
        return profile
    return replace(profile, recent=traffic.RecentTraffic(
        recent.end - timedelta(seconds=recent.length_s), recent.end, hists[recent_parts[0]],
        hists.get(recent_parts[1])))


def history_from_answer(result: list[Any], preset: MetricPreset, end: datetime, hours: int, *,
                        step_s: float = promql.HISTORY_STEP_S) -> hourly_history.HourlyHistory | TrafficUnavailable:
    """The hourly history from the matrix answer to ``history_query``; garbage and NaN become values, checked
    as the instant answers are (finite, non-negative, bounded)."""
    series: dict[str, list[tuple[float, list[tuple[float, float]]]]] = {}
    counters: dict[str, list[tuple[float, float]]] = {}
    for item in result:
        try:
            labels = item["metric"]
            part = labels[promql.PART_LABEL]
            points = [(float(t), float(v)) for t, v in item["values"]]
            le_text = labels.get("le")
        except (KeyError, TypeError, IndexError, ValueError):
            return TrafficUnavailable(reasons.PROMETHEUS_GARBAGE, "a series in the history answer is not of the form "
                                      "{metric: {part, le}, values: [[time, number], ...]}")
        if not isinstance(part, str) or part not in promql.PARTS or len(points) > 4 * promql.MAX_HISTORY_POINTS:
            return TrafficUnavailable(reasons.PROMETHEUS_GARBAGE, "a series in the history answer belongs to no part "
                                      "of the query, or has more points than asked for")
        bad = next((v for _, v in points if not math.isfinite(v) or not 0 <= v <= MAX_COUNT), None)
        if bad is not None:
            return TrafficUnavailable(reasons.NAN_IN_DATA if not math.isfinite(bad) else reasons.PROMETHEUS_GARBAGE,
                                      f"the {part} history holds {bad:g}, not a count of requests")
        if le_text is None:
            counters.setdefault(part, []).extend(points)
            continue
        try:
            le = float(le_text)
        except (ValueError, TypeError):
            le = math.nan
        if math.isnan(le) or le < 0 or (le != math.inf and le > MAX_BOUND):
            return TrafficUnavailable(reasons.MALFORMED_HISTOGRAM, f"the {part} history has a bucket bound "
                                      f"le={_le(le_text)} outside 0..{MAX_BOUND:g} tokens (or +Inf)")
        series.setdefault(part, []).append((le, points))
    if "input" not in series or "output" not in series:
        return TrafficUnavailable(reasons.NO_DATA, f"no {preset.input_metric} or {preset.output_metric} series in "
                                  f"the {hours} h before {end.isoformat()}; check the preset and the selector")
    counted = {k: v for k, v in counters.items()
               if (k == "rejected" and preset.rejected and preset.rejected.censoring == Censoring.exact)
               or (k == "limit_stopped" and preset.limit_stopped
                   and preset.limit_stopped.censoring == Censoring.exact)}
    return hourly_history.from_series(end, hours, series, counted, notes=preset.notes, step_s=step_s)


def _le(text: object) -> str:
    """A bucket bound as our message shows it: short, printable, no matter what the answer held."""
    shown = "".join(c for c in str(text)[:24] if c.isprintable())
    return repr(shown)
