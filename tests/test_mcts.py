"""MCTS behaviour: determinism, transpositions, proven results, budgets, widening, plug-in policies."""
from __future__ import annotations

import math

import numpy as np
import pytest

import mcts_reason
from mcts_reason import Budget
from mcts_reason.policies import UniformPolicy
from mcts_reason.search import mcts, mcts_search
from mcts_reason.search.common import Context
from mcts_reason.tree import LOSS, WIN
from mcts_reason.values import ConstantValue, RolloutValue
from mcts_reason_puzzles.game24 import Game24

G = Game24()


def tree_signature(root):
    return [(n.order, n.state, n.visits, round(n.value_sum, 12), round(n.prior, 12), n.status)
            for n in root.iter()]


class SamplingPolicy:
    """Samples k legal steps uniformly with replacement: a stand-in for an LLM sampler."""
    exhaustive = False

    def __init__(self, k=3):
        self.k = k
        self.calls = 0

    def propose(self, puzzle, state, *, k, rng):
        self.calls += 1
        steps = puzzle.legal_steps(state)
        if not steps:
            return []
        idx = rng.integers(len(steps), size=k or self.k)
        return [(steps[i], 1.0) for i in idx]


class CountingValue:
    def __init__(self, inner):
        self.inner, self.seen = inner, []

    def evaluate(self, puzzle, states, *, rng):
        self.seen.extend(states)
        return self.inner.evaluate(puzzle, states, rng=rng)


@pytest.mark.parametrize("policy_factory, instance", [(lambda: G.heuristic_policy(), "1 1 4 6"),
                                                      (lambda: SamplingPolicy(), "1 5 5 5")])
def test_same_seed_same_tree_different_seed_differs(policy_factory, instance):
    """Same seed, same tree; another seed draws other rollouts (and samples), so its tree
    differs -- the seed is really what decides, not something else that stays fixed."""
    budget = Budget(simulations=60)
    runs = [mcts_reason.solve(G, instance, policy=policy_factory(), value=RolloutValue(n=2),
                              budget=budget, seed=s) for s in (7, 7, 8)]
    assert tree_signature(runs[0].root) == tree_signature(runs[1].root)
    assert runs[0].to_dict()["steps"] == runs[1].to_dict()["steps"]
    assert tree_signature(runs[2].root) != tree_signature(runs[0].root)


def test_transposition_table_never_evaluates_a_state_twice():
    value = CountingValue(G.heuristic_value())
    r = mcts_reason.solve(G, "1 1 2 5", policy=UniformPolicy(), value=value,
                          budget=Budget(simulations=400), seed=0)
    assert len(value.seen) == len(set(value.seen))
    assert r.usage.value_calls == len(value.seen)
    # different step orders reach the same states here (the tree holds them more than once),
    # and still no state was evaluated twice
    states = [n.state for n in r.root.iter() if len(n.state) > 1]
    assert len(states) > len(set(states))


def test_proven_loss_is_never_revisited_and_root_proven_unsolvable():
    r = mcts_reason.solve(G, "1 1 1 1", budget=Budget(simulations=1000), seed=0)
    assert not r.solved and r.proved_unsolvable and r.stop_reason == "exhausted"
    assert r.root.status == LOSS
    # every expanded node was expanded once: simulations == expansions, and no more than the
    # number of distinct non-terminal nodes in the tree
    expanded = [n for n in r.root.iter() if n.expanded]
    assert r.usage.expansions == len(expanded)
    assert all(n.status == LOSS for n in r.root.iter())


def test_solved_leaf_is_a_proven_win_along_the_path():
    r = mcts_reason.solve(G, "4 9 10 13", seed=0)
    assert r.solved and r.stop_reason == "solved"
    wins = [n for n in r.root.iter() if n.status == WIN]
    leaf = max(wins, key=lambda n: n.depth)
    assert G.is_solved(leaf.state)
    assert [n for n in leaf.path()] == sorted(wins, key=lambda n: n.depth)


@pytest.mark.parametrize("kind,cap", [("simulations", 3), ("expansions", 2), ("nodes", 40),
                                      ("policy_calls", 2), ("value_calls", 1)])
def test_each_cap_stops_the_search_without_exceeding(kind, cap):
    r = mcts_reason.solve(G, "1 3 4 6", policy=UniformPolicy(), value=ConstantValue(),
                          budget=Budget(**{kind: cap}), seed=0)
    assert getattr(r.usage, kind) <= cap
    assert not r.solved and r.stop_reason.startswith("budget")


def test_seconds_cap():
    r = mcts_reason.solve(G, "1 1 1 1", policy=UniformPolicy(), value=RolloutValue(n=50),
                          budget=Budget(seconds=0.0), seed=0)
    assert r.stop_reason == "budget: seconds" and r.usage.simulations == 0


