"""The selection rules against values worked out by hand (mcts.puct_score, mcts.uct_score)."""
from __future__ import annotations

import math

import pytest

from mcts_reason.search.mcts import SELECTION, puct_score, uct_score
from mcts_reason.tree import Node


def _pair(*, parent_visits, visits, value_sum, prior, vl_parent=0, vl_child=0):
    parent = Node("p")
    parent.visits, parent.virtual_loss = parent_visits, vl_parent
    child = Node("c", step="s", parent=parent, prior=prior, order=1)
    child.visits, child.value_sum, child.virtual_loss = visits, value_sum, vl_child
    return parent, child


def test_puct_visited_child():
    # Q = 1.0 / 2 = 0.5; U = 1.5 * 0.5 * sqrt(9) / (1 + 2) = 0.75
    parent, child = _pair(parent_visits=9, visits=2, value_sum=1.0, prior=0.5)
    assert puct_score(parent, child, 1.5, 0.3) == pytest.approx(1.25, abs=1e-12)


def test_puct_unvisited_child_uses_first_play_urgency():
    # Q = fpu = 0.3; U = 1.5 * 0.25 * sqrt(9) / 1 = 1.125
    parent, child = _pair(parent_visits=9, visits=0, value_sum=0.0, prior=0.25)
    assert puct_score(parent, child, 1.5, 0.3) == pytest.approx(1.425, abs=1e-12)


def test_puct_root_with_no_visits_counts_one():
    # sqrt(max(1, 0)) = 1: U = 2.0 * 0.5 * 1 / 1 = 1.0, Q = fpu = 0
    parent, child = _pair(parent_visits=0, visits=0, value_sum=0.0, prior=0.5)
    assert puct_score(parent, child, 2.0, 0.0) == pytest.approx(1.0, abs=1e-12)


def test_puct_virtual_loss_counts_as_visits_of_value_zero():
    # n = 2 + 2 = 4: Q = 1.0 / 4 = 0.25; N = 14 + 2 = 16: U = 1.0 * 0.5 * 4 / 5 = 0.4
    parent, child = _pair(parent_visits=14, visits=2, value_sum=1.0, prior=0.5,
                          vl_parent=2, vl_child=2)
    assert puct_score(parent, child, 1.0, 0.9) == pytest.approx(0.65, abs=1e-12)


def test_uct_visited_child():
    # Q = 1.5 / 2 = 0.75; U = 1.5 * sqrt(ln 8 / 2) = 1.5 * 1.0196670... = 1.5295005...
    parent, child = _pair(parent_visits=8, visits=2, value_sum=1.5, prior=0.9)
    assert uct_score(parent, child, 1.5, 0.0) == pytest.approx(2.27950049, abs=1e-8)


def test_uct_ignores_priors_once_visited_and_fpu_always():
    a = uct_score(*_pair(parent_visits=8, visits=2, value_sum=1.5, prior=0.9), 1.5, 0.0)
    b = uct_score(*_pair(parent_visits=8, visits=2, value_sum=1.5, prior=0.1), 1.5, 0.7)
    assert a == b


def test_uct_unvisited_children_come_first_in_prior_order():
    hi = uct_score(*_pair(parent_visits=8, visits=0, value_sum=0.0, prior=0.6), 1.5, 0.0)
    lo = uct_score(*_pair(parent_visits=8, visits=0, value_sum=0.0, prior=0.4), 1.5, 0.0)
    best_visited = uct_score(*_pair(parent_visits=10**6, visits=1, value_sum=1.0, prior=1.0),
                             100.0, 0.0)
    assert hi > lo > best_visited
    assert hi == pytest.approx(1e9 + 0.6)


def test_uct_parent_with_one_visit_explores_nothing():
    # ln(max(1, 1)) = 0: only Q is left
    parent, child = _pair(parent_visits=1, visits=1, value_sum=0.25, prior=0.5)
    assert uct_score(parent, child, 3.0, 0.0) == pytest.approx(0.25, abs=1e-12)


def test_uct_virtual_loss():
    # n = 1 + 1 = 2: Q = 1.0 / 2; N = 3 + 1 = 4: U = 2 * sqrt(ln 4 / 2) = 2 * 0.8325546...
    parent, child = _pair(parent_visits=3, visits=1, value_sum=1.0, prior=0.5,
                          vl_parent=1, vl_child=1)
    assert uct_score(parent, child, 2.0, 0.0) == pytest.approx(0.5 + 1.66510922, abs=1e-8)


def test_the_table_names_both_rules():
    assert SELECTION == {"puct": puct_score, "uct": uct_score}
    assert math.isfinite(puct_score(*_pair(parent_visits=3, visits=1, value_sum=1, prior=0),
                                    1.5, 0.0))
