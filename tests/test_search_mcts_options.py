"""The MCTS options added for the baseline comparison: UCT registered, expand_after, nodes cap."""
from __future__ import annotations

import numpy as np
import pytest

from mcts_reason.budget import Budget
from mcts_reason.search import ALGORITHMS, mcts_search
from mcts_reason.values import ConstantValue
from mcts_reason_puzzles.game24 import solvable

from search_helpers import EASY, g24, independent_value  # noqa: F401 (fixture)


def run(g24, inst, budget, **options):
    return mcts_search.search(g24, inst, policy=g24.heuristic_policy(), value=g24.heuristic_value(),
                       budget=budget, rng=np.random.default_rng(0), **options)


def test_expand_after_values_a_leaf_before_paying_for_its_expansion(g24):
    eager = run(g24, "1 6 11 13", Budget(simulations=2))
    lazy = run(g24, "1 6 11 13", Budget(simulations=2), expand_after=1)
    # eager: two expansions (root, then the chosen child) and their two values
    assert (eager.usage.policy_calls, eager.usage.value_calls) == (2, 2)
    # lazy: the root is expanded; the chosen child is only valued on its first visit
    assert (lazy.usage.policy_calls, lazy.usage.value_calls) == (1, 2)
    child = max(lazy.root.children, key=lambda ch: ch.visits)
    assert child.visits == 1 and not child.expanded and child.value is not None


def test_expand_after_solves_easy_puzzles(g24):
    for inst in EASY:
        r = run(g24, inst, Budget(simulations=1000), expand_after=1, c=0.5)
        assert r.solved and independent_value(inst, r.answer)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_expand_after_rejects_bad_values(g24, bad):
    with pytest.raises(ValueError, match="expand_after"):
        run(g24, "4 9 10 13", Budget(simulations=5), expand_after=bad)


def test_uct_variant_is_registered_and_differs_from_puct(g24):
    # A value without exact values: with the heuristic's (exact on two numbers) both rules walk
    # straight down the first solution they list (`Node.sure`) and may make the same 3 visits.
    a, b = (ALGORITHMS[algo](g24, "1 6 11 13", policy=g24.heuristic_policy(),
                             value=ConstantValue(0.5), budget=Budget(simulations=500),
                             rng=np.random.default_rng(0)) for algo in ("mcts-uct", "mcts"))
    assert a.algo == "mcts-uct" and b.algo == "mcts"
    assert a.usage.simulations != b.usage.simulations


class Toy:
    """Three moves from the start: two dead ends listed first, then the win."""

    name, description = "toy", "two dead ends and a win"

    def parse_instance(self, text):
        return "start"

    def legal_steps(self, state):
        return ["a", "b", "win"] if state == "start" else []

    def apply(self, state, step):
        return step

    def is_solved(self, state):
        return state == "win"

    def is_dead_end(self, state):
        return state in ("a", "b")

    def render(self, state):
        return state

    def render_step(self, state, step):
        return step

    def answer(self, initial, steps):
        return "win" if list(steps) == ["win"] else "no"

    def verify(self, instance, answer):
        return answer == "win"


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_nodes_cap_never_fakes_a_proof(algo):
    """Regression: a child list cut short by the nodes cap used to mark an MCTS node saturated,
    so two listed dead ends 'proved' a solvable start lost."""
    from mcts_reason.values import ConstantValue

    class Ranked:      # every legal step, in the toy's order, distinct priors (no ties to break)
        exhaustive = True

        def propose(self, puzzle, state, *, k, rng):
            steps = puzzle.legal_steps(state)
            return [(s, float(len(steps) - i)) for i, s in enumerate(steps)]

    toy = Toy()
    kw = dict(policy=Ranked(), value=ConstantValue(), rng=np.random.default_rng(0))
    extra = {"n": 5} if algo == "best-of-n" else {}
    cut = ALGORITHMS[algo](toy, "x", budget=Budget(nodes=3), **kw, **extra)
    assert not cut.proved_unsolvable and cut.usage.nodes <= 3
    assert not cut.solved or (algo == "best-of-n" and cut.answer == "win")   # it samples
    if algo != "greedy":
        full = ALGORITHMS[algo](toy, "x", budget=Budget(nodes=4), **kw, **extra)
        assert full.solved and full.answer == "win"
