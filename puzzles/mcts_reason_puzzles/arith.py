"""A safe parser for final arithmetic answers, shared by the number puzzles: never `eval`.

`parse_answer` reads `expr [= n]` over whole numbers with + - * / and parentheses; each puzzle
passes its own arithmetic rule as `apply` (Game of 24: exact rationals; Countdown: the TV rule).
"""
from __future__ import annotations

import re
from typing import Callable

SYMBOLS = str.maketrans({"×": "*", "x": "*", "X": "*", "∗": "*", "·": "*", "÷": "/",
                         "−": "-", "–": "-", "—": "-"})
_TOKEN = re.compile(r"\s*(\d+|[-+*/()])")
_ANSWER = re.compile(r"^\s*answer\s*:\s*", re.IGNORECASE)
MAX_DIGITS = 15
# A list marker a model may put before a step line ("- ", "2) ", "Step 3: "), for the number
# puzzles' step parsers.
BULLET = re.compile(r"^\s*(?:[-•]\s+|\d+[.)]\s+|step\s*\d*\s*:\s*)", re.IGNORECASE)


def remove(numbers, *xs) -> list | None:
    """`numbers` without one occurrence of each of `xs` (a list), or None when one is missing."""
    rest = list(numbers)
    for x in xs:
        try:
            rest.remove(x)
        except ValueError:
            return None
    return rest


def parse_answer(text: str, apply: Callable, *, max_len: int = 200):
    """-> (value, literals, right-hand side text), or None for anything malformed.

    `apply(a, op, b)` returns a op b or raises ArithmeticError when the rule forbids it. Malformed:
    longer than `max_len`, an unknown character, unary minus, unbalanced parentheses, a number of
    more than 15 digits, more than one `=`, or an operation `apply` refuses.
    """
    if not isinstance(text, str) or len(text) > max_len:
        return None
    text = _ANSWER.sub("", text.translate(SYMBOLS).strip())
    lhs, _, rhs = text.partition("=")
    if "=" in rhs:
        return None
    toks: list[str] = []
    pos, lhs = 0, lhs.strip()
    while pos < len(lhs):
        m = _TOKEN.match(lhs, pos)
        if not m:
            return None
        toks.append(m.group(1))
        pos = m.end()
    literals: list[int] = []
    i = 0

    def expr():
        nonlocal i
        v = term()
        while i < len(toks) and toks[i] in "+-":
            op = toks[i]
            i += 1
            v = apply(v, op, term())
        return v

    def term():
        nonlocal i
        v = factor()
        while i < len(toks) and toks[i] in "*/":
            op = toks[i]
            i += 1
            v = apply(v, op, factor())
        return v

    def factor():
        nonlocal i
        if i >= len(toks):
            raise SyntaxError("unexpected end")
        t = toks[i]
        i += 1
        if t.isdigit():
            if len(t) > MAX_DIGITS:
                raise SyntaxError("number too long")
            literals.append(int(t))
            return int(t)
        if t == "(":
            v = expr()
            if i >= len(toks) or toks[i] != ")":
                raise SyntaxError("missing )")
            i += 1
            return v
        raise SyntaxError(f"unexpected {t}")

    try:
        value = expr()
    except (SyntaxError, ArithmeticError, RecursionError, ValueError):
        return None
    if i != len(toks) or not toks:
        return None
    return value, literals, rhs.strip()


def expressions(numbers, steps, fmt: Callable = str) -> list[tuple[object, str]]:
    """Replay `a op b = result` steps over `numbers`, building each result's expression text
    (sub-expressions parenthesised). Returns what is left: [(value, expression)].
    Raises ValueError when a step uses a number that is not available."""
    pool: list[tuple[object, str, bool]] = [(x, fmt(x), True) for x in numbers]

    def take(x) -> str:
        for i, (v, e, atom) in enumerate(pool):
            if v == x:
                del pool[i]
                return e if atom else f"({e})"
        raise ValueError(f"{fmt(x)} is not available")

    for step in steps:
        ea, eb = take(step.a), take(step.b)
        pool.append((step.result, f"{ea} {step.op} {eb}", False))
    return [(v, e) for v, e, _ in pool]


def number_list(text: str, what: str) -> list[str]:
    """The items of a list of numbers as written in datasets: `4 9 10 13`, `4, 9, 10, 13` or
    `[4, 9, 10, 13]`. Returns the raw items (the caller checks they are numbers); ValueError
    naming `what` for unbalanced or repeated brackets."""
    body = text.strip()
    if body.startswith("[") or body.endswith("]"):
        if not (body.startswith("[") and body.endswith("]")):
            raise ValueError(f"{what}: unbalanced '[' ']'")
        body = body[1:-1]
    if "[" in body or "]" in body:
        raise ValueError(f"{what}: more than one [...] list")
    return [p for p in re.split(r"[\s,]+", body.strip()) if p]


def short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
