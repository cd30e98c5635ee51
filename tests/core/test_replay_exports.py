"""The profiles a replay shows the decision core are what the serving engine's exporter would export:
rejected prompts in the input histogram only, outputs cut at the limit, exact censoring counters."""

from __future__ import annotations

import numpy as np
import pytest

from seasonal_engines.core import presets, reasons
from seasonal_engines.core.traffic import SequenceSource, TrafficUnavailable
from seasonal_engines.replay import exports
from seasonal_engines.traces import Trace


def served_trace() -> exports.ServedTrace:
    # 10 requests, one a second: 8 fit, one prompt too long (rejected), one output cut at the limit
    inputs = [100] * 8 + [3000, 1000]
    outputs = [50] * 8 + [10, 1500]
    t = Trace(np.arange(10, dtype=np.float64), np.asarray(inputs), np.asarray(outputs))
    s = exports.ServedTrace(t)
    s.serve_until(100.0, max_input_len=2048, max_seq_len=2048)
    return s


def test_rejected_and_limit_stopped_requests_are_exported_as_the_exporter_sees_them() -> None:
    p = exports.profile(served_trace(), [(0.0, 10.0)], presets.SEASONAL)
    assert not isinstance(p, TrafficUnavailable)
    assert p.samples == 10                     # every request at admission, the rejected one included
    assert p.output.total == 9                 # the rejected one never ran
    assert p.sequence.total == 9
    assert p.rejected_requests == 1 and p.limit_stopped_requests == 1
    assert p.censored_fraction == pytest.approx(0.2)
    assert p.sequence_source == SequenceSource.joint
    # the cut request shows as exactly max_seq_len: nothing above the limit is visible
    assert p.coverage("sequence", 2048) == 1.0
    assert p.coverage("input", 2048) == pytest.approx(0.9)


def test_a_preset_without_counters_or_joint_series_hides_the_censoring() -> None:
    p = exports.profile(served_trace(), [(0.0, 10.0)], presets.NIM)
    assert not isinstance(p, TrafficUnavailable)
    assert p.censored_fraction is None
    assert p.sequence_source == SequenceSource.bound


def test_vllm_length_counter_is_an_upper_bound_only() -> None:
    p = exports.profile(served_trace(), [(0.0, 10.0)], presets.VLLM)
    assert not isinstance(p, TrafficUnavailable)
    assert p.censored_fraction is None
    assert p.censored_upper_bound == pytest.approx(0.1)  # the limit-stopped request; rejections uncounted


def test_several_windows_are_summed_and_an_empty_one_is_unavailable() -> None:
    s = served_trace()
    p = exports.profile(s, [(0.0, 2.0), (5.0, 7.0)], presets.SEASONAL)
    assert not isinstance(p, TrafficUnavailable) and p.samples == 4
    empty = exports.profile(s, [(50.0, 60.0)], presets.SEASONAL)
    assert isinstance(empty, TrafficUnavailable) and empty.reason == reasons.INSUFFICIENT_SAMPLES


def test_a_profile_cannot_look_at_requests_not_yet_served() -> None:
    t = Trace(np.arange(10, dtype=np.float64), np.full(10, 10), np.full(10, 10))
    s = exports.ServedTrace(t)
    s.serve_until(5.0, 100, 100)
    assert s.filled == 5 and s.max_seq_len[4] == 100 and s.max_seq_len[5] == exports.UNSERVED
    with pytest.raises(ValueError, match="not served yet"):
        exports.profile(s, [(0.0, 8.0)], presets.SEASONAL)


def test_later_engines_do_not_rewrite_who_served_earlier_requests() -> None:
    t = Trace(np.arange(10, dtype=np.float64), np.full(10, 10), np.full(10, 10))
    s = exports.ServedTrace(t)
    s.serve_until(5.0, 100, 100)
    s.serve_until(20.0, 200, 400)
    assert s.max_seq_len.tolist() == [100] * 5 + [400] * 5
