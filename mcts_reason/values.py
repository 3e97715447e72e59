"""Puzzle-agnostic value functions. Each puzzle brings its own heuristic value."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .types import successors_of


class RolloutValue:
    """Monte Carlo value: the fraction of `n` random playouts (uniform legal steps) that solve.
    With `gamma` < 1 a playout that solves after t steps counts gamma ** t (a discounted return:
    a near solution is worth more than a far one)."""

    def __init__(self, n: int = 8, max_depth: int = 64, gamma: float = 1.0) -> None:
        if n < 1 or max_depth < 1:
            raise ValueError("rollouts need n >= 1 and max_depth >= 1")
        if not 0 < gamma <= 1:
            raise ValueError(f"rollout gamma must be in (0, 1], got {gamma}")
        self.n, self.max_depth, self.gamma = n, max_depth, gamma

    def evaluate(self, puzzle: Any, states: Sequence[Any], *,
                 rng: np.random.Generator) -> list[float]:
        return [self._one(puzzle, s, rng) for s in states]

    def _one(self, puzzle: Any, state: Any, rng: np.random.Generator) -> float:
        # A puzzle that lists its steps with their next states (`types.Successors`) saves
        # applying the chosen one: the same step and state, the same draws from `rng`.
        successors = successors_of(puzzle)
        wins = 0
        for _ in range(self.n):
            s = state
            for t in range(self.max_depth):
                if puzzle.is_solved(s):
                    wins += 1 if self.gamma == 1 else self.gamma ** t
                    break
                steps = puzzle.legal_steps(s) if successors is None else successors(s)
                if puzzle.is_dead_end(s) or not steps:
                    break
                pick = steps[int(rng.integers(len(steps)))]
                s = puzzle.apply(s, pick) if successors is None else pick[1]
        return wins / self.n

    def __repr__(self) -> str:
        g = "" if self.gamma == 1 else f", gamma={self.gamma}"
        return f"RolloutValue(n={self.n}, max_depth={self.max_depth}{g})"


class ConstantValue:
    """Every state worth `v`: turns MCTS into prior-guided search (for ablations)."""

    deterministic = True   # the same state always gets the same value: no need to resample

    def __init__(self, v: float = 0.5) -> None:
        self.v = v

    def evaluate(self, puzzle: Any, states: Sequence[Any], *,
                 rng: np.random.Generator) -> list[float]:
        return [self.v] * len(states)

    def __repr__(self) -> str:
        return f"ConstantValue({self.v})"


class DistanceValue:
    """2 ** (-distance / scale): a distance-to-goal estimate mapped monotonically to (0, 1],
    1 at the goal, halving every `scale` steps. Subclasses say how far a state is (`distance`)."""

    def __init__(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale = scale

    def distance(self, state: Any) -> float:
        raise NotImplementedError

    def evaluate(self, puzzle: Any, states: Sequence[Any], *,
                 rng: np.random.Generator) -> list[float]:
        return [2.0 ** (-self.distance(s) / self.scale) for s in states]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scale={self.scale})"
