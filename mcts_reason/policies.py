"""Puzzle-agnostic policies. Each puzzle brings its own heuristic policy; LLM policies live in llm/."""
from __future__ import annotations

from typing import Any

import numpy as np

from .types import successors_of


class UniformPolicy:
    """Every legal step, equal priors: the no-knowledge baseline (exhaustive). On a puzzle
    that lists its steps with their next states (`types.Successors`) the proposals carry them,
    so the search does not apply each step again: the same proposals either way."""

    exhaustive = True

    def propose(self, puzzle: Any, state: Any, *, k: int | None,
                rng: np.random.Generator) -> list[tuple]:
        successors = successors_of(puzzle)
        if successors is not None:
            return [(s, 1.0, nxt) for s, nxt in successors(state)]
        return [(s, 1.0) for s in puzzle.legal_steps(state)]

    def __repr__(self) -> str:
        return "UniformPolicy()"


class NoisyPolicy:
    """Wraps a policy; with probability `p` per call replaces its priors by uniform ones.

    Stands in for a weak model when comparing algorithms: the same noise for every algorithm
    because it is drawn from the search's own seeded generator.
    """

    def __init__(self, inner: Any, p: float) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"noise probability must be in [0, 1], got {p}")
        self.inner, self.p = inner, p
        self.exhaustive = inner.exhaustive

    def propose(self, puzzle: Any, state: Any, *, k: int | None,
                rng: np.random.Generator) -> list[tuple[Any, float]]:
        out = self.inner.propose(puzzle, state, k=k, rng=rng)
        if out and rng.random() < self.p:
            return [(item[0], 1.0, *item[2:]) for item in out]   # keeps a next state if given
        return out

    def __repr__(self) -> str:
        return f"NoisyPolicy({self.inner!r}, p={self.p})"


def top_k(proposals: list, k: int | None) -> list:
    """The `k` proposals with the largest priors (stable: ties keep their order); all if k is
    None. For heuristic policies that honour `propose(..., k=)`."""
    if k is None:
        return proposals
    return sorted(proposals, key=lambda sp: -sp[1])[:k]
