"""Game of 24: combine four numbers with + - * / to make 24, each number used once.

States are sorted tuples of `Fraction`s (the numbers left), so two step orders that leave the
same numbers are the same state. Steps use the Tree-of-Thoughts text format
`a op b = c (left: x y z)`. Intermediate results must be non-negative (subtract the smaller
from the larger), as in the Tree-of-Thoughts prompts; `verify` accepts any correct expression.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Iterator, Sequence

import numpy as np

TARGET = Fraction(24)
N_NUMBERS = 4
LOW, HIGH = 1, 13

State = tuple  # tuple[Fraction, ...], sorted ascending


@dataclass(frozen=True, slots=True)
class Step:
    """`a op b = result`; a and b are numbers of the state the step is taken from."""

    a: Fraction
    op: str
    b: Fraction
    result: Fraction

    def __repr__(self) -> str:
        return f"Step({fmt(self.a)} {self.op} {fmt(self.b)} = {fmt(self.result)})"


def fmt(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def combine(a: Fraction, op: str, b: Fraction) -> Fraction | None:
    """a op b under the step rules: None for division by zero or a negative result."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b if a >= b else None
    if op == "*":
        return a * b
    if op == "/":
        return a / b if b != 0 else None
    return None


def _results(a: Fraction, b: Fraction) -> set[Fraction]:
    out = {a + b, a * b, abs(a - b)}
    if b:
        out.add(a / b)
    if a:
        out.add(b / a)
    return out


def _remove(state: State, *xs: Fraction) -> list[Fraction] | None:
    rest = list(state)
    for x in xs:
        try:
            rest.remove(x)
        except ValueError:
            return None
    return rest


# -- parsing ------------------------------------------------------------------------------------
_SYMBOLS = str.maketrans({"×": "*", "x": "*", "X": "*", "∗": "*", "·": "*", "÷": "/",
                          "−": "-", "–": "-", "—": "-"})
_BULLET = re.compile(r"^\s*(?:[-•]\s+|\d+[.)]\s+|step\s*\d*\s*:\s*)", re.IGNORECASE)
_STEP = re.compile(r"^(?P<lhs>[\d\s+\-*/]+)=(?P<rhs>[\d\s/]+?)\s*"
                   r"(?:\(\s*left\s*:\s*(?P<left>[\d\s/,]*)\)\s*)?\.?\s*$", re.IGNORECASE)
_TOKEN = re.compile(r"\s*(\d+|[-+*/])")
_NUM = re.compile(r"^(\d+)(?:\s*/\s*(\d+))?$")


def _tokens(text: str) -> list[str] | None:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            return None
        out.append(m.group(1))
        pos = m.end()
    return out


def _num(tokens: Sequence[str]) -> Fraction | None:
    """A number from 1 token (int) or 3 tokens (int / int); None if not that shape."""
    if len(tokens) == 1 and tokens[0].isdigit():
        return Fraction(int(tokens[0]))
    if len(tokens) == 3 and tokens[0].isdigit() and tokens[1] == "/" and tokens[2].isdigit():
        d = int(tokens[2])
        return Fraction(int(tokens[0]), d) if d else None
    return None


def _parse_number(text: str) -> Fraction | None:
    m = _NUM.match(text.strip())
    if not m or len(text) > 40:
        return None
    d = int(m.group(2)) if m.group(2) else 1
    return Fraction(int(m.group(1)), d) if d else None


# -- heuristics ---------------------------------------------------------------------------------
_FRIENDLY = frozenset(Fraction(x) for x in (1, 2, 3, 4, 6, 8, 12, 24))


def estimate(nums: Sequence[Fraction]) -> float:
    """A cheap, honest guess in [0, 1] that `nums` can still make 24 (no search).

    One number: exact. Two numbers: looks one operation ahead (6 results). Three or four: a few
    features only — the sum or product of all, a number whose complement to 24 is the sum or
    product of the others, an upper bound on what whole numbers can reach, and how many of
    the numbers divide 24. It is wrong in both directions, as a heuristic should be allowed to be.
    """
    n = len(nums)
    if n == 1:
        return 1.0 if nums[0] == TARGET else 0.0
    if n == 2:
        return 1.0 if TARGET in _results(nums[0], nums[1]) else 0.0
    if sum(nums) == TARGET or math.prod(nums) == TARGET:
        return 0.95
    for i, x in enumerate(nums):
        rest = nums[:i] + nums[i + 1:]
        if len(rest) == 2 or i == 0 or x != nums[i - 1]:
            rs, rp = sum(rest), math.prod(rest)
            comps = {TARGET - x, TARGET + x, x - TARGET, TARGET * x}
            if x:
                comps.add(TARGET / x)
                comps.add(x / TARGET)
            if rs in comps or rp in comps:
                return 0.85
    if all(x.denominator == 1 and x >= 1 for x in nums):
        bound = math.prod(max(x, 2) for x in nums)
        if bound < TARGET:
            return 0.02
    friendly = sum(x in _FRIENDLY for x in nums) / n
    whole = sum(x.denominator == 1 for x in nums) / n
    return 0.1 + 0.3 * friendly + 0.1 * whole


