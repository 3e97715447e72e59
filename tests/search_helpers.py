"""Shared fixtures and an independent answer checker for the search tests.

Not a conftest.py, so it merges beside other branches' test set-up; test modules import the
`g24` fixture from here."""
from __future__ import annotations

import ast
from fractions import Fraction

import pytest

from mcts_reason_puzzles.game24 import Game24

# Easy puzzles: the first of the project's `easy100` set (largest share of solving step paths),
# plus the README example. Hard-coded because computing the named sets takes seconds.
EASY = ["12 12 12 12", "2 2 2 12", "4 6 6 6", "2 12 12 12", "1 1 2 12", "3 8 8 8",
        "3 3 3 8", "4 4 4 6", "1 1 4 6", "1 1 3 8", "4 9 10 13"]
UNSOLVABLE = ["1 1 1 1", "1 1 1 2", "13 13 13 13", "1 1 2 2"]


@pytest.fixture(scope="session")
def g24() -> Game24:
    return Game24()


def independent_value(instance: str, answer: str) -> bool:
    """Checks a Game of 24 answer without the puzzle's own parser: Python's `ast` restricted to
    + - * / over integer literals, exact fractions, literals == the instance's numbers."""
    expr = answer.split("=")[0]
    tree = ast.parse(expr, mode="eval")
    literals: list[int] = []

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            literals.append(node.value)
            return Fraction(node.value)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                return a / b
        raise ValueError(f"unexpected syntax in {answer!r}")

    value = ev(tree)
    return value == 24 and sorted(literals) == sorted(int(x) for x in instance.split())
