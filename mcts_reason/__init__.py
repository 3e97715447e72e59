"""mcts-reason: Monte Carlo tree search over text reasoning steps for puzzles."""
from __future__ import annotations

from typing import Any

import numpy as np

from .budget import Budget, Meter, Usage
from .search import ALGORITHMS, SearchResult, simple_budget
from .tree import Node, principal_path, to_networkx

__version__ = "0.1.0"


def solve(puzzle: Any, instance: str, *, algo: str = "mcts", policy: Any = None, value: Any = None,
          budget: Budget | None = None, seed: int = 0, **options: Any) -> SearchResult:
    """Search for a verified solution of `instance`.

    `puzzle` is a Puzzle object or a registered name; `policy`/`value` default to the puzzle's
    heuristics; `budget` defaults to `simple_budget(algo, 1000)` (1000 MCTS simulations, or 1000
    node expansions for the other algorithms). The same seed gives the same tree.
    """
    if isinstance(puzzle, str):
        from .registry import load
        puzzle = load(puzzle)
    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algo!r}; choose from {', '.join(ALGORITHMS)}")
    return ALGORITHMS[algo](
        puzzle, instance,
        policy=policy if policy is not None else puzzle.heuristic_policy(),
        value=value if value is not None else puzzle.heuristic_value(),
        budget=budget if budget is not None else simple_budget(algo, 1000),
        rng=np.random.default_rng(seed), **options)


__all__ = ["Budget", "Meter", "Node", "SearchResult", "Usage", "solve",
           "principal_path", "to_networkx", "__version__"]
