"""The selection rules against values worked out by hand (selection.puct_child, uct_child).

The rules return the chosen child, not its score, so each hand-computed score E is checked by
putting the child beside a *probe* child whose score is known exactly: the rule must prefer the
child to a probe scoring E - 1e-9 and the probe to the child when the probe scores E + 1e-9.
A PUCT probe has prior 0 and one visit (score = its value); a UCT probe has one visit and a value
that cancels its exploration term.
"""
from __future__ import annotations

import math

from mcts_reason.search.selection import SELECTION, puct_child, uct_child
from mcts_reason.tree import LOSS, Node

EPS = 1e-9


def _pair(*, parent_visits, visits, value_sum, prior, vl_parent=0, vl_child=0):
    parent = Node("p")
    parent.visits, parent.virtual_loss = parent_visits, vl_parent
    child = Node("c", step="s", parent=parent, prior=prior, order=1)
    child.visits, child.value_sum, child.virtual_loss = visits, value_sum, vl_child
    parent.children = [child]
    return parent, child


def _probe(parent, rule, c, target):
    probe = Node("probe", step="q", parent=parent, prior=0.0, order=2)
    probe.visits = 1
    n_parent = parent.visits + parent.virtual_loss
    if rule is uct_child:
        probe.value_sum = target - c * math.sqrt(math.log(max(1, n_parent)) / 1)
    else:
        probe.value_sum = target                 # prior 0: no exploration term
    return probe


def _score_is(rule, parent, child, c, fpu, expected):
    """The rule scores `child` at `expected` (to within EPS)."""
    for target, winner in ((expected - EPS, child), (expected + EPS, None)):
        probe = _probe(parent, rule, c, target)
        parent.children = [child, probe]
        chosen = rule(parent, c, fpu)
        if chosen is not (winner or probe):
            return False
    parent.children = [child]
    return True


def test_puct_visited_child():
    # Q = 1.0 / 2 = 0.5; U = 1.5 * 0.5 * sqrt(9) / (1 + 2) = 0.75
    parent, child = _pair(parent_visits=9, visits=2, value_sum=1.0, prior=0.5)
    assert _score_is(puct_child, parent, child, 1.5, 0.3, 1.25)
    assert not _score_is(puct_child, parent, child, 1.5, 0.3, 1.25 + 1e-6)


def test_puct_unvisited_child_uses_first_play_urgency():
    # Q = fpu = 0.3; U = 1.5 * 0.25 * sqrt(9) / 1 = 1.125
    parent, child = _pair(parent_visits=9, visits=0, value_sum=0.0, prior=0.25)
    assert _score_is(puct_child, parent, child, 1.5, 0.3, 1.425)


def test_puct_root_with_no_visits_counts_one():
    # sqrt(max(1, 0)) = 1: U = 2.0 * 0.5 * 1 / 1 = 1.0, Q = fpu = 0
    parent, child = _pair(parent_visits=0, visits=0, value_sum=0.0, prior=0.5)
    assert _score_is(puct_child, parent, child, 2.0, 0.0, 1.0)


def test_puct_virtual_loss_counts_as_visits_of_value_zero():
    # n = 2 + 2 = 4: Q = 1.0 / 4 = 0.25; N = 14 + 2 = 16: U = 1.0 * 0.5 * 4 / 5 = 0.4
    parent, child = _pair(parent_visits=14, visits=2, value_sum=1.0, prior=0.5,
                          vl_parent=2, vl_child=2)
    assert _score_is(puct_child, parent, child, 1.0, 0.9, 0.65)


def test_uct_visited_child():
    # Q = 1.5 / 2 = 0.75; U = 1.5 * sqrt(ln 8 / 2) = 1.5 * 1.01966699... = 1.52950049...
    parent, child = _pair(parent_visits=8, visits=2, value_sum=1.5, prior=0.9)
    assert _score_is(uct_child, parent, child, 1.5, 0.0, 2.2795004853)


def test_uct_ignores_priors_once_visited_and_fpu_always():
    for prior, fpu in ((0.9, 0.0), (0.1, 0.7)):
        parent, child = _pair(parent_visits=8, visits=2, value_sum=1.5, prior=prior)
        assert _score_is(uct_child, parent, child, 1.5, fpu, 2.2795004853)


def test_uct_unvisited_children_come_first_in_prior_order():
    parent = Node("p")
    parent.visits = 8
    lo = Node("lo", step="lo", parent=parent, prior=0.4, order=1)
    hi = Node("hi", step="hi", parent=parent, prior=0.6, order=2)
    seen = Node("seen", step="seen", parent=parent, prior=1.0, order=3)
    seen.visits, seen.value_sum = 1, 1.0
    parent.children = [seen, lo, hi]
    assert uct_child(parent, 100.0, 0.0) is hi
    parent.children = [seen, lo]
    assert uct_child(parent, 100.0, 0.0) is lo


