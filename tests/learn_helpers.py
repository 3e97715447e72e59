"""A fixture the learning tests share (a helper module, not a conftest.py: test modules import
it by name)."""
from __future__ import annotations

import numpy as np
import pytest

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.policies import UniformPolicy
from mcts_reason.registry import load
from mcts_reason.values import RolloutValue
from mcts_reason.viz.export import tree_graph


@pytest.fixture(scope="module")
def sliding_tree():
    """A small solved uniform+rollout tree of a 6-move 8-puzzle scramble: (puzzle, graph)."""
    s = load("sliding")
    inst = s.generate(1, rng=np.random.default_rng(3), width=3, depth=6)[0]
    result = mcts_reason.solve(s, inst, policy=UniformPolicy(), value=RolloutValue(),
                               budget=Budget(simulations=300), seed=0)
    assert result.solved
    return s, tree_graph(result, s, meta={"budget": "simple=300", "seed": 0})
