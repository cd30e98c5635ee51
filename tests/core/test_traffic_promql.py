"""PromQL text: matchers validated and escaped so a value can never inject PromQL; one batched query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from seasonal_engines.api.spec import LabelMatcher, TrafficSpec
from seasonal_engines.core import presets, promql

T = datetime(2026, 1, 5, 12, tzinfo=UTC)


@pytest.mark.parametrize("value, literal", [
    ("plain", '"plain"'),
    ('a"b', '"a\\"b"'),
    ("back\\slash", '"back\\\\slash"'),
    ('x"} or vector(1) #', '"x\\"} or vector(1) #"'),
    ("new\nline\ttab", '"new\\nline\\ttab"'),
    ("\x00bell\x07", '"\\x00bell\\x07"'),
    ("ünïcode", '"ünïcode"'),
])
def test_quote_escapes(value: str, literal: str) -> None:
    assert promql.quote(value) == literal


@pytest.mark.parametrize("label, op, value, message", [
    ("1abc", "=", "x", "not a Prometheus label name"),
    ("bad-name", "=", "x", "not a Prometheus label name"),
    ("__name__", "=", "x", "reserved"),
    ("le", "=", "1", "reserved"),
    ("model", "==", "x", "not one of"),
    ("model", "=~", "(?=x)", "RE2"),
    ("model", "=~", "(a)\\1", "RE2"),
    ("model", "=~", "(unclosed", "invalid"),
])
def test_bad_matchers_are_refused_with_the_fix(label: str, op: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        promql.matcher(label, op, value)


def test_parse_matcher_from_cli_text() -> None:
    m = promql.parse_matcher('model="llama \\"3\\""')
    assert (m.label, m.op, m.value) == ("model", promql.Op.eq, 'llama "3"')
    assert promql.parse_matcher('ns!~"dev|test"').op is promql.Op.nre
    with pytest.raises(ValueError, match='label="value"'):
        promql.parse_matcher("model=llama")


def test_spec_selector_becomes_matchers() -> None:
    spec = TrafficSpec(prometheus_url="http://p:9090", selector=[LabelMatcher(label="model", value="m1"),
                                                                  LabelMatcher(label="ns", op="=~", value="a|b")])
    ms = promql.from_spec(spec.selector)
    assert [m.render() for m in ms] == ['model="m1"', 'ns=~"a|b"']
    assert presets.from_spec(spec).name == "seasonal"


def test_one_query_has_every_part_tagged() -> None:
    q = promql.profile_query(presets.SEASONAL, [promql.matcher("model", "=", "m")], [promql.Window(T, 3600)])
    for part in ("input", "output", "sequence", "rejected", "limit_stopped"):
        assert f'"{promql.PART_LABEL}", "{part}"' in q
    assert 'sum by (le) (increase(seasonal_request_input_tokens_bucket{model="m"}[3600s] @ ' in q
    assert f"@ {T.timestamp():.3f}" in q
    assert "sum(increase(seasonal_requests_rejected_length_total{model=\"m\"}[3600s]" in q


def test_the_recent_window_rides_in_the_same_query() -> None:
    m = [promql.matcher("model", "=", "m")]
    q = promql.profile_query(presets.SEASONAL, m, [promql.Window(T, 3600)], promql.Window(T, 900))
    assert f'"{promql.PART_LABEL}", "recent_input"' in q and f'"{promql.PART_LABEL}", "recent_sequence"' in q
    assert 'increase(seasonal_request_input_tokens_bucket{model="m"}[900s] @ ' in q
    assert q.count("[900s]") == 2  # input and the joint sequence; outputs and counters only for the window
    marginal = promql.profile_query(presets.VLLM, [], [promql.Window(T, 3600)], promql.Window(T, 900))
    assert '"recent_input"' in marginal and '"recent_sequence"' not in marginal  # no joint series in vLLM


def test_season_history_sums_occurrences_in_the_same_query() -> None:
    windows = [promql.Window(T - timedelta(days=7 * k), 36000) for k in range(4)]
    q = promql.profile_query(presets.VLLM, [], windows)
    assert q.count("increase(vllm:request_prompt_tokens_bucket[36000s] @") == 4
    assert q.count(f'"{promql.OCCURRENCE_LABEL}", "3"') == 3  # input, output, the finish-reason counter
    assert 'finished_reason="length"' in q
    with pytest.raises(ValueError, match="at most 52"):
        promql.profile_query(presets.VLLM, [], windows * 14)


def test_durations_and_naive_times() -> None:
    assert promql.duration(3600) == "3600s" and promql.duration(1.5) == "1500ms"
    with pytest.raises(ValueError, match="timezone"):
        promql.profile_query(presets.NIM, [], [promql.Window(datetime(2026, 1, 1), 60)])
    with pytest.raises(ValueError, match="metric name"):
        promql.selector("bad name", [])


def test_presets_are_known_and_honest_about_resolution() -> None:
    assert presets.get("triton-trtllm").max_resolved == 1000.0
    assert presets.one_two_five(8192)[:-1] == (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
    with pytest.raises(ValueError, match="choose one of seasonal, vllm"):
        presets.get("nope")
