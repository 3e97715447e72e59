"""Sliding tiles, checked against references written here from scratch: a breadth-first search
over the whole 8-puzzle (and 3-puzzle) graph from the goal, and a plain Manhattan-only IDA* for
the 15-puzzle. None of them share code with puzzles/mcts_reason_puzzles/sliding.py."""
from __future__ import annotations

import functools
import itertools
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
from mcts_reason_puzzles.sliding import Board, Move, Sliding, distance

P = Sliding()
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- independent references ------------------------------------------------------------------
def ref_goal(w):
    return tuple(list(range(1, w * w)) + [0])


def ref_moves(tiles, w):
    """[(tile, direction the tile travels, next tiles)] by swapping the blank with a neighbour."""
    out = []
    b = tiles.index(0)
    r, c = divmod(b, w)
    # a tile below the blank travels up, above travels down, right of it travels left, ...
    for dr, dc, d in ((1, 0, "up"), (-1, 0, "down"), (0, 1, "left"), (0, -1, "right")):
        rr, cc = r + dr, c + dc
        if 0 <= rr < w and 0 <= cc < w:
            j = rr * w + cc
            nxt = list(tiles)
            nxt[b], nxt[j] = nxt[j], 0
            out.append((tiles[j], d, tuple(nxt)))
    return out


def ref_bfs(w):
    """Distance to the goal of every reachable board (BFS from the goal; moves are reversible)."""
    goal = ref_goal(w)
    dist = {goal: 0}
    queue = deque([goal])
    while queue:
        s = queue.popleft()
        for _, _, nxt in ref_moves(s, w):
            if nxt not in dist:
                dist[nxt] = dist[s] + 1
                queue.append(nxt)
    return dist


def ref_path(start, w, dist):
    """A shortest plan as [(tile, direction)], walking down the BFS distances."""
    s, plan = start, []
    while dist[s]:
        tile, d, s = next((t, d, n) for t, d, n in ref_moves(s, w) if dist[n] == dist[s] - 1)
        plan.append((tile, d))
    return plan


