"""Shared by the reliability tests and benchmarks/reliability_faults.py: a perfect and a mediocre
Game of 24 "model" for the fault server's normal answers (both from the independent reference in
tests/game24_oracle.py), and an independent check that a result is honest."""
from __future__ import annotations

import ast
from fractions import Fraction

from game24_oracle import good_proposals, moves, numbers_in_prompt, numbers_last_line, solvable


def is_propose(body: dict) -> bool:
    return "Possible next steps:" in body["messages"][-1]["content"]


def oracle_answer(body: dict, n: int) -> str:
    """A perfect model: legal steps towards solvable states first; sure/impossible by brute force."""
    content = body["messages"][-1]["content"]
    if is_propose(body):
        props = good_proposals(numbers_in_prompt(content))
        k = (body.get("seed") or 0) % len(props)
        return "\n".join((props[:1] + props[k:] + props[:k])[:3])
    return "thinking...\n" + ("sure" if solvable(numbers_last_line(content)) else "impossible")


def mediocre_answer(body: dict, n: int) -> str:
    """Legal but unguided: three legal steps picked by the request seed; every state 'likely'.
    A search needs many requests with it, so a run meets many faults."""
    if is_propose(body):
        ms = [t for t, _ in moves(numbers_in_prompt(body["messages"][-1]["content"]))]
        k = (body.get("seed") or 0) % len(ms)
        return "\n".join((ms[k:] + ms[:k])[:3])
    return "hard to say\nlikely"


def fraction_value(expr: str) -> tuple[Fraction, list[int]]:
    """An answer's value and literals, by walking Python's AST (parsed, never evaluated)."""
    leaves: list[int] = []
    ops = {ast.Add: Fraction.__add__, ast.Sub: Fraction.__sub__, ast.Mult: Fraction.__mul__,
           ast.Div: Fraction.__truediv__}

    def ev(node):
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Constant) and type(node.value) is int:
            leaves.append(node.value)
            return Fraction(node.value)
        raise AssertionError(f"unexpected {ast.dump(node)}")
    return ev(ast.parse(expr.split("=")[0], mode="eval").body), sorted(leaves)


def check_honest(inst: str, solved: bool, answer: str | None, stop_reason: str,
                 proved_unsolvable: bool) -> None:
    """Solved: the answer really makes 24 from the instance. Not solved: a stop reason, and
    never a false claim of unsolvability."""
    if solved:
        value, leaves = fraction_value(answer)
        assert value == 24 and leaves == sorted(int(x) for x in inst.split()), answer
    else:
        assert stop_reason
        if proved_unsolvable:
            assert not solvable(tuple(Fraction(int(x)) for x in inst.split())), inst
