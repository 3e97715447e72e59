"""Blocksworld, checked against a reference written here from scratch: the PDDL domain as STRIPS
operators over sets of facts (on / ontable / clear / holding / handempty), with its own reader
for the canonical instance text and a breadth-first optimal planner. No code is shared with
puzzles/mcts_reason_puzzles/blocksworld.py."""
from __future__ import annotations

import re
import time
from collections import deque

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.cli import cli
from mcts_reason.registry import load
from mcts_reason_puzzles.blocksworld import Action, Blocksworld, World

P = Blocksworld()
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXAMPLE = ("initial: the red block is on the table, the blue block is on top of the red block, "
           "the hand is empty; goal: the red block is on top of the blue block")


# -- the independent reference: STRIPS over fact sets ---------------------------------------------
def ref_read(instance):
    """Canonical instance text -> (initial facts, goal facts)."""
    init_text, goal_text = re.match(r"initial: (.*); goal: (.*)$", instance).groups()

    def facts(text):
        out = set()
        for f in text.split(", "):
            if m := re.fullmatch(r"the (\w+) block is on the table", f):
                out.add(("ontable", m[1]))
            elif m := re.fullmatch(r"the (\w+) block is on top of the (\w+) block", f):
                out.add(("on", m[1], m[2]))
            elif m := re.fullmatch(r"the (\w+) block is clear", f):
                out.add(("clear", m[1]))
            elif f == "the hand is empty":
                out.add(("handempty",))
            else:
                raise AssertionError(f"reference cannot read {f!r}")
        return out

    init = facts(init_text)
    blocks = {f[1] for f in init if f[0] in ("ontable", "on")}
    below = {f[2] for f in init if f[0] == "on"}
    init |= {("clear", b) for b in blocks - below}          # canonical text lists them anyway
    return frozenset(init), frozenset(facts(goal_text))


def ref_blocks(facts):
    return sorted({f[1] for f in facts if f[0] in ("ontable", "on", "holding")})


def ref_actions(facts):
    """[(text, next facts)] for every applicable PDDL operator."""
    out = []
    blocks = ref_blocks(facts)
    for x in blocks:
        if {("clear", x), ("ontable", x), ("handempty",)} <= facts:
            out.append((f"pick up the {x} block",
                        facts - {("clear", x), ("ontable", x), ("handempty",)} | {("holding", x)}))
        if ("holding", x) in facts:
            out.append((f"put down the {x} block",
                        facts - {("holding", x)} | {("clear", x), ("ontable", x), ("handempty",)}))
        for y in blocks:
            if x == y:
                continue
            if {("on", x, y), ("clear", x), ("handempty",)} <= facts:
                out.append((f"unstack the {x} block from the {y} block",
                            facts - {("on", x, y), ("clear", x), ("handempty",)}
                            | {("holding", x), ("clear", y)}))
            if {("holding", x), ("clear", y)} <= facts:
                out.append((f"stack the {x} block on top of the {y} block",
                            facts - {("holding", x), ("clear", y)}
                            | {("on", x, y), ("clear", x), ("handempty",)}))
    return out


def ref_bfs_plan(instance):
    init, goal = ref_read(instance)
    if goal <= init:
        return []
    parent = {init: None}
    queue = deque([init])
    while queue:
        s = queue.popleft()
        for text, n in ref_actions(s):
            if n in parent:
                continue
            parent[n] = (s, text)
            if goal <= n:
                plan = []
                while parent[n] is not None:
                    n, t = parent[n]
                    plan.append(t)
                return plan[::-1]
            queue.append(n)
    raise AssertionError("reference found no plan")


def facts_of(state: World):
    """The puzzle's state as reference facts (the only bridge between the two)."""
    out = set()
    below = {p for _, p in state.pos}
    for b, p in state.pos:
        if p == "table":
            out.add(("ontable", b))
        elif p == "hand":
            out.add(("holding", b))
        else:
            out.add(("on", b, p))
        if p != "hand" and b not in below:
            out.add(("clear", b))
    if state.holding is None:
        out.add(("handempty",))
    return frozenset(out)


