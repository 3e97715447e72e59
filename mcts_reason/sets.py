"""Puzzle sets for `bench`: a puzzle's own named sets, or a file of instances.

A set spec is one of
  * a name from `puzzle.named_sets()` (game24: all, hard100, easy100, unsolvable, every);
  * a plain text file, one instance per line (blank lines and `#` comments skipped);
  * a JSONL file, one object per line with a string field "instance";
  * a CSV file in the 4nums / Tree-of-Thoughts format (`Rank,Puzzles,...`), optionally with an
    inclusive rank range: `data/24.csv:901-1000` (the ToT test set).
Every instance is checked with `puzzle.parse_instance`; a bad row raises ValueError naming the
file and line, so the CLI can say exactly where to look.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .types import NamedSets

_RANGE = re.compile(r"^(?P<path>.+):(?P<lo>\d+)-(?P<hi>\d+)$")


@dataclass(frozen=True, slots=True)
class InstanceSet:
    """A named, ordered tuple of instances; `sha256` identifies the content, not the spelling."""

    name: str
    instances: tuple[str, ...]

    @property
    def sha256(self) -> str:
        h = hashlib.sha256()
        for text in self.instances:
            h.update(text.encode("utf-8") + b"\0")
        return h.hexdigest()

    def __len__(self) -> int:
        return len(self.instances)

    def __repr__(self) -> str:
        return f"InstanceSet({self.name!r}, {len(self.instances)} instances)"


def read_set(puzzle: Any, spec: str) -> InstanceSet:
    """The instances named by `spec` (see the module docstring). Raises ValueError."""
    try:
        return _read_set(puzzle, spec)
    except OSError as e:      # a name too long, a permission, a folder: still a bad --set
        shown = spec if len(spec) <= 80 else spec[:77] + "..."
        raise ValueError(f"set {shown!r}: cannot read it ({e.strerror or type(e).__name__})") \
            from None


def _read_set(puzzle: Any, spec: str) -> InstanceSet:
    named = dict(puzzle.named_sets()) if isinstance(puzzle, NamedSets) else {}
    if spec in named:
        return InstanceSet(spec, tuple(puzzle.instance_set(spec)))
    m = _RANGE.match(spec)
    if m and not Path(spec).exists():
        path, lo, hi = Path(m["path"]), int(m["lo"]), int(m["hi"])
        if path.suffix.lower() != ".csv":
            raise ValueError(f"set {spec!r}: a rank range needs a .csv file (Rank,Puzzles,...)")
        if lo > hi:
            raise ValueError(f"set {spec!r}: empty rank range {lo}-{hi}")
        ranks: tuple[int, int] | None = (lo, hi)
    else:
        path, ranks = Path(spec), None
    if not path.is_file():
        known = ", ".join(named) or "none"
        raise ValueError(f"set {spec!r} is neither a named set of {puzzle.name} ({known}) "
                         f"nor a readable file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = read_csv(path, ranks=ranks)
    elif suffix in (".jsonl", ".ndjson"):
        rows = read_jsonl(path)
    else:
        rows = read_text(path)
    return InstanceSet(spec, _checked(puzzle, path, rows))


def read_text(path: str | Path) -> list[tuple[int, str]]:
    """(line number, instance) for each non-blank, non-comment line."""
    out = []
    for lineno, line in enumerate(_lines(path), 1):
        text = line.strip()
        if text and not text.startswith("#"):
            out.append((lineno, text))
    return out


def read_jsonl(path: str | Path) -> list[tuple[int, str]]:
    """(line number, instance) for each JSON object line `{"instance": "..."}`."""
    out = []
    for lineno, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        except RecursionError:
            raise ValueError(f"{path}:{lineno}: not valid JSON (nested too deeply)") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("instance"), str):
            raise ValueError(f'{path}:{lineno}: expected an object with a string "instance" field')
        out.append((lineno, obj["instance"]))
    return out


def read_csv(path: str | Path, *, ranks: tuple[int, int] | None = None) -> list[tuple[int, str]]:
    """(line number, instance) from a `Rank,Puzzles,...` CSV, optionally only ranks lo..hi."""
    out = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{path}:1: empty file, expected a header Rank,Puzzles,...")
            header = [h.strip() for h in header]
            if "Puzzles" not in header:
                raise ValueError(f"{path}:1: no 'Puzzles' column in the header {','.join(header)}")
            if ranks is not None and "Rank" not in header:
                raise ValueError(f"{path}:1: a rank range needs a 'Rank' column in the header")
            col, rank_col = header.index("Puzzles"), header.index("Rank") if "Rank" in header else None
            for row in reader:
                lineno = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise ValueError(f"{path}:{lineno}: {len(row)} fields, the header has "
                                     f"{len(header)}")
                if rank_col is not None:
                    try:
                        rank = int(row[rank_col])
                    except ValueError:
                        raise ValueError(f"{path}:{lineno}: Rank {row[rank_col]!r} is not a whole "
                                         f"number") from None
                    if ranks is not None and not ranks[0] <= rank <= ranks[1]:
                        continue
                out.append((lineno, row[col].strip()))
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason})") from None
    except csv.Error as e:
        raise ValueError(f"{path}: not readable as CSV ({e})") from None
    if ranks is not None and not out:
        raise ValueError(f"{path}: no rows with Rank in {ranks[0]}-{ranks[1]}")
    return out


def _lines(path: str | Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason})") from None


def _checked(puzzle: Any, path: Path, rows: Iterable[tuple[int, str]]) -> tuple[str, ...]:
    """Parse each instance with the puzzle; reject bad and duplicate ones, naming the line."""
    seen: dict[Any, int] = {}
    out = []
    for lineno, text in rows:
        try:
            state = puzzle.parse_instance(text)
        except ValueError as e:
            raise ValueError(f"{path}:{lineno}: {e}") from None
        try:
            first = seen.setdefault(state, lineno)
        except TypeError:       # an unhashable state: cannot check duplicates, nor needed
            first = lineno
        if first != lineno:
            raise ValueError(f"{path}:{lineno}: instance {text!r} repeats line {first}")
        out.append(text)
    if not out:
        raise ValueError(f"{path}: no instances")
    return tuple(out)
