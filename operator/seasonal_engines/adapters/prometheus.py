"""Reading traffic profiles from Prometheus (prometheus-api-client), with every failure turned into a value.

One evaluation sends ONE instant query (``core.promql.profile_query``): the bucket increases of the input,
output and sequence histograms and the censoring counters of a trailing window, or of a season's past
occurrences summed. ``history`` sends ONE range query (``core.promql.history_query``, hourly points over
at most 28 days) for ``spec.seasonDiscovery`` and returns a ``core.hourly_history.HourlyHistory``. The answer is parsed into histograms and handed to ``core.traffic``. Whatever goes
wrong (unreachable, slow, HTTP 5xx, 4xx, an answer that is not Prometheus JSON, NaN, no series, too few
requests) comes back as ``TrafficUnavailable(reason, message)``; nothing raises to the caller and no profile
is ever built from nothing. Counter resets need no handling here: ``increase`` already accounts for them.

I/O only at this edge; the decisions are in ``core``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from seasonal_engines.core import histograms, hourly_history, promql, traffic
from seasonal_engines.core.histograms import Histogram
from seasonal_engines.core.presets import Censoring, MetricPreset
from seasonal_engines.core.traffic import Reason, TrafficProfile, TrafficUnavailable

Result = TrafficProfile | TrafficUnavailable


@dataclass
class PrometheusTraffic:
    """A Prometheus API to read profiles from. ``queries_sent`` counts the PromQL queries, for budgets."""

    url: str
    timeout_s: float = 10.0
    headers: dict[str, str] | None = None
    queries_sent: int = 0
    _client: PrometheusConnect | None = field(default=None, repr=False)

    def client(self) -> PrometheusConnect:
        if self._client is None:
            # No retries: the operator evaluates again at the next interval, and a retry storm against a
            # struggling Prometheus helps no one. POST: a season's history makes a long query.
            self._client = PrometheusConnect(url=self.url.rstrip("/"), headers=self.headers, disable_ssl=False,
                                             retry=Retry(total=0, connect=0, read=0, status=0),
                                             timeout=self.timeout_s, method="POST")
        return self._client

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
            return TrafficUnavailable(Reason.QueryRejected, str(exc))
        answer = self._query(query, max(w.end for w in windows))
        if isinstance(answer, TrafficUnavailable):
            return answer
        start = min(w.end - timedelta(seconds=w.length_s) for w in windows)
        end = max(w.end for w in windows)
        covered = sum(w.length_s for w in windows)
        return profile_from_answer(answer, preset, start, end, covered, min_samples=min_samples,
                                   peak_percentile=peak_percentile, recent=recent)

    def history(self, preset: MetricPreset, matchers: Sequence[promql.Matcher], end: datetime,
                hours: int, *, step_s: float = promql.HISTORY_STEP_S) -> hourly_history.HourlyHistory | TrafficUnavailable:
        """The ``hours`` steps (hours) of histograms ending at ``end`` (whole seconds), from one range query."""
        if not 1 <= hours <= promql.MAX_HISTORY_POINTS:
            raise ValueError(f"history hours must be in 1..{promql.MAX_HISTORY_POINTS}, got {hours}")
        end = end.replace(microsecond=0)
        try:
            query = promql.history_query(preset, matchers, step_s)
        except ValueError as exc:
            return TrafficUnavailable(Reason.QueryRejected, str(exc))
        start = end - timedelta(seconds=step_s * (hours - 1))
        answer = self._query(query, end, start=start, step_s=step_s)
        if isinstance(answer, TrafficUnavailable):
            return answer
        return history_from_answer(answer, preset, end, hours, step_s=step_s)

    def _query(self, query: str, at: datetime, *, start: datetime | None = None,
               step_s: float = promql.HISTORY_STEP_S) -> list[Any] | TrafficUnavailable:
        """An instant query at ``at``; with ``start``, a range query from ``start`` to ``at`` by ``step_s``."""
        self.queries_sent += 1
        try:
            if start is None:
                result = self.client().custom_query(query, params={"time": f"{at.timestamp():.3f}"})
            else:
                result = self.client().custom_query_range(query, start_time=start, end_time=at,
                                                          step=promql.duration(step_s))
        except requests.exceptions.Timeout:
            return TrafficUnavailable(Reason.PrometheusTimeout,
                                      f"Prometheus at {self.url} did not answer within {self.timeout_s:g} s")
        except requests.exceptions.ConnectionError as exc:
            return TrafficUnavailable(Reason.PrometheusUnreachable,
                                      f"cannot reach Prometheus at {self.url}: {_short(exc)}")
        except PrometheusApiClientException as exc:
            text = str(exc)
            if "HTTP Status Code 4" in text:
                return TrafficUnavailable(Reason.QueryRejected, f"Prometheus rejected the query: {_short(text)}")
            return TrafficUnavailable(Reason.PrometheusError, f"Prometheus at {self.url} failed: {_short(text)}")
        except (ValueError, KeyError, TypeError) as exc:  # JSON decoding or a body of the wrong shape
            return TrafficUnavailable(Reason.PrometheusGarbage,
                                      f"Prometheus at {self.url} answered something that is not its API's JSON "
                                      f"({_short(exc)})")
        except requests.exceptions.RequestException as exc:
            return TrafficUnavailable(Reason.PrometheusUnreachable, f"request to {self.url} failed: {_short(exc)}")
        if not isinstance(result, list):
            return TrafficUnavailable(Reason.PrometheusGarbage,
                                      f"Prometheus at {self.url} answered a {type(result).__name__}, not a vector")
        return result


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
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            return TrafficUnavailable(Reason.PrometheusGarbage, f"unexpected sample in the answer: {item!r:.200} "
                                      f"({_short(exc)})")
        if not math.isfinite(value):
            return TrafficUnavailable(Reason.NaNInData, f"the {part} increase is {value} (le={le_text}); the "
                                      "exporter wrote NaN or infinite values")
        if le_text is None:
            counters[part] = counters.get(part, 0.0) + value
            continue
        try:
            le = float(le_text)
        except ValueError:
            return TrafficUnavailable(Reason.MalformedHistogram, f"the {part} histogram has a bucket bound "
                                      f"le={le_text!r} that is not a number")
        if math.isnan(le):
            return TrafficUnavailable(Reason.MalformedHistogram, f"the {part} histogram has a NaN bucket bound")
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
            return TrafficUnavailable(Reason.MalformedHistogram, f"the {name} histogram has no le=\"+Inf\" "
                                      "bucket, so no quantile can be computed (PromQL answers NaN too)")
        hists[name] = h
    window_text = f"{start.isoformat()} .. {end.isoformat()}"
    if "input" not in hists or "output" not in hists:
        missing = " and ".join(n for n, m in (("input", preset.input_metric), ("output", preset.output_metric))
                               if n not in hists)
        return TrafficUnavailable(Reason.NoData, f"no {missing} histogram series "
                                  f"({preset.input_metric}, {preset.output_metric}) in {window_text}; check "
                                  "the preset and the selector")
    samples = hists["input"].total
    if samples <= 0 or samples < min_samples:
        return TrafficUnavailable(Reason.InsufficientSamples, f"{samples:.0f} requests in {window_text}, fewer "
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
    """The hourly history from the matrix answer to ``history_query``; garbage and NaN become values."""
    series: dict[str, list[tuple[float, list[tuple[float, float]]]]] = {}
    counters: dict[str, list[tuple[float, float]]] = {}
    for item in result:
        try:
            labels = item["metric"]
            part = labels[promql.PART_LABEL]
            points = [(float(t), float(v)) for t, v in item["values"]]
            le_text = labels.get("le")
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            return TrafficUnavailable(Reason.PrometheusGarbage, f"unexpected series in the history answer: "
                                      f"{item!r:.200} ({_short(exc)})")
        if le_text is None:
            counters.setdefault(part, []).extend(points)
            continue
        try:
            le = float(le_text)
        except ValueError:
            return TrafficUnavailable(Reason.MalformedHistogram, f"the {part} history has a bucket bound "
                                      f"le={le_text!r} that is not a number")
        series.setdefault(part, []).append((le, points))
    if "input" not in series or "output" not in series:
        return TrafficUnavailable(Reason.NoData, f"no {preset.input_metric} or {preset.output_metric} series in "
                                  f"the {hours} h before {end.isoformat()}; check the preset and the selector")
    counted = {k: v for k, v in counters.items()
               if (k == "rejected" and preset.rejected and preset.rejected.censoring == Censoring.exact)
               or (k == "limit_stopped" and preset.limit_stopped
                   and preset.limit_stopped.censoring == Censoring.exact)}
    return hourly_history.from_series(end, hours, series, counted, notes=preset.notes, step_s=step_s)


def _short(exc: object) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."
