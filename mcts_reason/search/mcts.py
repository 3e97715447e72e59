"""Monte Carlo tree search over text steps: select (PUCT or UCT) -> expand -> evaluate -> backup.

Exact results are backed up as well as values: a solved child makes its parent (and so the root)
a proven win, which ends the search; with an exhaustive policy a node whose children are all lost
is itself lost, and lost states go into a table shared by every path, so budget is never spent
revisiting a proven loss. Policies that sample steps (exhaustive=False) get progressive widening:
a node may hold at most ceil(pw_c * N ** pw_alpha) children, and is re-asked for more as N grows.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..budget import Budget
from ..tree import LOSS, UNKNOWN, WIN, Node
from ..types import Policy, Proposal, Puzzle, ValueFunction
from .common import Context, SearchResult


def puct_score(parent: Node, child: Node, c: float, fpu: float) -> float:
    """AlphaZero's PUCT: Q + c * P * sqrt(N_parent) / (1 + N_child), with virtual loss."""
    n = child.visits + child.virtual_loss
    q = child.value_sum / n if n else fpu
    big_n = parent.visits + parent.virtual_loss
    return q + c * child.prior * math.sqrt(max(1, big_n)) / (1 + n)


def uct_score(parent: Node, child: Node, c: float, fpu: float) -> float:
    """UCB1 applied to trees (Kocsis & Szepesvari): Q + c * sqrt(ln N_parent / N_child).
    Unvisited children come first, in prior order."""
    n = child.visits + child.virtual_loss
    if n == 0:
        return 1e9 + child.prior
    big_n = parent.visits + parent.virtual_loss
    return child.value_sum / n + c * math.sqrt(math.log(max(1, big_n)) / n)


SELECTION: dict[str, Callable[[Node, Node, float, float], float]] = {
    "puct": puct_score,
    "uct": uct_score,
}


class MCTS:
    """One search. Use `search(...)` unless you need the object (tests, parallel mode)."""

    def __init__(self, ctx: Context, *, c: float, selection: str, pw_c: float, pw_alpha: float,
                 samples: int | None, max_stale: int = 2, expand_after: int = 0) -> None:
        if selection not in SELECTION:
            raise ValueError(f"unknown selection rule {selection!r}; choose from {sorted(SELECTION)}")
        if c < 0 or pw_c <= 0 or not 0 < pw_alpha <= 1:
            raise ValueError("need c >= 0, pw_c > 0 and 0 < pw_alpha <= 1")
        self.ctx = ctx
        self.c = c
        self.score = SELECTION[selection]
        self.pw_c, self.pw_alpha = pw_c, pw_alpha
        self.samples = samples
        # A sampling policy may say how many fruitless re-asks make a node saturated
        # (`types.Policy.patience`).
        self.max_stale = int(getattr(ctx.policy, "patience", max_stale))
        if isinstance(expand_after, bool) or not isinstance(expand_after, int) or expand_after < 0:
            raise ValueError(f"expand_after must be a non-negative integer, got {expand_after!r}")
        self.expand_after = expand_after
        self.root = ctx.new_node(ctx.initial)
        self.win: Node | None = None
        puzzle = ctx.puzzle
        if puzzle.is_solved(ctx.initial):
            self.root.status, self.win = WIN, self.root
        elif puzzle.is_dead_end(ctx.initial):
            self.root.status = LOSS

    # -- the four phases -----------------------------------------------------------------------
    def select(self) -> Node:
        """Descend from the root to the node to expand (a fresh leaf, or one due for widening)."""
        node = self.root
        while True:
            if not node.expanded or self._wants_widening(node):
                return node
            fpu, score, c = node.q, self.score, self.c
            best, best_score = None, -math.inf
            for ch in node.children:
                if ch.status != LOSS:
                    s = score(node, ch, c, fpu)
                    if s > best_score:
                        best, best_score = ch, s
            node = best

    def _wants_widening(self, node: Node) -> bool:
        if self.ctx.exhaustive or node.saturated:
            return False
        live = sum(ch.status != LOSS for ch in node.children)
        allowed = math.ceil(self.pw_c * (node.visits + 1) ** self.pw_alpha)
        return live == 0 or len(node.children) < allowed

    def expand(self, node: Node) -> bool:
        """Ask the policy for (more) children of `node`. False when the budget refuses."""
        proposals = self.ctx.propose(node.state, k=self.samples)
        if proposals is None:
            return False
        self.attach(node, proposals)
        return True

    def attach(self, node: Node, proposals: list[Proposal]) -> None:
        """Add the fresh proposals as children of `node`; mark wins and losses."""
        ctx = self.ctx
        node.expanded = True
        if node.children:
            known = {ch.state for ch in node.children}
            fresh = [pr for pr in proposals if pr.next_state not in known]
            # New proposals share the prior mass with the existing children by count.
            scale = len(fresh) / (len(fresh) + len(node.children))
            if fresh:
                for ch in node.children:
                    ch.prior *= 1.0 - scale
                total = sum(pr.prior for pr in fresh) or 1.0
                fresh = [Proposal(s, scale * p / total, nxt) for s, p, nxt in fresh]
        else:
            fresh = proposals
        puzzle, lost = ctx.puzzle, ctx.lost
        kids = ctx.add_children(node, fresh)
        truncated = len(kids) < len(fresh)   # the nodes cap: this node is not fully listed
        for child in kids:
            nxt = child.state
            if puzzle.is_solved(nxt):
                child.status = WIN
                if self.win is None:
                    self.win = child
            elif (lost and nxt in lost) or puzzle.is_dead_end(nxt):
                child.status = LOSS
        node.stale += not fresh
        node.saturated = (ctx.exhaustive or node.stale >= self.max_stale) and not truncated
        if self.win is not None:
            for n in self.win.path():
                n.status = WIN
        else:
            self._propagate_loss(node)

    def _propagate_loss(self, node: Node | None) -> None:
        while node is not None and node.status == UNKNOWN and node.expanded and node.saturated \
                and all(ch.status == LOSS for ch in node.children):
            node.status = LOSS
            if self.ctx.exhaustive:
                self.ctx.lost.add(node.state)
            node = node.parent

    @staticmethod
    def backup(node: Node, value: float) -> None:
        while node is not None:
            node.visits += 1
            node.value_sum += value
            node = node.parent

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> SearchResult:
        ctx, meter = self.ctx, self.ctx.meter
        stop = None
        while self.root.status == UNKNOWN:
            stop = meter.exhausted()
            if stop is None and not meter.can("simulations"):
                stop = "simulations"
            if stop:
                break
            meter.spend("simulations")
            leaf = self.select()
            if leaf.visits < self.expand_after and not leaf.expanded and leaf is not self.root:
                pass        # not yet: value it first, expand when selected again
            elif not self.expand(leaf):
                stop = meter.exhausted() or "policy_calls"
                break
            if self.win is not None:
                break
            if leaf.status == LOSS:
                self.backup(leaf, 0.0)
                continue
            if leaf.value is None:
                values = ctx.evaluate([leaf.state])
                if values is None:
                    stop = meter.exhausted() or "value_calls"
                    break
                leaf.value = values[0]
            self.backup(leaf, leaf.value)
        return self.finish(stop)

    def finish(self, stop: str | None) -> SearchResult:
        if self.win is not None:
            steps = [n.step for n in self.win.path()[1:]]
            return self.ctx.result(steps, stop_reason="solved", root=self.root)
        if self.root.status == LOSS:
            return self.ctx.result(None, stop_reason="exhausted", proved=self.ctx.exhaustive,
                                   root=self.root)
        return self.ctx.result(None, stop_reason=f"budget: {stop}", root=self.root)


