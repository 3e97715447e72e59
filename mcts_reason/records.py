"""The results file of a sweep: JSON lines, one record per finished run, durable one by one.

Each record is written with a single `write` of the whole line, then flushed and fsynced, so a
crash (even `kill -9`) can leave at most one half-written line at the end. `read_records` drops
that line (and `ResultsFile` cuts it off before appending again); a damaged line anywhere else is
an error naming the file and line, never skipped silently. A lock (flock) keeps two sweeps from
writing the same file at once.
"""
from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEY_FIELDS = ("instance", "algo", "budget", "seed")


def record_key(record: dict) -> tuple:
    """What makes a record unique within a sweep: (instance, algo, budget, seed)."""
    return tuple(record[k] for k in KEY_FIELDS)


@dataclass(frozen=True, slots=True)
class Contents:
    """What a results file holds: the complete records (with their line numbers), the byte offset
    where the complete lines end, and whether a half-written last line follows it."""

    records: tuple[dict, ...]
    lines: tuple[int, ...]
    good_bytes: int
    partial_tail: bool

    def __repr__(self) -> str:
        return (f"Contents({len(self.records)} records, good_bytes={self.good_bytes}, "
                f"partial_tail={self.partial_tail})")


def read_records(path: str | Path, *, unique: bool = True) -> Contents:
    """Parse a results file. A last line without its newline is a write cut short: dropped.

    Raises ValueError naming file and line for a damaged complete line, a line that is not a
    record, or (with `unique`) a record that repeats an earlier one.
    """
    data = Path(path).read_bytes()
    end = data.rfind(b"\n") + 1          # 0 when there is no complete line
    records, lines, seen = [], [], {}
    for lineno, raw in enumerate(data[:end].split(b"\n")[:-1], 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}:{lineno}: damaged line, not JSON ({e})") from None
        if not isinstance(rec, dict) or any(k not in rec for k in KEY_FIELDS):
            raise ValueError(f"{path}:{lineno}: not a bench record (needs {', '.join(KEY_FIELDS)})")
        if unique:
            key = _hashable(record_key(rec))
            if key in seen:
                raise ValueError(f"{path}:{lineno}: record {record_key(rec)} repeats line "
                                 f"{seen[key]}")
            seen[key] = lineno
        records.append(rec)
        lines.append(lineno)
    return Contents(tuple(records), tuple(lines), end, partial_tail=end < len(data))


def _hashable(key: tuple) -> tuple:
    return tuple(json.dumps(k, sort_keys=True) if isinstance(k, (dict, list)) else k for k in key)


class ResultsFile:
    """An exclusive, append-only handle on a results file (created user-only, mode 0600).

    Opening takes the lock, reads what is there and cuts off a half-written last line; `append`
    writes one record durably. Use as a context manager.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise ValueError(f"{self.path} is in use by another running bench") from None
        try:
            if created:
                _fsync_dir(self.path.parent)
            self.contents = read_records(self.path)
            self.dropped_partial = self.contents.partial_tail
            if self.dropped_partial:
                os.ftruncate(self._fd, self.contents.good_bytes)
                os.fsync(self._fd)
        except BaseException:
            self.close()
            raise

    def append(self, record: dict) -> None:
        line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        view = memoryview(line)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)      # also releases the lock
            self._fd = -1

    def __enter__(self) -> "ResultsFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultsFile({str(self.path)!r}, {len(self.contents.records)} records at open)"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
