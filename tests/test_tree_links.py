"""Node.parent is a weak link: a finished tree has no reference cycles, so it is freed by
reference counting alone the moment it is dropped; pickling and copying keep every link."""
from __future__ import annotations

import copy
import gc
import pickle
import weakref

import pytest

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.search import ALGORITHMS
from mcts_reason.tree import Node


def _shape(root: Node) -> list:
    """Every node with its parent's order, read through `parent` (not the children lists)."""
    return [(n.order, None if n.parent is None else n.parent.order, n.state, n.step, n.visits,
             n.value_sum, n.status, n.prior, n.depth) for n in root.iter()]


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_a_dropped_tree_is_freed_without_the_cycle_collector(algo):
    was = gc.isenabled()
    gc.disable()
    try:
        r = mcts_reason.solve("game24", "1 1 1 1", algo=algo,
                              budget=Budget(simulations=200, expansions=200))
        nodes = list(r.root.iter())
        assert len(nodes) >= (4 if algo == "greedy" else 10)   # greedy: one chain
        refs = [weakref.ref(n) for n in nodes]
        del r, nodes
        alive = sum(ref() is not None for ref in refs)
        assert alive == 0, f"{alive} of {len(refs)} nodes outlived their tree without gc"
    finally:
        if was:
            gc.enable()


def test_parent_links_agree_with_the_children():
    r = mcts_reason.solve("game24", "4 9 10 13", budget=Budget(simulations=300))
    for n in r.root.iter():
        for ch in n.children:
            assert ch.parent is n and ch.depth == n.depth + 1
    assert r.root.parent is None


@pytest.mark.parametrize("clone", [lambda t: pickle.loads(pickle.dumps(t)), copy.deepcopy])
def test_pickle_and_copy_keep_the_whole_tree(clone):
    r = mcts_reason.solve("game24", "1 1 4 6", budget=Budget(simulations=80),
                          seed=3)
    before = _shape(r.root)
    got = clone(r)
    assert _shape(got.root) == before
    assert got.root is not r.root and got.steps == r.steps
    # the clone is a tree of its own: its links point into it, not back into the original
    originals = {id(n) for n in r.root.iter()}
    assert not any(id(n.parent) in originals for n in got.root.iter() if n.parent is not None)
    # and a search result that crossed a process boundary still gives its principal path
    assert [n.order for n in mcts_reason.principal_path(got.root)] == \
           [n.order for n in mcts_reason.principal_path(r.root)]


def test_a_node_kept_alone_forgets_its_dropped_ancestors():
    r = mcts_reason.solve("game24", "4 9 10 13", budget=Budget(simulations=50))
    leaf = max(r.root.iter(), key=lambda n: n.depth)
    assert leaf.depth >= 2 and leaf.path()[0] is r.root
    depth = leaf.depth
    del r
    gc.collect()
    assert leaf.parent is None and leaf.path() == [leaf] and leaf.depth == depth


def test_parent_can_be_set_and_cleared():
    a, b = Node((1, 2)), Node((3,))
    b.parent = a
    assert b.parent is a
    b.parent = None
    assert b.parent is None
    assert Node((5,), parent=a).parent is a
    assert Node((5,), parent=a).depth == 1
