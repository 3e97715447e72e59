"""The selection rules of MCTS: which child a descent goes to. One function per rule, the same
for the sequential and the parallel search (`MCTS.select`), swappable by name (`SELECTION`).

A rule takes (node, c, fpu) and returns the child to descend to, or None when every child is
lost. Virtual loss (pending visits of value 0, `Node.virtual_loss`) counts in both the parent's
and the child's visits, so that parallel MCTS spreads its in-flight leaves; sequentially it is 0.
"""
from __future__ import annotations

import math
from typing import Callable

from ..tree import LOSS, Node


def puct_child(node: Node, c: float, fpu: float) -> Node | None:
    """AlphaZero's PUCT: the child maximising Q + c * P * sqrt(N_parent) / (1 + N_child), with
    virtual loss (pending visits of value 0) in both counts; unvisited children have Q = `fpu`.
    Lost children are never chosen; ties go to the earlier child. None if every child is lost.
    A child not built yet (`Node.kids`) is unvisited: its score is fpu + c * P * sqrt(N_parent)."""
    sqrt_n = math.sqrt(max(1, node.visits + node.virtual_loss))   # the parent's term, once
    listed = node.listed
    best, best_score = None, -math.inf
    for i, ch in enumerate(node.kids):
        if ch is None:
            j = i - listed.start
            if listed.statuses[j] != LOSS:
                s = fpu + c * listed.proposals[j][1] * sqrt_n
                if s > best_score:
                    best, best_score = i, s
        elif ch.status != LOSS:
            n = ch.visits + ch.virtual_loss
            s = (ch.value_sum / n if n else fpu) + c * ch.prior * sqrt_n / (1 + n)
            if s > best_score:
                best, best_score = i, s
    return None if best is None else node.child(best)


def uct_child(node: Node, c: float, fpu: float) -> Node | None:
    """UCB1 applied to trees (Kocsis & Szepesvari): the child maximising
    Q + c * sqrt(ln N_parent / N_child). Unvisited children come first, in prior order (then
    creation order); lost children are never chosen. None if every child is lost. A child not
    built yet (`Node.kids`) is unvisited. (The hot path: the exploration term is computed as
    c * sqrt(ln N_parent) times a table of 1 / sqrt(N_child).)

    Sequentially (no virtual loss below `node`) the unvisited children are taken from a queue
    in that order (`_next_unvisited`), with no pass over the others: a child once visited or
    lost stays so, so the queue only shrinks. About half of the calls of a Game of 24 search
    pick an unvisited child."""
    total = max(1, node.visits + node.virtual_loss)
    if total >= len(_INV_SQRT):       # a child's visits never exceed its parent's
        _grow_inv_sqrt(2 * total)
    k = c * math.sqrt(math.log(total))     # the parent's term, once
    inv_sqrt = _INV_SQRT
    kids = node.kids
    best, best_score = None, -math.inf
    if not node.virtual_loss and k < 1e8:   # (an unvisited child's 1e9 + P beats 1 + k)
        i = _next_unvisited(node)
        if i is not None:
            return node.child(i)
        for ch in kids:   # every child left is built and visited (no virtual loss)
            if ch is not None and ch.status != LOSS:
                n = ch.visits
                s = ch.value_sum / n + k * inv_sqrt[n]
                if s > best_score:
                    best, best_score = ch, s
        return best
    listed = node.listed
    for i, ch in enumerate(kids):
        if ch is None:
            j = i - listed.start
            if listed.statuses[j] != LOSS:
                s = 1e9 + listed.proposals[j][1]
                if s > best_score:
                    best, best_score = i, s
        elif ch.status != LOSS:
            n = ch.visits + ch.virtual_loss
            s = 1e9 + ch.prior if n == 0 else ch.value_sum / n + k * inv_sqrt[n]
            if s > best_score:
                best, best_score = i, s
    return None if best is None else node.child(best)


def _next_unvisited(node: Node) -> int | None:
    """The index of `node`'s first unvisited child that is not lost, in UCT's order for them
    (score 1e9 + P, ties to the earlier child), or None. `Node.unvisited` keeps the indices
    still in question, the next one last; children found visited or lost are dropped for good
    (visits never go down, a lost child stays lost, and adding children resets the queue)."""
    queue = node.unvisited
    kids, listed = node.kids, node.listed
    if queue is None:
        scores = [1e9 + (listed.proposals[i - listed.start][1] if ch is None else ch.prior)
                  for i, ch in enumerate(kids)]
        # best first, equals in index order (a stable sort), then reversed: best last
        node.unvisited = queue = sorted(range(len(kids)), key=scores.__getitem__, reverse=True)
        queue.reverse()
    while queue:
        i = queue[-1]
        ch = kids[i]
        if ch is None:
            if listed.statuses[i - listed.start] != LOSS:
                return i
        elif ch.status != LOSS and not ch.visits:
            return i
        queue.pop()
    return None


_INV_SQRT: list[float] = [0.0]     # 1 / sqrt(n) at n, grown on demand


def _grow_inv_sqrt(size: int) -> None:
    _INV_SQRT.extend(1.0 / math.sqrt(n) for n in range(len(_INV_SQRT), size))


# A selection rule: (node, c, fpu) -> the child to descend to.
SELECTION: dict[str, Callable[[Node, float, float], Node | None]] = {
    "puct": puct_child,
    "uct": uct_child,
}