def test_progressive_widening_limits_children_for_sampling_policies():
    """The widening rule, checked at every expansion: a node is re-asked only while it holds
    fewer than ceil(pw_c * (N + 1) ** pw_alpha) children (or none of them is alive), and one
    policy call adds at most k = 2 of them."""
    policy = SamplingPolicy(k=2)
    ctx = Context(G, "2 5 7 11", policy=policy, value=G.heuristic_value(),
                  budget=Budget(simulations=200), rng=np.random.default_rng(0), algo="mcts")
    widened = []

    class Checked(mcts.MCTS):
        def expand(self, node):
            before = len(node.children)
            if node.expanded:
                allowed = math.ceil(1.0 * (node.visits + 1) ** 0.5)
                alive = sum(ch.status != LOSS for ch in node.children)
                assert before < allowed or alive == 0, (node, before, allowed)
                widened.append((before, allowed))
            ok = super().expand(node)
            assert len(node.children) - before <= 2
            return ok

    search = Checked(ctx, c=1.5, selection="puct", pw_c=1.0, pw_alpha=0.5, samples=None)
    result = search.run()
    assert len(widened) >= 5                 # the rule was exercised, not just the first asks
    for n in result.root.iter():             # so no node ever grew past the rule's bound
        if n.children and all(ch.status != LOSS for ch in n.children):
            assert len(n.children) <= math.ceil(n.visits ** 0.5) + 1, n
    assert policy.calls == result.usage.policy_calls
    assert not result.proved_unsolvable    # a sampler can never prove a loss


def test_sampling_policy_solves_easy_puzzles():
    for inst in ["1 1 4 6", "4 9 10 13", "2 2 2 12"]:
        r = mcts_reason.solve(G, inst, policy=SamplingPolicy(k=4), budget=Budget(simulations=2000),
                              seed=1)
        assert r.solved and G.verify(inst, r.answer)


def test_uct_selection_solves_and_is_selectable():
    r = mcts_search.search(G, "4 9 10 13", policy=G.heuristic_policy(), value=G.heuristic_value(),
                    budget=Budget(simulations=500), rng=np.random.default_rng(0), selection="uct")
    assert r.solved and r.algo == "mcts-uct"
    with pytest.raises(ValueError, match="selection"):
        mcts_search.search(G, "4 9 10 13", policy=UniformPolicy(), value=ConstantValue(),
                    budget=Budget(simulations=5), rng=np.random.default_rng(0), selection="nope")


def test_user_written_policy_plugs_in():
    class PreferMultiply:
        """Likes multiplication; lists every legal step, so it may prove losses."""
        exhaustive = True

        def propose(self, puzzle, state, *, k, rng):
            return [(s, 3.0 if s.op == "*" else 1.0) for s in puzzle.legal_steps(state)]

    r = mcts_reason.solve("game24", "3 4 6 8", policy=PreferMultiply(), seed=0)
    assert r.solved and G.verify("3 4 6 8", r.answer)


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError):
        mcts_search.search(G, "4 9 10 13", policy=UniformPolicy(), value=ConstantValue(),
                    budget=Budget(simulations=5), rng=42)


def test_budget_validation():
    with pytest.raises(ValueError, match="simulations"):
        Budget(simulations=-1)
    assert "simulations=5" in repr(Budget(simulations=5))


@pytest.mark.parametrize("concurrency", [1, 4])
def test_children_are_built_when_selected_and_the_read_tree_is_complete(concurrency):
    """MCTS lists an expansion's children and builds a child's Node when selection first picks
    it; reading `children` builds the rest. The tree read afterwards holds every listed child
    (`Usage.nodes` of them, creation orders 0..n-1), each with the status the puzzle gives its
    state and the step that leads there."""
    g = Game24()
    for inst in ("1 1 1 1", "4 9 10 13", "1 5 5 5"):
        r = mcts_reason.solve(g, inst, policy=UniformPolicy(), value=RolloutValue(n=1),
                              budget=Budget(simulations=200), seed=0, concurrency=concurrency)
        built, stack = 0, [r.root]
        while stack:                       # the built part only: `kids`, not `children`
            node = stack.pop()
            built += 1
            stack.extend(ch for ch in node.kids if ch is not None)
        assert built < r.usage.nodes, inst          # most children are never visited
        nodes = list(r.root.iter())                  # reads `children`: builds every one
        assert sorted(n.order for n in nodes) == list(range(r.usage.nodes))
        for node in nodes:
            assert None not in node.kids and node.listed is None
            for ch in node.children:
                assert ch.parent is node and g.apply(node.state, ch.step) == ch.state
                if g.is_solved(ch.state):
                    assert ch.status == WIN
                elif g.is_dead_end(ch.state):
                    assert ch.status == LOSS
