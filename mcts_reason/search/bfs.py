"""Tree-of-Thoughts breadth-first search (Yao et al. 2023, `ToT-BFS`).

At each depth every frontier state is expanded with one policy call (`n_generate` proposals for a
sampling policy), every new candidate is scored by the value function (`n_evaluate` samples for a
stochastic judge, see `expand.value_samples`), and the `n_select` best candidates form the next
frontier. Candidates that the puzzle declares solved end the search at once; dead ends are
dropped without a value call. Candidates reached from two frontier states are kept once (their
value is the same state's value), so duplicates never crowd out a different state.

It is a fixed-cost algorithm: once the frontier is empty it stops, even with budget left. Only an
exhaustive policy with nothing ever dropped (no `n_select` cut, no `n_generate` cut, no cap) makes
"no solution" a proof.
"""
from __future__ import annotations

import numpy as np

from ..budget import Budget
from ..types import Policy, Puzzle, ValueFunction
from .common import Context, SearchResult
from .expand import check_positive, layered, new_root, trivial, value_samples


def search(puzzle: Puzzle, instance: str, *, policy: Policy,
           value: ValueFunction | None, budget: Budget, rng: np.random.Generator,
           n_select: int = 5, n_generate: int | None = None,
           n_evaluate: int | None = None, max_depth: int | None = None) -> SearchResult:
    """Run ToT-BFS on `instance` until solved, the frontier runs out, or the budget does.

    Args:
      n_select: the beam `b`: candidates kept per depth (ToT's Game of 24 runs use 5).
      n_generate: `k` passed to the policy per expansion (None: the policy's own default).
      n_evaluate: value samples per new state (ignored for deterministic values; default 3).
      max_depth: stop after this many steps (None: until the puzzle ends every line).
    Raises:
      ValueError: for a bad instance or bad parameters.
    """
    check_positive("n_select", n_select, allow_none=False)
    check_positive("n_generate", n_generate)
    check_positive("max_depth", max_depth)
    samples = value_samples(value, n_evaluate)
    ctx = Context(puzzle, instance, policy=policy, value=value, budget=budget, rng=rng, algo="bfs")
    root = new_root(ctx)
    done = trivial(ctx, root)
    if done is not None:
        return done
    return layered(ctx, root, width=n_select, n_generate=n_generate, samples=samples,
                   max_depth=max_depth, paths=False)
