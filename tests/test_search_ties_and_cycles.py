"""The engine's seeded tie-break (one place: `Context.merge_proposals`), and two regressions on
long-horizon puzzles: ToT-DFS stopping after one expansion when a distance-style value rates every
child below its threshold, and greedy cycling between two states until the budget ran out."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.cli import cli
from mcts_reason.policies import UniformPolicy
from mcts_reason.search.common import break_ties
from mcts_reason.values import ConstantValue
from mcts_reason_puzzles.blocksworld import Blocksworld

BW = Blocksworld()


def _tree(r):
    return [(n.order, repr(n.state), n.visits, round(n.value_sum, 12), n.prior)
            for n in r.root.iter()]


# -- tie-break ------------------------------------------------------------------------------------
def test_break_ties_permutes_only_within_groups_of_equal_priors():
    items = [["a", 0.5, 1], ["b", 0.25, 2], ["c", 0.25, 3], ["d", 0.1, 4], ["e", 0.25, 5]]
    seen = set()
    for seed in range(20):
        out = break_ties(items, np.random.default_rng(seed))
        assert sorted(map(tuple, out)) == sorted(map(tuple, items))
        assert [it[1] for it in out] == [it[1] for it in items]     # priors stay in place
        assert out[0][0] == "a" and out[3][0] == "d"
        seen.add(tuple(it[0] for it in out))
    assert len(seen) > 1                                            # the seed matters
    distinct = [["a", 0.5, 1], ["b", 0.3, 2], ["c", 0.2, 3]]
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    assert break_ties(distinct, rng) == distinct and rng.bit_generator.state == before


def test_break_ties_orders_each_group_by_its_keys_one_group_or_several():
    """The rule, written out: one key per item drawn from the generator; each group of equal
    priors keeps its places and fills them with its members in key order. Checked on the
    one-group case (a uniform prior, which has its own short path) and on mixed groups."""
    def reference(items, rng):
        keys = rng.random(len(items)).tolist()
        out = list(items)
        for p in {it[1] for it in items}:
            places = [i for i, it in enumerate(items) if it[1] == p]
            for dst, src in zip(places, sorted(places, key=lambda i: keys[i])):
                out[dst] = items[src]
        return out

    draw = np.random.default_rng(99)
    for trial in range(200):
        n = int(draw.integers(2, 40))
        levels = [1.0] if trial % 2 else [0.1, 0.2, 0.3, 0.4]
        items = [[f"s{i}", float(draw.choice(levels)), i] for i in range(n)]
        if len({it[1] for it in items}) == n:
            continue
        assert break_ties(items, np.random.default_rng(trial)) == \
            reference(items, np.random.default_rng(trial))


@pytest.mark.parametrize("algo", ["mcts", "mcts-uct", "bfs", "dfs", "beam", "greedy"])
def test_seed_changes_the_tree_where_priors_tie_and_same_seed_same_tree(algo):
    """The issue: seeds 0-3 gave identical searches. Uniform priors tie everywhere."""
    inst = BW.instance_set("six")[7]
    budget = Budget(simulations=60) if algo.startswith("mcts") else Budget(expansions=30)
    runs = {seed: mcts_reason.solve(BW, inst, algo=algo, policy=UniformPolicy(), seed=seed,
                                    value=ConstantValue(), budget=budget) for seed in range(4)}
    trees = {seed: _tree(r) for seed, r in runs.items()}
    assert len({json.dumps(t) for t in trees.values()}) > 1, algo
    again = mcts_reason.solve(BW, inst, algo=algo, policy=UniformPolicy(), seed=2,
                              value=ConstantValue(), budget=budget)
    assert _tree(again) == trees[2] and again.steps == runs[2].steps


def test_without_ties_the_seed_changes_nothing():
    """A policy with distinct priors and a deterministic value: the tie-break draws nothing, so
    every seed gives the same tree (the search spends no other randomness here)."""

    class Distinct:
        exhaustive = True

        def propose(self, puzzle, state, *, k, rng):
            steps = puzzle.legal_steps(state)
            return [(s, 1.0 + i / 8) for i, s in enumerate(steps)]

    inst = BW.instance_set("six")[7]
    trees = {json.dumps(_tree(mcts_reason.solve(BW, inst, policy=Distinct(), seed=s,
                                                budget=Budget(simulations=40))))
             for s in range(3)}
    assert len(trees) == 1


# -- DFS ------------------------------------------------------------------------------------------
def _long_blocksworld():
    """15 blocks, every child of the root valued below DFS's default threshold of 0.05."""
    insts = BW.generate(10, rng=np.random.default_rng(11), blocks=15)
    value = BW.heuristic_value()
    for inst in insts:
        s = BW.parse_instance(inst)
        kids = [BW.apply(s, a) for a in BW.legal_steps(s)]
        if max(value.evaluate(BW, kids, rng=np.random.default_rng(0))) < 0.05:
            return inst
    raise AssertionError("no instance with every root child below the threshold")


