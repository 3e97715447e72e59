"""Answers are verified in one place (Context.verified_answer), once per step chain, for every
algorithm: a puzzle whose `verify` rejects everything is never reported solved."""
from __future__ import annotations

import pytest

import mcts_reason
from mcts_reason import Budget
from mcts_reason.search import ALGORITHMS
from mcts_reason_puzzles.game24 import Game24


class Rejecting(Game24):
    """Game of 24 whose independent check refuses every answer (and counts its calls)."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def verify(self, instance: str, answer: str) -> bool:
        self.checked.append(answer)
        return False


class Counting(Game24):
    def __init__(self) -> None:
        self.checked: list[str] = []

    def verify(self, instance: str, answer: str) -> bool:
        self.checked.append(answer)
        return super().verify(instance, answer)


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_a_rejected_answer_is_never_solved(algo):
    p = Rejecting()
    r = mcts_reason.solve(p, "1 2 3 4", algo=algo, budget=Budget(expansions=200), seed=0)
    assert not r.solved and r.answer is None and r.steps == ()
    # every rejection is counted; the puzzle checked each distinct chain once (best-of-N may
    # sample the same chain again: counted again, not checked again)
    assert p.checked and r.usage.rejected_answers >= len(p.checked)
    if algo != "best-of-n":
        assert r.usage.rejected_answers == len(p.checked)


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_a_solution_is_verified_once(algo):
    p = Counting()
    r = mcts_reason.solve(p, "1 2 3 4", algo=algo, budget=Budget(expansions=200), seed=0)
    assert r.solved and p.checked == [r.answer] and r.usage.rejected_answers == 0
