"""Garbage collection never removes an engine that is serving or that a season or the history references."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from seasonal_build import engine_store, manifests, retention

hashes = st.lists(st.from_regex(r"[0-9a-f]{16}", fullmatch=True), min_size=0, max_size=12, unique=True)


@st.composite
def situations(draw):
    engines = [retention.Candidate(h, draw(st.floats(0, 1e6)), draw(st.integers(0, 10**9))) for h in draw(hashes)]
    known = [e.engine_hash for e in engines]
    subset = st.lists(st.sampled_from(known), unique=True) if known else st.just([])
    # References may also name engines that are not (or no longer) in the store.
    return engines, draw(subset), draw(subset) + draw(hashes), draw(st.integers(0, 6))


@settings(max_examples=200, deadline=None)
@given(situations())
def test_referenced_and_serving_engines_are_never_deleted(situation) -> None:
    engines, serving, referenced, keep_last = situation
    decision = retention.decide(engines, serving=serving, referenced=referenced, keep_last=keep_last)
    deleted, kept = set(decision.delete), {h for h, _ in decision.keep}
    assert not deleted & (set(serving) | set(referenced))
    assert deleted | kept == {e.engine_hash for e in engines} and not deleted & kept
    unreferenced = [e for e in engines if e.engine_hash not in set(serving) | set(referenced)]
    assert len(deleted) == max(0, len(unreferenced) - keep_last)
    # What goes is never newer than what stays for being recent.
    recent = [e.created_at for e in engines if decision.reason(e.engine_hash) is retention.Reason.recent]
    gone = [e.created_at for e in engines if e.engine_hash in deleted]
    if recent and gone:
        assert max(gone) <= min(recent)
    assert decision.freed_bytes == sum(e.size_bytes for e in engines if e.engine_hash in deleted)


def test_serving_wins_over_every_other_reason() -> None:
    d = retention.decide([retention.Candidate("a", 1)], serving=["a"], referenced=["a"], keep_last=0)
    assert d.keep == (("a", retention.Reason.serving),) and d.delete == ()


def publish(store: engine_store.EngineStore, model: str, engine_hash: str, created: datetime) -> None:
    staged = store.staging(model, engine_hash)
    doc = manifests.build(plan={}, engine_hash=engine_hash, model=model, backend="tensorrt", versions={}, gpu=None,
                          envelope={}, sizes={"total_bytes": 10}, timings={}, source_revision=None,
                          created_at=created.isoformat(), layout={})
    (staged / "manifest.json").write_text(json.dumps(doc))
    store.publish(staged, model, engine_hash)


def test_collect_on_disk_keeps_what_services_record_and_the_newest(tmp_path: Path) -> None:
    store = engine_store.EngineStore(tmp_path)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    names = [f"{i:016x}" for i in range(8)]  # 0 oldest ... 7 newest
    for i, h in enumerate(names):
        publish(store, "llama-3-8b", h, t0 + timedelta(hours=i))
    publish(store, "mistral-7b", "f" * 16, t0)  # another model: untouched
    store.write_references("llama-3-8b", engine_store.References(
        owner="llm/chat", serving=names[0], seasons={"night": names[1]}, history=(names[2],)))
    report = store.collect("llama-3-8b", keep_last=2, referenced={names[3]})
    kept = {e.engine_hash for e in store.list("llama-3-8b")}
    assert kept == {names[0], names[1], names[2], names[3], names[6], names[7]}
    assert report.decision.delete == (names[4], names[5])
    assert report.decision.reason(names[0]) is retention.Reason.serving
    assert [e.engine_hash for e in store.list("mistral-7b")] == ["f" * 16]
    assert not list(tmp_path.glob("*/.trash-*"))


def test_dry_run_deletes_nothing(tmp_path: Path) -> None:
    store = engine_store.EngineStore(tmp_path)
    for i in range(3):
        publish(store, "m", f"{i:016x}", datetime(2026, 1, 1 + i, tzinfo=UTC))
    report = store.collect("m", keep_last=0, dry_run=True)
    assert len(report.decision.delete) == 3 and len(store.list("m")) == 3


def test_references_are_recorded_per_service_and_replaced_atomically(tmp_path: Path) -> None:
    store = engine_store.EngineStore(tmp_path)
    store.write_references("m", engine_store.References(owner="ns/a", serving="1" * 16))
    store.write_references("m", engine_store.References(owner="ns/b", seasons={"day": "2" * 16}))
    store.write_references("m", engine_store.References(owner="ns/a", serving="3" * 16))
    refs = {r.owner: r for r in store.read_references("m")}
    assert refs["ns/a"].serving == "3" * 16 and refs["ns/b"].hashes() == {"2" * 16}
    assert not [p for p in (tmp_path / "m" / ".refs").iterdir() if p.name.startswith(".")]
