"""Monte Carlo tree search over text steps: select (PUCT or UCT) -> expand -> evaluate -> backup.

Exact results are backed up as well as values: a solved child makes its parent (and so the root)
a proven win, which ends the search; with an exhaustive policy a node whose children are all lost
is itself lost, and lost states go into a table shared by every path, so budget is never spent
revisiting a proven loss. A value function that knows some values exactly (`types.ExactValue`)
has the children it knows to be unsolvable marked lost when they are created, as dead ends are,
and a child it knows to be solvable taken at once: the node and its ancestors point to it
(`Node.sure`) and selection follows those pointers down before it scores any child, so the
search expands along the known solution instead of exploring beside it. A value function that
solved the leaf it scored (a model playout that reached the goal, `types.SolutionValue`) ends
the search: its steps are grafted into the tree and verified like any answer.
Policies that sample steps (exhaustive=False) get progressive widening:
a node may hold at most ceil(pw_c * N ** pw_alpha) children, and is re-asked for more as N grows.

An expansion lists its children (step, prior, next state, status) and a child's Node is built
only when selection first picks it (`tree.Node.kids`): most children are never visited. Reading
`Node.children` builds the rest, so the tree a caller sees is the complete one.
"""
from __future__ import annotations

import math

from ..tree import LOSS, UNKNOWN, WIN, Node
from ..types import Proposal
from .common import Context, SearchResult
from .expand import graft
from .selection import SELECTION, puct_child, uct_child

__all__ = ["MCTS", "SELECTION", "puct_child", "uct_child"]


class MCTS:
    """One search. Use `mcts_search.search(...)` unless you need the object (tests)."""

    def __init__(self, ctx: Context, *, c: float, selection: str, pw_c: float, pw_alpha: float,
                 samples: int | None, max_stale: int = 2, expand_after: int = 0) -> None:
        if selection not in SELECTION:
            raise ValueError(f"unknown selection rule {selection!r}; choose from {sorted(SELECTION)}")
        if c < 0 or pw_c <= 0 or not 0 < pw_alpha <= 1:
            raise ValueError("need c >= 0, pw_c > 0 and 0 < pw_alpha <= 1")
        self.ctx = ctx
        self.c = c
        self.choose = SELECTION[selection]
        self.pw_c, self.pw_alpha = pw_c, pw_alpha
        self.samples = samples
        # A sampling policy may say how many fruitless re-asks make a node saturated
        # (`types.Policy.patience`).
        self.max_stale = int(getattr(ctx.policy, "patience", max_stale))
        if isinstance(expand_after, bool) or not isinstance(expand_after, int) or expand_after < 0:
            raise ValueError(f"expand_after must be a non-negative integer, got {expand_after!r}")
        self.expand_after = expand_after
        self._pending: set[int] = set()   # ids of nodes in parallel MCTS's current batch
        self.descent: list[Node] = []     # the last `select`'s nodes, root to leaf
        self.root = ctx.new_node(ctx.initial)
        self.root.status = ctx.status_of(ctx.initial, exact=True)
        self.win: Node | None = self.root if self.root.status == WIN else None

    # -- the four phases -----------------------------------------------------------------------
    def select(self) -> Node:
        """Descend from the root to the node to expand: a fresh leaf, or one due for widening,
        going down through the child the selection rule picks (`selection.SELECTION`).

        The one descent of both searches: parallel MCTS puts the nodes of its round's batch in
        `_pending` and lays virtual losses on their paths, read here by the rule and by
        `_wants_widening`; sequentially both are empty. The nodes of the descent, root to
        leaf, are left in `self.descent` for the backup."""
        node = self.root
        self.descent = descent = [node]
        widens = not self.ctx.exhaustive      # an exhaustive policy lists every child at once
        while True:
            if not node.expanded:
                return node
            if widens and self._wants_widening(node) and id(node) not in self._pending:
                return node
            if node.sure is not None:
                sure = node.child(node.sure)
                if sure.status != LOSS and id(sure) not in self._pending:
                    node = sure
                    descent.append(node)
                    continue
                if sure.status == LOSS:     # the claim was wrong: back to the rule here
                    node.sure = None
            best = self.choose(node, self.c, node.q)
            if best is None:        # every child lost (pending ones may still prove it)
                return node
            node = best
            descent.append(node)

    def _wants_widening(self, node: Node) -> bool:
        """Whether a sampled node may hold more children: ceil(pw_c * N ** pw_alpha), with N
        the visits plus 1 and the in-flight visits (virtual loss), or it has no live child.
        (Only asked for a sampling policy: `select` skips it for an exhaustive one, which lists
        every child at once.)"""
        if node.saturated:
            return False
        live = sum(ch.status != LOSS for ch in node.children)
        allowed = math.ceil(self.pw_c * (node.visits + node.virtual_loss + 1) ** self.pw_alpha)
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
        first = len(node.kids)
        statuses, sure = ctx.add_children(node, fresh, exact=True)
        truncated = len(statuses) < len(fresh)   # the nodes cap: this node is not fully listed
        if self.win is None and WIN in statuses:
            self.win = node.child(first + statuses.index(WIN))
        node.stale += not fresh
        node.saturated = (ctx.exhaustive or node.stale >= self.max_stale) and not truncated
        if self.win is not None:
            for n in self.win.path():
                n.status = WIN
            return
        self._propagate_loss(node)
        if sure is not None and node.sure is None and node.status != LOSS:
            self._mark_sure(node, first + sure)

    @staticmethod
    def _mark_sure(node: Node, i: int) -> None:
        """`node`'s child `i` is known to be solvable: so is `node`, and each ancestor that
        has no such child yet points to the child on this path (`Node.sure`)."""
        while node.sure is None:
            node.sure = i
            parent = node.parent
            if parent is None:
                return
            i = parent.kids.index(node)
            node = parent

    def found(self, leaf: Node) -> bool:
        """Whether the value function solved `leaf`'s state while scoring it
        (`types.SolutionValue`): then its steps are in the tree (`expand.graft`), their end is
        the search's win and the path to it is marked won."""
        end = graft(self.ctx, leaf)
        if end is None:
            return False
        self.win = end
        for n in end.path():
            n.status = WIN
        return True

    def _propagate_loss(self, node: Node | None) -> None:
        while node is not None and node.status == UNKNOWN and node.expanded and node.saturated \
                and node.children_lost():
            node.status = LOSS
            if self.ctx.exhaustive:
                self.ctx.lost.add(node.state)
            node = node.parent

    @staticmethod
    def backup(path: list[Node], value: float) -> None:
        """Add one visit of `value` to each node of `path` (root to leaf)."""
        for node in path:
            node.visits += 1
            node.value_sum += value

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
                self.backup(self.descent, 0.0)
                continue
            if leaf.value is None:
                values = ctx.evaluate([leaf.state])
                if ctx.solution_from is not None and self.found(leaf):
                    break
                if values is None:
                    stop = meter.exhausted() or "value_calls"
                    break
                leaf.value = values[0]
            self.backup(self.descent, leaf.value)
        return self.finish(stop)

    def finish(self, stop: str | None) -> SearchResult:
        if self.win is not None:
            steps = [n.step for n in self.win.path()[1:]]
            return self.ctx.result(steps, stop_reason="solved", root=self.root)
        if self.root.status == LOSS:
            return self.ctx.result(None, stop_reason="exhausted", proved=self.ctx.exhaustive,
                                   root=self.root)
        return self.ctx.result(None, stop_reason=f"budget: {stop}", root=self.root)

