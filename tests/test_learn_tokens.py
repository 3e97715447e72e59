"""The built-in puzzles' `learn_tokens` hooks, checked against tokens worked out by hand for
known states, and a learned model with them beating uniform + rollout on held-out instances."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.learn.fit import fit
from mcts_reason.learn.model import LearnedPolicy, LearnedValue
from mcts_reason.learn.traces import records
from mcts_reason.policies import UniformPolicy
from mcts_reason.registry import load
from mcts_reason.types import LearnTokens
from mcts_reason.values import RolloutValue
from mcts_reason.viz.export import tree_graph


@pytest.mark.parametrize("name", ["game24", "countdown", "blocksworld", "sliding"])
def test_the_built_in_puzzles_offer_the_hook(name):
    assert isinstance(load(name), LearnTokens)


def test_game24_tokens_by_hand():
    g = load("game24")
    # 4 and 6: 4 * 6 = 24 in one operation; results 10, 24, 2, 3/2, 2/3 (friendly: 2, 24)
    assert g.learn_tokens((4, 6)) == ["n=2", "one-op-24", "friendly=2/2", "pair-makes:2",
                                      "pair-makes:24"]
    # 5 and 7: 12, 35, 2, 7/5, 5/7: no 24
    assert g.learn_tokens((5, 7)) == ["n=2", "no-one-op-24", "friendly=0/2", "pair-makes:12",
                                      "pair-makes:2"]
    # 1 2 3: sum 6, product 6; max(x,2) product 2*2*3 = 12 < 24; pairs make 1 2 3 4 5 6 1/2 ...
    assert g.learn_tokens((1, 2, 3)) == ["n=3", "bound-below-24", "friendly=3/3",
                                         "pair-makes:1", "pair-makes:2", "pair-makes:3",
                                         "pair-makes:4", "pair-makes:6"]
    # 2 3 4: product 24; and each of 2, 3, 4 times the product of the other two is 24
    toks = g.learn_tokens((2, 3, 4))
    assert toks[:5] == ["n=3", "prod-is-24"] + ["x-op-prod-rest-is-24"] * 3
    assert "bound-below-24" not in toks        # 2*3*4 = 24 is not below 24
    # a fraction: 1/2 and 12 -> 12 / (1/2) = 24
    assert g.learn_tokens((Fraction(1, 2), 12))[:2] == ["n=2", "one-op-24"]
    assert "fraction" in g.learn_tokens((Fraction(1, 2), 12))
    assert g.learn_tokens((24,)) == ["n=1", "is24"]


def test_countdown_tokens_by_hand():
    c = load("countdown")
    s = c.parse_instance("2 5 -> 10")
    # 2 * 5 = 10: one operation; nearest 5 is 5 away (3 bits), 16*5//10 = 8 (4 bits)
    assert c.learn_tokens(s) == ["rule=at-most-once", "n=2", "one-op-away", "near=3",
                                 "near-rel=4", "near-n=3/2", "all-below"]
    s = c.parse_instance("1 3 7 -> 24")
    # 3 * (1 + 7) = 24: two operations; 7 is 17 away (5 bits); 16*17//24 = 11 (4 bits)
    assert c.learn_tokens(s) == ["rule=at-most-once", "n=3", "two-ops-away", "near=5",
                                 "near-rel=4", "near-n=5/3", "all-below"]
    s = c.parse_instance("1 2 -> 50")          # 2 * 2 = 4 < 50: out of reach
    assert "bound-below-target" in c.learn_tokens(s)


def test_blocksworld_tokens_by_hand():
    b = load("blocksworld")
    text = ("initial: the blue block is on the table, the pink block is on the table, the red "
            "block is on top of the blue block, the pink block is clear, the red block is clear, "
            "the hand is empty; goal: the pink block is on top of the blue block")
    s = b.parse_instance(text)
    # blue is on the table and only has to carry pink: in its final position (placed); red sits
    # on blue, where pink must go, and pink must move onto blue: both unplaced, 2 actions each
    assert b.learn_tokens(s) == ["placed=1/3", "unplaced=2", "remaining=4", "hand-empty",
                                 "clear-unplaced=2"]

    def do(state, text):
        return b.apply(state, b.parse_step(state, text))

    held = do(s, "pick up the pink block")        # pink's support, blue, still carries red
    assert "holding-not-ready" in b.learn_tokens(held)
    cleared = do(do(s, "unstack the red block from the blue block"), "put down the red block")
    assert b.learn_tokens(cleared)[:3] == ["placed=2/3", "unplaced=1", "remaining=2"]
    ready = do(cleared, "pick up the pink block")   # blue is clear and placed: pink can go
    assert "holding-ready" in b.learn_tokens(ready)
    done = do(ready, "stack the pink block on the blue block")
    assert b.is_solved(done)
    assert b.learn_tokens(done)[:4] == ["placed=3/3", "unplaced=0", "remaining=0", "goal-holds"]


def test_sliding_tokens_by_hand():
    s = load("sliding")
    board = s.parse_instance("1 2 3 4 5 6 0 7 8")
    # tiles 7 and 8 are one cell right of their goal cells: Manhattan 2, no conflict
    toks = s.learn_tokens(board)
    assert toks[:3] == ["manhattan=2", "conflict=0", "distance=2"]
    assert toks[-1] == "misplaced=2"
    assert sorted(t for t in toks if t.startswith("tile") and not t.endswith("=0")) == \
        ["tile7-off=1", "tile8-off=1"]
    # 2 1 in the top row and 8 7 in the bottom one: a linear conflict in each (one tile of
    # each pair must step out and back: 2 moves a row); Manhattan 1 per tile
    toks = s.learn_tokens(s.parse_instance("2 1 3 4 5 6 8 7 0"))
    assert toks[:3] == ["manhattan=4", "conflict=4", "distance=8"]
    assert toks[-1] == "misplaced=4"


def test_learned_model_beats_uniform_on_held_out_game24():
    """Expert iteration's first round on a small scale: uniform + rollout MCTS (50 simulations)
    on 30 instances, traces, a fit; then MCTS at 8 simulations on 30 other instances. Seed 0
    gives learned 20/30 against uniform + rollout 2/30 (Wilson 95% intervals 0.49-0.81 and
    0.02-0.21; before the seeded tie-break of equal priors it was 13/30, 0.27-0.60); the
    assertion asks for a margin of 7, which both searches clear."""
    g = load("game24")
    every = g.instance_set("all")
    train, test = every[0::45][:30], every[7::45][:30]
    assert not set(train) & set(test)
    policy, value = {}, {}
    for inst in train:
        r = mcts_reason.solve(g, inst, policy=UniformPolicy(), value=RolloutValue(),
                              budget=Budget(simulations=50), seed=0)
        for rec in records(tree_graph(r, g), g, rollouts=4, rng=np.random.default_rng(0)):
            if rec["kind"] == "policy":
                policy[rec["state"]] = rec
            elif rec["kind"] == "value":
                value[rec["state"]] = rec
    assert all("tokens" in c for rec in policy.values() for c in rec["children"])
    model = fit("game24", list(policy.values()), list(value.values()), bits=12)

    def solved(pol, val):
        return sum(mcts_reason.solve(g, inst, policy=pol, value=val, seed=0,
                                     budget=Budget(simulations=8)).solved for inst in test)

    learned, uniform = solved(LearnedPolicy(model), LearnedValue(model)), \
        solved(UniformPolicy(), RolloutValue())
    assert learned >= uniform + 7, (learned, uniform)
