"""Datasets on disk: trace records split by instance, deduplicated by state, written as JSONL.

Layout of a dataset folder: `{train,val,test}/{policy,value,sft,preference}.jsonl` (records
sorted by their deduplication key) and
`manifest.json` (counts, seed, fractions, held-out count, a SHA-256 per file and one over all of
train). The split of an instance is a hash of (seed, canonical instance) -> the same instance
always lands in the same split, whatever else is in the run; an instance on the held-out list goes
to `test` and nowhere else, so it never reaches training data.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def canonical(puzzle: Any, instance: str) -> str:
    """The instance as the puzzle renders its initial state ("13 4 9 10" == "4 9 10 13")."""
    try:
        return puzzle.render(puzzle.parse_instance(instance))
    except ValueError:
        return instance.strip()


class Splitter:
    """Instance -> split. `held_out`: instances that may only ever be in `test`."""

    def __init__(self, puzzle: Any, *, seed: int = 0,
                 fractions: Sequence[float] = DEFAULT_FRACTIONS,
                 held_out: Iterable[str] = ()) -> None:
        if len(fractions) != 3 or any(f < 0 for f in fractions) or not sum(fractions) > 0:
            raise ValueError(f"split fractions must be three numbers >= 0, got {list(fractions)}")
        total = float(sum(fractions))
        self.puzzle, self.seed = puzzle, seed
        self.fractions = tuple(f / total for f in fractions)
        self.held_out = frozenset(canonical(puzzle, t) for t in held_out)

    def __call__(self, instance: str) -> str:
        key = canonical(self.puzzle, instance)
        if key in self.held_out:
            return "test"
        h = hashlib.sha256(f"{self.seed}\0{key}".encode()).digest()
        u = int.from_bytes(h[:8], "big") / 2 ** 64
        train, val, _ = self.fractions
        return "train" if u < train else "val" if u < train + val else "test"

    def __repr__(self) -> str:
        return (f"Splitter(seed={self.seed}, fractions={self.fractions}, "
                f"held_out={len(self.held_out)})")


def _dedup_key(rec: dict) -> tuple:
    if rec["kind"] == "preference":
        return ("preference", rec["state"], rec["chosen"][0]["content"],
                rec["rejected"][0]["content"])
    return (rec["kind"], rec.get("task", ""), rec["state"])


def _tie_wins(rec: dict, old: dict, later_wins: bool) -> bool:
    """Whether `rec` replaces `old`, an equal-ranking record of the same key: the later one
    (`later_wins`), else the one whose canonical JSON sorts first (independent of order)."""
    if later_wins:
        return True
    return json.dumps(rec, sort_keys=True) < json.dumps(old, sort_keys=True)


class Dataset:
    """Records gathered per split, deduplicated by state as they arrive.

    Policy: the record from the most-visited occurrence of a state wins. Value: a proved label
    wins over rollout estimates (of two proved labels, the higher: a graded label from the
    nearer solution); rollout estimates of one state are pooled (wins and k summed).
    Between records that rank equal by those rules (and for SFT and preference records, which
    have none), the one whose JSON (sorted keys) sorts first wins, so the dataset does not
    depend on the order the trees are read in (a sweep with several workers finishes its
    searches in any order; a rollout estimate pooled from three or more trees may differ in
    its last bits, floating-point sums taken in another order). `later_wins=True` lets a
    later record replace an equal one instead (expert iteration: the newest round's search
    is the better teacher)."""

    def __init__(self, splitter: Splitter) -> None:
        self.splitter = splitter
        self.records: dict[str, dict[tuple, dict]] = {s: {} for s in SPLITS}
        self.seen_instances: dict[str, set[str]] = {s: set() for s in SPLITS}

    def add(self, rec: dict, *, later_wins: bool = False) -> None:
        instance = rec["provenance"]["instance"]
        split = self.splitter(instance)
        self.seen_instances[split].add(canonical(self.splitter.puzzle, instance))
        bucket = self.records[split]
        key = _dedup_key(rec)
        old = bucket.get(key)
        if old is None:
            bucket[key] = rec
        elif rec["kind"] == "policy":
            if rec["visits"] > old["visits"] or (rec["visits"] == old["visits"]
                                                 and _tie_wins(rec, old, later_wins)):
                bucket[key] = rec
        elif rec["kind"] == "value":
            if old["source"] == "proved":
                if rec["source"] == "proved" and (
                        rec["value"] > old["value"] or (rec["value"] == old["value"]
                                                        and _tie_wins(rec, old, later_wins))):
                    bucket[key] = rec
                return
            if rec["source"] == "proved":
                bucket[key] = rec
            else:
                k = old["k"] + rec["k"]
                base = min(old, rec, key=lambda r: json.dumps(r["provenance"], sort_keys=True))
                bucket[key] = {**base, "value": (old["value"] * old["k"] + rec["value"] * rec["k"])
                               / k, "k": k}
        elif _tie_wins(rec, old, later_wins):
            bucket[key] = rec

    def counts(self) -> dict[str, dict[str, int]]:
        out = {s: {} for s in SPLITS}
        for split, bucket in self.records.items():
            for rec in bucket.values():
                out[split][rec["kind"]] = out[split].get(rec["kind"], 0) + 1
        return out

    def write(self, folder: str | os.PathLike, *, meta: dict | None = None) -> dict:
        """Write every split's files and `manifest.json` (atomic per file). Returns the manifest."""
        from .traces import KINDS
        folder = Path(folder)
        files, train_hash = {}, hashlib.sha256()
        for split in SPLITS:
            (folder / split).mkdir(parents=True, exist_ok=True)
            for kind in KINDS:
                bucket = self.records[split]
                recs = [bucket[k] for k in sorted(bucket) if k[0] == kind]
                data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                               for r in recs).encode("utf-8")
                _atomic_write(folder / split / f"{kind}.jsonl", data)
                digest = hashlib.sha256(data).hexdigest()
                files[f"{split}/{kind}.jsonl"] = {"records": len(recs), "sha256": digest}
                if split == "train":
                    train_hash.update(digest.encode())
        manifest = {**(meta or {}), "seed": self.splitter.seed,
                    "fractions": list(self.splitter.fractions),
                    "held_out": len(self.splitter.held_out),
                    "instances": {s: len(v) for s, v in self.seen_instances.items()},
                    "files": files, "train_sha256": train_hash.hexdigest()}
        _atomic_write(folder / "manifest.json",
                      (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        return manifest


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Records of one JSONL file; ValueError naming the line for a bad one."""
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
    return out
