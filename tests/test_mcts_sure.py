"""MCTS takes a child its value function knows to be solvable (exact value 1.0) at once
(`Node.sure`), checked against the independent reference solver in tests/game24_oracle.py."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from mcts_reason import Budget, solve
from mcts_reason.search import ALGORITHMS
from mcts_reason.values import ConstantValue
from mcts_reason_puzzles.game24 import Game24

from game24_oracle import solvable as oracle_solvable

G = Game24()


def _known_win_waiting(root) -> bool:
    """Whether the tree lists an unexpanded two-number state that the reference can solve (the
    heuristic value's exact 1.0)."""
    return any(len(n.state) == 2 and not n.expanded
               and oracle_solvable(tuple(Fraction(x) for x in n.state)) for n in root.iter())


def test_a_listed_solvable_state_is_solved_by_the_next_simulation():
    """On 152 solvable instances (every ninth): whenever a search stopped by its budget holds a
    listed two-number state that can make 24, one more simulation solves the puzzle (it goes
    straight there and lists the 24), and every answer verifies."""
    insts = [i for i in G.instances()
             if oracle_solvable(tuple(Fraction(int(x)) for x in i.split()))]
    checked = 0
    for inst in insts[::9]:
        for k in range(1, 40):
            r = solve(G, inst, budget=Budget(simulations=k), seed=0)
            if r.solved:
                assert G.verify(inst, r.answer)
                break
            if _known_win_waiting(r.root):
                nxt = solve(G, inst, budget=Budget(simulations=k + 1), seed=0)
                assert nxt.solved and G.verify(inst, nxt.answer), (inst, k)
                checked += 1
                break
        else:
            raise AssertionError(f"{inst}: not solved in 39 simulations")
    assert checked > 50


def test_without_exact_values_the_search_does_not_shortcut():
    """The same searches with a value that knows nothing exactly take more simulations on some
    instances: the shortcut comes from the exact values, not from elsewhere."""
    more = 0
    for inst in ("1 6 11 13", "4 9 10 13", "2 7 7 10", "1 2 7 7", "3 4 6 13"):
        with_exact = solve(G, inst, budget=Budget(simulations=500), seed=0)
        without = ALGORITHMS["mcts"](G, inst, policy=G.heuristic_policy(), value=ConstantValue(0.5),
                                     budget=Budget(simulations=500), rng=np.random.default_rng(0))
        assert with_exact.solved and without.solved
        assert with_exact.usage.simulations <= 4       # 3 expansions, or 4 with a wrong turn
        more += without.usage.simulations > with_exact.usage.simulations
    assert more >= 2


def test_a_wrong_exact_claim_is_dropped_and_the_search_goes_on():
    """A value function that claims every two-number state is solvable: the search follows the
    claim, finds it false (the state's children are all dead ends), and still solves the puzzle
    or proves it unsolvable, as the rule alone would."""
    class Overclaiming:
        deterministic = True

        def evaluate(self, puzzle, states, *, rng):
            return [0.5] * len(states)

        def exact(self, puzzle, state):
            return 1.0 if len(state) == 2 else None

    for inst, solvable_ in (("4 9 10 13", True), ("1 1 1 2", False), ("3 3 8 8", True)):
        r = solve(G, inst, value=Overclaiming(), budget=Budget(simulations=2000), seed=0)
        assert r.solved == solvable_ and (r.solved or r.proved_unsolvable)
        if r.solved:
            assert G.verify(inst, r.answer)
