"""Node expansion shared by the baselines (BFS, DFS, beam, best-of-N, greedy).

One rule for every algorithm: a node's children come from one charged policy call through
`Context.propose`, and each new child is a node charged against the `nodes` cap *before* it is
created, so the cap is never exceeded. The puzzle, not the value function, marks children that
are solved (WIN) or dead ends (LOSS).
"""
from __future__ import annotations

from typing import Any

from ..tree import LOSS, WIN, Node
from .common import Context, SearchResult


def new_root(ctx: Context) -> Node | None:
    """The root node, or None when the budget has no room for even one node."""
    if not ctx.meter.can("nodes"):
        return None
    root = ctx.new_node(ctx.initial)
    if ctx.puzzle.is_solved(root.state):
        root.status = WIN
    elif ctx.puzzle.is_dead_end(root.state):
        root.status = LOSS
    return root


def expand(ctx: Context, node: Node, *, k: int | None = None) -> tuple[list[Node], bool] | None:
    """Ask the policy for `node`'s children and add the new ones to the tree.

    Returns (new children in proposal order, truncated), or None when the budget refuses the
    policy call. `truncated` is True when the nodes cap (or the clock) cut the list short.
    """
    proposals = ctx.propose(node.state, k=k)
    if proposals is None:
        return None
    node.expanded = True
    known = {ch.state for ch in node.children}
    kids: list[Node] = []
    puzzle = ctx.puzzle
    for step, prior, nxt in proposals:
        if nxt in known:
            continue
        if not ctx.meter.can("nodes"):
            return kids, True
        child = ctx.new_node(nxt, step=step, parent=node, prior=prior)
        if puzzle.is_solved(nxt):
            child.status = WIN
        elif puzzle.is_dead_end(nxt) or nxt in ctx.lost:
            child.status = LOSS
        node.children.append(child)
        kids.append(child)
        known.add(nxt)
    return kids, False


def child(ctx: Context, node: Node, step: Any, nxt: Any, prior: float) -> Node | None:
    """The child of `node` for state `nxt`: the existing one, or a new node if the cap allows."""
    for ch in node.children:
        if ch.state == nxt:
            return ch
    if not ctx.meter.can("nodes"):
        return None
    ch = ctx.new_node(nxt, step=step, parent=node, prior=prior)
    if ctx.puzzle.is_solved(nxt):
        ch.status = WIN
    elif ctx.puzzle.is_dead_end(nxt):
        ch.status = LOSS
    node.children.append(ch)
    return ch


def value_samples(value: Any, n_evaluate: int | None) -> int:
    """How many times each new state is scored (each a charged value call).

    A value function that declares `deterministic = True` (the puzzle heuristics, a constant,
    an exact oracle) is asked once: repeated samples could not change its answer, so charging for
    them would only handicap the algorithm. Any other value function (an LLM judge, random
    rollouts) is sampled `n_evaluate` times (default 3, as in the Tree-of-Thoughts Game of 24
    runs) and the mean is used.
    """
    if n_evaluate is not None and (isinstance(n_evaluate, bool) or not isinstance(n_evaluate, int)
                                   or n_evaluate < 1):
        raise ValueError(f"n_evaluate must be a positive integer, got {n_evaluate!r}")
    if getattr(value, "deterministic", False):
        return 1
    return 3 if n_evaluate is None else n_evaluate


def check_positive(name: str, v: int | None, *, allow_none: bool = True) -> None:
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")


def solved(ctx: Context, node: Node, root: Node) -> SearchResult:
    """The result for a solved node (verified by `Context.result`)."""
    for n in node.path():
        n.status = WIN
    return ctx.result([n.step for n in node.path()[1:]], stop_reason="solved", root=root)


def trivial(ctx: Context, root: Node | None) -> SearchResult | None:
    """The result when there is nothing to search: no room for a root, or a solved/dead root."""
    if root is None:
        return ctx.result(None, stop_reason=ctx.stop("nodes"))
    if root.status == WIN:
        return ctx.result([], stop_reason="solved", root=root)
    if root.status == LOSS:
        return ctx.result(None, stop_reason="exhausted", proved=True, root=root)
    return None