def ref_ida_manhattan(tiles, w):
    """Optimal length by IDA* with plain Manhattan distance (no pruning tricks but the undo)."""
    goal = ref_goal(w)

    def h(s):
        return sum(abs(i // w - (t - 1) // w) + abs(i % w - (t - 1) % w)
                   for i, t in enumerate(s) if t)

    found = []

    def dfs(s, g, bound, prev):
        f = g + h(s)
        if f > bound:
            return f
        if s == goal:
            found.append(g)
            return -1
        best = 10 ** 9
        for _, _, nxt in ref_moves(s, w):
            if nxt == prev:
                continue
            r = dfs(nxt, g + 1, bound, s)
            if r == -1:
                return -1
            best = min(best, r)
        return best

    bound = h(tiles)
    while True:
        r = dfs(tuple(tiles), 0, bound, None)
        if r == -1:
            return found[0]
        bound = r


@functools.cache
def ref_bfs_cached(w):
    return ref_bfs(w)


@pytest.fixture(scope="module")
def dist8():
    return ref_bfs_cached(3)


def text(tiles):
    return " ".join(map(str, tiles))


def ref_plan_text(plan):
    return ", ".join(f"move {t} {d}" for t, d in plan)


# -- parse_instance ------------------------------------------------------------------------------
def test_parse_instance_reads_boards_of_each_width():
    b = P.parse_instance("1 2 3 4 5 6 0 7 8")
    assert b == Board((1, 2, 3, 4, 5, 6, 0, 7, 8), 3, 0)
    assert P.parse_instance("1,2,3,4,5,6,7,8,9,10,11,12,13,14,0,15").width == 4
    assert P.parse_instance("1 2\n3 0").width == 2
    assert P.is_solved(P.parse_instance("1 2 3 4 5 6 7 8 0"))


@pytest.mark.parametrize("bad, words", [
    ("", "empty"),
    ("   ", "empty"),
    ("1 2 3 x 5 6 0 7 8", "not a whole number"),
    ("1 2 3 -4 5 6 0 7 8", "not a whole number"),
    ("1 2 3 4 5 6 0 7", "square"),
    ("0", "square"),
    ("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 "
     "34 35 0", "square"),
    ("1 2 3 4 5 6 7 7 0", "each once"),
    ("1 2 3 4 5 6 7 9 0", "each once"),
    ("2 1 3 4 5 6 7 8 0", "unsolvable"),
    ("1 2 3 4 5 6 8 7 0", "unsolvable"),
    ("1 2 3 4 5 6 7 8 9 10 11 12 13 15 14 0", "unsolvable"),
    ("3 2 1 0", "unsolvable"),
    ("1 2 3 4 5 6 7 0 " + "9" * 5000, "not a tile"),
])
def test_parse_instance_rejects_bad_input_with_one_line_message(bad, words):
    with pytest.raises(ValueError) as e:
        P.parse_instance(bad)
    msg = str(e.value)
    assert words in msg and "\n" not in msg and len(msg) < 200


def test_parity_rule_matches_reachability_on_every_3_puzzle():
    reachable = ref_bfs(2)
    assert len(reachable) == 12
    for perm in itertools.permutations(range(4)):
        try:
            P.parse_instance(text(perm))
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == (perm in reachable), perm


def test_parity_rule_matches_reachability_on_the_8_puzzle(dist8):
    assert len(dist8) == 181440
    rng = np.random.default_rng(1)
    for _ in range(400):
        perm = tuple(int(x) for x in rng.permutation(9))
        try:
            P.parse_instance(text(perm))
            accepted = True
        except ValueError as e:
            assert "unsolvable" in str(e)
            accepted = False
        assert accepted == (perm in dist8)


@FUZZ
@given(st.text(max_size=60))
def test_fuzz_parse_instance_raises_only_value_error(s):
    try:
        b = P.parse_instance(s)
    except ValueError as e:
        assert "\n" not in str(e)
        return
    assert sorted(b.tiles) == list(range(b.width ** 2))


@FUZZ
@given(st.permutations(list(range(9))))
def test_fuzz_parse_instance_accepts_exactly_the_reachable_boards(perm):
    reachable = ref_bfs_cached(3)
    try:
        P.parse_instance(text(perm))
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == (tuple(perm) in reachable)


# -- steps -----------------------------------------------------------------------------------------
def test_legal_steps_and_apply_match_the_reference_moves(dist8):
    rng = np.random.default_rng(2)
    boards = list(dist8)
    for i in rng.choice(len(boards), 300, replace=False):
        tiles = boards[int(i)]
        state = Board(tiles, 3)
        got = sorted((s.tile, s.direction, P.apply(state, s).tiles) for s in P.legal_steps(state))
        assert got == sorted(ref_moves(tiles, 3))


def test_parse_step_accepts_wording_variants_and_rejects_illegal_moves():
    s = P.parse_instance("1 2 3 4 0 5 7 8 6")       # blank in the centre
    # legal: 2 down, 8 up, 4 right, 5 left
    for good, want in [("move 5 left", Move(5, "left")), ("Move tile 5 to the left.", Move(5, "left")),
                       ("  2. slide 5 left", Move(5, "left")), ("- move the 8 tile up", Move(8, "up")),
                       ("Step 1: move 2 down", Move(2, "down")), ("MOVE 4 RIGHT", Move(4, "right")),
                       ("move 4 r", Move(4, "right")), ("5 leftwards", Move(5, "left")),
                       ("move 8 upward", Move(8, "up")), ("move 5", Move(5, "left")),
                       ("`move 5 left`", Move(5, "left")),
                       ("move 5 left (the blank moves right)", Move(5, "left"))]:
        assert P.parse_step(s, good) == want, good
    for bad in ["move 5 right", "move 5 up", "move 1 down", "move 6 up", "move 0 left",
                "move 9 left", "move left", "move 5 left and 8 up", "", "5 6", "move 55 left",
                "move 5 sideways", "move 2 up", "move -5 left", None, 5]:
        assert P.parse_step(s, bad) is None, bad


@FUZZ
@given(st.permutations(list(range(9))), st.text(max_size=40))
def test_fuzz_parse_step_never_raises_and_only_returns_legal_steps(perm, s):
    state = Board(tuple(perm), 3)
    step = P.parse_step(state, s)
    assert step is None or step in P.legal_steps(state)


@FUZZ
@given(st.permutations(list(range(16))), st.integers(-1, 17),
       st.sampled_from(["up", "down", "left", "right", "Left", "U", "sideways"]),
       st.sampled_from(["move {t} {d}", "Move tile {t} {d}", "slide {t} to the {d}", "{t} {d}"]))
def test_fuzz_parse_step_agrees_with_the_reference_legality(perm, tile, d, template):
    tiles = tuple(perm)
    state = Board(tiles, 4)
    got = P.parse_step(state, template.format(t=tile, d=d))
    norm = {"u": "up", "left": "left"}.get(d.lower(), d.lower())
    legal = {(t, dd) for t, dd, _ in ref_moves(tiles, 4)}
    if (tile, norm) in legal:
        assert got == Move(tile, norm)
    else:
        assert got is None


def test_render_step_round_trips():
    s = P.parse_instance("1 2 3 4 0 5 7 8 6")
    for step in P.legal_steps(s):
        assert P.parse_step(s, P.render_step(s, step)) == step


# -- verify, optimum, gap ----------------------------------------------------------------------------
def test_reference_shortest_plans_verify_and_match_optimal_length(dist8):
    insts = P.instance_set("easy8") + P.instance_set("medium8") + P.instance_set("hard8")[:8]
    for inst in insts:
        tiles = tuple(int(x) for x in inst.split())
        plan = ref_path(tiles, 3, dist8)
        assert len(plan) == dist8[tiles]
        assert P.verify(inst, ref_plan_text(plan))
        assert P.optimal_length(inst) == dist8[tiles]
        assert P.gap(inst, ref_plan_text(plan)) == 0
        if plan:
            assert not P.verify(inst, ref_plan_text(plan[:-1]))     # one move short
            detour = plan[:1] + [(plan[0][0], _opposite(plan[0][1]))] + plan
            assert P.verify(inst, ref_plan_text(detour))
            assert P.gap(inst, ref_plan_text(detour)) == 2


def _opposite(d):
    return {"up": "down", "down": "up", "left": "right", "right": "left"}[d]


def test_optimal_length_matches_bfs_on_random_boards(dist8):
    rng = np.random.default_rng(3)
    boards = list(dist8)
    for i in rng.choice(len(boards), 25, replace=False):
        tiles = boards[int(i)]
        assert P.optimal_length(text(tiles)) == dist8[tiles]


def test_heuristic_is_admissible_and_zero_only_at_goal(dist8):
    rng = np.random.default_rng(4)
    boards = list(dist8)
    for i in rng.choice(len(boards), 3000, replace=False):
        tiles = boards[int(i)]
        h = distance(tiles, 3)
        assert h <= dist8[tiles]
        assert (h == 0) == (dist8[tiles] == 0)


def test_optimal_length_on_15_puzzles_matches_manhattan_ida():
    for inst in P.instance_set("easy15")[:6]:
        tiles = [int(x) for x in inst.split()]
        assert P.optimal_length(inst) == ref_ida_manhattan(tiles, 4)


def test_verify_rejects_illegal_or_garbled_plans_and_never_raises():
    inst = "1 2 3 4 5 6 0 7 8"
    assert P.verify(inst, "move 7 left, move 8 left")
    assert P.verify(inst, "Answer: move 7 left; move 8 left")
    assert not P.verify(inst, "move 7 left")
    assert not P.verify(inst, "move 8 left, move 7 left")
    assert not P.verify(inst, "move 7 left, move 8 left, move 8 right")
    assert not P.verify(inst, "")
    assert P.verify("1 2 3 4 5 6 7 8 0", "")
    for junk in [None, 3, "2 1 3 4 5 6 7 8 0", "x" * 100_000]:
        assert P.verify(inst, junk) is False
        assert P.verify(junk, "move 7 left") is False
    assert P.gap(inst, "move 8 left") is None


# -- search --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["easy8", "easy15"])
def test_mcts_with_heuristics_solves_the_easy_sets_at_the_default_budget(name, dist8):
    for inst in P.instance_set(name):
        r = mcts_reason.solve(P, inst, seed=0)
        assert r.solved, inst
        assert P.verify(inst, r.answer)
        assert P.gap(inst, r.answer) >= 0
        if name == "easy8":
            tiles = tuple(int(x) for x in inst.split())
            assert P.gap(inst, r.answer) == len(r.steps) - dist8[tiles]


def test_same_seed_same_result():
    inst = P.instance_set("medium8")[1]
    a = mcts_reason.solve(P, inst, seed=7, budget=Budget(simulations=300))
    b = mcts_reason.solve(P, inst, seed=7, budget=Budget(simulations=300))
    assert a.to_dict() | {"usage": None} == b.to_dict() | {"usage": None}
    assert a.usage.simulations == b.usage.simulations and a.usage.nodes == b.usage.nodes


def test_policy_is_legal_skips_only_the_undo_and_value_is_monotone():
    pol, val = P.heuristic_policy(), P.heuristic_value()
    rng = np.random.default_rng(0)
    s = P.parse_instance("1 2 3 4 0 5 7 8 6")
    s = P.apply(s, Move(5, "left"))
    props = pol.propose(P, s, k=None, rng=rng)
    assert {p[0] for p in props} == set(P.legal_steps(s)) - {Move(5, "right")}
    assert all(p[1] > 0 for p in props)
    goal = P.parse_instance("1 2 3 4 5 6 7 8 0")
    vs = val.evaluate(P, [goal, P.parse_instance("1 2 3 4 5 6 0 7 8"),
                          P.parse_instance(P.instance_set("hard8")[0])], rng=rng)
    assert vs[0] == 1.0 and 1.0 > vs[1] > vs[2] > 0.0


def test_generator_is_seeded_and_named_sets_are_deterministic(dist8):
    a = P.generate(10, rng=np.random.default_rng(5), width=3, depth=9)
    assert a == P.generate(10, rng=np.random.default_rng(5), width=3, depth=9)
    for inst in a:
        tiles = tuple(int(x) for x in inst.split())
        assert 0 < dist8[tiles] <= 9
    assert P.instance_set("easy15") == P.instance_set("easy15")
    assert set(P.named_sets()) >= {"easy8", "medium8", "easy15"}
    with pytest.raises(ValueError, match="easy8"):
        P.instance_set("nope")


def test_prompts_are_chat_messages():
    s = P.parse_instance("1 2 3 4 5 6 0 7 8")
    for msgs in (P.propose_messages(s), P.value_messages(s)):
        assert all(set(m) == {"role", "content"} for m in msgs)
    assert "move <tile>" in P.propose_messages(s)[-1]["content"]
    last = P.value_messages(s)[-1]["content"]
    assert all(w in last for w in ("sure", "likely", "impossible"))


# -- registry and CLI --------------------------------------------------------------------------------
def test_registered_through_the_entry_point():
    assert isinstance(load("sliding"), Sliding)


@pytest.mark.parametrize("bad, words", [("2 1 3 4 5 6 7 8 0", "unsolvable"),
                                        ("1 2 3", "square"), ("a b c d", "whole number"),
                                        ("", "empty")])
def test_cli_rejects_bad_instances_with_exit_2(bad, words):
    r = CliRunner().invoke(cli, ["solve", "sliding", bad])
    assert r.exit_code == 2
    assert words in r.output


def test_cli_solves_an_instance():
    r = CliRunner().invoke(cli, ["solve", "sliding", "1 2 3 4 5 6 0 7 8"])
    assert r.exit_code == 0, r.output
    assert "move 7 left" in r.output and "verified" in r.output


@pytest.mark.parametrize("text", ["move " + " " * 190 + "x", "move the tile " * 14, "1" * 199 + "x",
                                  "move 7 " + "(" * 190, "- " * 100, "7 " * 99])
def test_pathological_step_text_is_rejected_quickly(text):
    s = P.parse_instance("1 2 3 4 5 6 0 7 8")
    t = time.perf_counter()
    assert P.parse_step(s, text) is None
    with pytest.raises(ValueError):
        P.parse_instance(text * 50)
    assert time.perf_counter() - t < 1.0


def test_metrics_report_length_optimum_and_gap(dist8):
    inst = P.instance_set("medium8")[2]
    tiles = tuple(int(x) for x in inst.split())
    r = mcts_reason.solve(P, inst, seed=0)
    m = P.metrics(inst, r.answer)
    assert m == {"length": len(r.steps), "optimal": dist8[tiles], "gap": len(r.steps) - dist8[tiles]}
    assert P.metrics(inst, "move 99 up") == {"length": None, "optimal": dist8[tiles], "gap": None}


@FUZZ
@given(st.sampled_from([4, 5]), st.integers(0, 2**32 - 1), st.integers(0, 60), st.data())
def test_fuzz_scrambled_boards_are_accepted_and_a_tile_swap_is_rejected(w, seed, n, data):
    """Boards reached from the goal by legal moves are solvable by construction; swapping two
    tiles flips the permutation parity while leaving the blank, so such a board never is."""
    rng = np.random.default_rng(seed)
    tiles = ref_goal(w)
    for _ in range(n):
        moves = ref_moves(tiles, w)
        tiles = moves[int(rng.integers(len(moves)))][2]
    assert P.parse_instance(text(tiles)).tiles == tiles
    i, j = data.draw(st.lists(st.sampled_from([k for k, t in enumerate(tiles) if t]), min_size=2,
                              max_size=2, unique=True))
    swapped = list(tiles)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    with pytest.raises(ValueError, match="unsolvable"):
        P.parse_instance(text(swapped))


def test_no_node_is_ever_proven_lost_despite_cycles():
    """Every board is solvable, so even an unsolved search proves nothing lost (see the module
    docstring on why the undo-skipping policy may still call itself exhaustive)."""
    inst = P.instance_set("medium15")[2]      # the staged plan takes 64 moves: 30 cannot do
    r = mcts_reason.solve(P, inst, seed=0, budget=Budget(simulations=30))
    assert not r.solved and not r.proved_unsolvable and r.stop_reason == "budget: simulations"
    assert all(n.status != -1 for n in r.root.iter())


def test_policy_without_undo_skipping_lists_every_legal_move():
    from mcts_reason_puzzles.sliding import SlidingHeuristicPolicy
    s = P.apply(P.parse_instance("1 2 3 4 0 5 7 8 6"), Move(5, "left"))
    props = SlidingHeuristicPolicy(skip_undo=False).propose(P, s, k=None,
                                                           rng=np.random.default_rng(0))
    assert {p[0] for p in props} == set(P.legal_steps(s))


def test_oracle_value_is_the_exact_distance(dist8):
    from mcts_reason_puzzles.sliding import value_of
    oracle = P.extra_values()["oracle"]()
    boards = [tuple(int(x) for x in i.split()) for i in P.instance_set("medium8")[:5]]
    got = oracle.evaluate(P, [Board(b, 3) for b in boards], rng=np.random.default_rng(0))
    assert got == [value_of(dist8[b]) for b in boards]
    r = CliRunner().invoke(cli, ["solve", "sliding", P.instance_set("easy8")[0], "--value", "oracle"])
    assert r.exit_code == 0 and "verified" in r.output


# -- long horizons: the staged expert on random 15-puzzles ----------------------------------------
def test_staged_plans_solve_random_boards_and_bound_the_optimum(dist8):
    from mcts_reason_puzzles.sliding import staged_plan
    for width in (2, 3, 4, 5):
        boards = P.generate(6 if width < 5 else 2, rng=np.random.default_rng(width), width=width,
                            depth=None)                    # uniformly random solvable boards
        for inst in boards:
            tiles = P.parse_instance(inst).tiles           # parse_instance checks the parity
            plan = staged_plan(tiles, width)
            assert P.verify(inst, ", ".join(f"move {t}" for t in plan))
            assert all(a != b for a, b in zip(plan, plan[1:]))        # no immediate undo
            if width == 3:
                assert len(plan) >= dist8[tuple(tiles)]               # the BFS optimum


def test_korf_style_random_15_puzzles_are_solved_at_the_default_budget():
    boards = P.instance_set("korf15")[:8]
    for inst in boards:
        r = mcts_reason.solve(P, inst, seed=0)
        assert r.solved and P.verify(inst, r.answer), inst