def walk(instance, n, seed):
    """States along a seeded random walk of legal actions."""
    rng = np.random.default_rng(seed)
    s = P.parse_instance(instance)
    out = [s]
    for _ in range(n):
        steps = P.legal_steps(s)
        s = P.apply(s, steps[int(rng.integers(len(steps)))])
        out.append(s)
    return out


SETS = {name: P.instance_set(name) for name in ("easy", "medium", "hard")}


# -- parse_instance ------------------------------------------------------------------------------
def test_parse_instance_reads_the_example_and_wording_variants():
    s = P.parse_instance(EXAMPLE)
    assert s.where() == {"red": "table", "blue": "red"} and s.holding is None
    assert s.goal.on == (("red", "blue"),)
    same = [
        "Initial: red is on the table and blue is on red\ngoal: red is on blue",
        "INITIAL: The Red Block is on the table; the blue block is on the red block. "
        "Goal: the red block is on top of the blue block.",
        "initial state: the blue block is on top of the red block, the red block is on the table, "
        "the blue block is clear, the hand is empty; my goal is to have that the red block is on "
        "top of the blue block",
    ]
    for text in same:
        assert P.parse_instance(text) == s, text
    held = P.parse_instance("initial: the hand is holding the red block, the blue block is on "
                            "the table; goal: the red block is on the blue block, the hand is empty")
    assert held.holding == "red" and held.goal.hand_empty


@pytest.mark.parametrize("bad, words", [
    ("", "empty"),
    ("the red block is on the table", "initial:"),
    ("initial: the red block is on the table; goal: the red block is floating", "cannot read"),
    ("initial: the red block is on the table, the red block is on the blue block, the blue block "
     "is on the table; goal: the blue block is on the red block", "placed twice"),
    ("initial: the red block is on the blue block; goal: the red block is on the table",
     "does not say where the blue"),
    ("initial: the red block is on the table, the blue block is on the red block, the green block "
     "is on the red block; goal: the red block is on the blue block", "both on the red"),
    ("initial: the red block is on the blue block, the blue block is on the red block; goal: "
     "the red block is on the table", "loop"),
    ("initial: the red block is on the table, the blue block is on the red block, the red block "
     "is clear; goal: the red block is on the blue block", "clear but"),
    ("initial: the red block is on the table; goal: the green block is on the red block",
     "not in the initial"),
    ("initial: the red block is on the table, the blue block is on the table; goal: the red block "
     "is on the blue block, the red block is on the table", "two places"),
    ("initial: the red block is on the table, the blue block is on the table, the green block is "
     "on the table; goal: the red block is on the blue block, the green block is on the blue "
     "block", "two blocks on the blue"),
    ("initial: the red block is on the table, the blue block is on the table; goal: the red block "
     "is on the blue block, the blue block is on the red block", "loop"),
    ("initial: the red block is on the table, the blue block is on the table; goal: the red block "
     "is on the blue block, the blue block is clear", "clear and covered"),
    ("initial: the red block is on the table; goal:", "goal is empty"),
    ("initial: the table block is on the table; goal: the table block is clear", "cannot name"),
    ("initial: the hand is holding the red block, the hand is holding the blue block; goal: the "
     "red block is on the table", "at most one"),
    ("initial: the red block is on the red block; goal: the red block is clear", "itself"),
    ("initial: the hand is holding the red block, the red block is clear; goal: the red block is "
     "on the table", "clear but"),
])
def test_parse_instance_rejects_bad_input_with_one_line_message(bad, words):
    with pytest.raises(ValueError) as e:
        P.parse_instance(bad)
    msg = str(e.value)
    assert words in msg and "\n" not in msg and len(msg) < 300


