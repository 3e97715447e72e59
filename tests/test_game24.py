"""Game of 24: parsing, steps, verification, and solving every instance against a reference."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mcts_reason
from mcts_reason.tree import LOSS
from mcts_reason_puzzles.game24 import Game24, evaluate_expression

from reference import all_multisets, can_make_24, is_legal_step, solvable_multisets

G = Game24()
F = Fraction


def state(*xs):
    return G.parse_instance(" ".join(map(str, xs))) if all(isinstance(x, int) for x in xs) \
        else tuple(sorted(xs))


# -- instances ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text,fragment", [
    ("", "empty"), ("   ", "empty"), ("1 2 3", "need 4 numbers"), ("1 2 3 4 5", "need 4 numbers"),
    ("4 9 x 13", "'x' is not a whole number"), ("4 9 -1 13", "'-1' is not a whole number"),
    ("4 9 1.5 13", "not a whole number"), ("0 1 2 3", "1-13"), ("1 2 3 14", "1-13"),
])
def test_parse_instance_rejects_with_clear_message(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        G.parse_instance(text)


def test_parse_instance_accepts_commas_and_spacing():
    assert G.parse_instance(" 13, 4  9,10 ") == (4, 9, 10, 13)


# -- steps --------------------------------------------------------------------------------------
@pytest.mark.parametrize("nums,text,expected", [
    ((4, 6, 6, 8), "4 + 8 = 12 (left: 6 6 12)", (F(4), "+", F(8), F(12))),
    ((4, 6, 6, 8), "4+8=12(left:6 6 12)", (F(4), "+", F(8), F(12))),
    ((4, 6, 6, 8), "  8 x 4 = 32 ", (F(8), "*", F(4), F(32))),
    ((4, 6, 6, 8), "8 × 4 = 32 (left: 6 6 32)", (F(8), "*", F(4), F(32))),
    ((4, 6, 6, 8), "8 * 6 = 48 (left: 4, 6, 48)", (F(8), "*", F(6), F(48))),
    ((4, 6, 6, 8), "6 ÷ 4 = 3/2 (left: 3/2 6 8)", (F(6), "/", F(4), F(3, 2))),
    ((4, 6, 6, 8), "6 - 6 = 0 (left: 0 4 8)", (F(6), "-", F(6), F(0))),
    ((4, 6, 6, 8), "1. 4 + 8 = 12 (left: 6 6 12)", (F(4), "+", F(8), F(12))),
    ((F(1), F(3, 4), F(6)), "1 - 3/4 = 1/4 (left: 1/4 6)", (F(1), "-", F(3, 4), F(1, 4))),
    ((F(1, 4), F(6)), "6 / 1/4 = 24 (left: 24)", (F(6), "/", F(1, 4), F(24))),
])
def test_parse_step_accepts_legal_variants(nums, text, expected):
    s = state(*nums)
    step = G.parse_step(s, text)
    assert step is not None, text
    assert (step.a, step.op, step.b, step.result) == expected


@pytest.mark.parametrize("nums,text", [
    ((4, 6, 6, 8), "4 + 8 = 13 (left: 6 6 13)"),        # wrong result
    ((4, 6, 6, 8), "4 + 5 = 9 (left: 6 6 8 9)"),         # 5 not available
    ((4, 6, 6, 8), "4 + 4 = 8 (left: 6 6 8 8)"),         # only one 4
    ((4, 6, 6, 8), "4 + 8 = 12 (left: 6 12)"),           # wrong left
    ((4, 6, 6, 8), "4 + 8 = 12 (left: 6 6 12) and then"),  # trailing junk
    ((4, 6, 6, 8), "4 - 8 = -4 (left: -4 6 6)"),         # negative intermediate
    ((4, 6, 6, 8), "4 + 8 + 6 = 18"),                    # two operations
    ((4, 6, 6, 8), "Possible next steps:"),
    ((4, 6, 6, 8), ""),
    ((4, 6, 6, 8), "__import__('os').system('echo pwned')"),
])
def test_parse_step_rejects_illegal(nums, text):
    assert G.parse_step(state(*nums), text) is None


def test_parse_step_rejects_division_by_zero():
    s = (F(0), F(4), F(6))
    assert G.parse_step(s, "4 / 0 = 0") is None
    assert G.parse_step(s, "0 / 4 = 0 (left: 0 6)") is not None


def test_render_step_round_trips_for_every_legal_step():
    for nums in [(4, 9, 10, 13), (1, 3, 4, 6), (F(3, 4), F(1), F(6)), (F(1, 4), F(6)), (1, 1, 1, 1)]:
        s = state(*nums)
        for step in G.legal_steps(s):
            assert G.parse_step(s, G.render_step(s, step)) == step


def test_legal_steps_match_reference_rules():
    s = state(2, 3, 3, 12)
    nums = [F(x) for x in s]
    for step in G.legal_steps(s):
        assert is_legal_step(nums, F(step.a), step.op, F(step.b), F(step.result))
    # every reachable next multiset under the rules is reachable through legal_steps
    ours = {G.apply(s, st_) for st_ in G.legal_steps(s)}
    for i in range(4):
        for j in range(4):
            if i == j:
                continue
            for op in "+-*/":
                a, b = nums[i], nums[j]
                if op == "/" and b == 0:
                    continue
                r = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]
                if r is None or r < 0:
                    continue
                rest = [x for k, x in enumerate(nums) if k not in (i, j)]
                assert tuple(sorted(rest + [r])) in ours


# -- fuzz ---------------------------------------------------------------------------------------
small = st.sampled_from([F(x) for x in range(0, 14)] + [F(1, 2), F(3, 4), F(2, 3), F(13, 5)])
pieces = st.sampled_from(["4", "8", "6", "12", "3/4", "1/4", " ", "+", "-", "*", "/", "x", "×",
                          "÷", "=", "(", ")", "left", ":", ",", "24", "0", "-4", "a", "\n", "."])


@settings(max_examples=400, deadline=None)
@given(nums=st.lists(small, min_size=1, max_size=4), text=st.text(max_size=60))
def test_parse_step_random_text_never_raises_or_accepts_illegal(nums, text):
    s = tuple(sorted(nums))
    step = G.parse_step(s, text)
    if step is not None:
        assert is_legal_step(list(s), F(step.a), step.op, F(step.b), F(step.result))


@settings(max_examples=600, deadline=None)
@given(nums=st.lists(small, min_size=2, max_size=4), parts=st.lists(pieces, max_size=14))
def test_parse_step_structured_fuzz(nums, parts):
    s = tuple(sorted(nums))
    step = G.parse_step(s, "".join(parts))
    if step is not None:
        assert is_legal_step(list(s), F(step.a), step.op, F(step.b), F(step.result))


# -- verify -------------------------------------------------------------------------------------
@pytest.mark.parametrize("instance,answer,ok", [
    ("4 9 10 13", "(13 - 9) * (10 - 4) = 24", True),
    ("4 9 10 13", "(10 - 4) * (13 - 9)", True),
    ("4 9 10 13", "Answer: (13 − 9) × (10 − 4) = 24", True),
    ("1 3 4 6", "6 / (1 - 3/4) = 24", True),
    ("1 3 4 6", "6 / (1 - 3 / 4) = 24", True),
    ("4 9 10 13", "(13 - 9) * (10 - 4) = 25", False),     # claims a wrong total
    ("4 9 10 13", "(13 - 9) * (10 - 4) = 24 = 24", False),
    ("4 9 10 13", "(13 - 9) * (10 - 5) = 24", False),     # 5 not given
    ("4 9 10 13", "(13 - 9) * 6 = 24", False),            # 10 and 4 unused, 6 not given
    ("4 4 6 8", "4 * 6 = 24", False),                     # numbers left over
    ("1 1 4 6", "1 * 1 * 4 * 6 * 1 = 24", False),         # a number used twice
    ("4 9 10 13", "-(9 - 13) * (10 - 4) = 24", False),    # unary minus is not allowed
    ("1 2 3 4", "1 * 2 * 3 * 4 / 0 = 24", False),
    ("1 2 3 4", "__import__('os').system('echo pwned')", False),
    ("1 2 3 4", "((1 + 2 + 3) * 4", False),
    ("1 2 3 4", "", False),
    ("1 2 x 4", "1 * 2 * 3 * 4", False),
])
def test_verify_cases(instance, answer, ok):
    assert G.verify(instance, answer) is ok


@st.composite
def expressions(draw):
    nums = draw(st.lists(st.integers(1, 13), min_size=1, max_size=4))
    items = [(str(x), F(x)) for x in nums]
    while len(items) > 1:
        i = draw(st.integers(0, len(items) - 2))
        (ea, va), (eb, vb) = items[i], items[i + 1]
        op = draw(st.sampled_from("+-*/"))
        if op == "/" and vb == 0:
            op = "+"
        v = {"+": va + vb, "-": va - vb, "*": va * vb, "/": va / vb if vb else None}[op]
        items[i:i + 2] = [(f"({ea} {op} {eb})", v)]
    return nums, items[0][0], items[0][1]


@settings(max_examples=400, deadline=None)
@given(expressions())
def test_expression_parser_matches_reference(case):
    nums, text, value = case
    got, literals = evaluate_expression(text)
    assert got == value
    assert sorted(literals) == sorted(nums)
    if len(nums) == 4:
        instance = " ".join(map(str, nums))
        assert G.verify(instance, text) is (value == 24)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_verify_random_text_never_raises(text):
    assert G.verify("4 9 10 13", text) in (True, False)


# -- solving every instance ---------------------------------------------------------------------
def test_reference_finds_the_known_1362_solvable_multisets():
    assert len(all_multisets()) == 1820
    assert len(solvable_multisets()) == 1362


@pytest.mark.slow
def test_mcts_solves_every_solvable_instance_at_default_budget():
    failures = []
    for m in solvable_multisets():
        inst = " ".join(map(str, m))
        r = mcts_reason.solve(G, inst, seed=0)
        if not (r.solved and G.verify(inst, r.answer)):
            failures.append(inst)
    assert failures == []


@pytest.mark.slow
def test_mcts_never_claims_an_unsolvable_instance():
    unsolvable = [m for m in all_multisets()
                  if not can_make_24(tuple(Fraction(x) for x in m))]
    assert len(unsolvable) == 458
    for m in unsolvable:
        r = mcts_reason.solve(G, " ".join(map(str, m)), seed=0)
        assert not r.solved and r.answer is None
        assert r.proved_unsolvable        # the exhaustive heuristic policy proves it in budget


def test_named_sets_agree_with_reference():
    solvable = {" ".join(map(str, m)) for m in solvable_multisets()}
    assert set(G.instance_set("all")) == solvable
    assert len(G.instance_set("unsolvable")) == 458
    hard = G.instance_set("hard100")
    assert len(hard) == 100 and set(hard) <= solvable
    assert max(G.difficulty(t) for t in G.instance_set("easy100")) < \
        min(G.difficulty(t) for t in hard)
    with pytest.raises(ValueError, match="known"):
        G.instance_set("nope")


def test_successors_agree_with_apply():
    from mcts_reason_puzzles.game24 import successors
    for nums in [(4, 9, 10, 13), (1, 1, 1, 1), (F(3, 4), F(1), F(6)), (F(1, 4), F(6)), (F(0), 2, 2)]:
        s = state(*nums)
        for step, nxt in successors(s):
            assert G.apply(s, step) == nxt and list(nxt) == sorted(nxt)


def test_uniform_policy_and_rollouts_read_the_one_pass_successors():
    """`Game24.successors` (types.Successors): the uniform policy's proposals carry the next
    states, the same steps in `legal_steps` order and the states `apply` gives; a random
    rollout reading them draws the same steps (same seed, same value) as one applying them."""
    from mcts_reason.policies import UniformPolicy
    from mcts_reason.types import Successors
    from mcts_reason.values import RolloutValue
    assert isinstance(G, Successors)
    rng = np.random.default_rng(0)
    for nums in [(4, 9, 10, 13), (1, 1, 1, 1), (F(3, 4), F(1), F(6)), (F(1, 4), F(6))]:
        s = state(*nums)
        got = UniformPolicy().propose(G, s, k=None, rng=rng)
        assert [p[0] for p in got] == list(G.legal_steps(s))
        assert [p[2] for p in got] == [G.apply(s, p[0]) for p in got]
        assert all(p[1] == 1.0 for p in got)

    class StepsOnly:   # the same puzzle without the capability: steps, then apply
        def __getattr__(self, name):
            if name == "successors":
                raise AttributeError(name)
            return getattr(G, name)

    starts = [state(*map(int, t.split())) for t in list(G.instances())[::97]]
    for seed in range(3):
        a = RolloutValue(n=4).evaluate(G, starts, rng=np.random.default_rng(seed))
        b = RolloutValue(n=4).evaluate(StepsOnly(), starts, rng=np.random.default_rng(seed))
        assert a == b
    assert any(v > 0 for v in a) and any(v < 1 for v in a)   # the comparison can fail


# -- the heuristic's exact values and the hot paths, against the reference ----------------------
def _reachable(roots) -> set:
    """Every state reachable from `roots` under the step rules, by the reference's own rules
    (`is_legal_step` filters the textbook operations), as sorted tuples of Fractions."""
    seen, stack = set(), [tuple(sorted(F(x) for x in r)) for r in roots]
    while stack:
        s = stack.pop()
        if s in seen:
            continue
        seen.add(s)
        for i in range(len(s)):
            for j in range(len(s)):
                if i == j:
                    continue
                rest = [x for k, x in enumerate(s) if k not in (i, j)]
                for op, r in (("+", s[i] + s[j]), ("-", s[i] - s[j]), ("*", s[i] * s[j]),
                              ("/", s[i] / s[j] if s[j] else None)):
                    if r is not None and is_legal_step(list(s), s[i], op, s[j], r):
                        stack.append(tuple(sorted(rest + [r])))
    return seen


def _ours(s: tuple) -> tuple:
    """The puzzle's own representation of a reference state (whole numbers as int)."""
    return tuple(int(x) if x.denominator == 1 else x for x in s)


