"""Game of 24: combine four numbers with + - * / to make 24, each number used once.

States are sorted tuples of `Fraction`s (the numbers left), so two step orders that leave the
same numbers are the same state. Steps use the Tree-of-Thoughts text format
`a op b = c (left: x y z)`. Intermediate results must be non-negative (subtract the smaller
from the larger), as in the Tree-of-Thoughts prompts; `verify` accepts any correct expression.
"""
from __future__ import annotations

import math
from bisect import bisect_left
import re
from fractions import Fraction
from functools import lru_cache
from typing import Iterator, NamedTuple, Sequence

import numpy as np

from mcts_reason.policies import top_k

from .arith import BULLET as _BULLET, SYMBOLS, expressions, number_list, parse_answer, short
from .arith import remove as _remove

TARGET = 24
N_NUMBERS = 4
LOW, HIGH = 1, 13

State = tuple  # tuple[int | Fraction, ...], sorted ascending
Number = "int | Fraction"   # whole numbers are kept as int (fast), others as Fraction: exact either way


class Step(NamedTuple):
    """`a op b = result`; a and b are numbers of the state the step is taken from.

    A NamedTuple rather than a frozen dataclass: it is created ~30 times per expansion, and
    tuple construction is several times cheaper; it is just as immutable and hashable."""

    a: int | Fraction
    op: str
    b: int | Fraction
    result: int | Fraction

    def __repr__(self) -> str:
        return f"Step({fmt(self.a)} {self.op} {fmt(self.b)} = {fmt(self.result)})"


def fmt(x) -> str:
    if type(x) is int:
        return str(x)
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def norm(x):
    """A whole Fraction as int, anything else unchanged (equal values hash equal either way)."""
    return x.numerator if type(x) is Fraction and x.denominator == 1 else x


def div(a, b):
    """Exact a / b for b != 0: an int when it divides, else a Fraction."""
    if type(a) is int and type(b) is int:
        return a // b if a % b == 0 else Fraction(a, b)
    return norm(Fraction(a) / b)


def combine(a, op: str, b):
    """a op b under the step rules: None for division by zero or a negative result."""
    if op == "+":
        return norm(a + b)
    if op == "-":
        return norm(a - b) if a >= b else None
    if op == "*":
        return norm(a * b)
    if op == "/":
        return div(a, b) if b != 0 else None
    return None


def _results(a, b) -> set:
    out = {norm(a + b), norm(a * b), norm(abs(a - b))}
    if b:
        out.add(div(a, b))
    if a:
        out.add(div(b, a))
    return out


