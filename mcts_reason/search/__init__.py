"""Search algorithms, one module each, all with the same call signature and result type:
`search(puzzle, instance, *, policy, value, budget, rng, **options) -> SearchResult`."""
from __future__ import annotations

from typing import Any

from . import beam, bfs, dfs, mcts, sample
from .common import Context, SearchResult


def mcts_uct(puzzle: Any, instance: str, **kwargs: Any) -> SearchResult:
    """MCTS with UCB1 selection (priors only order unvisited children); see `mcts.search`."""
    return mcts.search(puzzle, instance, selection="uct", **kwargs)


ALGORITHMS = {
    "mcts": mcts.search,
    "mcts-uct": mcts_uct,
    "bfs": bfs.search,
    "dfs": dfs.search,
    "beam": beam.search,
    "best-of-n": sample.best_of_n,
    "greedy": sample.greedy,
}

__all__ = ["ALGORITHMS", "Context", "SearchResult"]
