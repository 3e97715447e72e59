"""Puzzle-agnostic value functions. Each puzzle brings its own heuristic value."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


class RolloutValue:
    """Monte Carlo value: the fraction of `n` random playouts (uniform legal steps) that solve."""

    def __init__(self, n: int = 8, max_depth: int = 64) -> None:
        if n < 1 or max_depth < 1:
            raise ValueError("rollouts need n >= 1 and max_depth >= 1")
        self.n, self.max_depth = n, max_depth

    def evaluate(self, puzzle: Any, states: Sequence[Any], *,
                 rng: np.random.Generator) -> list[float]:
        return [self._one(puzzle, s, rng) for s in states]

    def _one(self, puzzle: Any, state: Any, rng: np.random.Generator) -> float:
        wins = 0
        for _ in range(self.n):
            s = state
            for _ in range(self.max_depth):
                if puzzle.is_solved(s):
                    wins += 1
                    break
                steps = puzzle.legal_steps(s)
                if puzzle.is_dead_end(s) or not steps:
                    break
                s = puzzle.apply(s, steps[int(rng.integers(len(steps)))])
        return wins / self.n

    def __repr__(self) -> str:
        return f"RolloutValue(n={self.n}, max_depth={self.max_depth})"


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