_FACT = st.one_of(
    st.builds("the {} block is on the table".format, st.sampled_from("abc")),
    st.builds("the {} block is on top of the {} block".format, st.sampled_from("abc"),
              st.sampled_from("abc")),
    st.builds("the {} block is clear".format, st.sampled_from("abcd")),
    st.just("the hand is empty"),
    st.builds("the hand is holding the {} block".format, st.sampled_from("abc")),
    st.text(max_size=12),
)


@FUZZ
@given(st.lists(_FACT, max_size=5), st.lists(_FACT, max_size=3))
def test_fuzz_parse_instance_raises_only_value_error_and_keeps_the_facts(init, goal):
    text = f"initial: {', '.join(init)}; goal: {', '.join(goal)}"
    try:
        s = P.parse_instance(text)
    except ValueError as e:
        assert "\n" not in str(e)
        return
    facts = facts_of(s)
    for f in init:      # every stated initial fact holds in the parsed state
        if m := re.fullmatch(r"the (\w) block is on top of the (\w) block", f):
            assert ("on", m[1], m[2]) in facts
        elif m := re.fullmatch(r"the (\w) block is on the table", f):
            assert ("ontable", m[1]) in facts
        elif m := re.fullmatch(r"the (\w) block is clear", f):
            assert ("clear", m[1]) in facts
        elif m := re.fullmatch(r"the hand is holding the (\w) block", f):
            assert ("holding", m[1]) in facts
    # and the parsed state is physically sound
    below = [p for _, p in s.pos if p not in ("table", "hand")]
    assert len(below) == len(set(below)) and sum(p == "hand" for _, p in s.pos) <= 1


@FUZZ
@given(st.text(max_size=80))
def test_fuzz_parse_instance_on_arbitrary_text(text):
    try:
        P.parse_instance(text)
    except ValueError as e:
        assert "\n" not in str(e)


def test_render_round_trips_through_parse_instance():
    for inst in SETS["medium"][:5]:
        for s in walk(inst, 12, seed=1):
            text = f"initial: {P.render(s)}; goal: {P.render_goal(s.goal)}"
            assert P.parse_instance(text) == s


# -- steps -----------------------------------------------------------------------------------------
def test_legal_steps_and_apply_match_the_strips_reference():
    for i, inst in enumerate(SETS["hard"][:8]):
        for s in walk(inst, 15, seed=i):
            mine = {P.render_step(s, a): facts_of(P.apply(s, a)) for a in P.legal_steps(s)}
            ref = dict(ref_actions(facts_of(s)))
            assert mine == ref


def test_parse_step_accepts_wording_variants():
    s = P.parse_instance("initial: the red block is on the table, the blue block is on the red "
                         "block, the green block is on the table; goal: the red block is on the "
                         "green block")
    unstack = Action("unstack", "blue", "red")
    for text in ["unstack the blue block from the red block", "Unstack the blue block from on top "
                 "of the red block.", "1. unstack blue from red", "unstack the blue block",
                 "pick up the blue block from the red block", "take the blue block off the red "
                 "block", "- Pick up blue from on top of red"]:
        assert P.parse_step(s, text) == unstack, text
    assert P.parse_step(s, "pick up the green block") == Action("pick-up", "green")
    assert P.parse_step(s, "pickup green") == Action("pick-up", "green")
    assert P.parse_step(s, "Pick the green block up") == Action("pick-up", "green")
    assert P.parse_step(s, "pick up the green block from the table") == Action("pick-up", "green")
    h = P.apply(s, unstack)
    for text in ["put down the blue block", "putdown blue", "Put the blue block down.",
                 "place the blue block on the table", "put the blue block down on the table"]:
        assert P.parse_step(h, text) == Action("put-down", "blue"), text
    for text in ["stack the blue block on top of the green block", "stack blue on green",
                 "place the blue block onto the green block", "put the blue block on the green "
                 "block", "Step 2: Stack the Blue block on top of the Green block."]:
        assert P.parse_step(h, text) == Action("stack", "blue", "green"), text


