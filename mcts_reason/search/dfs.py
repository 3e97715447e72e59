"""Tree-of-Thoughts depth-first search (Yao et al. 2023, `ToT-DFS`).

Expand the most promising state first: a state's children (one policy call) are scored by the
value function, children valued below `threshold` are pruned, and the rest are explored deepest
first in order of value (ties by prior). When a line runs out the search backtracks to the next
best sibling of the nearest ancestor. A state already expanded is not expanded again (its
subtree was searched in full when it was first reached), which only saves budget.

Pruned children are set aside, not thrown away: once every line above the threshold has failed,
the search resumes from the best set-aside state (highest value first) instead of stopping with
budget left. ToT's pruning order is kept (a doubtful state is never tried before a promising
one), but a value function whose numbers are small for a reason other than "impossible" (a
distance estimate on a long-horizon puzzle, where every child of the root may be valued below
the threshold) no longer ends the search after one expansion.

Anytime: it runs until solved, the tree is exhausted, or the budget runs out. With an exhaustive
policy and no `n_generate` or `max_depth` cut, an exhausted tree (set-aside states included) is a
proof that there is no solution.
"""
from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from ..budget import Budget
from ..tree import LOSS, WIN
from ..types import Policy, Puzzle, ValueFunction
from .common import Context, SearchResult
from .expand import (check_positive, expand, first_found, new_root, solved, trivial,
                     value_samples)


def search(puzzle: Puzzle, instance: str, *, policy: Policy,
           value: ValueFunction | None, budget: Budget, rng: np.random.Generator,
           threshold: float = 0.05, n_generate: int | None = None,
           n_evaluate: int | None = None, max_depth: int | None = None) -> SearchResult:
    """Run ToT-DFS on `instance` until solved, exhausted, or out of budget.

    Args:
      threshold: children valued below this are set aside until everything else has failed
        (ToT prunes states its judge calls "impossible"; the Game of 24 heuristic gives ~0.02 or
        0 to those).
      n_generate: `k` passed to the policy per expansion (None: the policy's own default).
      n_evaluate: value samples per new state (ignored for deterministic values; default 3).
      max_depth: do not expand states this many steps deep (None: no limit).
    Raises:
      ValueError: for a bad instance or bad parameters.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    check_positive("n_generate", n_generate)
    check_positive("max_depth", max_depth)
    samples = value_samples(value, n_evaluate)
    ctx = Context(puzzle, instance, policy=policy, value=value, budget=budget, rng=rng, algo="dfs")
    root = new_root(ctx)
    done = trivial(ctx, root)
    if done is not None:
        return done
    complete = ctx.exhaustive and n_generate is None
    seen: set[Any] = set()
    stack = [root]
    pruned: list[tuple[float, float, int, Any]] = []   # heap of (-value, -prior, order, node)
    while stack or pruned:
        node = stack.pop() if stack else heapq.heappop(pruned)[3]
        if node.state in seen:
            continue
        if max_depth is not None and node.depth >= max_depth:
            complete = False
            continue
        out = expand(ctx, node, k=n_generate)
        if out is None:
            return ctx.result(None, stop_reason=ctx.stop("policy_calls"), root=root)
        seen.add(node.state)
        kids, truncated = out
        for ch in kids:
            if ch.status == WIN:
                return solved(ctx, ch, root)
        if truncated:
            return ctx.result(None, stop_reason=ctx.stop("nodes"), root=root)
        live = [ch for ch in kids if ch.status != LOSS and ch.state not in seen]
        values = ctx.evaluate([ch.state for ch in live], samples=samples) if live else []
        end = first_found(ctx, live)
        if end is not None:
            return solved(ctx, end, root)
        if values is None:
            return ctx.result(None, stop_reason=ctx.stop("value_calls"), root=root)
        keep = []
        for ch, v in zip(live, values):
            ch.value = v
            if v >= threshold:
                keep.append(ch)
            else:
                heapq.heappush(pruned, (-v, -ch.prior, ch.order, ch))
        keep.sort(key=lambda ch: (-ch.value, -ch.prior, ch.order))
        stack.extend(reversed(keep))    # the best child is popped first
    return ctx.result(None, stop_reason="exhausted", proved=complete, root=root)
