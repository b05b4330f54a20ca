"""Content-addressed artefact cache in one SQLite file.

Two tables:
- ``artefacts``: whole stage outputs (JSON) under a key that hashes the stage name, its
  config, the model identity and the upstream artefact keys.
- ``calls``: single deterministic model calls (one LLM reply, one text embedding) under a
  hash of request + model identity. Each is committed as soon as it is computed, so a
  killed run loses no finished window and the next run resumes from there.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from langvad.config import stable_hash
from langvad.errors import OutputError
from langvad.fileio import ensure_writable_dir

CACHE_HINT = "pass --cache with a writable file, or set LANGVAD_CACHE to a writable folder"


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        """Open the cache and prove it writable now, before any work is done for it."""
        if self.path.is_dir():
            raise OutputError(f"cache {self.path} is a folder", hint="name a file, " + CACHE_HINT)
        ensure_writable_dir(self.path.parent, "cache folder")
        try:
            db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=60)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS artefacts (
                    key TEXT PRIMARY KEY, stage TEXT NOT NULL, value TEXT NOT NULL,
                    created REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS calls (
                    key TEXT PRIMARY KEY, kind TEXT NOT NULL, value BLOB NOT NULL,
                    created REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                """
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('opened', ?)", (str(time.time()),))
            db.commit()
        except sqlite3.DatabaseError as e:
            raise self._error(e) from None
        return db

    def _error(self, e: sqlite3.Error) -> OutputError:
        what = str(e)
        if "readonly" in what or "read-only" in what:
            return OutputError(f"cache {self.path} is read-only ({what})", hint=CACHE_HINT)
        if "not a database" in what or "malformed" in what:
            return OutputError(
                f"cache {self.path} is not a langvad cache or is damaged ({what})",
                hint="delete it (it only holds results that can be recomputed) or " + CACHE_HINT,
            )
        return OutputError(f"cannot use the cache {self.path} ({what})", hint=CACHE_HINT)

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self._lock:
            try:
                self._db.executemany(sql, rows)
                self._db.commit()
            except sqlite3.DatabaseError as e:
                raise self._error(e) from None

    # -- stage artefacts ---------------------------------------------------------------
    @staticmethod
    def key(stage: str, **parts: Any) -> str:
        return stable_hash({"stage": stage, **parts})

    def get(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM artefacts WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, stage: str, value: Any) -> None:
        blob = json.dumps(value, ensure_ascii=False)
        self._write(
            "INSERT OR REPLACE INTO artefacts VALUES (?,?,?,?)", [(key, stage, blob, time.time())]
        )

    # -- single calls --------------------------------------------------------------------
    def get_call(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM calls WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put_call(self, key: str, kind: str, value: Any) -> None:
        row = (key, kind, json.dumps(value, ensure_ascii=False), time.time())
        self._write("INSERT OR REPLACE INTO calls VALUES (?,?,?,?)", [row])

    def get_vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        keys = list(keys)
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                q = f"SELECT key, value FROM calls WHERE key IN ({','.join('?' * len(chunk))})"
                for k, v in self._db.execute(q, chunk):
                    out[k] = np.frombuffer(v, dtype=np.float32)
        return out

    def put_vectors(self, kind: str, items: dict[str, np.ndarray]) -> None:
        now = time.time()
        rows = [(k, kind, np.asarray(v, np.float32).tobytes(), now) for k, v in items.items()]
        self._write("INSERT OR REPLACE INTO calls VALUES (?,?,?,?)", rows)

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            if kind is None:
                return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
            q = "SELECT COUNT(*) FROM calls WHERE kind=?"
            return int(self._db.execute(q, (kind,)).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class ArtefactStore(Protocol):
    """What the runner caches into: stage outputs and single model calls."""

    @property
    def path(self) -> str | Path: ...

    @staticmethod
    def key(stage: str, **parts: Any) -> str: ...

    def get(self, key: str) -> Any | None: ...

    def put(self, key: str, stage: str, value: Any) -> None: ...

    def get_call(self, key: str) -> Any | None: ...

    def put_call(self, key: str, kind: str, value: Any) -> None: ...

    def get_vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]: ...

    def put_vectors(self, kind: str, items: dict[str, np.ndarray]) -> None: ...

    def count(self, kind: str | None = None) -> int: ...


class MemoryStore:
    """The same cache in memory, bounded: the least recently used entries go first. A live
    camera's stages re-read their recent past at every window (captions, expert clips,
    embeddings and LLM replies come from here); its memory stays flat however long it runs."""

    path = ":memory:"

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    key = staticmethod(Store.key)

    def _get(self, key: str) -> Any | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[1]

    def _put(self, key: str, kind: str, value: Any) -> None:
        with self._lock:
            self._items[key] = (kind, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def get(self, key: str) -> Any | None:
        blob = self._get(key)
        return None if blob is None else json.loads(blob)

    def put(self, key: str, stage: str, value: Any) -> None:
        self._put(key, stage, json.dumps(value, ensure_ascii=False))

    get_call = get
    put_call = put

    def get_vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        out = {}
        for k in keys:
            v = self._get(k)
            if v is not None:
                out[k] = v
        return out

    def put_vectors(self, kind: str, items: dict[str, np.ndarray]) -> None:
        for k, v in items.items():
            self._put(k, kind, np.asarray(v, np.float32).copy())

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            return sum(1 for k, _ in self._items.values() if kind is None or k == kind)

    def close(self) -> None:
        with self._lock:
            self._items.clear()