@pytest.fixture(scope="module")
def reachable_sample() -> set:
    """Every state reachable from 300 multisets drawn at random (seeded) of the 1820."""
    rng = np.random.default_rng(0)
    return _reachable([all_multisets()[i] for i in rng.choice(1820, size=300, replace=False)])


def test_heuristic_exact_values_agree_with_reference_on_reachable_states(reachable_sample):
    value = G.heuristic_value()
    assert len(reachable_sample) > 10_000
    for s in reachable_sample:
        got = value.exact(G, _ours(s))
        if len(s) <= 2:
            assert got == (1.0 if can_make_24(s) else 0.0), s
        else:
            assert got is None, s


def _ref_estimate(s: tuple) -> float:
    """`estimate` written from its docstring with Fractions throughout (no shared code)."""
    n = len(s)
    if n == 1:
        return 1.0 if s[0] == 24 else 0.0
    if n == 2:
        a, b = s
        outs = [a + b, a * b, a - b, b - a] + ([a / b] if b else []) + ([b / a] if a else [])
        return 1.0 if 24 in outs else 0.0
    total, prod = sum(s), math.prod(s)
    if total == 24 or prod == 24:
        return 0.95
    for i, x in enumerate(s):
        rest = s[:i] + s[i + 1:]
        for y in (sum(rest), math.prod(rest)):
            if 24 in (x + y, x * y, x - y, y - x) or (y and x / y == 24) or (x and y / x == 24):
                return 0.85
    whole = [x.denominator == 1 for x in s]
    if all(whole) and all(x >= 1 for x in s) and math.prod(max(x, 2) for x in s) < 24:
        return 0.02
    friendly = sum(x in (1, 2, 3, 4, 6, 8, 12, 24) for x in s) / n
    return 0.2 + 0.3 * friendly if all(whole) else 0.1 + 0.3 * friendly + 0.1 * (sum(whole) / n)


