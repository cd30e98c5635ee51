"""What serves or may serve is never garbage-collected: the operator's references (serving engine,
rollback targets, the engine in flight, every season's engine), recorded in the store by the very command
its references Job runs, survive ``seasonal engines gc``; and the ids ``engines list`` prints work in
``show`` and ``gc``, while an id that names nothing is an error."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from seasonal_build import engine_store
from seasonal_engines.api.status import EngineRef, EnvelopeStatus, InferenceServiceStatus, RolloutStatus
from seasonal_engines.core import build_jobs, engine_references
from tests.engine_jobs.test_engine_retention import publish

MODEL = "llama-3-8b"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = {name: f"{i:02x}" + "ab" * 31 for i, name in enumerate(
    ["old1", "old2", "rollback2", "rollback1", "serving", "target", "day", "night", "stray"])}
SERVICE = {"apiVersion": "seasonalengines.io/v1alpha1", "kind": "InferenceService",
           "metadata": {"name": "chat", "namespace": "llm", "uid": "u-1"},
           "spec": {"model": {"name": MODEL, "source": {"pvc": {"claimName": "weights"}}},
                    "hardware": {"gpuProduct": "NVIDIA-H100-80GB-HBM3"},
                    "engine": {"store": {"claimName": "engines", "keep": 1}},
                    "traffic": {"prometheusUrl": "http://prometheus:9090"}}}


def ref(name: str) -> EngineRef:
    return EngineRef(hash=H[name], envelope=EnvelopeStatus(max_input_len=1, max_seq_len=2, max_batch_size=1,
                                                          max_num_tokens=1))


def status() -> InferenceServiceStatus:
    return InferenceServiceStatus.model_validate({
        "servingEngine": ref("serving").model_dump(by_alias=True, exclude_none=True),
        "engineHistory": [ref(n).model_dump(by_alias=True, exclude_none=True)
                          for n in ("serving", "rollback1", "rollback2", "old2", "old1")],
        "targetEngine": ref("target").model_dump(by_alias=True, exclude_none=True),
        "rollout": RolloutStatus(engine_hash=H["target"], previous_hash=H["serving"],
                                 started_at="2026-01-02T00:00:00Z").model_dump(by_alias=True, exclude_none=True),
        "seasonEngines": [{"season": "day", "hash": H["day"]}, {"season": "night", "hash": H["night"]}],
    })


def seasonal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "seasonal_engines", *args], capture_output=True, text=True,
                          timeout=60)


def test_the_references_are_the_serving_rollback_in_flight_and_season_engines() -> None:
    refs = engine_references.of_status(status(), owner="llm/chat", model=MODEL, keep=1)
    assert refs.serving == H["serving"]
    assert refs.history == (H["rollback1"], H["rollback2"], H["target"])  # two rollback targets, then in flight
    assert refs.seasons == {"day": H["day"], "night": H["night"]}
    assert H["old1"] not in refs.hashes() and H["old2"] not in refs.hashes()


def test_gc_keeps_every_engine_the_references_job_recorded(tmp_path: Path) -> None:
    store = engine_store.EngineStore(tmp_path)
    for i, name in enumerate(H):
        publish(store, MODEL, H[name], T0 + timedelta(hours=i))  # "stray" is the newest
    refs = engine_references.of_status(status(), owner="llm/chat", model=MODEL, keep=1)
    job = build_jobs.references_job(refs, SERVICE)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    # The Job's own command, with the store where this test keeps it instead of the pod's mount.
    argv = [tmp_path.as_posix() if a == build_jobs.STORE_MOUNT else a for a in container["command"]]
    assert argv[:3] == ["python", "-m", "seasonal_build"]
    done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    gc = seasonal("engines", "gc", "--store", str(tmp_path), "--model", MODEL, "--keep", "0")
    assert gc.returncode == 0, gc.stderr
    left = {e.engine_hash for e in store.list(MODEL)}
    assert refs.hashes() <= left  # serving, rollback targets, the engine in flight, both seasons' engines
    # spec.engine.store.keep 1 (recorded with the references) keeps the newest unreferenced engine too.
    assert left - refs.hashes() == {H["stray"]}
    assert H["old1"] not in left and H["old2"] not in left


def test_the_ids_list_prints_work_and_unknown_ids_are_errors(tmp_path: Path) -> None:
    store = engine_store.EngineStore(tmp_path)
    for i, name in enumerate(("old1", "old2", "serving")):
        publish(store, MODEL, H[name], T0 + timedelta(hours=i))
    listed = seasonal("engines", "list", "--store", str(tmp_path))
    printed = [line.split()[1] for line in listed.stdout.splitlines()]
    assert printed == [H[n][:16] for n in ("old1", "old2", "serving")]
    shown = seasonal("engines", "show", "--store", str(tmp_path), printed[2])
    assert shown.returncode == 0 and json.loads(shown.stdout)["engine_hash"] == H["serving"]
    gc = seasonal("engines", "gc", "--store", str(tmp_path), "--model", MODEL, "--keep", "0",
                  "--serving", printed[2])
    assert gc.returncode == 0, gc.stderr
    assert [e.engine_hash for e in store.list(MODEL)] == [H["serving"]]
    for bad, words in (("nonsense", "not an engine id"), ("ffffffffffffffff", "no engine ffffffffffffffff")):
        refused = seasonal("engines", "gc", "--store", str(tmp_path), "--model", MODEL, "--serving", bad)
        assert refused.returncode == 2 and words in refused.stderr, refused.stderr
        assert [e.engine_hash for e in store.list(MODEL)] == [H["serving"]]  # nothing deleted on a bad id


def test_an_ambiguous_prefix_names_its_candidates(tmp_path: Path) -> None:
    store = engine_store.EngineStore(tmp_path)
    publish(store, MODEL, "abcdef01" + "0" * 56, T0)
    publish(store, MODEL, "abcdef01" + "1" * 56, T0 + timedelta(hours=1))
    with pytest.raises(LookupError, match="names 2 engines"):
        store.resolve("abcdef01")
    assert store.resolve("abcdef011").engine_hash.endswith("1" * 56)
