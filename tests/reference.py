"""Independent references for the tests: written from the rules, sharing no code with puzzles/."""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from itertools import combinations_with_replacement


def _ops(a: Fraction, b: Fraction) -> list[Fraction]:
    out = [a + b, a - b, b - a, a * b]
    if b != 0:
        out.append(a / b)
    if a != 0:
        out.append(b / a)
    return out


@lru_cache(maxsize=None)
def can_make_24(nums: tuple[Fraction, ...]) -> bool:
    """The textbook exhaustive solver: any pair, any operation, negatives allowed."""
    if len(nums) == 1:
        return nums[0] == 24
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            rest = nums[:i] + nums[i + 1:j] + nums[j + 1:]
            for r in _ops(nums[i], nums[j]):
                if can_make_24(tuple(sorted(rest + (r,)))):
                    return True
    return False


def all_multisets() -> list[tuple[int, ...]]:
    return list(combinations_with_replacement(range(1, 14), 4))


def solvable_multisets() -> list[tuple[int, ...]]:
    return [m for m in all_multisets() if can_make_24(tuple(Fraction(x) for x in m))]


def is_legal_step(numbers: list[Fraction], a: Fraction, op: str, b: Fraction,
                  result: Fraction) -> bool:
    """The step rules: a and b available (with multiplicity), exact result, no negative result,
    no division by zero."""
    pool = list(numbers)
    for x in (a, b):
        if x not in pool:
            return False
        pool.remove(x)
    if op == "+":
        value = a + b
    elif op == "-":
        value = a - b
    elif op == "*":
        value = a * b
    elif op == "/":
        if b == 0:
            return False
        value = a / b
    else:
        return False
    return value == result and value >= 0


def countdown_exact(nums: list[int], target: int) -> str | None:
    """Countdown with every number used exactly once: an expression over *all* of `nums` equal to
    `target`, every intermediate a positive whole number, or None. Plain exhaustive recursion
    (combine any two, recurse until one number is left), written from the rules."""
    seen: set[tuple[int, ...]] = set()

    def go(items: list[tuple[int, str]]) -> str | None:
        if len(items) == 1:
            return items[0][1] if items[0][0] == target else None
        key = tuple(sorted(v for v, _ in items))
        if key in seen:
            return None
        seen.add(key)
        for i in range(len(items)):
            for j in range(len(items)):
                if i == j:
                    continue
                (a, ea), (b, eb) = items[i], items[j]
                rest = [it for k, it in enumerate(items) if k not in (i, j)]
                outs = [(a + b, "+"), (a * b, "*")]
                if a > b:
                    outs.append((a - b, "-"))
                if b and a % b == 0:
                    outs.append((a // b, "/"))
                for v, op in outs:
                    found = go(rest + [(v, f"({ea} {op} {eb})")])
                    if found is not None:
                        return found
        return None

    return go([(x, str(x)) for x in nums])
