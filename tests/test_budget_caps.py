"""One budget for every algorithm: the combined `calls` cap, and no cap is ever exceeded."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcts_reason.budget import Budget, Meter
from mcts_reason.policies import NoisyPolicy
from mcts_reason.search import ALGORITHMS
from mcts_reason_puzzles.game24 import Game24, Game24HeuristicPolicy, Game24HeuristicValue

from search_helpers import independent_value

GAME = Game24()
INSTANCES = list(GAME.instances())          # every multiset, solvable or not
COUNTED = ("simulations", "expansions", "nodes", "policy_calls", "value_calls", "calls")


def test_calls_cap_counts_policy_and_value_calls_together():
    m = Meter(Budget(calls=5))
    assert m.can("policy_calls") and m.can("value_calls", 5) and not m.can("value_calls", 6)
    m.spend("policy_calls", 2)
    m.spend("value_calls", 2)
    assert m.usage.calls == 4 and m.exhausted() is None
    assert m.can("value_calls") and not m.can("value_calls", 2) and m.can("policy_calls")
    m.spend("policy_calls")
    assert m.exhausted() == "calls" and not m.can("policy_calls") and not m.can("value_calls")
    assert m.can("nodes")                     # other kinds are not limited by `calls`
    assert m.usage.to_dict()["calls"] == 5


def test_model_caps_refuse_the_next_call_once_reached():
    m = Meter(Budget(tokens=100, cost=1.0, model_calls=3))
    assert m.can("policy_calls")
    m.usage.prompt_tokens, m.usage.completion_tokens = 60, 40
    assert not m.can("policy_calls") and not m.can("value_calls") and m.exhausted() == "tokens"
    m = Meter(Budget(cost=1.0))
    m.usage.cost = 1.0
    assert not m.can("value_calls")
    m = Meter(Budget(model_calls=3))
    m.spend("model_calls", 3)
    assert not m.can("policy_calls")


def test_budget_rejects_bad_calls_cap():
    with pytest.raises(ValueError, match="calls"):
        Budget(calls=-1)
    assert "calls=7" in repr(Budget(calls=7))


caps = st.one_of(st.none(), st.integers(0, 60))
budgets = st.builds(
    Budget, simulations=caps, expansions=caps, nodes=st.one_of(st.none(), st.integers(0, 200)),
    policy_calls=caps, value_calls=st.one_of(st.none(), st.integers(0, 300)),
    calls=st.one_of(st.none(), st.integers(0, 300)),
    seconds=st.one_of(st.none(), st.just(0.0), st.floats(0.001, 0.05)))


RUNS = [(algo, {}) for algo in sorted(ALGORITHMS)] + [("mcts", {"expand_after": 1, "c": 0.5})]


@pytest.mark.parametrize("algo,options", RUNS, ids=[f"{a}{o or ''}" for a, o in RUNS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget=budgets, inst=st.sampled_from(INSTANCES), seed=st.integers(0, 2**16),
       noise=st.sampled_from([0.0, 0.5]))
def test_no_cap_is_ever_exceeded(algo, options, budget, inst, seed, noise):
    if algo == "best-of-n" and not any(getattr(budget, c) is not None for c in
                                       ("simulations", "expansions", "policy_calls", "calls",
                                        "seconds")):
        budget = Budget(**budget.caps(), calls=300)
    policy = NoisyPolicy(Game24HeuristicPolicy(), noise)
    r = ALGORITHMS[algo](GAME, inst, policy=policy, value=Game24HeuristicValue(), budget=budget,
                         rng=np.random.default_rng(seed), **options)
    u = r.usage
    spent = {"simulations": u.simulations, "expansions": u.expansions, "nodes": u.nodes,
             "policy_calls": u.policy_calls, "value_calls": u.value_calls, "calls": u.calls}
    for kind in COUNTED:
        cap = getattr(budget, kind)
        if cap is not None:
            assert spent[kind] <= cap, (kind, spent, budget)
    if r.root is not None:                    # the tree holds exactly the nodes charged
        assert sum(1 for _ in r.root.iter()) == u.nodes
    if budget.seconds == 0.0:
        assert u.policy_calls == u.value_calls == u.nodes == 0
    elif budget.seconds is not None:
        assert u.seconds < budget.seconds + 1.0   # checked before each operation
    if r.solved:
        assert independent_value(inst, r.answer)
    else:
        assert r.answer is None
        if r.stop_reason.startswith("budget"):
            assert not r.proved_unsolvable