def search(puzzle: Puzzle, instance: str, *, policy: Policy, value: ValueFunction,
           budget: Budget, rng: np.random.Generator, c: float = 1.5, selection: str = "puct",
           pw_c: float = 2.0, pw_alpha: float = 0.5, samples: int | None = None,
           expand_after: int = 0, concurrency: int = 1) -> SearchResult:
    """Run MCTS on `instance` until it is solved, proven unsolvable, or the budget runs out.

    Args:
      c: exploration constant of the selection rule.
      selection: "puct" (priors, AlphaZero) or "uct" (UCB1, priors only order unvisited children).
      pw_c, pw_alpha: progressive widening for sampling policies (ignored for exhaustive ones).
      samples: `k` passed to the policy on each expansion (None: the policy's own default).
      expand_after: expand a leaf (a policy call) only once it has been visited this many times;
        before that a visit only values it. 0 (default): expand on the first visit, as AlphaZero
        does. 1: value first, so a leaf the value function rates poorly never costs a policy
        call (the expansion threshold of Coulom 2006).
      concurrency: leaves expanded/evaluated at once (virtual loss; see search/parallel.py).
        1 is the plain sequential search.
    Raises:
      ValueError: for a bad instance or bad parameters.
    """
    ctx = Context(puzzle, instance, policy=policy, value=value, budget=budget, rng=rng,
                  algo="mcts" if selection == "puct" else f"mcts-{selection}")
    if not ctx.meter.can("nodes"):   # not even room for the root
        return ctx.result(None, stop_reason=ctx.stop("nodes"))
    if concurrency > 1:
        if expand_after:
            raise ValueError("expand_after is not supported with concurrency > 1")
        from .parallel import ParallelMCTS
        return ParallelMCTS(ctx, c=c, selection=selection, pw_c=pw_c, pw_alpha=pw_alpha,
                            samples=samples, concurrency=concurrency).run()
    if concurrency != 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    return MCTS(ctx, c=c, selection=selection, pw_c=pw_c, pw_alpha=pw_alpha,
                samples=samples, expand_after=expand_after).run()
