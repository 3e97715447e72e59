"""Parallel MCTS's rounds (search/parallel.py): which leaves one round puts in flight, checked
against a restatement of the rule written here (PUCT with virtual loss, the round closing at
the (repeats + 1)-th return to a leaf already in it), and no state valued twice in a search."""
from __future__ import annotations

import math
import random
from collections import defaultdict

import numpy as np
import pytest
from game24_oracle import numbers_in_prompt, numbers_last_line, solvable

from mcts_reason import Budget, solve
from mcts_reason.llm import LLMClient, LLMPolicy, LLMValue
from mcts_reason.llm.scripted import Reply, ScriptedServer
from mcts_reason.policies import UniformPolicy
from mcts_reason.search.common import Context
from mcts_reason.search.parallel import ParallelMCTS
from mcts_reason.tree import LOSS, Node
from mcts_reason.values import ConstantValue
from mcts_reason_puzzles.game24 import Game24

G = Game24()
C = 1.5


def search_over(root: Node, k: int, repeats: int | None) -> ParallelMCTS:
    """A ParallelMCTS (exhaustive policy: no widening) whose tree is replaced by `root`."""
    ctx = Context(G, "4 9 10 13", policy=UniformPolicy(), value=ConstantValue(),
                  budget=Budget(simulations=10**6), rng=np.random.default_rng(0), algo="mcts")
    s = ParallelMCTS(ctx, concurrency=k, repeats=repeats, c=C, selection="puct", pw_c=2.0,
                     pw_alpha=0.5, samples=None)
    s.root = root
    return s


def random_tree(rng: random.Random) -> Node:
    """A tree of 1-40 nodes: random visits, values, priors (some equal), lost children."""
    root = Node(0)
    frontier, count = [root], 1
    while frontier and count < 40:
        node = frontier.pop(rng.randrange(len(frontier)))
        if node is not root and rng.random() < 0.3:
            continue
        node.expanded = True
        priors = [rng.choice([1, 1, 2, 3]) for _ in range(rng.randint(1, 5))]
        for p in priors:
            ch = Node(count, parent=node, prior=p / sum(priors), order=count)
            count += 1
            ch.visits = rng.choice([0, 0, 1, 2, 5])
            ch.value_sum = sum(rng.random() for _ in range(ch.visits))
            ch.status = LOSS if rng.random() < 0.15 else ch.status
            node.children.append(ch)
            if ch.status != LOSS:
                frontier.append(ch)
    root.visits = 1 + sum(ch.visits for ch in root.children)
    root.value_sum = root.visits * rng.random()
    return root


def reference_round(root: Node, k: int, repeats: int | None) -> list[Node]:
    """The round by its definition: descend by Q + c P sqrt(N_parent) / (1 + N), counting each
    pending selection through a node as a visit of value 0 (unvisited: Q is the parent's mean);
    a leaf chosen again adds its pending visits and selection goes on, until the
    (repeats + 1)-th time; at most K distinct leaves, at most 16 K descents."""
    pending: dict[int, int] = defaultdict(int)
    batch: list[Node] = []
    seen = 0
    for _ in range(16 * k):
        if len(batch) == k:
            break
        node, path = root, [root]
        while node.expanded:
            best, best_score = None, -math.inf
            parent_n = node.visits + pending[id(node)]
            fpu = node.value_sum / node.visits if node.visits else 0.0
            for ch in node.children:
                if ch.status == LOSS:
                    continue
                n = ch.visits + pending[id(ch)]
                q = ch.value_sum / n if n else fpu
                score = q + C * ch.prior * math.sqrt(max(1, parent_n)) / (1 + n)
                if score > best_score:
                    best, best_score = ch, score
            if best is None:
                break
            node = best
            path.append(node)
        if any(node is b for b in batch):
            if repeats is not None and seen >= repeats:
                break
            seen += 1
        else:
            batch.append(node)
        for n in path:
            pending[id(n)] += 1
    return batch


@pytest.mark.parametrize("repeats", [0, 1, 2, 5, None])
@pytest.mark.parametrize("k", [1, 4, 16])
def test_a_round_holds_the_leaves_the_rule_names(k, repeats):
    rng = random.Random(1000 * k + (repeats if repeats is not None else 99))
    sizes = set()
    for _ in range(150):
        root = random_tree(rng)
        want = [n.state for n in reference_round(root, k, repeats)]
        s = search_over(root, k, repeats)
        batch, extra = s._select_batch()
        assert [n.state for n in batch] == want
        sizes.add(len(batch))
        for leaf in batch + extra:     # what `run` clears: nothing may stay pending
            s._clear(leaf)
        assert all(n.virtual_loss == 0 for n in root.iter())
    if k > 1:
        assert len(sizes) > 1          # the trees are varied enough to make rounds differ


def test_a_fresh_search_puts_only_the_root_in_its_first_round():
    s = search_over(Node(0), 16, 2)
    batch, extra = s._select_batch()
    assert batch == [s.root] and len(extra) == 2


def test_repeats_must_be_a_count():
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="repeats"):
            search_over(Node(0), 4, bad)


def test_no_state_is_valued_twice_in_one_parallel_search():
    """Many transpositions in Game of 24 (a+b then c*d, or c*d then a+b) and 16 leaves in
    flight: the value requests the server sees still name each state once."""
    def script(body, n):
        content = body["messages"][-1]["content"]
        rnd = random.Random(body.get("seed", 0))
        if "Possible next steps:" in content:
            state = tuple(sorted(numbers_in_prompt(content)))
            steps = G.legal_steps(state)
            picks = rnd.sample(steps, min(4, len(steps)))
            return Reply("\n".join(G.render_step(state, st) for st in picks))
        return Reply("sure" if solvable(numbers_last_line(content)) else "impossible")

    valued = []
    for inst, seed in [("1 1 1 8", 0), ("2 3 4 5", 1), ("1 2 3 4", 2)]:
        with ScriptedServer(script) as srv:
            client = LLMClient(base_url=srv.base_url, model="m", api_key="k",
                               sleep=lambda s: None, concurrency=16)
            r = solve(G, inst, policy=LLMPolicy(client), value=LLMValue(client),
                      budget=Budget(model_calls=80), seed=seed, concurrency=16)
            client.close()
            states = [tuple(sorted(numbers_last_line(b["messages"][-1]["content"])))
                      for b in srv.requests
                      if "Possible next steps:" not in b["messages"][-1]["content"]]
            assert len(srv.requests) == r.usage.model_calls
            assert len(states) == len(set(states)), inst
            valued.append(len(states))
    assert sum(valued) > 20
