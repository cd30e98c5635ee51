"""The engine store on disk: immutable, content-addressed engines under ``<store>/<model>/<hash>/``.

Layout of one engine::

    <store>/<model>/<hash>/engine/          rank<N>.engine + config.json (the stand-in: stand-in.json)
    <store>/<model>/<hash>/triton/          the Triton model repository serving it
    <store>/<model>/<hash>/tokenizer/       tokenizer files (TensorRT-LLM engines only)
    <store>/<model>/<hash>/manifest.json    written last: the completeness marker

Builds stage into ``<store>/<model>/.tmp-<hash>-<random>/`` on the same filesystem and publish
with one ``rename``: readers see a complete engine or none. When two builders race, the loser's
rename fails because the directory exists; it discards its staging copy and succeeds. Deletion
renames an engine to ``.trash-...`` before removing it, so a half-deleted engine is never visible.
Dot-prefixed entries are never engines. Which InferenceService uses which engine is recorded in
``<store>/<model>/.refs/<namespace>.<name>.json``. This module does I/O; the decision what to
delete is :mod:`seasonal_build.retention`.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from seasonal_build import manifests, retention

STORE_MOUNT = "/engines"  # where build Jobs (read-write) and Triton pods (read-only) mount the store
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
REFS_DIR = ".refs"
MIN_PREFIX = 8  # hex characters an engine id needs at least: collisions among a store's engines stay unlikely
ENGINE_DIR, TRITON_DIR, TOKENIZER_DIR = "engine", "triton", "tokenizer"


class StoreError(RuntimeError):
    """The store holds something it must not (for example an engine directory without a valid manifest)."""


@dataclass(frozen=True)
class StoredEngine:
    model: str
    engine_hash: str
    path: Path
    manifest: dict[str, Any] = field(repr=False)

    @property
    def backend(self) -> str:
        return str(self.manifest.get("backend"))

    @property
    def created_at(self) -> float:
        """When the build finished (the manifest's ``created_at``), in seconds since the epoch."""
        try:
            return datetime.fromisoformat(str(self.manifest["created_at"])).timestamp()
        except (KeyError, ValueError):
            return (self.path / manifests.FILENAME).stat().st_mtime

    @property
    def size_bytes(self) -> int:
        return int(self.manifest.get("sizes", {}).get("total_bytes", 0))

    @property
    def model_repository(self) -> Path:
        return self.path / TRITON_DIR


@dataclass(frozen=True)
class References:
    """The engines one InferenceService holds on to."""

    owner: str  # "<namespace>/<name>"
    serving: str | None = None
    seasons: dict[str, str] = field(default_factory=dict)  # season name -> engine hash
    history: tuple[str, ...] = ()  # rollback targets and the engine being built or rolled out
    keep: int | None = None  # the owner's spec.engine.store.keep: unreferenced engines gc keeps for the model

    def hashes(self) -> set[str]:
        return {h for h in (self.serving, *self.seasons.values(), *self.history) if h}

    def to_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "serving": self.serving, "seasons": dict(self.seasons),
                "history": list(self.history), "keep": self.keep}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> References:
        keep = d.get("keep")
        return cls(owner=str(d["owner"]), serving=d.get("serving"), seasons=dict(d.get("seasons") or {}),
                   history=tuple(d.get("history") or ()), keep=int(keep) if isinstance(keep, int) else None)


@dataclass(frozen=True)
class PublishResult:
    engine: StoredEngine
    published: bool  # False: an identical engine was already there (or another builder won the race)


@dataclass(frozen=True)
class GcReport:
    decision: retention.Decision
    removed_temporaries: tuple[str, ...]


class EngineStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # --- reading -----------------------------------------------------------

    def engine_dir(self, model: str, engine_hash: str) -> Path:
        _check_name(model, "model")
        _check_name(engine_hash, "engine hash")
        return self.root / model / engine_hash

    def lookup(self, model: str, engine_hash: str) -> StoredEngine | None:
        """The complete engine with this hash, or None. An incomplete directory there is an error."""
        path = self.engine_dir(model, engine_hash)
        if not path.is_dir():
            return None
        try:
            doc = json.loads((path / manifests.FILENAME).read_text(encoding="utf-8"))
            manifest = manifests.validate(doc, engine_hash=engine_hash, model=model)
        except (FileNotFoundError, json.JSONDecodeError, manifests.ManifestError) as exc:
            raise StoreError(f"{path} is not a complete engine ({exc}); it was not published by seasonal_build: "
                             "remove it") from None
        return StoredEngine(model=model, engine_hash=engine_hash, path=path, manifest=manifest)

    def find(self, engine_hash: str) -> StoredEngine | None:
        """The engine with this hash under any model."""
        for model in self.models():
            found = self.lookup(model, engine_hash)
            if found is not None:
                return found
        return None

    def resolve(self, ident: str, model: str | None = None) -> StoredEngine:
        """The engine a full hash or a unique prefix of one names (``engines list`` prints 16 characters).
        LookupError saying why when none or several match."""
        ident = ident.strip().lower()
        if len(ident) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in ident):
            raise LookupError(f"{ident!r} is not an engine id: give at least {MIN_PREFIX} hex characters of its "
                              "hash, as `engines list` prints them")
        matches = [e for e in self.list(model) if e.engine_hash.startswith(ident)]
        if not matches:
            raise LookupError(f"no engine {ident} in {self.root}" + (f" for model {model}" if model else ""))
        if len(matches) > 1:
            raise LookupError(f"{ident} names {len(matches)} engines ({', '.join(e.engine_hash[:20] for e in matches)}"
                              "); give more of the hash")
        return matches[0]

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def list(self, model: str | None = None) -> list[StoredEngine]:
        """Complete engines (staging, trash and broken directories left out), oldest first."""
        out: list[StoredEngine] = []
        for m in [model] if model else self.models():
            base = self.root / m
            if not base.is_dir():
                continue
            for p in base.iterdir():
                if p.name.startswith(".") or not p.is_dir():
                    continue
                try:
                    engine = self.lookup(m, p.name)
                except (StoreError, ValueError):
                    continue
                if engine is not None:
                    out.append(engine)
        return sorted(out, key=lambda e: (e.created_at, e.engine_hash))

    # --- publishing --------------------------------------------------------

    def staging(self, model: str, engine_hash: str) -> Path:
        """A fresh private directory on the store's filesystem to build into."""
        base = self.root / model
        base.mkdir(parents=True, exist_ok=True)
        path = base / f"{TMP_PREFIX}{engine_hash}-{secrets.token_hex(4)}"
        path.mkdir()
        return path

    def publish(self, staged: Path, model: str, engine_hash: str) -> PublishResult:
        """Move a staged engine (manifest written last) into place atomically."""
        target = self.engine_dir(model, engine_hash)
        manifest_path = staged / manifests.FILENAME
        if not manifest_path.is_file():
            raise StoreError(f"{staged} has no {manifests.FILENAME}; write it last, then publish")
        _fsync_tree(staged)
        try:
            os.rename(staged, target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            self.discard(staged)  # another builder published the same hash first
            existing = self.lookup(model, engine_hash)
            if existing is None:  # removed between our rename and lookup: not expected, say so
                raise StoreError(f"{target} vanished while publishing; retry the build") from None
            return PublishResult(existing, published=False)
        _fsync_dir(target.parent)
        engine = self.lookup(model, engine_hash)
        assert engine is not None
        return PublishResult(engine, published=True)

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    # --- references --------------------------------------------------------

    def write_references(self, model: str, refs: References) -> Path:
        """Record (atomically) the engines an InferenceService uses."""
        namespace, _, name = refs.owner.partition("/")
        if not namespace or not name:
            raise ValueError(f"references owner must be '<namespace>/<name>', got {refs.owner!r}")
        base = self.root / model / REFS_DIR
        base.mkdir(parents=True, exist_ok=True)
        path = base / f"{namespace}.{name}.json"
        tmp = base / f".{path.name}.{secrets.token_hex(4)}"
        tmp.write_text(json.dumps(refs.to_dict(), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def read_references(self, model: str) -> builtins.list[References]:  # list: this class's method
        base = self.root / model / REFS_DIR
        if not base.is_dir():
            return []
        out = []
        for p in sorted(base.glob("*.json")):
            if p.name.startswith("."):
                continue
            out.append(References.from_dict(json.loads(p.read_text(encoding="utf-8"))))
        return out

    # --- garbage collection ------------------------------------------------

    def temporaries(self, model: str) -> Iterator[tuple[str, float]]:
        base = self.root / model
        if base.is_dir():
            for p in base.iterdir():
                if p.name.startswith((TMP_PREFIX, TRASH_PREFIX)):
                    yield p.name, p.stat().st_mtime

    def delete(self, model: str, engine_hash: str) -> None:
        """Remove an engine: first out of sight (rename), then from disk."""
        target = self.engine_dir(model, engine_hash)
        trash = self.root / model / f"{TRASH_PREFIX}{engine_hash}-{secrets.token_hex(4)}"
        os.rename(target, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def collect(self, model: str, *, keep_last: int, serving: set[str] | None = None,
                referenced: set[str] | None = None, stale_after_seconds: float = 24 * 3600,
                now: float | None = None, dry_run: bool = False) -> GcReport:
        """Delete what :func:`retention.decide` says, adding the references recorded in the store."""
        serving = set(serving or ())
        referenced = set(referenced or ())
        for refs in self.read_references(model):
            if refs.serving:
                serving.add(refs.serving)
            referenced |= refs.hashes()
            if refs.keep is not None:
                keep_last = max(keep_last, refs.keep)  # every owner's spec.engine.store.keep is honoured
        engines = self.list(model)
        decision = retention.decide([retention.Candidate(e.engine_hash, e.created_at, e.size_bytes) for e in engines],
                                    serving=serving, referenced=referenced, keep_last=keep_last)
        stale = retention.stale(self.temporaries(model), now=time.time() if now is None else now,
                                older_than_seconds=stale_after_seconds)
        if not dry_run:
            for h in decision.delete:
                self.delete(model, h)
            for name in stale:
                shutil.rmtree(self.root / model / name, ignore_errors=True)
        return GcReport(decision=decision, removed_temporaries=tuple(stale))


def tree_size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except FileNotFoundError:
                pass
    return total


def write_json_atomic(path: Path, doc: Any) -> None:
    """Write JSON so that readers see the old file or the whole new one, never a prefix."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _check_name(value: str, what: str) -> None:
    if not value or value.startswith(".") or "/" in value or value in ("..",):
        raise ValueError(f"{what} {value!r} cannot name a store directory")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some network filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    """Flush every directory of a staged engine so the rename never publishes entries still in cache."""
    for dirpath, _, _ in os.walk(path):
        _fsync_dir(Path(dirpath))
