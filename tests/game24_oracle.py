"""An independent Game of 24 reference for tests: brute force over Fractions, its own parser.

Used by the scripted server to answer propose/value prompts correctly (a perfect "model"), so
that tests can tell the engine's plumbing from a model's mistakes.
"""
from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from itertools import combinations

OPS = "+-*/"


def _fmt(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def moves(nums: tuple) -> list[tuple[str, tuple]]:
    """(step text in ToT format, numbers left) for every legal step (non-negative results)."""
    out = []
    for i, j in combinations(range(len(nums)), 2):
        a, b = max(nums[i], nums[j]), min(nums[i], nums[j])
        rest = [x for k, x in enumerate(nums) if k not in (i, j)]
        cands = [(a, "+", b, a + b), (a, "-", b, a - b), (a, "*", b, a * b)]
        if b:
            cands.append((a, "/", b, a / b))
        for x, op, y, r in cands:
            left = tuple(sorted(rest + [r]))
            out.append((f"{_fmt(x)} {op} {_fmt(y)} = {_fmt(r)} (left: "
                        f"{' '.join(_fmt(v) for v in left)})", left))
    return out


@lru_cache(maxsize=None)
def solvable(nums: tuple) -> bool:
    if len(nums) == 1:
        return nums[0] == 24
    return any(solvable(left) for _, left in moves(nums))


def numbers_in_prompt(content: str, marker: str = "Input:") -> tuple:
    """The numbers of the last `Input:` line (propose prompt)."""
    line = [ln for ln in content.splitlines() if ln.startswith(marker)][-1]
    return tuple(sorted(Fraction(t) for t in line[len(marker):].split()))


def numbers_last_line(content: str) -> tuple:
    """The numbers on the prompt's last non-empty line (value prompt)."""
    line = [ln for ln in content.strip().splitlines() if ln.strip()][-1]
    return tuple(sorted(Fraction(t) for t in line.split()))


def good_proposals(nums: tuple) -> list[str]:
    """Steps to solvable states first, then the rest."""
    ms = moves(nums)
    return [t for t, left in ms if solvable(left)] + [t for t, left in ms if not solvable(left)]


GAME24_PROMPT = re.compile(r"Possible next steps:\s*$")