def test_parse_step_rejects_illegal_actions():
    s = P.parse_instance("initial: the red block is on the table, the blue block is on the red "
                         "block, the green block is on the table; goal: the red block is on the "
                         "green block")
    for text in ["pick up the red block",               # not clear
                 "pick up the blue block",              # on a block: that is unstack
                 "unstack the red block from the blue block", "unstack the blue block from the "
                 "green block", "unstack the green block",          # on the table
                 "put down the blue block",             # hand empty
                 "stack the blue block on top of the green block", "pick up the purple block",
                 "pick up", "stack the green block", "", "hello", None, 7]:
        assert P.parse_step(s, text) is None, text
    h = P.apply(s, Action("pick-up", "green"))
    for text in ["pick up the blue block",              # hand full
                 "unstack the blue block from the red block",
                 "stack the green block on top of the red block",      # red not clear
                 "stack the green block on top of the green block",
                 "put down the blue block"]:
        assert P.parse_step(h, text) is None, text


@FUZZ
@given(st.integers(0, 19), st.integers(0, 12), st.text(max_size=50))
def test_fuzz_parse_step_never_raises_and_only_returns_legal_steps(i, n, text):
    s = walk(SETS["medium"][i], n, seed=i)[-1]
    a = P.parse_step(s, text)
    assert a is None or a in P.legal_steps(s)


_TEMPLATES = ["pick up the {x} block", "unstack the {x} block from the {y} block",
              "put down the {x} block", "stack the {x} block on top of the {y} block"]


@FUZZ
@given(st.integers(0, 19), st.integers(0, 12), st.sampled_from(_TEMPLATES),
       st.integers(0, 5), st.integers(0, 5))
def test_fuzz_parse_step_agrees_with_the_reference_legality(i, n, template, xi, yi):
    s = walk(SETS["hard"][i], n, seed=i)[-1]
    names = list(s.blocks) + ["plaid"]          # no generated block is plaid
    x, y = names[xi % len(names)], names[yi % len(names)]
    text = template.format(x=x, y=y)
    ref = dict(ref_actions(facts_of(s)))
    a = P.parse_step(s, text)
    if text in ref:
        assert a is not None and facts_of(P.apply(s, a)) == ref[text]
    else:
        assert a is None


# -- verify, optimum -------------------------------------------------------------------------------
def test_reference_plans_verify_and_match_the_optimal_length():
    for inst in SETS["easy"] + SETS["medium"] + SETS["hard"][:10]:
        plan = ref_bfs_plan(inst)
        assert P.verify(inst, ", ".join(plan))
        assert P.optimal_length(inst) == len(plan)
        assert P.gap(inst, ", ".join(plan)) == 0
        assert plan, "generated instances are never solved at the start"
        assert not P.verify(inst, ", ".join(plan[:-1]))
        assert not P.verify(inst, ", ".join(plan[1:]) if len(plan) > 1 else "pick up the x block")


def test_verify_is_tolerant_of_separators_and_strict_about_legality():
    assert P.verify(EXAMPLE, "unstack the blue block from the red block, put down the blue block, "
                             "pick up the red block, stack the red block on top of the blue block")
    assert P.verify(EXAMPLE, "Plan: unstack blue from red; put down blue\npick up red then stack "
                             "red on blue")
    assert not P.verify(EXAMPLE, "pick up the red block, stack the red block on top of the blue "
                                 "block")
    assert not P.verify(EXAMPLE, "")
    for junk in [None, 3, "x" * 100_000, "initial: nonsense"]:
        assert P.verify(EXAMPLE, junk) is False
        assert P.verify(junk, "pick up the red block") is False
    assert P.gap(EXAMPLE, "unstack blue from red, put down blue, pick up red, put down red, pick "
                          "up red, stack red on blue") == 2


