"""Beam search over cumulative value.

Each beam entry is a path scored by the sum of the values of the states along it. At each depth
every beam state is expanded with one policy call, each new state is scored by the value function
(`n_evaluate` samples for a stochastic judge), each child's path score is its parent's plus its
own value, and the `beam_width` best paths survive (a state reached along two paths keeps the
better one). Unlike ToT-BFS, which ranks candidates by their own value only, a path that went
through doubtful states pays for them here. Solved children end the search; dead ends are dropped.
"""
from __future__ import annotations

import numpy as np

from ..budget import Budget
from ..types import Policy, Puzzle, ValueFunction
from .common import Context, SearchResult
from .expand import check_positive, layered, new_root, trivial, value_samples


def search(puzzle: Puzzle, instance: str, *, policy: Policy,
           value: ValueFunction | None, budget: Budget, rng: np.random.Generator,
           beam_width: int = 5, n_generate: int | None = None,
           n_evaluate: int | None = None, max_depth: int | None = None) -> SearchResult:
    """Run beam search on `instance` until solved, the beam empties, or the budget runs out.

    Args:
      beam_width: paths kept per depth.
      n_generate: `k` passed to the policy per expansion (None: the policy's own default).
      n_evaluate: value samples per new state (ignored for deterministic values; default 3).
      max_depth: stop after this many steps (None: until the puzzle ends every line).
    Raises:
      ValueError: for a bad instance or bad parameters.
    """
    check_positive("beam_width", beam_width, allow_none=False)
    check_positive("n_generate", n_generate)
    check_positive("max_depth", max_depth)
    samples = value_samples(value, n_evaluate)
    ctx = Context(puzzle, instance, policy=policy, value=value, budget=budget, rng=rng,
                  algo="beam")
    root = new_root(ctx)
    done = trivial(ctx, root)
    if done is not None:
        return done
    return layered(ctx, root, width=beam_width, n_generate=n_generate, samples=samples,
                   max_depth=max_depth, paths=True)
