"""The replay's comparison with the best static engine in hindsight, a held-out scored part, and a service
replayed from its first request with seasonDiscovery. Pure (the replay's simulated cluster)."""

from __future__ import annotations

import copy

import numpy as np

from seasonal_engines.core import reasons
from seasonal_engines.replay import comparing, reports
from tests.core.test_replay_simulation import FAST, MANIFEST, T0, H, spec, synthetic


def test_best_hindsight_static_is_the_smallest_step_within_the_coverage_target() -> None:
    c = comparing.compare(synthetic(6), spec(), FAST)
    best = c.best_hindsight_static(0.001)
    assert best is not None
    steps = [s for s, _ in c.frontier]
    i = steps.index(best[0])
    assert best[1].beyond_envelope_fraction <= 0.001
    assert all(sc.beyond_envelope_fraction > 0.001 for _, sc in c.frontier[:i])
    assert c.best_hindsight_static(0.0)[1].beyond_envelope_fraction == 0.0
    doc = reports.report(c.run, c.policy, c.baseline_scores, frontier=c.frontier, max_beyond=0.001)
    assert doc["best_hindsight_static"]["max_seq_len"] == best[0]
    assert doc["slack_ratio"]["to_best_hindsight_static"] == round(c.policy.mean_slack / best[1].mean_slack, 4)
    assert doc["slack_ratio"]["to_oracle"] == round(c.policy.mean_slack / c.baseline_scores["oracle"].mean_slack, 4)
    assert f"best_static_{best[0]}" in reports.table(doc)


def test_only_the_held_out_part_is_scored_and_the_rest_is_history() -> None:
    trace = synthetic(8)
    c = comparing.compare(trace, spec(), FAST, score_from_s=T0 + 5 * H)
    later = int(np.count_nonzero(trace.timestamps_s >= T0 + 5 * H))
    assert c.policy.requests == later
    assert c.scored is not None and c.scored.first_s == T0 + 5 * H
    assert all(sc.requests == later for sc in c.baseline_scores.values())
    assert len(c.hours.requests) == 3
    # the bootstrap build happened before the scored part: it is not counted there
    assert c.policy.rebuilds_per_day * (3 / 24) == sum(1 for b in c.run.builds if b.started_s >= T0 + 5 * H)


def test_a_cold_start_with_discovery_replays_alone() -> None:
    doc = copy.deepcopy(MANIFEST)
    doc["spec"]["seasonDiscovery"] = {"history": "7d"}
    from seasonal_engines.api import validation

    discovering = validation.parse_manifest(doc)
    trace = synthetic(10, per_hour=400)
    c = comparing.compare(trace, discovering, FAST)
    first = c.run.timeline[0]
    assert first.envelope.max_seq_len == 131072 and first.since_s < trace.first_s, "bootstrap before the trace"
    assert c.run.schedule_changes and "all-day" in c.run.schedule_changes[0][1]
    assert c.policy.beyond_envelope_fraction <= 0.001
    shrunk = [r for r in c.run.rollouts if r.started_s >= trace.first_s]
    assert shrunk and shrunk[0].envelope.max_seq_len < 131072
    # First a provisional engine, once the trailing window holds traffic.minSamples requests; an engine
    # planned at the quantile's bound only once the requests bound a p99.9 at 75% (1,386 of them).
    assert shrunk[0].reason == reasons.SEASON_PROVISIONAL
    n_before = int(np.searchsorted(trace.timestamps_s, shrunk[0].started_s))
    assert n_before >= discovering.traffic.min_samples, n_before
    for r in shrunk[1:]:
        if r.reason != reasons.SEASON_PROVISIONAL:
            assert int(np.searchsorted(trace.timestamps_s, r.started_s)) >= 1386
