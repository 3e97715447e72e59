"""A third-party puzzle package, written only from mcts_reason.types and docs/plugins.md.

"Reach": start from a whole number and reach the target with the steps "+1" and "*2"
(instance text "3 10": from 3 to 10). tests/test_plugins.py registers it under the
`mcts_reason.puzzles` entry-point group from a dist-info folder it writes, exactly as
`pip install` of a package declaring the entry point would.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from mcts_reason.types import Proposal

OPS = ("+1", "*2")


class State(NamedTuple):
    value: int
    target: int


def _apply(value: int, op: str) -> int:
    return value + 1 if op == "+1" else value * 2


class ReachPolicy:
    """Both steps, doubling preferred while it does not overshoot; trusted code, so it passes
    the next state it computed (Proposal.next_state)."""

    exhaustive = True

    def propose(self, puzzle, state: State, *, k: int | None,
                rng: np.random.Generator) -> list[Proposal]:
        out = [Proposal(op, 2.0 if op == "*2" and 2 * state.value <= state.target else 1.0,
                        puzzle.apply(state, op)) for op in puzzle.legal_steps(state)]
        return out if k is None else sorted(out, key=lambda p: -p.prior)[:k]


class ReachValue:
    """Closer is better: value / target."""

    deterministic = True

    def evaluate(self, puzzle, states: Sequence[State], *, rng: np.random.Generator) -> list[float]:
        return [min(1.0, s.value / s.target) for s in states]


class Reach:
    name = "reach"
    description = "Reach the target from the start number with the steps +1 and *2."

    def parse_instance(self, text: str) -> State:
        parts = text.split()
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"expected 'START TARGET', two whole numbers, got {text!r}")
        start, target = map(int, parts)
        if not 0 < start <= target:
            raise ValueError("need 0 < START <= TARGET")
        return State(start, target)

    def legal_steps(self, state: State) -> list[str]:
        return [op for op in OPS if _apply(state.value, op) <= state.target]

    def parse_step(self, state: State, text: str) -> str | None:
        op = text.strip()
        return op if op in self.legal_steps(state) else None

    def apply(self, state: State, step: str) -> State:
        return State(_apply(state.value, step), state.target)

    def is_solved(self, state: State) -> bool:
        return state.value == state.target

    def is_dead_end(self, state: State) -> bool:
        return state.value > state.target

    def render(self, state: State) -> str:
        return f"{state.value} (target {state.target})"

    def render_step(self, state: State, step: str) -> str:
        return step

    def answer(self, initial: State, steps: Sequence[str]) -> str:
        return " ".join([str(initial.value), *steps])

    def verify(self, instance: str, answer: str) -> bool:
        try:
            start, target = map(int, instance.split())
            first, *ops = answer.split()
            value = int(first)
        except ValueError:
            return False
        if value != start or any(op not in OPS for op in ops):
            return False
        for op in ops:
            value = _apply(value, op)
        return value == target

    def heuristic_policy(self) -> ReachPolicy:
        return ReachPolicy()

    def heuristic_value(self) -> ReachValue:
        return ReachValue()