# -- search ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["easy", "medium"])
def test_mcts_with_heuristics_solves_the_easy_sets_at_the_default_budget(name):
    for inst in SETS[name]:
        r = mcts_reason.solve(P, inst, seed=0)
        assert r.solved, inst
        assert P.verify(inst, r.answer)
        assert len(r.steps) >= len(ref_bfs_plan(inst))


def test_same_seed_same_result():
    inst = P.instance_set("six")[7]
    a = mcts_reason.solve(P, inst, seed=3, budget=Budget(simulations=200))
    b = mcts_reason.solve(P, inst, seed=3, budget=Budget(simulations=200))
    assert a.to_dict() | {"usage": None} == b.to_dict() | {"usage": None}
    assert a.usage.nodes == b.usage.nodes


def test_policy_lists_every_legal_step_and_value_is_one_exactly_at_goals():
    pol, val = P.heuristic_policy(), P.heuristic_value()
    rng = np.random.default_rng(0)
    assert pol.exhaustive
    for s in walk(SETS["hard"][0], 20, seed=5):
        props = pol.propose(P, s, k=None, rng=rng)
        assert sorted(map(repr, (p[0] for p in props))) == sorted(map(repr, P.legal_steps(s)))
        v = val.evaluate(P, [s], rng=rng)[0]
        assert 0.0 < v <= 1.0 and (v == 1.0) == P.is_solved(s)


def test_generator_is_seeded_and_named_sets_are_deterministic():
    a = P.generate(8, rng=np.random.default_rng(1), blocks=5)
    assert a == P.generate(8, rng=np.random.default_rng(1), blocks=5)
    for inst in a:
        s = P.parse_instance(inst)
        assert len(s.blocks) == 5 and not P.is_solved(s)
    assert P.instance_set("easy") == SETS["easy"]
    assert set(P.named_sets()) >= {"easy", "medium", "hard"}
    with pytest.raises(ValueError, match="easy"):
        P.instance_set("nope")


def test_prompts_are_chat_messages():
    s = P.parse_instance(EXAMPLE)
    for msgs in (P.propose_messages(s), P.value_messages(s)):
        assert all(set(m) == {"role", "content"} for m in msgs)
        assert "the red block is on top of the blue block" in msgs[-1]["content"]
    assert all(w in P.value_messages(s)[-1]["content"] for w in ("sure", "likely", "impossible"))


# -- registry and CLI --------------------------------------------------------------------------------
def test_registered_through_the_entry_point():
    assert isinstance(load("blocksworld"), Blocksworld)


@pytest.mark.parametrize("bad, words", [
    ("the red block is on the table", "initial:"),
    ("initial: the red block is on the table; goal: the green block is on the red block",
     "not in the initial"),
    ("initial: the red block is on the table; goal: the red block is sideways", "cannot read"),
])
def test_cli_rejects_bad_instances_with_exit_2(bad, words):
    r = CliRunner().invoke(cli, ["solve", "blocksworld", bad])
    assert r.exit_code == 2
    assert words in r.output


def test_cli_solves_the_example():
    r = CliRunner().invoke(cli, ["solve", "blocksworld", EXAMPLE])
    assert r.exit_code == 0, r.output
    assert "stack the red block on top of the blue block" in r.output and "verified" in r.output


@pytest.mark.parametrize("text", [
    "initial: " + " " * 4980, "initial: " + "a " * 2490, "initial: " + "; " * 2490 + "goal",
    "initial:" + " ;\n" * 1600, "initial: the " + "red " * 1200 + "block is on the table; goal: x",
    "initial: " + "red is on " * 490 + " goal: a", "goal: " * 800, "initial:" + "\t" * 4990,
])
def test_pathological_text_is_rejected_quickly(text):
    t = time.perf_counter()
    with pytest.raises(ValueError):
        P.parse_instance(text)
    s = P.parse_instance(EXAMPLE)
    for k in range(0, len(text), 300):
        assert P.parse_step(s, text[k:k + 300]) is None
    assert time.perf_counter() - t < 1.0