class Game24HeuristicValue:
    """`estimate` on each state: cheap and honest, not a solver."""

    def evaluate(self, puzzle, states, *, rng: np.random.Generator) -> list[float]:
        return [estimate(s) for s in states]

    def __repr__(self) -> str:
        return "Game24HeuristicValue()"


class Game24HeuristicPolicy:
    """Every legal step, with prior proportional to exp(beta * estimate(next state))."""

    exhaustive = True

    def __init__(self, beta: float = 4.0) -> None:
        self.beta = beta

    def propose(self, puzzle, state, *, k: int | None, rng: np.random.Generator):
        out = []
        for step in puzzle.legal_steps(state):
            nxt = puzzle.apply(state, step)
            out.append((step, math.exp(self.beta * estimate(nxt))))
        if k is not None:
            out.sort(key=lambda sp: -sp[1])
            out = out[:k]
        return out

    def __repr__(self) -> str:
        return f"Game24HeuristicPolicy(beta={self.beta})"


@lru_cache(maxsize=None)
def solvable(nums: tuple) -> bool:
    """Exact: can the sorted numbers make 24 under the step rules? (Exhaustive; memoised.)"""
    if len(nums) == 1:
        return nums[0] == TARGET
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            rest = nums[:i] + nums[i + 1:j] + nums[j + 1:]
            for r in _results(nums[i], nums[j]):
                if solvable(tuple(sorted(rest + (r,)))):
                    return True
    return False


class Game24OracleValue:
    """Exact solvability as the value (1 or 0). For ablations only: it is a full solver."""

    def evaluate(self, puzzle, states, *, rng: np.random.Generator) -> list[float]:
        return [1.0 if solvable(tuple(s)) else 0.0 for s in states]

    def __repr__(self) -> str:
        return "Game24OracleValue()"


# -- the puzzle ---------------------------------------------------------------------------------
class Game24:
    """The Game of 24 as a `mcts_reason.types.Puzzle`."""

    name = "game24"
    description = "Game of 24: make 24 from four numbers (1-13) with + - * /, each used once."

    def parse_instance(self, text: str) -> State:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("game24 instance is empty: give four numbers, e.g. '4 9 10 13'")
        parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
        for p in parts:
            if not p.isascii() or not p.isdigit():
                raise ValueError(f"game24 instance {text!r}: {p!r} is not a whole number")
        if len(parts) != N_NUMBERS:
            raise ValueError(f"game24 instance {text!r}: need {N_NUMBERS} numbers, got {len(parts)}")
        nums = [int(p) for p in parts]
        bad = [x for x in nums if not LOW <= x <= HIGH]
        if bad:
            raise ValueError(f"game24 instance {text!r}: numbers must be {LOW}-{HIGH}, got {bad[0]}")
        return tuple(sorted(Fraction(x) for x in nums))

    def legal_steps(self, state: State) -> list[Step]:
        steps: list[Step] = []
        n = len(state)
        seen: set[tuple[Fraction, Fraction]] = set()
        for i in range(n):
            for j in range(i + 1, n):
                lo, hi = state[i], state[j]        # state is sorted: lo <= hi
                if (lo, hi) in seen:
                    continue
                seen.add((lo, hi))
                steps.append(Step(hi, "+", lo, hi + lo))
                steps.append(Step(hi, "-", lo, hi - lo))
                steps.append(Step(hi, "*", lo, hi * lo))
                if lo:
                    steps.append(Step(hi, "/", lo, hi / lo))
                if hi and hi != lo:
                    steps.append(Step(lo, "/", hi, lo / hi))
        return steps

    def parse_step(self, state: State, text: str) -> Step | None:
        if not isinstance(text, str) or len(text) > 200:
            return None
        text = _BULLET.sub("", text.translate(_SYMBOLS), count=1)
        m = _STEP.match(text)
        if not m:
            return None
        lhs = _tokens(m.group("lhs"))
        rhs = _tokens(m.group("rhs"))
        if not lhs or not rhs or len(lhs) > 7:
            return None
        result = _num(rhs)
        if result is None:
            return None
        left = None
        if m.group("left") is not None:
            items = [t for t in re.split(r"[\s,]+", m.group("left").strip()) if t]
            left = [_parse_number(t) for t in items]
            if any(x is None for x in left):
                return None
            left = sorted(left)
        for cut in range(1, len(lhs) - 1):
            op = lhs[cut]
            if op not in "+-*/" or len(op) != 1:
                continue
            a, b = _num(lhs[:cut]), _num(lhs[cut + 1:])
            if a is None or b is None or combine(a, op, b) != result:
                continue
            rest = _remove(state, a, b)
            if rest is None:
                continue
            if left is not None and sorted(rest + [result]) != left:
                continue
            return Step(a, op, b, result)
        return None

    def apply(self, state: State, step: Step) -> State:
        rest = _remove(state, step.a, step.b)
        if rest is None:
            raise ValueError(f"{step!r} is not legal from {self.render(state)}")
        rest.append(step.result)
        return tuple(sorted(rest))

    def is_solved(self, state: State) -> bool:
        return len(state) == 1 and state[0] == TARGET

    def is_dead_end(self, state: State) -> bool:
        return len(state) <= 1 and not self.is_solved(state)

    def render(self, state: State) -> str:
        return " ".join(fmt(x) for x in state)

    def render_step(self, state: State, step: Step) -> str:
        left = self.render(self.apply(state, step))
        return f"{fmt(step.a)} {step.op} {fmt(step.b)} = {fmt(step.result)} (left: {left})"

    def answer(self, initial: State, steps: Sequence[Step]) -> str:
        pool: list[tuple[Fraction, str, bool]] = [(x, fmt(x), True) for x in initial]

        def take(x: Fraction) -> tuple[str, bool]:
            for i, (v, e, atom) in enumerate(pool):
                if v == x:
                    del pool[i]
                    return e, atom
            raise ValueError(f"{fmt(x)} is not available")

        for step in steps:
            (ea, aa), (eb, ab) = take(step.a), take(step.b)
            ea = ea if aa else f"({ea})"
            eb = eb if ab else f"({eb})"
            pool.append((step.result, f"{ea} {step.op} {eb}", False))
        expr = " ".join(e for _, e, _ in pool) if len(pool) != 1 else pool[0][1]
        return f"{expr} = {fmt(TARGET)}"

    def verify(self, instance: str, answer: str) -> bool:
        try:
            nums = sorted(int(x) for x in self.parse_instance(instance))
        except (ValueError, TypeError):
            return False
        value, literals = evaluate_expression(answer)
        return value == TARGET and literals is not None and sorted(literals) == nums

    def propose_messages(self, state: State) -> list[dict]:
        """Chat messages asking a model for next steps (ToT's one-shot propose prompt)."""
        from .game24_prompts import propose_messages
        return propose_messages(self.render(state))

    def value_messages(self, state: State) -> list[dict]:
        """Chat messages asking a model to judge `state`: sure / likely / impossible (ToT)."""
        from .game24_prompts import value_messages
        return value_messages(self.render(state))

    def heuristic_policy(self) -> Game24HeuristicPolicy:
        return Game24HeuristicPolicy()

    def heuristic_value(self) -> Game24HeuristicValue:
        return Game24HeuristicValue()

    def extra_values(self) -> dict:
        return {"oracle": Game24OracleValue}

    def instances(self) -> Iterator[str]:
        """Every multiset of four numbers 1-13 (solvable or not), in lexicographic order."""
        from itertools import combinations_with_replacement
        for combo in combinations_with_replacement(range(LOW, HIGH + 1), N_NUMBERS):
            yield " ".join(map(str, combo))

    def __repr__(self) -> str:
        return "Game24()"


