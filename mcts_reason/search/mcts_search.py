"""`search`: MCTS from the outside -- builds the run's Context and picks the loop: the
sequential `mcts.MCTS`, or `parallel.ParallelMCTS` for concurrency > 1. Kept apart from both
so that neither imports the other's module back (parallel.py builds on mcts.py, one way)."""
from __future__ import annotations

import numpy as np

from ..budget import Budget
from ..types import Policy, Puzzle, ValueFunction
from .common import Context, SearchResult
from .mcts import MCTS
from .parallel import MIN_ROUNDS, REPEATS, ParallelMCTS


def search(puzzle: Puzzle, instance: str, *, policy: Policy, value: ValueFunction,
           budget: Budget, rng: np.random.Generator, c: float = 1.5, selection: str = "puct",
           pw_c: float = 2.0, pw_alpha: float = 0.5, samples: int | None = None,
           expand_after: int = 0, concurrency: int = 1, repeats: int | None = REPEATS,
           min_rounds: int = MIN_ROUNDS) -> SearchResult:
    """Run MCTS on `instance` until it is solved, proven unsolvable, or the budget runs out.

    Args:
      c: exploration constant of the selection rule.
      selection: "puct" (priors, AlphaZero) or "uct" (UCB1, priors only order unvisited children).
      pw_c, pw_alpha: progressive widening for sampling policies (ignored for exhaustive ones).
      samples: `k` passed to the policy on each expansion (None: the policy's own default).
      expand_after: expand a leaf (a policy call) only once it has been visited this many times;
        before that a visit only values it. 0 (default): expand on the first visit, as AlphaZero
        does. 1: value first, so a leaf the value function rates poorly never costs a policy
        call (the expansion threshold of Coulom 2006).
      concurrency: leaves expanded/evaluated at once (virtual loss; see search/parallel.py).
        1 is the plain sequential search.
      repeats, min_rounds: how a round of the parallel search closes and how wide it may be
        (`parallel.ParallelMCTS`); not used at concurrency 1.
    Raises:
      ValueError: for a bad instance or bad parameters.
    """
    ctx = Context(puzzle, instance, policy=policy, value=value, budget=budget, rng=rng,
                  algo="mcts" if selection == "puct" else f"mcts-{selection}")
    if not ctx.meter.can("nodes"):   # not even room for the root
        return ctx.result(None, stop_reason=ctx.stop("nodes"))
    if concurrency > 1:
        if expand_after:
            raise ValueError("expand_after is not supported with concurrency > 1")
        return ParallelMCTS(ctx, c=c, selection=selection, pw_c=pw_c, pw_alpha=pw_alpha,
                            samples=samples, concurrency=concurrency, repeats=repeats,
                            min_rounds=min_rounds).run()
    if concurrency != 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    return MCTS(ctx, c=c, selection=selection, pw_c=pw_c, pw_alpha=pw_alpha,
                samples=samples, expand_after=expand_after).run()
