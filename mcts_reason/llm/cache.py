"""A persistent response cache: sqlite on disk, one row per (model, messages, sampling, sample).

The key is a SHA-256 over the model name, the messages, the sampling parameters, the sample
index, the per-request seed and the grammar, if any -- never the base URL or the API key, which
are not stored anywhere in the file. The file is created user-only (0600) in a user-only directory, runs in WAL
mode, and every write is one transaction, so a process killed mid-write leaves the cache usable.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .wire import Completion, Request

SCHEMA_VERSION = 1


def default_cache_path() -> Path:
    """$XDG_CACHE_HOME/mcts-reason/responses.sqlite (default ~/.cache/mcts-reason/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mcts-reason" / "responses.sqlite"


def request_key(model: str, request: "Request") -> str:
    """The cache key of `request` sent to `model` (hex SHA-256 of a canonical JSON document)."""
    doc = {"v": SCHEMA_VERSION, "model": model,
           "messages": [list(m) for m in request.messages],
           "sampling": asdict(request.sampling), "index": request.index, "seed": request.seed}
    if request.grammar is not None:     # it changes the answer; absent: the keys of before
        doc["grammar"] = request.grammar
    if request.top_logprobs:            # the answer then carries them; 0: the keys of before
        doc["top_logprobs"] = request.top_logprobs
    blob = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """sqlite-backed map from request key to completion. Safe to share between threads."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).expanduser()
        if self.path.parent != Path("."):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Create the file user-only before sqlite opens it (sqlite gives the -wal/-shm files the
        # database file's permissions).
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, "
                             "model TEXT NOT NULL, body TEXT NOT NULL)")
        except sqlite3.DatabaseError as e:
            raise ValueError(f"response cache {self.path} is not usable: {e}") from None
        self.hits = 0
        self.misses = 0

    def get(self, model: str, request: "Request") -> "Completion | None":
        from .wire import Completion, valid_top_logprobs

        key = request_key(model, request)
        with self._lock:
            row = self._db.execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        try:
            d = json.loads(row[0])
            done = Completion(text=str(d["text"]), prompt_tokens=int(d["prompt_tokens"]),
                              completion_tokens=int(d["completion_tokens"]),
                              finish_reason=d.get("finish_reason"), cached=True,
                              top_logprobs=valid_top_logprobs(d.get("top_logprobs")))
        except (ValueError, KeyError, TypeError, RecursionError):
            self.misses += 1
            return None
        self.hits += 1
        return done

    def put(self, model: str, request: "Request", completion: "Completion") -> bool:
        """Store one completion in its own transaction; False if sqlite refused (disk full,
        locked too long): a cache that cannot be written must not end a search."""
        doc = {"text": completion.text, "prompt_tokens": completion.prompt_tokens,
               "completion_tokens": completion.completion_tokens,
               "finish_reason": completion.finish_reason}
        if completion.top_logprobs is not None:
            doc["top_logprobs"] = [list(t) for t in completion.top_logprobs]
        body = json.dumps(doc)   # ASCII: always storable
        key = request_key(model, request)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute("INSERT OR REPLACE INTO responses (key, model, body) "
                                     "VALUES (?, ?, ?)", (key, model, body))
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, ValueError):   # ValueError: text sqlite cannot encode
                return False
        return True

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r}, hits={self.hits}, misses={self.misses})"