def test_metrics_report_length_optimum_and_gap():
    inst = SETS["hard"][10]
    r = mcts_reason.solve(P, inst, seed=0)
    opt = len(ref_bfs_plan(inst))
    assert P.metrics(inst, r.answer) == {"length": len(r.steps), "optimal": opt,
                                         "gap": len(r.steps) - opt}
    assert P.metrics(inst, "fly away") == {"length": None, "optimal": opt, "gap": None}


def ref_distance_to_goal(facts, goal):
    """BFS distance from a fact set to the goal (the reference, over STRIPS states)."""
    if goal <= facts:
        return 0
    dist = {facts: 0}
    queue = deque([facts])
    while queue:
        s = queue.popleft()
        for _, n in ref_actions(s):
            if n not in dist:
                dist[n] = dist[s] + 1
                if goal <= n:
                    return dist[n]
                queue.append(n)
    raise AssertionError("unreachable goal")


def test_remaining_is_a_lower_bound_so_the_a_star_optimum_is_exact():
    from mcts_reason_puzzles.blocksworld import remaining
    for i, inst in enumerate(SETS["hard"][:10]):
        _, goal = ref_read(inst)
        for s in walk(inst, 10, seed=100 + i)[::3]:
            d = ref_distance_to_goal(facts_of(s), goal)
            assert remaining(s) <= d or P.is_solved(s)


def test_no_node_is_ever_proven_lost_despite_cycles():
    inst = P.instance_set("eight")[5]       # 18 steps: 10 simulations cannot reach the goal
    r = mcts_reason.solve(P, inst, seed=0, budget=Budget(simulations=10))
    assert not r.solved and not r.proved_unsolvable and r.stop_reason == "budget: simulations"
    assert all(n.status != -1 for n in r.root.iter())


def test_oracle_value_is_the_exact_distance():
    oracle = P.extra_values()["oracle"]()
    for i, inst in enumerate(SETS["hard"][:5]):
        _, goal = ref_read(inst)
        for s in walk(inst, 6, seed=i)[::2]:
            d = ref_distance_to_goal(facts_of(s), goal)
            assert oracle.evaluate(P, [s], rng=np.random.default_rng(0)) == [2.0 ** (-d / 4.0)]


# -- long horizons: the goal-directed expert ----------------------------------------------------
def test_expert_plans_reach_the_goal_and_are_optimal_on_the_small_sets():
    """Against the independent BFS planner: on every easy/medium/hard instance (3-5 blocks) the
    goal-directed strategy's plan verifies and is as short as the optimum."""
    from mcts_reason_puzzles.blocksworld import expert_plan
    for name in ("easy", "medium", "hard"):
        for inst in SETS[name]:
            s = P.parse_instance(inst)
            plan = expert_plan(s)
            assert P.verify(inst, P.answer(s, plan)), inst
            assert len(plan) == len(ref_bfs_plan(inst)), inst


def test_expert_plans_from_any_reachable_state_reach_the_goal_within_four_actions_a_block():
    from mcts_reason_puzzles.blocksworld import expert_plan
    for i, inst in enumerate(P.instance_set("large")[::4]):
        for s in walk(inst, 12, seed=i)[::3]:          # includes states with a held block
            plan = expert_plan(s)
            assert len(plan) <= 4 * len(s.blocks) + 1
            for a in plan:
                s = P.apply(s, a)                       # raises if an action is illegal
            assert P.is_solved(s)


def test_mcts_solves_the_large_set_at_the_default_budget():
    """PlanBench's larger sizes (6-15 blocks): the issue's target is >= 90% within 30 s each
    (benchmarks/long_horizon.py measures the time); here the count at the default budget."""
    insts = P.instance_set("large")
    assert len(insts) == 30
    solved = 0
    for inst in insts:
        r = mcts_reason.solve(P, inst, seed=0)
        if r.solved:
            assert P.verify(inst, r.answer)
            solved += 1
    assert solved >= 27