def test_uct_parent_with_one_visit_explores_nothing():
    # ln(max(1, 1)) = 0: only Q is left
    parent, child = _pair(parent_visits=1, visits=1, value_sum=0.25, prior=0.5)
    assert _score_is(uct_child, parent, child, 3.0, 0.0, 0.25)


def test_uct_virtual_loss():
    # n = 1 + 1 = 2: Q = 1.0 / 2; N = 3 + 1 = 4: U = 2 * sqrt(ln 4 / 2) = 2 * 0.8325546...
    parent, child = _pair(parent_visits=3, visits=1, value_sum=1.0, prior=0.5,
                          vl_parent=1, vl_child=1)
    assert _score_is(uct_child, parent, child, 2.0, 0.0, 0.5 + 1.6651092223)


def test_lost_children_are_never_chosen_and_all_lost_is_none():
    for rule in (puct_child, uct_child):
        parent, child = _pair(parent_visits=9, visits=2, value_sum=2.0, prior=0.9)
        other = Node("o", step="o", parent=parent, prior=0.1, order=2)
        other.visits, other.value_sum = 5, 0.0
        parent.children = [child, other]
        assert rule(parent, 1.0, 0.0) is child
        child.status = LOSS
        assert rule(parent, 1.0, 0.0) is other
        other.status = LOSS
        assert rule(parent, 1.0, 0.0) is None


def test_the_table_names_both_rules():
    assert SELECTION == {"puct": puct_child, "uct": uct_child}


# -- the sequential fast path against the rule, as a search changes a node --------------------
from hypothesis import given, settings, strategies as st   # noqa: E402


def _reference_uct(node, c):
    """UCT straight from its definition, reading unbuilt children from the listing (building
    nothing): unvisited live children by (1e9 + P, earlier first), else the best
    Q + c * sqrt(ln N / n), earlier first among equals. Returns the child's index or None."""
    rows = []   # (index, prior, status, n, value_sum) per child
    for i, ch in enumerate(node.kids):
        if ch is None:
            j = i - node.listed.start
            rows.append((i, node.listed.proposals[j][1], node.listed.statuses[j], 0, 0.0))
        else:
            rows.append((i, ch.prior, ch.status, ch.visits + ch.virtual_loss, ch.value_sum))
    live = [r for r in rows if r[2] != LOSS]
    if not live:
        return None
    fresh = [r for r in live if r[3] == 0]
    if fresh:
        return max(fresh, key=lambda r: (1e9 + r[1], -r[0]))[0]
    total = max(1, node.visits + node.virtual_loss)
    return max(live, key=lambda r: (r[4] / r[3] + c * math.sqrt(math.log(total) / r[3]),
                                    -r[0]))[0]


def _chosen(node, c):
    got = uct_child(node, c, 0.0)
    return None if got is None else next(i for i, ch in enumerate(node.kids) if ch is got)


@settings(max_examples=200, deadline=None)
@given(priors=st.lists(st.sampled_from([0.1, 0.2, 0.2, 0.5, 1e-9, 2e-9]), min_size=1,
                       max_size=12),
       moves=st.lists(st.tuples(st.sampled_from(["pick", "lose", "widen", "vl"]),
                                st.integers(0, 11), st.floats(0, 1)), max_size=40),
       c=st.sampled_from([0.0, 0.5, 2.0]))
def test_uct_matches_its_definition_while_a_search_changes_the_node(priors, moves, c):
    """Children listed unbuilt (as MCTS lists them), then a run of changes a search makes:
    visit the chosen child with some value, mark a child lost, list more children, or a
    round of virtual loss; the rule must choose what the definition says after each one."""
    parent = Node("p")
    parent.visits = 1
    order = [1]

    def listing(ps):
        props = [(f"s{order[0] + j}", p, f"x{order[0] + j}") for j, p in enumerate(ps)]
        parent.list_children(props, [0] * len(ps), order[0])
        order[0] += len(ps)

    listing(priors)
    for kind, i, v in moves:
        want = _reference_uct(parent, c)
        got = _chosen(parent, c)
        assert got == want
        if kind == "pick" and got is not None:
            ch = parent.child(got)
            ch.visits += 1
            ch.value_sum += v
            parent.visits += 1
        elif kind == "lose":   # a built child proven lost (a listed one keeps its status)
            parent.child(i % len(parent.kids)).status = LOSS
        elif kind == "widen" and len(parent.kids) < 30:
            listing([v or 0.3, 0.2])
        elif kind == "vl" and got is not None:   # a parallel round: in flight, then back
            ch = parent.child(got)
            ch.virtual_loss += 1
            parent.virtual_loss += 1
            assert _chosen(parent, c) == _reference_uct(parent, c)
            ch.virtual_loss -= 1
            parent.virtual_loss -= 1
    assert _chosen(parent, c) == _reference_uct(parent, c)
