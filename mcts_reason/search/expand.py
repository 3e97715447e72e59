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
    root.status = ctx.status_of(root.state)
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
    for step, prior, nxt in proposals:
        if nxt in known:
            continue
        if not ctx.meter.can("nodes"):
            return kids, True
        child = ctx.new_node(nxt, step=step, parent=node, prior=prior)
        child.status = ctx.status_of(nxt)
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
    ch.status = ctx.status_of(nxt)
    node.children.append(ch)
    return ch


def graft(ctx: Context, node: Node) -> Node | None:
    """The solved end of the steps by which the value function solved `node`'s state while
    scoring it (`types.SolutionValue`), added to the tree below `node`; None when it did not,
    or the chain does not verify, or the nodes cap has no room for it.

    The value function's steps are trusted no more than a model's: the puzzle applies each one
    (a step it cannot apply ends the graft), the chain from the initial state must pass
    `Context.verified_answer`, and each new node is charged as any (`child`). A grafted node
    has prior 0: the policy never proposed it."""
    if ctx.solution_from is None:
        return None
    steps = ctx.solution_from(node.state)
    if not steps:
        return None
    chain, state = [], node.state
    try:
        for step in steps:
            state = ctx.puzzle.apply(state, step)
            chain.append((step, state))
    except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError):
        ctx.meter.usage.rejected_answers += 1
        return None
    if ctx.verified_answer([n.step for n in node.path()[1:]] + [st for st, _ in chain]) is None:
        return None
    end: Node | None = node
    for step, nxt in chain:
        end = child(ctx, end, step, nxt, 0.0)
        if end is None:
            return None
    return end if end.status == WIN else None


def first_found(ctx: Context, nodes: list[Node]) -> Node | None:
    """The solved end that `graft` makes below the first of `nodes` that the value function
    solved while scoring it, or None."""
    if ctx.solution_from is None:
        return None
    for node in nodes:
        end = graft(ctx, node)
        if end is not None:
            return end
    return None


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


def layered(ctx: Context, root: Node, *, width: int, n_generate: int | None, samples: int,
            max_depth: int | None, paths: bool) -> SearchResult:
    """The loop that ToT-BFS and beam search share; they differ only in what they rank.

    Each round expands every member of the layer (one policy call each), values the new
    children (`samples` value calls per new state) and keeps the `width` best for the next
    layer. `paths=False` (BFS) ranks candidate *states* by their own value, a state reached from
    two members counted once (the first reach); `paths=True` (beam) ranks *paths* by the sum of
    the values along them, a state reached along two paths keeping the better. Solved children
    end the search; dead ends are dropped; a refused call or the nodes cap stops it. Only an
    exhaustive policy with nothing ever cut makes "no solution" a proof.
    """
    complete = ctx.exhaustive and n_generate is None
    layer, depth = [(0.0, root)], 0
    while layer and (max_depth is None or depth < max_depth):
        candidates = []
        for score, parent in layer:
            out = expand(ctx, parent, k=n_generate)
            if out is None:
                return ctx.result(None, stop_reason=ctx.stop("policy_calls"), root=root)
            kids, truncated = out
            for ch in kids:
                if ch.status == WIN:
                    return solved(ctx, ch, root)
                if ch.status != LOSS:
                    candidates.append((score, ch))
            if truncated:
                return ctx.result(None, stop_reason=ctx.stop("nodes"), root=root)
        if not paths:
            first: dict[Any, tuple[float, Node]] = {}
            for pair in candidates:
                first.setdefault(pair[1].state, pair)
            candidates = list(first.values())
        values = ctx.evaluate([ch.state for _, ch in candidates], samples=samples) \
            if candidates else []
        end = first_found(ctx, [ch for _, ch in candidates])
        if end is not None:
            return solved(ctx, end, root)
        if values is None:
            return ctx.result(None, stop_reason=ctx.stop("value_calls"), root=root)
        best: dict[Any, tuple[float, Node]] = {}
        for (score, ch), v in zip(candidates, values):
            ch.value = v
            total = score + v if paths else v
            old = best.get(ch.state)
            if old is None or total > old[0]:
                best[ch.state] = (total, ch)
        ranked = sorted(best.values(), key=lambda sc: (-sc[0], -sc[1].prior, sc[1].order))
        complete = complete and len(ranked) <= width
        layer, depth = ranked[:width], depth + 1
    ended = not layer
    return ctx.result(None, stop_reason="exhausted" if ended else "max_depth",
                      proved=complete and ended, root=root)