def _makes(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Does one operation on a = an/ad and b = bn/bd give 24? Cross-multiplied integers only,
    so no Fraction is built on this hot path (exact all the same)."""
    return _makes_nd(a[0], a[1], b[0], b[1])


def _makes_nd(an: int, ad: int, bn: int, bd: int) -> bool:
    """`_makes` on numerators and (positive) denominators."""
    s, t, big = an * bd, bn * ad, TARGET * ad * bd
    return (s + t == big or s - t == big or t - s == big or an * bn == big
            or (bn != 0 and an * bd == TARGET * ad * bn) or (an != 0 and bn * ad == TARGET * bd * an))


def _pair_makes(pair: tuple) -> bool:
    """Does one operation on the two numbers of `pair` give 24 (`estimate` of two numbers)?"""
    a, b = pair
    if type(a) is int and type(b) is int:
        return _makes_int(a, b)
    return _makes_nd(a.numerator, a.denominator, b.numerator, b.denominator)


def _makes_int(a: int, b: int) -> bool:
    return (a + b == TARGET or a * b == TARGET or a - b == TARGET or b - a == TARGET
            or (b != 0 and a == TARGET * b) or (a != 0 and b == TARGET * a))


def _nd_sum(xs) -> tuple[int, int]:
    n, d = 0, 1
    for xn, xd in xs:
        n, d = n * xd + xn * d, d * xd
    return n, d


def _nd_prod(xs) -> tuple[int, int]:
    n, d = 1, 1
    for xn, xd in xs:
        n, d = n * xn, d * xd
    return n, d


# -- parsing ------------------------------------------------------------------------------------
_SYMBOLS = SYMBOLS
_STEP = re.compile(r"^(?P<lhs>[\d\s+\-*/]+)=(?P<rhs>[\d\s/]+?)\s*"
                   r"(?:\(\s*left\s*:\s*(?P<left>[\d\s/,]*)\)\s*)?\.?\s*$", re.IGNORECASE)
_TOKEN = re.compile(r"\s*(\d+|[-+*/])")
_NUM = re.compile(r"^(\d+)(?:\s*/\s*(\d+))?$")
_PLAIN = re.compile(r"^ *([0-9]{1,2}) +([0-9]{1,2}) +([0-9]{1,2}) +([0-9]{1,2}) *$")   # "4 9 10 13"
_INPUT_LABEL = re.compile(r"^input\s*:\s*", re.IGNORECASE)   # the Tree-of-Thoughts prompt form


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
    if len(tokens) == 1 and tokens[0].isdigit() and len(tokens[0]) <= 12:
        return int(tokens[0])
    if len(tokens) == 3 and tokens[0].isdigit() and tokens[1] == "/" and tokens[2].isdigit() \
            and len(tokens[0]) <= 12 and len(tokens[2]) <= 12:
        d = int(tokens[2])
        return div(int(tokens[0]), d) if d else None
    return None


def _parse_number(text: str) -> Fraction | None:
    m = _NUM.match(text.strip())
    if not m or len(text) > 40:
        return None
    d = int(m.group(2)) if m.group(2) else 1
    return div(int(m.group(1)), d) if d else None


# -- heuristics ---------------------------------------------------------------------------------
_FRIENDLY = frozenset((1, 2, 3, 4, 6, 8, 12, 24))


def _estimate_int(nums: Sequence[int]) -> float:
    """`estimate` for whole numbers only (other than two or three: see `estimate`), the same
    features with plain int arithmetic."""
    n = len(nums)
    if sum(nums) == TARGET or math.prod(nums) == TARGET:
        return 0.95
    total = sum(nums)
    for i, x in enumerate(nums):
        if i and x == nums[i - 1]:
            continue
        rest_prod = math.prod(nums[:i] + nums[i + 1:])
        if _makes_int(x, total - x) or _makes_int(x, rest_prod):
            return 0.85
    if all(x >= 1 for x in nums) and math.prod(max(x, 2) for x in nums) < TARGET:
        return 0.02
    friendly = sum(x in _FRIENDLY for x in nums) / n
    return 0.2 + 0.3 * friendly


# 0.2 + 0.3 * (share of friendly numbers), by count, for three whole numbers (as computed above)
_FRIENDLY_3 = tuple(0.2 + 0.3 * (k / 3) for k in range(4))


def _estimate_int3(a: int, b: int, c: int) -> float:
    """`_estimate_int` for three whole numbers, unrolled: most of the states a search scores
    (every child of the root) are of this kind. For each number x and the sum s and product
    p of the other two it asks whether one operation on (x, s) or (x, p) makes 24, written
    out for whole numbers >= 0 (x + s and x * p are the sum and product of all, asked first;
    x / v or v / x is 24 only when x != 0)."""
    if a + b + c == TARGET or a * b * c == TARGET:
        return 0.95
    for x, s, p in ((a, b + c, b * c), (b, a + c, a * c), (c, a + b, a * b)):
        if (x * s == TARGET or x - s == TARGET or s - x == TARGET
                or x + p == TARGET or x - p == TARGET or p - x == TARGET
                or (x and (x == TARGET * s or s == TARGET * x or x == TARGET * p
                           or p == TARGET * x))):
            return 0.85
    if a >= 1 and b >= 1 and c >= 1 and \
            (a if a > 2 else 2) * (b if b > 2 else 2) * (c if c > 2 else 2) < TARGET:
        return 0.02
    return _FRIENDLY_3[(a in _FRIENDLY) + (b in _FRIENDLY) + (c in _FRIENDLY)]


def _makes_with_rest3(an: int, ad: int, bn: int, bd: int, cn: int, cd: int) -> bool:
    """Whether some number x of three (numerators and positive denominators) and the sum s or
    the product p of the other two make 24 with one operation: `_makes_nd` on the six pairs,
    written out (x + s and x * p, the sum and product of all, are the caller's to ask)."""
    for xn, xd, sn, pn, vd in ((an, ad, bn * cd + cn * bd, bn * cn, bd * cd),
                               (bn, bd, an * cd + cn * ad, an * cn, ad * cd),
                               (cn, cd, an * bd + bn * ad, an * bn, ad * bd)):
        big, x = TARGET * xd * vd, xn * vd     # s and p share the denominator vd
        s, p = sn * xd, pn * xd
        if (xn * sn == big or x - s == big or s - x == big
                or x + p == big or x - p == big or p - x == big
                or (xn and (x == TARGET * s or s == TARGET * x or x == TARGET * p
                            or p == TARGET * x))):
            return True
    return False


def estimate(nums: Sequence[Fraction]) -> float:
    """A cheap, honest guess in [0, 1] that `nums` can still make 24 (no search).

    One number: exact. Two numbers: looks one operation ahead (6 results). Three or four: a few
    features only — the sum or product of all, a number whose complement to 24 is the sum or
    product of the others, an upper bound on what whole numbers can reach, and how many of
    the numbers divide 24. It is wrong in both directions, as a heuristic should be allowed to be.
    """
    n = len(nums)
    if n == 2:
        return 1.0 if _pair_makes(nums) else 0.0
    if n == 1:
        return 1.0 if nums[0] == TARGET else 0.0
    if n == 3:
        a, b, c = nums
        if type(a) is int and type(b) is int and type(c) is int:
            return _estimate_int3(a, b, c)
    else:
        for x in nums:
            if type(x) is not int:
                break
        else:
            return _estimate_int(nums)
    # Some number is a Fraction: the same features, cross-multiplied (numerator, denominator).
    nd = [(x, 1) if type(x) is int else (x.numerator, x.denominator) for x in nums]
    if n == 3:
        (an, ad), (bn, bd), (cn, cd) = nd
        big = TARGET * ad * bd * cd
        if an * bd * cd + bn * ad * cd + cn * ad * bd == big or an * bn * cn == big:
            return 0.95
        if _makes_with_rest3(an, ad, bn, bd, cn, cd):
            return 0.85
    else:
        for total in (_nd_sum(nd), _nd_prod(nd)):
            if total[0] == TARGET * total[1]:
                return 0.95
        for i, x in enumerate(nd):
            if i and x == nd[i - 1]:
                continue
            rest = nd[:i] + nd[i + 1:]
            if _makes(x, _nd_sum(rest)) or _makes(x, _nd_prod(rest)):
                return 0.85
    # (The bound for whole numbers >= 1 cannot apply: one of them is a Fraction.)
    friendly = whole = 0
    for x in nums:
        if type(x) is int:
            whole += 1
            friendly += x in _FRIENDLY
        else:    # a whole Fraction (not normalised to int) still counts as friendly
            friendly += x.denominator == 1 and x.numerator in _FRIENDLY
    return 0.1 + 0.3 * (friendly / n) + 0.1 * (whole / n)


class Game24HeuristicValue:
    """`estimate` on each state: cheap and honest, not a solver. Exact on one or two numbers
    (`types.ExactValue`): one operation either makes 24 or not."""

    deterministic = True   # the same state always gets the same value: no need to resample

    def evaluate(self, puzzle, states, *, rng: np.random.Generator) -> list[float]:
        return [estimate(s) for s in states]

    def exact(self, puzzle, state) -> float | None:
        if len(state) == 2:   # most of the calls (every child of a three-number state)
            a, b = state
            if type(a) is int and type(b) is int:   # (`_pair_makes` inlined: the hot path)
                made = _makes_int(a, b)
            else:
                made = _makes_nd(a.numerator, a.denominator, b.numerator, b.denominator)
            return 1.0 if made else 0.0
        return estimate(state) if len(state) < 2 else None

    def __repr__(self) -> str:
        return "Game24HeuristicValue()"


_new_step = tuple.__new__    # Step(...) without NamedTuple's keyword handling (hot path)


def _ratio(n: int, d: int):
    """n / d exactly for d > 0: an int when it divides, else a `Fraction` (as `div` gives)."""
    if d == 1:
        return n
    g = math.gcd(n, d)
    return n // d if g == d else Fraction(n // g, d // g)


def _steps_nd(lo, hi) -> list[Step]:
    """The steps on the pair lo <= hi when one of them is a Fraction: the same steps, in the
    same order, as for whole numbers, computed on numerators and denominators (one reduction
    per result instead of a `Fraction` operation and a `norm`)."""
    ln, ld = (lo, 1) if type(lo) is int else (lo.numerator, lo.denominator)
    hn, hd = (hi, 1) if type(hi) is int else (hi.numerator, hi.denominator)
    cross, lh = hn * ld, ln * hd
    make = _new_step
    steps = [make(Step, (hi, "+", lo, _ratio(cross + lh, hd * ld))),
             make(Step, (hi, "-", lo, _ratio(cross - lh, hd * ld))),
             make(Step, (hi, "*", lo, _ratio(hn * ln, hd * ld)))]
    if ln:
        steps.append(make(Step, (hi, "/", lo, _ratio(cross, lh))))
    if hn and cross != lh:
        steps.append(make(Step, (lo, "/", hi, _ratio(lh, cross))))
    return steps


def _le(a, b) -> bool:
    """a <= b for ints and Fractions, exactly, without `Fraction`'s generic comparison (which
    checks the other operand's type against the numbers ABCs on every call)."""
    if type(a) is int:
        return a <= b if type(b) is int else a * b.denominator <= b.numerator
    if type(b) is int:
        return a.numerator <= b * a.denominator
    return a.numerator * b.denominator <= b.numerator * a.denominator


def successors(state: State) -> list[tuple[Step, State]]:
    """Every legal step from `state` with the state it leads to, in one pass (the hot path of
    the heuristic policy; `legal_steps` and `apply` agree with it, see the tests).

    Each pair of values is taken once: the state is sorted, so a pair is a repeat exactly when
    its first number equals the one before it, or its second equals the one before it (and
    that one is not the first number of the pair)."""
    out: list[tuple[Step, State]] = []
    n = len(state)
    make = _new_step
    for i in range(n):
        lo = state[i]
        if i and lo == state[i - 1]:
            continue
        for j in range(i + 1, n):
            hi = state[j]                      # state is sorted: lo <= hi
            if j > i + 1 and hi == state[j - 1]:
                continue
            rest = state[:i] + state[i + 1:j] + state[j + 1:]
            if type(lo) is int and type(hi) is int:
                steps = [make(Step, (hi, "+", lo, hi + lo)), make(Step, (hi, "-", lo, hi - lo)),
                         make(Step, (hi, "*", lo, hi * lo))]
                if lo:
                    steps.append(make(Step, (hi, "/", lo, hi // lo if hi % lo == 0
                                             else Fraction(hi, lo))))
                if hi and hi != lo:
                    steps.append(make(Step, (lo, "/", hi, lo // hi if lo % hi == 0
                                             else Fraction(lo, hi))))
            else:
                steps = _steps_nd(lo, hi)
            if not rest:
                out += [(step, (step[3],)) for step in steps]
                continue
            if len(rest) == 1:   # three numbers (most expansions): the result goes before or after
                x = rest[0]
                for step in steps:
                    r = step[3]
                    first = r <= x if type(r) is type(x) is int else _le(r, x)
                    out.append((step, (r, x) if first else (x, r)))
                continue
            if len(rest) == 2:   # four numbers (every root): before, between or after the two
                x, y = rest      # (whole numbers: a root has nothing else)
                for step in steps:
                    r = step[3]
                    if type(r) is type(x) is type(y) is int:
                        nxt = (r, x, y) if r <= x else (x, r, y) if r <= y else (x, y, r)
                    else:
                        nxt = (r, x, y) if _le(r, x) else (x, r, y) if _le(r, y) else (x, y, r)
                    out.append((step, nxt))
                continue
            for step in steps:
                r = step[3]
                k = bisect_left(rest, r)
                out.append((step, rest[:k] + (r,) + rest[k:]))
    return out


class _ExpCache(dict):
    """exp(beta * v), memoised: `estimate` returns a handful of distinct values."""

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = beta

    def __missing__(self, v: float) -> float:
        self[v] = w = math.exp(self.beta * v)
        return w


class Game24HeuristicPolicy:
    """Every legal step, with prior proportional to exp(beta * estimate(next state))."""

    exhaustive = True

    def __init__(self, beta: float = 4.0) -> None:
        self.beta = beta
        self._weights = _ExpCache(beta)

    def propose(self, puzzle, state, *, k: int | None, rng: np.random.Generator):
        weight = self._weights
        if len(state) == 3:   # two-number children (most expansions): `estimate` is 1 or 0
            made, missed = weight[1.0], weight[0.0]
            out = [(step, made if _pair_makes(nxt) else missed, nxt)
                   for step, nxt in successors(state)]
        else:
            out = [(step, weight[estimate(nxt)], nxt) for step, nxt in successors(state)]
        return top_k(out, k)

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


@lru_cache(maxsize=None)
def _paths(nums: tuple) -> tuple[int, int]:
    """(solving, all) complete step sequences from `nums` under the step rules."""
    if len(nums) == 1:
        return (1 if nums[0] == TARGET else 0), 1
    wins = total = 0
    for step in Game24().legal_steps(nums):
        rest = _remove(nums, step.a, step.b)
        w, t = _paths(tuple(sorted(rest + [step.result])))
        wins, total = wins + w, total + t
    return wins, total


@lru_cache(maxsize=1)
def _ranked() -> dict[str, float]:
    """Solvable instance -> share of solving step paths (the project's difficulty measure)."""
    out = {}
    for text in Game24().instances():
        wins, total = _paths(tuple(int(x) for x in text.split()))
        if wins:
            out[text] = wins / total
    return out


def game24_tokens(state: State) -> list[str]:
    """See `Game24.learn_tokens`."""
    n = len(state)
    out = [f"n={n}"]
    if n == 1:
        return out + ["is24" if state[0] == TARGET else "not24"]
    nd = [(x, 1) if type(x) is int else (x.numerator, x.denominator) for x in state]
    if n == 2:
        out.append("one-op-24" if _makes_nd(*nd[0], *nd[1]) else "no-one-op-24")
    else:
        for name, total in (("sum", _nd_sum(nd)), ("prod", _nd_prod(nd))):
            if total[0] == TARGET * total[1]:
                out.append(f"{name}-is-24")
        for i, x in enumerate(nd):
            rest = nd[:i] + nd[i + 1:]
            for name, total in (("sum", _nd_sum(rest)), ("prod", _nd_prod(rest))):
                if _makes(x, total):
                    out.append(f"x-op-{name}-rest-is-24")
        if all(type(x) is int for x in state) and math.prod(max(x, 2) for x in state) < TARGET:
            out.append("bound-below-24")
    friendly = sum(1 for x in state if x in _FRIENDLY)
    out.append(f"friendly={friendly}/{n}")
    if any(type(x) is not int for x in state):
        out.append("fraction")
    results = set()
    for i in range(n):
        for j in range(i + 1, n):
            results |= _results(state[i], state[j])
    out.extend(sorted(f"pair-makes:{fmt(r)}" for r in results if r == TARGET or r in _FRIENDLY))
    return out


class Game24OracleValue:
    """Exact solvability as the value (1 or 0). For ablations only: it is a full solver."""

    deterministic = True   # the same state always gets the same value: no need to resample

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
        plain = _PLAIN.match(text) if isinstance(text, str) else None
        if plain:   # the usual form, "4 9 10 13" (every search parses it twice: start, verify)
            nums = [int(x) for x in plain.groups()]
            if all(LOW <= x <= HIGH for x in nums):
                return tuple(sorted(nums))
        if not isinstance(text, str) or not text.strip():
            raise ValueError("game24 instance is empty: give four numbers, e.g. '4 9 10 13'")
        body = _INPUT_LABEL.sub("", text.strip(), count=1)
        parts = number_list(body, f"game24 instance {short(text)}")
        for p in parts:
            if not p.isascii() or not p.isdigit():
                raise ValueError(f"game24 instance {short(text)}: {short(p)} is not a whole "
                                 f"number")
        if len(parts) != N_NUMBERS:
            raise ValueError(f"game24 instance {short(text)}: need {N_NUMBERS} numbers, got "
                             f"{len(parts)}")
        nums = [int(p) for p in parts]
        bad = [x for x in nums if not LOW <= x <= HIGH]
        if bad:
            raise ValueError(f"game24 instance {short(text)}: numbers must be {LOW}-{HIGH}, got "
                             f"{bad[0]}")
        return tuple(sorted(nums))

    def legal_steps(self, state: State) -> list[Step]:
        return [step for step, _ in successors(state)]

    def successors(self, state: State) -> list[tuple[Step, State]]:
        """Every legal step with its next state, in one pass (`types.Successors`)."""
        return successors(state)

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
        rest = list(state)
        try:
            rest.remove(step.a)
            rest.remove(step.b)
        except ValueError:
            raise ValueError(f"{step!r} is not legal from {self.render(state)}") from None
        rest.append(step.result)
        rest.sort()
        return tuple(rest)

    def is_solved(self, state: State) -> bool:
        return len(state) == 1 and state[0] == TARGET

    def is_dead_end(self, state: State) -> bool:
        return len(state) <= 1 and (not state or state[0] != TARGET)

    def render(self, state: State) -> str:
        return " ".join(fmt(x) for x in state)

    def render_step(self, state: State, step: Step) -> str:
        left = self.render(self.apply(state, step))
        return f"{fmt(step.a)} {step.op} {fmt(step.b)} = {fmt(step.result)} (left: {left})"

    def answer(self, initial: State, steps: Sequence[Step]) -> str:
        left = expressions(initial, steps, fmt)
        expr = left[0][1] if len(left) == 1 else " ".join(e for _, e in left)
        return f"{expr} = {fmt(TARGET)}"

    def verify(self, instance: str, answer: str) -> bool:
        try:
            nums = sorted(int(x) for x in self.parse_instance(instance))
        except (ValueError, TypeError):
            return False
        value, literals = evaluate_expression(answer)
        return value == TARGET and literals is not None and sorted(literals) == nums

    def propose_messages(self, state: State) -> list[dict]:
        """Chat messages asking a model for next steps (a one-shot prompt, ToT's step format)."""
        from .game24_prompts import propose_messages
        return propose_messages(self.render(state))

    prompt_field_names = ("numbers",)

    def prompt_fields(self, state: State) -> dict[str, str]:
        """{numbers}, for a user's prompt file: the numbers left, e.g. "4 9 10 13"."""
        return {"numbers": self.render(state)}

    def propose_grammar(self, state: State, *, min_lines: int = 4, lines: int = 8) -> str | None:
        """A GBNF grammar (llama.cpp) for the answer to `propose_messages(state)`: `min_lines` to
        `lines` lines `a op b = c`, where a and b are numbers of the state (two occurrences) and
        op one of + - * /. The result c is only held to the shape of a number (up to 4 digits, an
        optional /digits): the model still picks the numbers and the operation and computes c,
        and `parse_step` still checks it. None when fewer than two numbers are left. At least 4
        lines: left to choose, SmolLM2-135M stops after one or two (docs/llm.md)."""
        if len(state) < 2:
            return None
        texts = sorted({fmt(x) for x in state}, key=lambda t: (len(t), t))
        rules, firsts = [], []
        for i, a in enumerate(texts):
            others = [t for t in texts if t != a or sum(fmt(x) == a for x in state) > 1]
            if not others:
                continue
            name = f"b{i}"
            firsts.append(f'"{a} " op " " {name}')
            rules.append(f"{name} ::= " + " | ".join(f'"{b}"' for b in others))
        return "\n".join([
            f'root ::= step ("\\n" step){{{min_lines - 1},{lines - 1}}}',
            'step ::= pair " = " num',
            "pair ::= " + " | ".join(firsts),
            *rules,
            'op ::= "+" | "-" | "*" | "/"',
            'num ::= [0-9] [0-9]? [0-9]? [0-9]? ("/" [1-9] [0-9]? [0-9]?)?',
        ]) + "\n"

    def value_messages(self, state: State) -> list[dict]:
        """Chat messages asking a model to judge `state`: sure / likely / impossible."""
        from .game24_prompts import value_messages
        return value_messages(self.render(state))

    def learn_tokens(self, state: State) -> list[str]:
        """Structure tokens for the learned policy and value (`types.LearnTokens`): how many
        numbers are left, whether one operation makes 24 (two numbers: exact), the shapes the
        heuristic looks for (sum or product of all is 24, `x op (sum or product of the rest)`
        is 24, the whole-number bound below 24), the count of divisors of 24, and the numbers
        one operation on a pair can make. The model learns how much each is worth."""
        return game24_tokens(state)

    def heuristic_policy(self) -> Game24HeuristicPolicy:
        return Game24HeuristicPolicy()

    def heuristic_value(self) -> Game24HeuristicValue:
        return Game24HeuristicValue()

    def extra_values(self) -> dict:
        return {"oracle": Game24OracleValue}

    # -- instance sets --------------------------------------------------------------------------
    def named_sets(self) -> dict[str, str]:
        return {
            "all": "all 1362 solvable multisets of four numbers 1-13",
            "hard100": "the 100 solvable ones with the smallest share of solving step paths",
            "easy100": "the 100 solvable ones with the largest share of solving step paths",
            "unsolvable": "the 458 multisets of four numbers 1-13 that cannot make 24",
            "every": "all 1820 multisets of four numbers 1-13, solvable or not",
        }

    def instance_set(self, name: str) -> list[str]:
        every = list(self.instances())
        if name == "every":
            return every
        if name == "unsolvable":
            return [t for t in every if not solvable(self.parse_instance(t))]
        ranked = _ranked()
        if name == "all":
            return [t for t in every if t in ranked]
        if name == "hard100":
            return sorted(ranked, key=lambda t: (ranked[t], t))[:100]
        if name == "easy100":
            return sorted(ranked, key=lambda t: (-ranked[t], t))[:100]
        raise ValueError(f"unknown game24 set {name!r}; known: {', '.join(self.named_sets())}")

    def difficulty(self, instance: str) -> float:
        """1 - the share of complete step sequences that reach 24 (1.0 = unsolvable)."""
        wins, total = _paths(self.parse_instance(instance))
        return 1.0 - wins / total

    def generate(self, n: int, *, rng: np.random.Generator, level: str = "any") -> list[str]:
        """`n` solvable instances drawn with `rng`; `level` easy/medium/hard picks a difficulty
        tercile (by `difficulty`), any draws from all 1362."""
        ranked = _ranked()
        pool = sorted(ranked, key=lambda t: (-ranked[t], t))
        third = len(pool) // 3
        levels = {"easy": pool[:third], "medium": pool[third:2 * third], "hard": pool[2 * third:],
                  "any": sorted(pool)}
        if level not in levels:
            raise ValueError(f"unknown level {level!r}; known: {', '.join(levels)}")
        if n < 0:
            raise ValueError("n must be >= 0")
        chosen = levels[level]
        return [chosen[int(i)] for i in rng.choice(len(chosen), size=n, replace=n > len(chosen))]

    def instances(self) -> Iterator[str]:
        """Every multiset of four numbers 1-13 (solvable or not), in lexicographic order."""
        from itertools import combinations_with_replacement
        for combo in combinations_with_replacement(range(LOW, HIGH + 1), N_NUMBERS):
            yield " ".join(map(str, combo))

    def __repr__(self) -> str:
        return "Game24()"


# -- a safe arithmetic parser for final answers (never eval) -------------------------------------
def _rational(a, op: str, b):
    """Exact arithmetic for `verify`: any intermediate value, negatives included."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise ZeroDivisionError
    return div(a, b) if type(a) is int and type(b) is int else norm(Fraction(a) / b)


def evaluate_expression(text: str) -> tuple[Fraction | None, list[int] | None]:
    """Parse `expr [= 24]` with + - * / and parentheses over whole numbers (never eval).

    Returns (value, literals); (None, None) for anything malformed, including division by zero,
    unary minus, a right-hand side other than a single number equal to the left, or more than
    200 characters. Exact arithmetic throughout.
    """
    parsed = parse_answer(text, _rational, max_len=200)
    if parsed is None:
        return None, None
    value, literals, rhs = parsed
    if rhs:
        claimed = _parse_number(rhs)
        if claimed is None or claimed != value:
            return None, None
    return value, literals