def test_dfs_goes_on_past_children_valued_below_the_threshold():
    inst = _long_blocksworld()
    r = CliRunner().invoke(cli, ["solve", "blocksworld", inst, "--algo", "dfs", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["solved"] and BW.verify(inst, d["answer"]) and d["usage"]["expansions"] > 1


def test_dfs_with_everything_below_the_threshold_is_still_a_complete_search():
    """Toy: a line 0..4 with a value that is 0 everywhere; DFS must still reach 4 (before the
    fix it stopped after expanding the root, 'exhausted')."""
    r = mcts_reason.solve(Line(), "0", algo="dfs", policy=UniformPolicy(),
                          value=ConstantValue(0.0), budget=Budget(expansions=50))
    assert r.solved and r.answer == "4"


# -- greedy ---------------------------------------------------------------------------------------
class Line:
    """States 0..4 on a line, steps +1/-1, solved at 4; moves can be undone (cycles)."""

    name = "line"

    def parse_instance(self, text):
        return int(text)

    def legal_steps(self, state):
        return [d for d in (1, -1) if 0 <= state + d <= 4]

    def apply(self, state, step):
        return state + step

    def is_solved(self, state):
        return state == 4

    def is_dead_end(self, state):
        return False

    def render(self, state):
        return str(state)

    def render_step(self, state, step):
        return f"{step:+d}"

    def answer(self, initial, steps):
        return str(initial + sum(steps))

    def verify(self, instance, answer):
        return answer == "4"


class BackAndForth:
    """Prefers going back at odd states: greedy used to bounce 0 -> 1 -> 0 -> 1 ... forever."""

    exhaustive = True

    def propose(self, puzzle, state, *, k, rng):
        back = state % 2 == 1
        return [(d, 0.9 if (d == -1) == back else 0.1) for d in puzzle.legal_steps(state)]


def test_greedy_never_steps_back_onto_its_own_chain():
    r = mcts_reason.solve(Line(), "0", algo="greedy", policy=BackAndForth(), value=ConstantValue(),
                          budget=Budget(expansions=20_000))
    assert r.solved and r.answer == "4" and r.usage.expansions == 4
    states = [0]
    for text in r.steps:
        states.append(states[-1] + int(text))
    assert len(set(states)) == len(states)


def test_greedy_chain_with_only_visited_states_left_ends_without_spending_the_budget():
    class Stuck(Line):
        def legal_steps(self, state):
            return [d for d in (1, -1) if 0 <= state + d <= 1]

    r = mcts_reason.solve(Stuck(), "0", algo="greedy", policy=BackAndForth(), value=ConstantValue(),
                          budget=Budget(expansions=20_000))
    assert not r.solved and r.usage.expansions == 2 and r.stop_reason == "chain ended unsolved"


def test_greedy_cli_on_a_long_blocksworld_instance_solves_without_looping():
    inst = _long_blocksworld()
    r = CliRunner().invoke(cli, ["solve", "blocksworld", inst, "--algo", "greedy", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["solved"] and BW.verify(inst, d["answer"])
    assert d["usage"]["expansions"] == len(d["steps"]) < 100
