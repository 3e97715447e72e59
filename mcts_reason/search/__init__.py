"""Search algorithms, one module each, all with the same call signature and result type:
`search(puzzle, instance, *, policy, value, budget, rng, **options) -> SearchResult`."""
from __future__ import annotations

from typing import Any

from . import beam, bfs, dfs, mcts, sample
from ..budget import Budget
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



def simple_budget(algo: str, n: int) -> Budget:
    """The one-number budget (`--budget N`): N simulations for MCTS, N node expansions (policy
    calls on a state) for every other algorithm. An MCTS simulation expands at most one node, so
    the two count the same unit of work; the other algorithms do not run simulations."""
    return Budget(simulations=n) if algo.startswith("mcts") else Budget(expansions=n)


__all__ = ["ALGORITHMS", "Context", "SearchResult", "simple_budget"]