def test_successors_keep_the_number_representation_on_reachable_states(reachable_sample):
    """On every reachable state (Fractions included) each step's result is the reference's
    exact value in the puzzle's representation: an int when whole, else a Fraction (never a
    whole Fraction), and the next state is the sorted rest plus that result."""
    from mcts_reason_puzzles.game24 import successors
    ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
           "/": lambda a, b: a / b}
    for s in reachable_sample:
        if len(s) < 2:
            continue
        ours = _ours(s)
        for step, nxt in successors(ours):
            want = ops[step.op](F(step.a), F(step.b))
            assert step.result == want and type(step.result) is type(_ours((want,))[0]), (s, step)
            assert all(type(x) is int or x.denominator > 1 for x in nxt), (s, step)
            rest = list(s)
            rest.remove(F(step.a))
            rest.remove(F(step.b))
            assert nxt == _ours(tuple(sorted(rest + [want]))), (s, step)


def test_estimate_matches_its_definition_on_reachable_states(reachable_sample):
    from mcts_reason_puzzles.game24 import estimate
    for s in reachable_sample:
        assert estimate(_ours(s)) == pytest.approx(_ref_estimate(s), abs=1e-12), s


def test_successors_list_each_distinct_legal_step_once():
    from mcts_reason_puzzles.game24 import successors
    for nums in [(4, 9, 10, 13), (1, 1, 1, 1), (2, 2, 3, 3), (2, 2, 2, 5), (F(3, 4), F(3, 4), F(6)),
                 (F(0), F(0), F(7)), (F(1, 4), F(6)), (1, 13, 13, 13)]:
        s = state(*nums)
        got = [step for step, _ in successors(s)]
        assert len(got) == len(set(got))
        ref = set()
        for i in range(len(s)):
            for j in range(len(s)):
                for op in "+-*/":
                    a, b = F(s[i]), F(s[j])
                    r = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]
                    if i != j and r is not None and is_legal_step(list(map(F, s)), a, op, b, r) \
                            and (op in "-/" or a >= b):      # + and * are listed larger first
                        ref.add((a, op, b, r))
        assert {(F(x.a), x.op, F(x.b), F(x.result)) for x in got} == ref, nums


@pytest.mark.slow
def test_mcts_marks_lost_only_unsolvable_states_on_every_multiset():
    """Dead ends, exact-value losses and propagated losses: every node MCTS marks lost, in the
    trees of all 1820 searches, is unsolvable by the reference; and each search ends solved
    (verified) or proved unsolvable, as the reference says."""
    for m in all_multisets():
        inst = " ".join(map(str, m))
        r = mcts_reason.solve(G, inst, seed=0)
        ok = can_make_24(tuple(F(x) for x in m))
        assert (r.solved and G.verify(inst, r.answer)) if ok else r.proved_unsolvable, inst
        for n in r.root.iter():
            if n.status == LOSS:
                assert not can_make_24(tuple(F(x) for x in n.state)), (inst, n.state)
