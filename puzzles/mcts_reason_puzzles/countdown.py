"""Countdown (the numbers round): reach a target from a handful of numbers with + - * /.

Instance text: the numbers, then `->`, then the target, e.g. `25 50 75 100 3 6 -> 952`; also the
forms of the public datasets (`[30, 100, 93] -> 23`, `Numbers: [30, 100, 93]` / `Target: 23`,
"Using the numbers [44, 19, 35], create an equation that equals 98", a JSON row
`{"nums": [44, 19, 35], "target": 98}`), see `read_instance`.

Rules (the TV rule, chosen here and enforced everywhere, `verify` included): every intermediate
result must be a positive whole number, so `a - b` needs `a > b` and `a / b` needs `b` to divide
`a` exactly. Arithmetic is on Python ints, which is exact: a division is only ever taken when it
is exact, so no fractions arise. Two rules for the numbers, chosen per instance:
  * `at-most-once` (the default, the TV show): each number is used at most once; not all numbers
    need be used;
  * `exactly-once` (the machine-learning datasets, e.g. Countdown-Tasks-3to4 as used by TinyZero
    and d1): every number is used exactly once. The instance text starts with `exactly-once:`
    (or states "exactly once" in the dataset sentence); the state carries the rule, so solving,
    `verify` and the heuristics all follow it.

States are a sorted tuple of the numbers left plus the target, so two step orders that leave the
same numbers are the same state. Steps use the Game of 24 format `a op b = c (left: x y z)`.
Solved: the target is among the numbers (at-most-once), or is the only number left
(exactly-once).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from mcts_reason.policies import top_k

from .arith import BULLET as _BULLET, expressions, number_list, parse_answer, short
from .arith import remove as _remove

SMALL = tuple(range(1, 11))          # two cards of each on the show
LARGE = (25, 50, 75, 100)            # one card of each
MAX_NUMBERS = 10
MAX_VALUE = 10**6                    # bound on instance numbers and target (keeps text sane)
AT_MOST_ONCE, EXACTLY_ONCE = "at-most-once", "exactly-once"
RULES = {AT_MOST_ONCE: "each number used at most once, not all needed",
         EXACTLY_ONCE: "every number used exactly once"}


@dataclass(frozen=True, slots=True)
class CountdownState:
    """The numbers left (sorted ascending), the target, and the rule: with `exact` every number
    must be used (exactly-once), else any subset may be (at-most-once)."""

    numbers: tuple[int, ...]
    target: int
    exact: bool = False

    @property
    def rule(self) -> str:
        return EXACTLY_ONCE if self.exact else AT_MOST_ONCE

    def __repr__(self) -> str:
        rule = f", {EXACTLY_ONCE}" if self.exact else ""
        return f"CountdownState({' '.join(map(str, self.numbers))} -> {self.target}{rule})"


@dataclass(frozen=True, slots=True)
class Step:
    """`a op b = result`; a and b are numbers of the state the step is taken from."""

    a: int
    op: str
    b: int
    result: int

    def __repr__(self) -> str:
        return f"Step({self.a} {self.op} {self.b} = {self.result})"


def combine(a: int, op: str, b: int) -> int | None:
    """a op b under the TV rule: None unless the result is a positive whole number."""
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        return a - b if a > b else None
    if op == "/":
        return a // b if b and a % b == 0 else None
    return None


def _pair_results(a: int, b: int) -> list[int]:
    """Every result of one legal operation on a and b (either order)."""
    hi, lo = (a, b) if a >= b else (b, a)
    out = [hi + lo, hi * lo]
    if hi > lo:
        out.append(hi - lo)
    if hi % lo == 0:
        out.append(hi // lo)
    return out


def upper_bound(numbers: Sequence[int]) -> int:
    """No expression over `numbers` exceeds prod(max(x, 2)): max(a op b, 2) <= max(a,2)*max(b,2)."""
    return math.prod(max(x, 2) for x in numbers)


# -- heuristics ---------------------------------------------------------------------------------
def _complements(x: int, t: int) -> list[int]:
    """The values c with x op c = t or c op x = t under the rule."""
    out = [t - x, x - t, t + x, t * x]
    if t % x == 0:
        out.append(t // x)
    if x % t == 0:
        out.append(x // t)
    return [c for c in out if c > 0]


def _pairs(numbers: tuple[int, ...]) -> dict[int, list[int]]:
    """One-operation results -> bitmasks of the two indices that make them."""
    out: dict[int, list[int]] = {}
    n = len(numbers)
    for i in range(n):
        a = numbers[i]
        for j in range(i + 1, n):
            for r in _pair_results(a, numbers[j]):
                out.setdefault(r, []).append(1 << i | 1 << j)
    return out


def _two_away(numbers, pairs: dict[int, list[int]], t: int) -> bool:
    """`x op (y op z) == t` for some distinct indices x, y, z."""
    for k, x in enumerate(numbers):
        bit = 1 << k
        for c in _complements(x, t):
            for m in pairs.get(c, ()):
                if not m & bit:
                    return True
    return False


def _three_away(numbers, pairs: dict[int, list[int]], t: int) -> bool:
    """`(a op b) op (c op d) == t`, or `x op v == t` with v made by two operations on others."""
    for r, masks in pairs.items():
        for c in _complements(r, t):
            for m2 in pairs.get(c, ()):
                if any(not m & m2 for m in masks):
                    return True
    chains: dict[int, list[int]] = {}               # y op (z op w): value -> index bitmasks
    for r, masks in pairs.items():
        for m in masks:
            for k, x in enumerate(numbers):
                if not m >> k & 1:
                    for v in _pair_results(r, x):
                        chains.setdefault(v, []).append(m | 1 << k)
    for k, x in enumerate(numbers):
        bit = 1 << k
        for c in _complements(x, t):
            for m3 in chains.get(c, ()):
                if not m3 & bit:
                    return True
    return False


@lru_cache(maxsize=1 << 17)
def estimate(numbers: tuple[int, ...], target: int, deep: bool = False,
             exact: bool = False) -> float:
    """A cheap guess in [0, 1] that `numbers` can still make `target`; never a full solve.

    Exact cases: solved (1), one number or the multiplicative upper bound below the target (0).
    Then look-ahead by pattern: one operation away (0.97), `x op (y op z)` (0.9), and with
    `deep` three-operation patterns (0.8). Otherwise a soft score in [0.1, 0.74] from how close
    the nearest number is to the target and how many numbers are left to adjust it with.
    With `exact` (every number used exactly once) see `_estimate_exact`.
    """
    if exact:
        return _estimate_exact(numbers, target, deep)
    t = target
    if t in numbers:
        return 1.0
    n = len(numbers)
    if n <= 1 or upper_bound(numbers) < t:
        return 0.0
    pairs = _pairs(numbers)
    if t in pairs:
        return 0.97
    if n >= 3 and _two_away(numbers, pairs, t):
        return 0.9
    if deep and n >= 4 and _three_away(numbers, pairs, t):
        return 0.8
    return _soft(numbers, t)


def _soft(numbers: tuple[int, ...], t: int) -> float:
    near = min(abs(x - t) for x in numbers)
    closeness = math.exp(-near / max(10.0, 0.05 * t))
    return 0.1 + 0.4 * closeness + 0.04 * min(len(numbers), 6)


def _estimate_exact(numbers: tuple[int, ...], t: int, deep: bool) -> float:
    """`estimate` when every number must be used. The patterns then have to cover all the numbers,
    which makes them complete, not only sound, for 2 and 3 numbers (and 4 with `deep`): every
    expression over 2, 3 or 4 numbers has one of those shapes, so the value is exact there (0 is
    a proof). With more numbers left, only the upper bound and the soft score."""
    n = len(numbers)
    if n == 1:
        return 1.0 if numbers[0] == t else 0.0
    if upper_bound(numbers) < t:
        return 0.0
    if n == 2:
        return 0.97 if t in _pair_results(*numbers) else 0.0
    if n == 3:
        return 0.9 if _two_away(numbers, _pairs(numbers), t) else 0.0
    if n == 4 and deep:
        return 0.8 if _three_away(numbers, _pairs(numbers), t) else 0.0
    return _soft(numbers, t)


def countdown_tokens(state: CountdownState) -> list[str]:
    """See `Countdown.learn_tokens`."""
    nums, t, n = state.numbers, state.target, len(state.numbers)
    out = [f"rule={state.rule}", f"n={n}"]
    if t in nums:
        out.append("target-there" + ("-alone" if n == 1 else ""))
    if not nums:
        return out
    if upper_bound(nums) < t:
        out.append("bound-below-target")
    pairs = _pairs(nums)
    if t in pairs:
        out.append("one-op-away")
    if n >= 3 and _two_away(nums, pairs, t):
        out.append("two-ops-away")
    near = min(abs(x - t) for x in nums)
    out.append(f"near={near.bit_length()}")
    out.append(f"near-rel={min(8, (16 * near // max(t, 1)).bit_length())}")
    out.append(f"near-n={near.bit_length()}/{n}")
    out.append("all-below" if max(nums) < t else "some-above")
    return out


class CountdownHeuristicValue:
    """`estimate` on each state: pattern look-ahead (three operations with `deep`), not a solver."""

    def __init__(self, deep: bool = True) -> None:
        self.deep = deep

    def evaluate(self, puzzle, states, *, rng: np.random.Generator) -> list[float]:
        return [estimate(s.numbers, s.target, self.deep, s.exact) for s in states]

    def __repr__(self) -> str:
        return f"CountdownHeuristicValue(deep={self.deep})"


class CountdownHeuristicPolicy:
    """Every legal step, prior proportional to exp(beta * estimate(next state, deep)).

    The three-operation patterns (`deep`) are what lets the default budget solve >= 99% of
    solvable show-style instances (benchmarks/); they are skipped when some child is already
    within two operations of the target, since the search goes there first anyway.
    """

    exhaustive = True

    def __init__(self, beta: float = 6.0, deep: bool = True) -> None:
        self.beta, self.deep = beta, deep

    def propose(self, puzzle, state, *, k: int | None, rng: np.random.Generator):
        steps = puzzle.legal_steps(state)
        nexts = [puzzle.apply(state, step) for step in steps]
        values = [estimate(s.numbers, s.target, False, s.exact) for s in nexts]
        if self.deep and (not values or max(values) < 0.9):
            # no child is within two operations of the target: look three deep
            values = [estimate(s.numbers, s.target, True, s.exact) for s in nexts]
        out = [(step, math.exp(self.beta * v)) for step, v in zip(steps, values)]
        return top_k(out, k)

    def __repr__(self) -> str:
        return f"CountdownHeuristicPolicy(beta={self.beta}, deep={self.deep})"


# -- an exact solver (for generating solvable sets and the oracle value) -------------------------
def reachable(numbers: Sequence[int], target: int, exact: bool = False) -> bool:
    """Exact: can some subset of `numbers` (with `exact`: all of them) make `target` under the rule?

    Dynamic programming over sub-multisets (by index bitmask): the set of values each proper
    subset can make, then one targeted check for the full set (complement look-ups instead of
    building its whole value set).
    """
    nums = list(numbers)
    n = len(nums)
    if n == 0:
        return False
    if n == 1 or (target in nums and not exact):
        return target in nums
    full = (1 << n) - 1
    values: dict[int, set[int]] = {1 << i: {nums[i]} for i in range(n)}
    for mask in sorted(range(1, full), key=lambda m: bin(m).count("1")):
        if mask in values:
            continue
        out: set[int] = set()
        low = mask & -mask                      # splits with `low` on the left: each once
        sub = (mask - 1) & mask
        while sub:
            if sub & low:
                rest = mask ^ sub
                for a in values[sub]:
                    for b in values[rest]:
                        out.update(_pair_results(a, b))
            sub = (sub - 1) & mask
        if target in out and not exact:
            return True
        values[mask] = out
    low = 1
    sub = (full - 1) & full
    while sub:
        if sub & low:
            left, right = values[sub], values[full ^ sub]
            small, big = (left, right) if len(left) <= len(right) else (right, left)
            for a in small:
                if any(c in big for c in _complements(a, target)):
                    return True
        sub = (sub - 1) & full
    return False


class CountdownOracleValue:
    """Exact solvability as the value (1 or 0). For ablations only: it is a full solver."""

    def evaluate(self, puzzle, states, *, rng: np.random.Generator) -> list[float]:
        return [1.0 if reachable(s.numbers, s.target, s.exact) else 0.0 for s in states]

    def __repr__(self) -> str:
        return "CountdownOracleValue()"


# -- parsing ------------------------------------------------------------------------------------
_SYMBOLS = str.maketrans({"×": "*", "x": "*", "X": "*", "∗": "*", "·": "*", "÷": "/",
                          "−": "-", "–": "-", "—": "-", "→": ">", "⇒": ">"})
_STEP = re.compile(r"^\s*(\d{1,15})\s*([-+*/])\s*(\d{1,15})\s*=\s*(\d{1,15})\s*"
                   r"(?:\(\s*(?:left|remaining)\s*:\s*([\d\s,]*)\)\s*)?\.?\s*$", re.IGNORECASE)
_INSTANCE = re.compile(r"^(?P<nums>[^>=]*?)\s*(?:->|=>|>)\s*(?P<target>[^>]*)$")
_RULE_PREFIX = re.compile(r"^\s*(at-most-once|exactly-once)\s*:\s*", re.IGNORECASE)
_RULE_WORDS = {AT_MOST_ONCE: re.compile(r"\bat\s+most\s+once\b", re.IGNORECASE),
               EXACTLY_ONCE: re.compile(r"\bexactly\s+once\b", re.IGNORECASE)}
# "Using the numbers [44, 19, 35], create an equation that equals 98" (TinyZero's and d1's
# prompt sentence; some wording varies, so a few verbs and nouns are allowed)
_SENTENCE = re.compile(
    r"\busing\s+(?:only\s+)?(?:the\s+|all\s+(?:of\s+)?the\s+)?numbers\s*:?\s*(?P<nums>\[[^\[\]]*\]|"
    r"[\d\s,]*\d)\s*,?\s*(?:create|make|write|form|find|build)\s+an?\s+(?:arithmetic\s+)?"
    r"(?:equation|expression)\s+that\s+(?:equals|evaluates\s+to|gives|makes|results\s+in)\s+"
    r"(?:exactly\s+)?(?P<target>\d+)\b", re.IGNORECASE)
_LABEL = re.compile(r"\b(numbers|nums|target)\s*:", re.IGNORECASE)


def read_instance(text: str) -> tuple[list[str], str, str | None]:
    """(number items, target item, rule or None) of an instance in any accepted form, still as
    text; ValueError (one line) when the form is not recognised or is ambiguous.

    Forms: `[exactly-once: | at-most-once:] BODY` where BODY is `numbers -> target` (the numbers
    space- or comma-separated, optionally in [...]), labelled `Numbers: [...]` and `Target: N`
    (on one line or several, either order), a JSON object with `nums` (or `numbers`) and `target`,
    or text holding one "Using the numbers [...], create an equation that equals N" sentence (the
    rest of such a prompt is ignored, except that "exactly once" / "at most once" in it sets the
    rule)."""
    what = f"countdown instance {short(text)}"
    rule = None
    if m := _RULE_PREFIX.match(text):
        rule = m.group(1).lower()
        text = text[m.end():]
    body = text.strip()
    if body.startswith("{"):
        nums, target = _read_json(body, what)
    elif sentences := list(_SENTENCE.finditer(body)):
        if len(sentences) > 1:
            raise ValueError(f"{what}: {len(sentences)} 'Using the numbers ...' sentences; give one")
        nums, target = number_list(sentences[0].group("nums"), what), sentences[0].group("target")
        said = [r for r, pat in _RULE_WORDS.items() if pat.search(body)]
        if len(said) > 1 or (said and rule and said[0] != rule):
            raise ValueError(f"{what}: the text names two rules (at most once and exactly once)")
        rule = rule or (said[0] if said else None)
    elif _LABEL.search(body):
        nums, target = _read_labelled(body, what)
    else:
        m = _INSTANCE.match(body.translate(_SYMBOLS))
        if not m:
            raise ValueError(f"{what}: expected 'numbers -> target', e.g. '25 50 75 100 3 6 -> "
                             f"952' (or 'Numbers: [...]' and 'Target: N')")
        nums, target = number_list(m.group("nums"), what), m.group("target").strip()
    return nums, target, rule


def _read_labelled(body: str, what: str) -> tuple[list[str], str]:
    """`Numbers: [30, 100, 93]` and `Target: 23`, each once, in either order."""
    marks = list(_LABEL.finditer(body))
    if body[:marks[0].start()].strip():
        raise ValueError(f"{what}: unexpected text before {marks[0].group(0)!r}")
    fields: dict[str, str] = {}
    for m, nxt in zip(marks, marks[1:] + [None]):
        key = "target" if m.group(1).lower() == "target" else "numbers"
        if key in fields:
            raise ValueError(f"{what}: {key!r} is given twice")
        fields[key] = body[m.end():nxt.start() if nxt else len(body)].strip().rstrip(",;.").strip()
    if "numbers" not in fields or "target" not in fields:
        missing = "Target:" if "numbers" in fields else "Numbers:"
        raise ValueError(f"{what}: no {missing!r}")
    return number_list(fields["numbers"], what), fields["target"]


def _read_json(body: str, what: str) -> tuple[list[str], str]:
    """A dataset row such as `{"target": 98, "nums": [44, 19, 35]}`."""
    try:
        row = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError(f"{what}: not valid JSON") from None
    if not isinstance(row, dict):
        raise ValueError(f"{what}: expected a JSON object with 'nums' and 'target'")
    keys = [k for k in ("nums", "numbers") if k in row]
    if len(keys) != 1 or "target" not in row:
        raise ValueError(f"{what}: a JSON row needs 'target' and one of 'nums' or 'numbers'")
    nums, target = row[keys[0]], row["target"]
    if not isinstance(nums, list) or not all(type(x) is int for x in nums) \
            or type(target) is not int:
        raise ValueError(f"{what}: 'nums' must be a list of whole numbers and 'target' one")
    return [str(x) for x in nums], str(target)


# -- the puzzle ---------------------------------------------------------------------------------
class Countdown:
    """Countdown's numbers round as a `mcts_reason.types.Puzzle`."""

    name = "countdown"
    description = ("Countdown: reach the target from the numbers with + - * / "
                   "(positive whole intermediate results, each number at most once; "
                   "'exactly-once: ...' for every number exactly once).")

    def parse_instance(self, text: str) -> CountdownState:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("countdown instance is empty: give numbers and a target, "
                             "e.g. '25 50 75 100 3 6 -> 952'")
        if len(text) > 5000:
            raise ValueError("countdown instance is too long (over 5000 characters)")
        parts, target_text, rule = read_instance(text)
        what = f"countdown instance {short(text)}"
        for p in parts + [target_text]:
            if not p.isascii() or not p.isdigit():
                raise ValueError(f"{what}: {short(p)} is not a whole number")
        if not 1 <= len(parts) <= MAX_NUMBERS:
            raise ValueError(f"{what}: need 1-{MAX_NUMBERS} numbers, got {len(parts)}")
        if any(len(p) > 7 for p in parts + [target_text]):
            raise ValueError(f"{what}: numbers and target must be 1-{MAX_VALUE}")
        nums = [int(p) for p in parts]
        target = int(target_text)
        for x in nums + [target]:
            if not 1 <= x <= MAX_VALUE:
                raise ValueError(f"{what}: numbers and target must be 1-{MAX_VALUE}, got {x}")
        return CountdownState(tuple(sorted(nums)), target, rule == EXACTLY_ONCE)

    def instance_rules(self, state: CountdownState) -> dict[str, str]:
        """The rule this instance is played under, for `solve`'s output and `bench` records."""
        return {"rule": state.rule}

    def legal_steps(self, state: CountdownState) -> list[Step]:
        steps: list[Step] = []
        nums = state.numbers
        seen: set[tuple[int, int]] = set()
        for i in range(len(nums)):
            for j in range(i + 1, len(nums)):
                lo, hi = nums[i], nums[j]          # sorted: lo <= hi
                if (lo, hi) in seen:
                    continue
                seen.add((lo, hi))
                steps.append(Step(hi, "+", lo, hi + lo))
                if hi > lo:
                    steps.append(Step(hi, "-", lo, hi - lo))
                steps.append(Step(hi, "*", lo, hi * lo))
                if hi % lo == 0:
                    steps.append(Step(hi, "/", lo, hi // lo))
        return steps

    def parse_step(self, state: CountdownState, text: str) -> Step | None:
        try:
            return self._parse_step(state, text)
        except (ValueError, TypeError, AttributeError):     # never raise on model output
            return None

    def _parse_step(self, state: CountdownState, text: str) -> Step | None:
        if not isinstance(text, str) or len(text) > 200:
            return None
        text = _BULLET.sub("", text.translate(_SYMBOLS), count=1)
        m = _STEP.match(text)
        if not m:
            return None
        a, op, b, result = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        if combine(a, op, b) != result:
            return None
        rest = _remove(state.numbers, a, b)
        if rest is None:
            return None
        if m.group(5) is not None:
            left = [t for t in re.split(r"[\s,]+", m.group(5).strip()) if t]
            if sorted(int(t) for t in left) != sorted(rest + [result]):
                return None
        return Step(a, op, b, result)

    def apply(self, state: CountdownState, step: Step) -> CountdownState:
        rest = _remove(state.numbers, step.a, step.b)
        if rest is None or combine(step.a, step.op, step.b) != step.result:
            raise ValueError(f"{step!r} is not legal from {self.render(state)}")
        rest.append(step.result)
        return CountdownState(tuple(sorted(rest)), state.target, state.exact)

    def is_solved(self, state: CountdownState) -> bool:
        if state.exact:
            return state.numbers == (state.target,)
        return state.target in state.numbers

    def is_dead_end(self, state: CountdownState) -> bool:
        """One number that is not the target, or the target above every reachable value (the
        bound holds for expressions over all the numbers as well as over a subset)."""
        if self.is_solved(state):
            return False
        return len(state.numbers) <= 1 or upper_bound(state.numbers) < state.target

    def render(self, state: CountdownState) -> str:
        prefix = f"{EXACTLY_ONCE}: " if state.exact else ""
        return f"{prefix}{' '.join(map(str, state.numbers))} -> {state.target}"

    def render_step(self, state: CountdownState, step: Step) -> str:
        left = " ".join(map(str, self.apply(state, step).numbers))
        return f"{step.a} {step.op} {step.b} = {step.result} (left: {left})"

    def answer(self, initial: CountdownState, steps: Sequence[Step]) -> str:
        """`expression = target` for the target number (the last one made, if several)."""
        pool = expressions(initial.numbers, steps)
        hits = [e for v, e in pool if v == initial.target]
        expr = hits[-1] if hits else " ".join(e for _, e in pool)
        return f"{expr} = {initial.target}"

    def verify(self, instance: str, answer: str) -> bool:
        """True when `answer` is `expr [= target]` whose value is the target, whose literals are a
        sub-multiset of the numbers (exactly-once: the whole multiset), and whose every
        sub-expression is a positive whole number."""
        try:
            state = self.parse_instance(instance)
        except (ValueError, TypeError):
            return False
        value, literals = evaluate_expression(answer)
        if value is None or value != state.target or literals is None:
            return False
        rest = _remove(state.numbers, *literals)
        return rest is not None and not (state.exact and rest)

    def learn_tokens(self, state: CountdownState) -> list[str]:
        """Structure tokens for the learned policy and value (`types.LearnTokens`): the rule,
        how many numbers are left, whether the target is there, one operation or an
        `x op (y op z)` pattern away, or above what the numbers can reach, and how far (in
        powers of two, absolute and relative to the target) the nearest number is."""
        return countdown_tokens(state)

    def heuristic_policy(self) -> CountdownHeuristicPolicy:
        return CountdownHeuristicPolicy()

    def heuristic_value(self) -> CountdownHeuristicValue:
        return CountdownHeuristicValue()

    def extra_values(self) -> dict:
        return {"oracle": CountdownOracleValue}

    # -- instance sets ----------------------------------------------------------------------------
    def generate(self, n: int, *, rng: np.random.Generator, count: int = 6,
                 large: int | None = None, target_low: int = 100, target_high: int = 999,
                 solvable: bool = True, exact: bool = False,
                 uniform: tuple[int, int] | None = None) -> list[str]:
        """`n` instances dealt as on the show: `large` cards from 25/50/75/100 (random 0-4 when
        None) and the rest from two each of 1-10; target uniform in [target_low, target_high].
        Difficulty knobs: `count` (more numbers: wider and deeper tree) and the target range.
        With `solvable` only instances the exact solver can make are kept. `exact` writes
        exactly-once instances (and checks solvability under that rule); `uniform=(c, hi)`
        instead draws between `count` and `c` numbers uniformly from 1-`hi`, as the
        machine-learning datasets do."""
        if uniform is not None:
            return self._generate_uniform(n, rng, count, uniform, target_low, target_high,
                                          solvable, exact)
        if n < 0 or not 1 <= count <= MAX_NUMBERS:
            raise ValueError(f"need n >= 0 and 1 <= count <= {MAX_NUMBERS}")
        if not 1 <= target_low <= target_high <= MAX_VALUE:
            raise ValueError(f"need 1 <= target_low <= target_high <= {MAX_VALUE}")
        if large is not None and not 0 <= large <= min(len(LARGE), count):
            raise ValueError(f"large must be 0-{min(len(LARGE), count)}")
        if count - (large or 0) > 2 * len(SMALL):
            raise ValueError("not enough small cards for that many numbers")
        out: list[str] = []
        small_deck = list(SMALL) * 2
        tries = 0
        while len(out) < n:
            tries += 1
            if tries > 1000 * (n + 1):
                raise ValueError("could not generate enough solvable instances with those knobs")
            k = int(rng.integers(0, min(len(LARGE), count) + 1)) if large is None else large
            k = max(k, count - len(small_deck))
            bigs = [LARGE[i] for i in rng.choice(len(LARGE), size=k, replace=False)]
            smalls = [small_deck[i] for i in rng.choice(len(small_deck), size=count - k,
                                                          replace=False)]
            target = int(rng.integers(target_low, target_high + 1))
            nums = sorted(smalls) + sorted(bigs)
            if target in nums:                  # solved before the first step: not a puzzle
                continue
            if solvable and not reachable(nums, target, exact):
                continue
            out.append(_instance_text(nums, target, exact))
        return out

    def _generate_uniform(self, n, rng, count, uniform, target_low, target_high, solvable,
                          exact) -> list[str]:
        most, high = uniform
        if n < 0 or not 1 <= count <= most <= MAX_NUMBERS or not 1 <= high <= MAX_VALUE:
            raise ValueError(f"need n >= 0, 1 <= count <= uniform[0] <= {MAX_NUMBERS} and "
                             f"1 <= uniform[1] <= {MAX_VALUE}")
        if not 1 <= target_low <= target_high <= MAX_VALUE:
            raise ValueError(f"need 1 <= target_low <= target_high <= {MAX_VALUE}")
        out: list[str] = []
        for _ in range(1000 * (n + 1)):
            if len(out) == n:
                return out
            k = int(rng.integers(count, most + 1))
            nums = sorted(int(x) for x in rng.integers(1, high + 1, size=k))
            target = int(rng.integers(target_low, target_high + 1))
            if target in nums or (solvable and not reachable(nums, target, exact)):
                continue
            out.append(_instance_text(nums, target, exact))
        raise ValueError("could not generate enough solvable instances with those knobs")

    _SETS = {
        "easy": ("20 solvable instances: 4 numbers (1-10 and 25/50/75/100), target 10-99",
                 dict(n=20, seed=1, count=4, target_low=10, target_high=99)),
        "standard": ("50 solvable instances as on the show: 6 numbers, target 100-999",
                     dict(n=50, seed=2, count=6)),
        "unfiltered": ("50 instances as on the show, solvable or not",
                       dict(n=50, seed=3, count=6, solvable=False)),
        "exact3to4": ("20 solvable exactly-once instances in the style of Countdown-Tasks-3to4: "
                      "3-4 numbers from 1-99, target 10-99, every number used exactly once",
                      dict(n=20, seed=4, count=3, uniform=(4, 99), target_low=10,
                           target_high=99, exact=True)),
    }

    def named_sets(self) -> dict[str, str]:
        return {name: desc for name, (desc, _) in self._SETS.items()}

    def instance_set(self, name: str) -> list[str]:
        if name not in self._SETS:
            raise ValueError(f"unknown countdown set {name!r}; known: {', '.join(self._SETS)}")
        kw = dict(self._SETS[name][1])
        n, seed = kw.pop("n"), kw.pop("seed")
        return self.generate(n, rng=np.random.default_rng(seed), **kw)

    # -- LLM prompts ------------------------------------------------------------------------------
    prompt_field_names = ("numbers", "target")

    def prompt_fields(self, state: CountdownState) -> dict[str, str]:
        """{numbers} and {target}, for a user's prompt file."""
        return {"numbers": " ".join(map(str, state.numbers)), "target": str(state.target)}

    def propose_messages(self, state: CountdownState) -> list[dict]:
        nums = " ".join(map(str, state.numbers))
        return [
            {"role": "system", "content":
                "You are playing the Countdown numbers game. Combine two of the numbers with "
                "+, -, * or / to get a new number. Every result must be a positive whole number "
                "(no fractions, no zero or negatives). "
                + ("Every number must be used exactly once: the target must be the last number "
                   "left. " if state.exact else
                   "Each number can be used once; not all numbers need be used. ")
                + "The goal is to make the target."},
            {"role": "user", "content":
                f"Numbers: {nums}\nTarget: {state.target}\n"
                "List several possible next steps, one per line, in exactly this format:\n"
                "a op b = c (left: remaining numbers)\n"
                "Example with numbers 3 6 25 100 and target 306: "
                "100 * 3 = 300 (left: 6 25 300)\n"
                "Write only the steps."},
        ]

    def value_messages(self, state: CountdownState) -> list[dict]:
        nums = " ".join(map(str, state.numbers))
        return [
            {"role": "system", "content":
                "You judge positions in the Countdown numbers game: can the target be made from "
                "the numbers with + - * / (positive whole intermediate results, "
                f"{RULES[state.rule]})?"},
            {"role": "user", "content":
                f"Numbers: {nums}\nTarget: {state.target}\n"
                "Think briefly (try a few combinations, note how close the numbers get), then "
                "end with one word on its own line: sure, likely or impossible."},
        ]

    def __repr__(self) -> str:
        return "Countdown()"


def _instance_text(nums, target: int, exact: bool) -> str:
    prefix = f"{EXACTLY_ONCE}: " if exact else ""
    return f"{prefix}{' '.join(map(str, nums))} -> {target}"


# -- a safe arithmetic parser for final answers (never eval) -------------------------------------
def _tv_rule(a: int, op: str, b: int) -> int:
    r = combine(a, op, b)
    if r is None:
        raise ArithmeticError(f"{a} {op} {b} breaks the rule")
    return r


def evaluate_expression(text: str) -> tuple[int | None, list[int] | None]:
    """Parse `expr [= n]` with + - * / and parentheses over whole numbers, under the TV rule.

    Returns (value, literals); (None, None) for anything malformed: a sub-expression that is not a
    positive whole number (a - b <= 0, an inexact division), unary minus, a right-hand side other
    than the value, or more than 300 characters. Exact (int) arithmetic throughout.
    """
    parsed = parse_answer(text, _tv_rule, max_len=300)
    if parsed is None or parsed[0] <= 0:
        return None, None
    value, literals, rhs = parsed
    if rhs and (not rhs.isascii() or not rhs.isdigit() or len(rhs) > 15 or int(rhs) != value):
        return None, None
    return value, literals
