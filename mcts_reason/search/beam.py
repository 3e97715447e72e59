"""Beam search over cumulative value.

Each beam entry is a path scored by the sum of the values of the states along it. At each depth
every beam state is expanded with one policy call, each new state is scored by the value function
(`n_evaluate` samples for a stochastic judge), each child's path score is its parent's plus its
own value, and the `beam_width` best paths survive (a state reached along two paths keeps the
better one). Unlike ToT-BFS, which ranks candidates by their own value only, a path that went
through doubtful states pays for them here. Solved children end the search; dead ends are dropped.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..budget import Budget
from ..tree import LOSS, WIN
from ..types import Policy, Puzzle, ValueFunction
from .common import Context, SearchResult
from .expand import check_positive, expand, new_root, solved, trivial, value_samples


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
    complete = ctx.exhaustive and n_generate is None
    beam, depth = [(0.0, root)], 0
    while beam and (max_depth is None or depth < max_depth):
        pairs = []
        for score, parent in beam:
            out = expand(ctx, parent, k=n_generate)
            if out is None:
                return ctx.result(None, stop_reason=ctx.stop("policy_calls"), root=root)
            kids, truncated = out
            for ch in kids:
                if ch.status == WIN:
                    return solved(ctx, ch, root)
                if ch.status != LOSS:
                    pairs.append((score, ch))
            if truncated:
                return ctx.result(None, stop_reason=ctx.stop("nodes"), root=root)
        values = ctx.evaluate([ch.state for _, ch in pairs], samples=samples) if pairs else []
        if values is None:
            return ctx.result(None, stop_reason=ctx.stop("value_calls"), root=root)
        best: dict[Any, tuple[float, Any]] = {}
        for (score, ch), v in zip(pairs, values):
            ch.value = v
            total = score + v
            old = best.get(ch.state)
            if old is None or total > old[0]:
                best[ch.state] = (total, ch)
        ranked = sorted(best.values(), key=lambda sc: (-sc[0], -sc[1].prior, sc[1].order))
        complete = complete and len(ranked) <= beam_width
        beam, depth = ranked[:beam_width], depth + 1
    ended = not beam
    return ctx.result(None, stop_reason="exhausted" if ended else "max_depth",
                      proved=complete and ended, root=root)
