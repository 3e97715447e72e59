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
from typing import Any, Iterator

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
    """Parse a whole results file into memory (for reports; sweeps use `scan_records`).

    A last line without its newline is a write cut short: dropped. Raises ValueError naming file
    and line for a damaged complete line, a line that is not a record, or (with `unique`) a
    record that repeats an earlier one.
    """
    records, lines = [], []
    for lineno, rec in scan_records(path, unique=unique):
        records.append(rec)
        lines.append(lineno)
    good, partial = complete_length(path)
    return Contents(tuple(records), tuple(lines), good, partial_tail=partial)


def scan_records(path: str | Path, *, unique: bool = True) -> Iterator[tuple[int, dict]]:
    """(line number, record) for each complete line, one at a time (memory stays flat)."""
    seen: dict[tuple, int] = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                return                      # a half-written last line
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise ValueError(f"{path}:{lineno}: damaged line, not JSON ({e})") from None
            if not isinstance(rec, dict) or any(k not in rec for k in KEY_FIELDS):
                raise ValueError(f"{path}:{lineno}: not a bench record (needs "
                                 f"{', '.join(KEY_FIELDS)})")
            if unique:
                key = _hashable(record_key(rec))
                if key in seen:
                    raise ValueError(f"{path}:{lineno}: record {record_key(rec)} repeats line "
                                     f"{seen[key]}")
                seen[key] = lineno
            yield lineno, rec


def complete_length(path: str | Path) -> tuple[int, bool]:
    """(bytes up to and including the last newline, whether anything follows them)."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        pos = size
        while pos > 0:
            step = min(pos, 1 << 16)
            pos -= step
            f.seek(pos)
            i = f.read(step).rfind(b"\n")
            if i >= 0:
                return pos + i + 1, pos + i + 1 < size
        return 0, size > 0


def _hashable(key: tuple) -> tuple:
    return tuple(json.dumps(k, sort_keys=True) if isinstance(k, (dict, list)) else k for k in key)


class ResultsFile:
    """An exclusive, append-only handle on a results file (created user-only, mode 0600).

    Opening takes the lock and cuts off a half-written last line (read what is there with
    `scan_records`); `append` writes one record durably. Use as a context manager.
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
            good, self.dropped_partial = complete_length(self.path)
            if self.dropped_partial:
                os.ftruncate(self._fd, good)
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
        return f"ResultsFile({str(self.path)!r})"


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
