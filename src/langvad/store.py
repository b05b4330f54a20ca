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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from langvad.config import stable_hash


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS artefacts (
                key TEXT PRIMARY KEY, stage TEXT NOT NULL, value TEXT NOT NULL,
                created REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS calls (
                key TEXT PRIMARY KEY, kind TEXT NOT NULL, value BLOB NOT NULL,
                created REAL NOT NULL);
            """
        )
        self._db.commit()

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
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO artefacts VALUES (?,?,?,?)", (key, stage, blob, time.time())
            )
            self._db.commit()

    # -- single calls --------------------------------------------------------------------
    def get_call(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM calls WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put_call(self, key: str, kind: str, value: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO calls VALUES (?,?,?,?)",
                (key, kind, json.dumps(value, ensure_ascii=False), time.time()),
            )
            self._db.commit()

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
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO calls VALUES (?,?,?,?)", rows)
            self._db.commit()

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            if kind is None:
                return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
            q = "SELECT COUNT(*) FROM calls WHERE kind=?"
            return int(self._db.execute(q, (kind,)).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
