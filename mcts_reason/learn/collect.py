"""From trees to a dataset: read tree files (or run a sweep that writes them) and gather their
records into a `Dataset`. Shared by `mcts-reason traces` and the expert-iteration loop."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..bench import SweepConfig, run_sweep, tree_file_name
from ..records import scan_records
from ..viz.export import read_tree
from .choices import SFT_STEPS
from .dataset import Dataset
from .traces import TraceError, records

TREE_SUFFIXES = (".json", ".graphml")


def check_puzzle(puzzle: Any) -> None:
    """Learning needs the puzzle's text: ValueError (one line) when it lacks a part of it."""
    for part in ("render", "render_step", "parse_step", "legal_steps"):
        if not callable(getattr(puzzle, part, None)):
            raise ValueError(f"puzzle {getattr(puzzle, 'name', puzzle)!r} has no {part}: "
                             f"learning from search needs it")


def tree_files(sources: Iterable[str | os.PathLike]) -> list[Path]:
    """Tree files named directly, or found (sorted) in the folders named."""
    out: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in TREE_SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise ValueError(f"tree source {str(p)!r} is neither a file nor a folder")
    return out


def tree_seed(seed: int, name: str) -> np.random.Generator:
    """The rollout generator of one tree: from the run's seed and the tree's name, so a tree's
    value labels do not depend on which other trees were read, or in what order."""
    h = hashlib.sha256(f"{seed}\0{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "big"))


def add_trees(dataset: Dataset, puzzle: Any, paths: Sequence[Path], *, rollouts: int, seed: int,
              later_wins: bool = False, extra: dict | None = None, progress: Any = None,
              gamma: float | None = None, sft_steps: int = SFT_STEPS) -> int:
    """Add the records of every tree in `paths` to `dataset`; returns the number of trees read.
    `gamma`: graded value labels, `sft_steps`: lines per propose SFT answer (`traces.records`).
    Raises ValueError (TraceError) naming the file for a tree that does not re-parse."""
    n = 0
    for path in paths:
        try:
            graph = read_tree(path)
        except (ValueError, OSError, KeyError) as e:
            raise ValueError(f"{path}: not a readable tree ({e})") from None
        if graph.graph.get("puzzle") != puzzle.name:
            raise ValueError(f"{path}: a tree of puzzle {graph.graph.get('puzzle')!r}, "
                             f"not {puzzle.name!r}")
        try:
            for rec in records(graph, puzzle, rollouts=rollouts, rng=tree_seed(seed, path.name),
                               gamma=gamma, sft_steps=sft_steps, **(extra or {})):
                dataset.add(rec, later_wins=later_wins)
        except TraceError as e:
            raise ValueError(f"{path}: {e}") from None
        n += 1
        if progress is not None:
            progress.update(1)
    return n


def sweep_trees(config: SweepConfig, instances: Sequence[str], folder: str | os.PathLike, *,
                workers: int | None, executor: str = "local", ray_address: str | None = None,
                progress: bool | None = None) -> list[Path]:
    """Run (or resume) the sweep `config` with its trees written into `folder`/trees as JSON;
    returns the tree files of its records (folder/search.jsonl), in record order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "search.jsonl"
    run_sweep(config, instances, out, workers=workers, executor=executor,
              ray_address=ray_address, trees=str(folder / "trees"), tree_format="json",
              progress=progress)
    return [folder / "trees" / tree_file_name((r["instance"], r["algo"], r["budget"], r["seed"]),
                                              "json")
            for _, r in scan_records(out)]
