"""The results file of a sweep: JSON lines, one record per finished run, durable one by one.

Each record is written with a single `write` of the whole line, then flushed and fsynced, so a
crash (even `kill -9`) can leave at most one half-written line at the end. `read_records` drops
that line (and `ResultsFile` cuts it off before appending again); a damaged line anywhere else is
an error naming the file and line, never skipped silently. A lock (flock) keeps two sweeps from
writing the same file at once.

A file is changed only once it is known to be a results file: a regular file whose complete
lines are all records and whose half-written tail, if any, begins as every record line begins
(`RECORD_PREFIX`). Anything else -- a device, a text file, someone's JSON -- is refused
untouched (`NotResultsFile`). Lines are read with a bounded length (`MAX_LINE_BYTES`), so no
input makes a reader hold more than that in memory.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

KEY_FIELDS = ("instance", "algo", "budget", "seed")
# Every record line starts so: records are written with sorted keys and "algo" sorts first
# among the fields every record has (`ResultsFile.append` holds writers to it).
RECORD_PREFIX = b'{"algo": '
MAX_LINE_BYTES = 64 << 20


class NotResultsFile(ValueError):
    """A path that is not (or cannot be) a results file; nothing in it was changed."""


class WriteFailed(OSError):
    """Appending a record failed (disk full, I/O error); the records before it are intact."""


def check_regular(path: str | Path) -> None:
    """NotResultsFile unless `path` is absent or a regular file (devices, FIFOs and folders
    would read without end, block, or swallow every record)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise NotResultsFile(f"{path}: cannot use it ({e.strerror or type(e).__name__})") \
            from None
    if not stat.S_ISREG(st.st_mode):
        raise NotResultsFile(f"{path} is not a regular file")


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
    check_regular(path)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
            if len(raw) > MAX_LINE_BYTES:
                raise NotResultsFile(f"{path}:{lineno}: a line longer than "
                                     f"{MAX_LINE_BYTES >> 20} MiB: not a results file")
            if not raw.endswith(b"\n"):
                return                      # a half-written last line
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (ValueError, RecursionError) as e:   # not JSON, not UTF-8, nested too deep
                raise NotResultsFile(f"{path}:{lineno}: damaged line, not JSON "
                                     f"({str(e)[:120]})") from None
            if not isinstance(rec, dict) or any(k not in rec for k in KEY_FIELDS):
                raise NotResultsFile(f"{path}:{lineno}: not a bench record (needs "
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
    check_regular(path)
    with open(path, "rb") as f:
        return _complete_length(f.fileno())


def _complete_length(fd: int) -> tuple[int, bool]:
    size = os.fstat(fd).st_size
    pos = size
    while pos > 0:
        step = min(pos, 1 << 16)
        pos -= step
        i = os.pread(fd, step, pos).rfind(b"\n")
        if i >= 0:
            return pos + i + 1, pos + i + 1 < size
    return 0, size > 0


def _tail_is_a_record(fd: int, good: int) -> bool:
    """Whether the bytes after the last newline begin as a record line does (a write cut
    short), rather than being someone else's text."""
    head = os.pread(fd, len(RECORD_PREFIX), good)
    return RECORD_PREFIX.startswith(head) or head.startswith(RECORD_PREFIX)


def _hashable(key: tuple) -> tuple:
    return tuple(json.dumps(k, sort_keys=True) if isinstance(k, (dict, list)) else k for k in key)


class ResultsFile:
    """An exclusive, append-only handle on a results file (created user-only, mode 0600).

    Opening takes the lock and checks, without changing anything, that the path is a new file
    or looks like a results file (`NotResultsFile` otherwise); read and check what is there
    with `scan_records` before appending. The first `append` cuts off a half-written last line;
    each writes one record durably (`WriteFailed` when the disk refuses, after restoring the
    file to its last complete record). A file this handle created and never wrote to is removed
    again on close. Use as a context manager.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        check_regular(self.path)
        self.created = False
        self.appended = 0
        self._fd = -1
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
            except FileNotFoundError:
                self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL,
                                   0o600)
                self.created = True
        except OSError as e:
            raise NotResultsFile(f"cannot open {self.path} for writing "
                                 f"({e.strerror or type(e).__name__})") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise NotResultsFile(f"{self.path} is in use by another running bench") from None
        try:
            if not stat.S_ISREG(os.fstat(self._fd).st_mode):   # swapped in since the check
                raise NotResultsFile(f"{self.path} is not a regular file")
            if self.created:
                _fsync_dir(self.path.parent)
            self._good, self.dropped_partial = _complete_length(self._fd)
            if self.dropped_partial and not _tail_is_a_record(self._fd, self._good):
                raise NotResultsFile(f"{self.path} is not a results file (its last line is not "
                                     f"a record); choose another --out")
        except BaseException:
            self.close()
            raise

    def append(self, record: dict) -> None:
        line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        if not line.startswith(RECORD_PREFIX) or len(line) > MAX_LINE_BYTES:
            raise ValueError(f"not a record line for {self.path}: {line[:60]!r}...")
        try:
            if self.dropped_partial and self.appended == 0:   # known ours by now: repair it
                os.ftruncate(self._fd, self._good)
            view = memoryview(line)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)
        except OSError as e:
            with contextlib.suppress(OSError):     # no half line left behind
                os.ftruncate(self._fd, self._good)
            raise WriteFailed(e.errno, f"cannot write a record to {self.path} "
                                       f"({e.strerror or type(e).__name__}); the records "
                                       f"before it are safe") from None
        self._good += len(line)
        self.appended += 1

    def close(self) -> None:
        if self._fd >= 0:
            if self.created and self.appended == 0:
                with contextlib.suppress(OSError):   # nothing of ours in it: leave no trace
                    os.unlink(self.path)
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
