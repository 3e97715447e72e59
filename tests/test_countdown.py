"""Countdown: rules, parsing, verification and search, checked against an independent reference.

The reference solver below is a memoised depth-first search over states that carries the
expression text along; it shares no code with puzzles/mcts_reason_puzzles/countdown.py (whose exact solver is a
dynamic programme over sub-multisets), so agreement between the two means something.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.cli import cli
from mcts_reason.registry import load
from mcts_reason.types import Policy, Puzzle, ValueFunction
from mcts_reason_puzzles.countdown import Countdown, CountdownState, estimate, reachable

P = Countdown()
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- independent reference ------------------------------------------------------------------------
def ref_solve(nums: list[int], target: int) -> str | None:
    """An expression over a sub-multiset of `nums` equal to `target` with every intermediate a
    positive whole number, or None when there is none. Exhaustive, memoised on the value multiset."""
    dead: set[tuple[int, ...]] = set()

    def go(items: list[tuple[int, str]]) -> str | None:
        for v, e in items:
            if v == target:
                return e
        key = tuple(sorted(v for v, _ in items))
        if key in dead:
            return None
        for i, j in itertools.combinations(range(len(items)), 2):
            (a, ea), (b, eb) = items[i], items[j]
            if a < b:
                (a, ea), (b, eb) = (b, eb), (a, ea)
            rest = [it for k, it in enumerate(items) if k not in (i, j)]
            outs = [(a + b, f"({ea} + {eb})"), (a * b, f"({ea} * {eb})")]
            if a - b > 0:
                outs.append((a - b, f"({ea} - {eb})"))
            if a % b == 0:
                outs.append((a // b, f"({ea} / {eb})"))
            for v, e in outs:
                found = go(rest + [(v, e)])
                if found is not None:
                    return found
        dead.add(key)
        return None

    return go([(x, str(x)) for x in nums])


def ref_successors(nums: tuple[int, ...]) -> set[tuple[int, ...]]:
    out = set()
    for i, j in itertools.combinations(range(len(nums)), 2):
        a, b = max(nums[i], nums[j]), min(nums[i], nums[j])
        rest = [x for k, x in enumerate(nums) if k not in (i, j)]
        for v in (a + b, a * b, a - b if a > b else None, a // b if a % b == 0 else None):
            if v is not None:
                out.add(tuple(sorted(rest + [v])))
    return out


def parse(inst: str) -> tuple[list[int], int]:
    left, right = inst.split("->")
    return [int(x) for x in left.split()], int(right)


def random_instances(seed: int, n: int, count: int, hi: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"{' '.join(str(int(x)) for x in rng.integers(1, 14, size=count))} -> "
            f"{int(rng.integers(1, hi))}" for _ in range(n)]


MIXED = random_instances(7, 60, 4, 400) + random_instances(8, 25, 5, 1000)


# -- protocol and registration --------------------------------------------------------------------
def test_registered_and_protocols():
    p = load("countdown")
    assert isinstance(p, Countdown) and isinstance(p, Puzzle)
    assert isinstance(p.heuristic_policy(), Policy)
    assert isinstance(p.heuristic_value(), ValueFunction)
    assert p.heuristic_policy().exhaustive is True
    s = p.parse_instance("25 50 75 100 3 6 -> 952")
    assert s == CountdownState((3, 6, 25, 50, 75, 100), 952) and hash(s) == hash(
        p.parse_instance("3, 6, 25, 50, 75, 100 -> 952"))
    assert "952" in repr(s) and repr(p) == "Countdown()"
    assert p.render(s) == "3 6 25 50 75 100 -> 952"
    assert p.parse_instance(p.render(s)) == s


# -- the exact solver and verify agree with the reference ------------------------------------------
def test_reachable_agrees_with_reference_and_verify():
    kinds = set()
    for inst in MIXED + P.instance_set("unfiltered")[:10]:
        nums, target = parse(inst)
        expr = ref_solve(nums, target)
        assert reachable(nums, target) == (expr is not None), inst
        kinds.add(expr is not None)
        if expr is not None:
            assert P.verify(inst, f"{expr} = {target}"), (inst, expr)
            assert P.verify(inst, expr)
    assert kinds == {True, False}          # the sample really mixes solvable and unsolvable


@pytest.mark.parametrize("answer,ok", [
    ("(100 + 6) * 3 * 75 = 23850", False),                 # wrong target
    ("((100 + 6) * 3 * 75 - 50) / 25 = 952", True),
    ("((100 + 6) * 3 * 75 - 50) / 25", True),
    ("(100 + 6) × 3 × 75 − 50) / 25 = 952", False),        # unbalanced
    ("((100 + 6) × 3 × 75 − 50) ÷ 25 = 952", True),        # unicode operators
    ("((100 + 6) * 3 * 75 - 50) / 25 = 953", False),       # claimed value wrong
    ("((100 + 6) * 6 * 75 - 50) / 25 = ...", False),
    ("((100 + 100) * 3) = 600", False),                    # 100 used twice
    ("7 * 136 = 952", False),                              # numbers not in the instance
    ("-50 + 1002 = 952", False),                           # unary minus
    ("__import__('os') = 952", False),
    ("", False),
    ("952", False),                                        # not in the numbers
])
def test_verify_cases(answer, ok):
    assert P.verify("25 50 75 100 3 6 -> 952", answer) is ok


def test_verify_enforces_whole_positive_intermediates():
    # 7 / 2 * 2 = 7 in rational arithmetic, but 7 / 2 is not a whole number
    assert not P.verify("2 7 -> 7", "7 / 2 * 2 = 7")
    assert P.verify("2 7 -> 7", "7 = 7")
    assert not P.verify("3 5 10 -> 8", "(3 - 5) + 10 = 8")     # negative intermediate
    assert P.verify("3 5 10 -> 8", "10 - (5 - 3) = 8")
    assert not P.verify("4 4 9 -> 9", "(4 - 4) + 9 = 9")       # zero intermediate
    assert not P.verify("not an instance", "1 = 1")
    assert not P.verify("1 2 -> 3", None)  # type: ignore[arg-type]


# -- rules ------------------------------------------------------------------------------------------
def test_legal_steps_match_reference_successors():
    for inst in MIXED[:30] + ["1 1 2 2 -> 50", "25 50 75 100 3 6 -> 952"]:
        s = P.parse_instance(inst)
        got = {P.apply(s, st_).numbers for st_ in P.legal_steps(s)}
        assert got == ref_successors(s.numbers), inst
        for step in P.legal_steps(s):
            assert step.result > 0
            assert P.parse_step(s, P.render_step(s, step)) == step


def test_solved_and_dead_end_are_sound():
    s = P.parse_instance("1 2 3 -> 3")
    assert P.is_solved(s) and not P.is_dead_end(s)
    assert P.is_dead_end(P.parse_instance("4 -> 5"))
    assert P.is_dead_end(P.parse_instance("1 1 1 -> 9"))       # bound: 2 * 2 * 2 = 8 < 9
    assert not P.is_dead_end(P.parse_instance("1 1 1 -> 8")) or ref_solve([1, 1, 1], 8) is None
    for inst in MIXED:
        nums, target = parse(inst)
        s = P.parse_instance(inst)
        if P.is_dead_end(s):
            assert ref_solve(nums, target) is None, inst


def test_estimate_pattern_claims_are_exact():
    """The look-ahead levels (>= 0.8) claim a solution exists; 0 claims none does."""
    for inst in MIXED + P.instance_set("unfiltered")[:8]:
        nums, target = parse(inst)
        v = estimate(tuple(sorted(nums)), target, True)
        assert 0.0 <= v <= 1.0
        if v >= 0.8:
            assert ref_solve(nums, target) is not None, inst
        if v == 0.0:
            assert ref_solve(nums, target) is None, inst


def test_deep_estimate_is_complete_for_four_numbers():
    """With four numbers any solution takes at most three operations, so the three-operation
    patterns must find every solvable instance (and the two-operation ones every 3-number one)."""
    for inst in MIXED:
        nums, target = parse(inst)
        if len(nums) != 4 or target in nums:
            continue
        solvable = ref_solve(nums, target) is not None
        assert (estimate(tuple(sorted(nums)), target, True) >= 0.8) == solvable, inst
        three = tuple(sorted(nums[:3]))
        assert (estimate(three, target) >= 0.9) == (ref_solve(list(three), target) is not None)


# -- parsing --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "100 * 3 = 300 (left: 6 25 50 75 300)",
    "100 x 3 = 300",
    "100 × 3 = 300 (left: 6, 25, 50, 75, 300).",
    "- 100 * 3 = 300",
    "2. 100*3=300",
    "Step 1: 100 * 3 = 300 (remaining: 6 25 50 75 300)",
    "3 * 100 = 300",
])
def test_parse_step_tolerant(text):
    s = P.parse_instance("25 50 75 100 3 6 -> 952")
    step = P.parse_step(s, text)
    assert step is not None and step.result == 300 and {step.a, step.b} == {100, 3}


@pytest.mark.parametrize("text", [
    "100 * 3 = 301",                             # wrong arithmetic
    "100 * 4 = 400",                             # 4 not available
    "3 - 6 = -3",                                # negative
    "6 - 6 = 0",                                 # 6 only once, and zero
    "75 / 6 = 12",                               # inexact division
    "100 * 3 = 300 (left: 6 25 50 75)",          # wrong left list
    "100 * 3",
    "",
    "100 * 3 = 300 = 300",
])
def test_parse_step_rejects(text):
    s = P.parse_instance("25 50 75 100 3 6 -> 952")
    assert P.parse_step(s, text) is None


@pytest.mark.parametrize("text,msg", [
    ("", "empty"),
    ("25 50 75 100 3 6", "numbers -> target"),
    ("25 50 x 3 -> 952", "not a whole number"),
    ("25 -3 -> 22", "not a whole number"),
    ("0 4 -> 4", "must be 1-"),
    ("1 2 -> 0", "must be 1-"),
    ("1 2 -> 99999999", "must be 1-"),
    (" -> 5", "need 1-10 numbers"),
    ("1 2 3 4 5 6 7 8 9 10 11 -> 5", "need 1-10 numbers"),
    ("1 2 -> 3 -> 4", "numbers -> target"),
])
def test_parse_instance_errors(text, msg):
    with pytest.raises(ValueError, match=msg) as e:
        P.parse_instance(text)
    assert "\n" not in str(e.value)


@FUZZ
@given(st.text(max_size=40))
def test_fuzz_parse_instance_text(text):
    try:
        s = P.parse_instance(text)
    except ValueError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert 1 <= len(s.numbers) <= 10 and s.target >= 1
        assert P.parse_instance(P.render(s)) == s


@FUZZ
@given(st.lists(st.integers(1, 120), min_size=1, max_size=6), st.integers(1, 999))
def test_fuzz_parse_instance_valid(nums, target):
    s = P.parse_instance(f"{' '.join(map(str, nums))} -> {target}")
    assert s.numbers == tuple(sorted(nums)) and s.target == target


numbers = st.lists(st.integers(1, 30), min_size=2, max_size=5)


@FUZZ
@given(numbers, st.integers(1, 30), st.sampled_from("+-*/x×÷−"), st.integers(1, 30),
       st.integers(-5, 400), st.booleans(), st.text(max_size=8))
def test_fuzz_parse_step_never_accepts_illegal(nums, a, op, b, c, with_left, junk):
    s = P.parse_instance(f"{' '.join(map(str, nums))} -> 100")
    for text in (f"{a} {op} {b} = {c}", f"{a}{op}{b}={c} (left: {' '.join(map(str, nums))})",
                 f"{junk}{a} {op} {b} = {c}", f"{a} {op} {b} = {c}{junk}"):
        step = P.parse_step(s, text)
        if step is None:
            continue
        legal = {P.apply(s, x) for x in P.legal_steps(s)}
        assert P.apply(s, step) in legal
        # the reference rule, written out independently
        x, y = step.a, step.b
        assert step.result == {"+": x + y, "-": x - y, "*": x * y,
                               "/": x // y if x % y == 0 else None}[step.op]
        assert step.result > 0


@FUZZ
@given(st.text(max_size=60))
def test_fuzz_parse_step_never_raises(text):
    s = P.parse_instance("25 50 75 100 3 6 -> 952")
    step = P.parse_step(s, text)
    assert step is None or step in P.legal_steps(s) or P.apply(s, step) in {
        P.apply(s, x) for x in P.legal_steps(s)}


# -- generator and named sets ----------------------------------------------------------------------
def test_generator_is_seeded_and_solvable():
    a = P.generate(15, rng=np.random.default_rng(5))
    assert a == P.generate(15, rng=np.random.default_rng(5))
    assert a != P.generate(15, rng=np.random.default_rng(6))
    for inst in a:
        nums, target = parse(inst)
        assert len(nums) == 6 and 100 <= target <= 999 and target not in nums
        assert all(x in range(1, 11) or x in (25, 50, 75, 100) for x in nums)
        assert sum(x >= 25 for x in nums) == len(set(x for x in nums if x >= 25))
        assert all(nums.count(x) <= 2 for x in nums)
        assert ref_solve(nums, target) is not None, inst
    easy = P.generate(10, rng=np.random.default_rng(1), count=4, target_low=10, target_high=99)
    assert all(len(parse(i)[0]) == 4 for i in easy)
    with pytest.raises(ValueError):
        P.generate(1, rng=np.random.default_rng(0), count=0)


def test_named_sets():
    sets = P.named_sets()
    assert {"easy", "standard", "unfiltered"} <= set(sets)
    assert all(isinstance(v, str) and "\n" not in v for v in sets.values())
    assert P.instance_set("easy") == P.instance_set("easy")
    with pytest.raises(ValueError, match="known: easy"):
        P.instance_set("nope")


# -- search -----------------------------------------------------------------------------------------
def test_mcts_solves_easy_set_and_answers_verify():
    for inst in P.instance_set("easy"):
        r = mcts_reason.solve(P, inst, seed=0)
        assert r.solved, inst
        assert P.verify(inst, r.answer)
        nums, target = parse(inst)
        assert ref_solve(nums, target) is not None


def test_mcts_solves_show_instances_with_default_budget():
    insts = P.generate(12, rng=np.random.default_rng(11))
    solved = sum(mcts_reason.solve(P, i, seed=0).solved for i in insts)
    assert solved >= 11


def test_mcts_proves_unsolvable_small_instance():
    inst = next(i for i in MIXED if len(parse(i)[0]) == 4 and ref_solve(*parse(i)) is None
                and not P.is_dead_end(P.parse_instance(i)))
    r = mcts_reason.solve(P, inst, budget=Budget(simulations=20000), seed=0)
    assert not r.solved and r.proved_unsolvable


def test_same_seed_same_result():
    inst = "1 3 7 10 25 50 -> 765"
    a = mcts_reason.solve(P, inst, seed=3)
    b = mcts_reason.solve(P, inst, seed=3)
    assert a.to_dict()["steps"] == b.to_dict()["steps"] and a.answer == b.answer


def test_prompts():
    s = P.parse_instance("25 50 75 100 3 6 -> 952")
    for msgs in (P.propose_messages(s), P.value_messages(s)):
        assert [m["role"] for m in msgs] == ["system", "user"]
        assert "952" in msgs[-1]["content"] and "3 6 25 50 75 100" in msgs[-1]["content"]
    assert "impossible" in P.value_messages(s)[-1]["content"]
    example = P.propose_messages(s)[-1]["content"].split("Example with numbers 3 6 25 100 and "
                                                         "target 306: ")[1].splitlines()[0]
    assert P.parse_step(P.parse_instance("3 6 25 100 -> 306"), example) is not None


# -- CLI --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("instance", ["25 50 75 100 3 6", "25 50 x -> 9", "0 1 -> 1", ""])
def test_cli_bad_instance(instance):
    r = CliRunner().invoke(cli, ["solve", "countdown", instance])
    assert r.exit_code == 2
    assert "countdown instance" in r.output


def test_cli_solves():
    r = CliRunner().invoke(cli, ["solve", "countdown", "25 50 75 100 3 6 -> 952"])
    assert r.exit_code == 0, r.output
    assert "(verified)" in r.output and "step 1:" in r.output
