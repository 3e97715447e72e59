"""Golden trees: small stored search trees that the search must reproduce node for node.

Each case runs one seeded search and compares its whole tree (creation order, parent, step,
visits, value sum, prior, own value, status) and its result with tests/golden/<case>.json. A
change that alters a tree on purpose (a new tie-break, another selection detail) regenerates
them, and says so in its own commit:

    .venv/bin/python tests/test_golden.py --regenerate      # rewrites tests/golden/*.json
    git diff --stat tests/golden                            # review, then commit them alone

A change that alters them by accident is what this test is for.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mcts_reason import Budget, solve
from mcts_reason.policies import UniformPolicy
from mcts_reason.tree import LOSS, WIN
from mcts_reason.values import ConstantValue, RolloutValue
from mcts_reason_puzzles.game24 import Game24

GOLDEN = Path(__file__).parent / "golden"
G = Game24()
REGENERATE = "python tests/test_golden.py --regenerate"


class _Sampler:
    """Draws k legal steps with replacement from the search's generator (an LLM stand-in)."""

    exhaustive = False

    def propose(self, puzzle, state, *, k, rng: np.random.Generator):
        steps = puzzle.legal_steps(state)
        return [(steps[i], 1.0) for i in rng.integers(len(steps), size=k or 3)] if steps else []


CASES = {
    # heuristic policy and value (deterministic parts): the tree is decided by PUCT alone
    "mcts_heuristic_4_9_10_13": lambda: solve(G, "4 9 10 13", budget=Budget(simulations=25),
                                              seed=0),
    # a sampling policy and random rollouts: every draw comes from the seeded generator
    "mcts_sampler_rollout_1_5_5_5": lambda: solve(G, "1 5 5 5", policy=_Sampler(),
                                                  value=RolloutValue(n=2),
                                                  budget=Budget(simulations=30), seed=3),
    # UCT with an exhaustive uniform policy proving losses on an unsolvable instance
    "mcts_uct_uniform_1_1_1_2": lambda: solve(G, "1 1 1 2", algo="mcts-uct",
                                              policy=UniformPolicy(), value=ConstantValue(),
                                              budget=Budget(simulations=40), seed=0),
    "bfs_heuristic_1_1_4_6": lambda: solve(G, "1 1 4 6", algo="bfs", budget=Budget(expansions=8),
                                           seed=0),
}

_STATUS = {WIN: "win", LOSS: "loss"}


def snapshot(result) -> dict:
    """The result and its whole tree as plain JSON data."""
    nodes = []
    for n in result.root.iter():
        nodes.append({
            "order": n.order, "parent": None if n.parent is None else n.parent.order,
            "step": None if n.parent is None else G.render_step(n.parent.state, n.step),
            "state": G.render(n.state), "visits": n.visits,
            "value_sum": round(n.value_sum, 9), "prior": round(n.prior, 9),
            "value": None if n.value is None else round(n.value, 9),
            "status": _STATUS.get(n.status, "unknown"), "expanded": n.expanded})
    usage = result.usage.to_dict()
    return {"regenerate": REGENERATE,
            "result": {"solved": result.solved, "steps": list(result.steps),
                       "stop_reason": result.stop_reason,
                       "proved_unsolvable": result.proved_unsolvable,
                       "usage": {k: usage[k] for k in ("simulations", "expansions", "nodes",
                                                       "policy_calls", "value_calls")}},
            "nodes": sorted(nodes, key=lambda d: d["order"])}


@pytest.mark.parametrize("case", sorted(CASES))
def test_search_reproduces_the_golden_tree(case):
    path = GOLDEN / f"{case}.json"
    want = json.loads(path.read_text(encoding="utf-8"))
    got = snapshot(CASES[case]())
    assert got["result"] == want["result"], f"result changed; if on purpose: {REGENERATE}"
    assert len(got["nodes"]) == len(want["nodes"]), f"tree size changed; if on purpose: {REGENERATE}"
    for g, w in zip(got["nodes"], want["nodes"]):
        assert g == w, f"node {w['order']} differs; if on purpose: {REGENERATE}"


def test_the_golden_trees_are_not_trivial():
    """Each stored tree has real search in it: several expanded nodes, visits spread out."""
    for case in CASES:
        want = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
        expanded = [n for n in want["nodes"] if n["expanded"]]
        assert len(want["nodes"]) >= 10 and len(expanded) >= 3, case


def regenerate() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for case, run in sorted(CASES.items()):
        path = GOLDEN / f"{case}.json"
        path.write_text(json.dumps(snapshot(run()), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit(f"usage: {REGENERATE}")
    regenerate()