# -- a safe arithmetic parser for final answers (never eval) -------------------------------------
_EXPR_TOKEN = re.compile(r"\s*(\d+|[-+*/()])")


def evaluate_expression(text: str) -> tuple[Fraction | None, list[int] | None]:
    """Parse `expr [= 24]` with + - * / and parentheses over whole numbers.

    Returns (value, literals); (None, None) for anything malformed, including division by zero,
    unary minus, a right-hand side other than a single number equal to the left, or more than
    200 characters. Exact arithmetic throughout.
    """
    if not isinstance(text, str) or len(text) > 200:
        return None, None
    text = text.translate(_SYMBOLS).strip()
    text = re.sub(r"^\s*answer\s*:\s*", "", text, flags=re.IGNORECASE)
    lhs, _, rhs = text.partition("=")
    if "=" in rhs:
        return None, None
    toks: list[str] = []
    pos = 0
    lhs = lhs.strip()
    while pos < len(lhs):
        m = _EXPR_TOKEN.match(lhs, pos)
        if not m:
            return None, None
        toks.append(m.group(1))
        pos = m.end()
    literals: list[int] = []
    i = 0

    def expr() -> Fraction:
        nonlocal i
        v = term()
        while i < len(toks) and toks[i] in "+-":
            op = toks[i]
            i += 1
            w = term()
            v = v + w if op == "+" else v - w
        return v

    def term() -> Fraction:
        nonlocal i
        v = factor()
        while i < len(toks) and toks[i] in "*/":
            op = toks[i]
            i += 1
            w = factor()
            if op == "/" and w == 0:
                raise ZeroDivisionError
            v = v * w if op == "*" else v / w
        return v

    def factor() -> Fraction:
        nonlocal i
        if i >= len(toks):
            raise SyntaxError("unexpected end")
        t = toks[i]
        i += 1
        if t.isdigit():
            literals.append(int(t))
            return Fraction(int(t))
        if t == "(":
            v = expr()
            if i >= len(toks) or toks[i] != ")":
                raise SyntaxError("missing )")
            i += 1
            return v
        raise SyntaxError(f"unexpected {t}")

    try:
        value = expr()
    except (SyntaxError, ZeroDivisionError, RecursionError):
        return None, None
    if i != len(toks) or not toks:
        return None, None
    if rhs.strip():
        claimed = _parse_number(rhs)
        if claimed is None or claimed != value:
            return None, None
    return value, literals
