"""Search without a value function: sampled step chains from the policy alone.

`best_of_n` samples complete chains (each step drawn by prior with the search's generator, one
charged policy call per step), checks each finished chain with `Puzzle.verify`, and stops at the
first verified one: the self-consistency / best-of-N analogue, with the puzzle as the verifier.
`greedy` follows one chain, always taking the highest-prior step: the chain-of-thought analogue.
Each chain counts as one simulation. Neither ever proves a puzzle unsolvable.

A chain never steps back onto a state it has already passed through: on a puzzle whose moves can
be undone (Blocksworld, sliding tiles) a greedy chain would otherwise cycle between two states
until the budget ran out. Steps that would close a cycle are left out of the choice; a chain
with nothing else left ends there.
"""
from __future__ import annotations

import numpy as np

from ..budget import Budget
from ..tree import Node
from ..types import Policy, Puzzle, ValueFunction
from .common import Context, SearchResult
from .expand import check_positive, child, new_root, solved, trivial

# Caps that every sampled chain draws on, so one of them (or `n`) bounds an unsolvable run.
# (model_calls, tokens and cost do not: a heuristic or cached step spends none of them.)
CHAIN_CAPS = ("simulations", "expansions", "policy_calls", "calls", "seconds")


def _chain(ctx: Context, root: Node, *, k: int | None, greedy: bool,
           max_depth: int | None) -> tuple[Node | None, str | None]:
    """Follow one chain from the root. Returns (solved node or None, budget stop or None)."""
    puzzle, node = ctx.puzzle, root
    visited = {root.state}
    while max_depth is None or node.depth < max_depth:
        proposals = ctx.propose(node.state, k=k)
        if proposals is None:
            return None, ctx.stop("policy_calls")
        node.expanded = True
        proposals = [p for p in proposals if p.next_state not in visited]
        if not proposals:
            return None, None
        if greedy:
            i = max(range(len(proposals)), key=lambda j: (proposals[j].prior, -j))
        else:
            p = np.array([pr.prior for pr in proposals], dtype=float)
            p = p / p.sum() if p.sum() > 0 else np.full(len(p), 1.0 / len(p))
            i = int(ctx.rng.choice(len(proposals), p=p))
        step, prior, nxt = proposals[i]
        nxt_node = child(ctx, node, step, nxt, prior)
        if nxt_node is None:
            return None, ctx.stop("nodes")
        node = nxt_node
        visited.add(nxt)
        if puzzle.is_solved(node.state):
            verified = ctx.verified_answer([n.step for n in node.path()[1:]]) is not None
            return (node if verified else None), None
        if puzzle.is_dead_end(node.state):
            return None, None
    return None, None


def best_of_n(puzzle: Puzzle, instance: str, *, policy: Policy,
              value: ValueFunction | None, budget: Budget, rng: np.random.Generator,
              n: int | None = None, n_generate: int | None = None,
              max_depth: int | None = None) -> SearchResult:
    """Sample up to `n` chains (None: until the budget runs out); stop at the first verified one.

    Args:
      n: number of chains (None: as many as the budget allows).
      n_generate: `k` passed to the policy per step (None: the policy's own default).
      max_depth: longest chain (None: until the puzzle ends it).
    `value` is accepted for the common signature and never called.
    """
    check_positive("n", n)
    check_positive("n_generate", n_generate)
    check_positive("max_depth", max_depth)
    if n is None and not any(getattr(budget, cap) is not None for cap in CHAIN_CAPS):
        raise ValueError("best-of-n without n needs a cap that chains spend: "
                         + ", ".join(CHAIN_CAPS))
    ctx = Context(puzzle, instance, policy=policy, value=None, budget=budget, rng=rng,
                  algo="best-of-n")
    root = new_root(ctx)
    done = trivial(ctx, root)
    if done is not None:
        return done
    chains = 0
    while n is None or chains < n:
        if not ctx.meter.can("simulations"):
            return ctx.result(None, stop_reason=ctx.stop("simulations"), root=root)
        ctx.meter.spend("simulations")
        chains += 1
        win, stop = _chain(ctx, root, k=n_generate, greedy=False, max_depth=max_depth)
        if win is not None:
            return solved(ctx, win, root)
        if stop is not None:
            return ctx.result(None, stop_reason=stop, root=root)
    return ctx.result(None, stop_reason=f"{n} chains sampled", root=root)


def greedy(puzzle: Puzzle, instance: str, *, policy: Policy,
           value: ValueFunction | None, budget: Budget, rng: np.random.Generator,
           n_generate: int | None = None,
           max_depth: int | None = None) -> SearchResult:
    """One chain, always the highest-prior step (ties: the first proposed, after the seeded
    tie-break of `Context.merge_proposals`), never back onto a state already on the chain.

    `value` is accepted for the common signature and never called.
    """
    check_positive("n_generate", n_generate)
    check_positive("max_depth", max_depth)
    ctx = Context(puzzle, instance, policy=policy, value=None, budget=budget, rng=rng,
                  algo="greedy")
    root = new_root(ctx)
    done = trivial(ctx, root)
    if done is not None:
        return done
    if not ctx.meter.can("simulations"):
        return ctx.result(None, stop_reason=ctx.stop("simulations"), root=root)
    ctx.meter.spend("simulations")
    win, stop = _chain(ctx, root, k=n_generate, greedy=True, max_depth=max_depth)
    if win is not None:
        return solved(ctx, win, root)
    return ctx.result(None, stop_reason=stop or "chain ended unsolved", root=root)
