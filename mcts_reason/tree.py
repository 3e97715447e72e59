"""Search-tree nodes: plain data with visit/value statistics, plus export to networkx."""
from __future__ import annotations

from typing import Any, Iterator
from weakref import ref as _ref

UNKNOWN, WIN, LOSS = 0, 1, -1
_STATUS_NAME = {UNKNOWN: "unknown", WIN: "win", LOSS: "loss"}


class Listing:
    """Children that MCTS has listed but not built (`Node.list_children`)."""

    __slots__ = ("proposals", "statuses", "order", "start")

    def __init__(self, proposals: list, statuses: list[int], order: int, start: int) -> None:
        self.proposals, self.statuses, self.order, self.start = proposals, statuses, order, start


class Node:
    """One state in the search tree.

    Attributes:
      state: the puzzle state (immutable, hashable).
      step: the step from the parent that produced `state` (None at the root).
      parent: the parent Node, or None. Held weakly: a tree is kept alive by its root (e.g.
        `SearchResult.root`), and a node on its own does not keep its ancestors alive (its
        `parent` reads None once they are gone). So a tree has no reference cycles and is
        freed the moment it is dropped, without the cyclic garbage collector, which otherwise
        took 18% of the time of MCTS proving Game of 24 puzzles unsolvable
        (benchmarks/README.md). Pickling and copying a tree keep every link below the node
        copied.
      children: list of child Nodes, in creation order (every child: reading it builds the
        ones MCTS has listed but not yet built, see `kids`).
      prior: the policy's prior for `step`, normalised over the parent's children.
      visits: number of backups through this node (N).
      value_sum: sum of backed-up values (W); mean value Q = W / N.
      value: this state's own evaluation (None until evaluated).
      status: WIN (solved below), LOSS (no solution below, as far as the policy can list), UNKNOWN.
      expanded: True once the policy has been asked for this node's children.
      saturated: True when the policy cannot propose anything new here (no further widening).
      depth: number of steps from the root.
      order: creation index in the tree (0 for the root).
      virtual_loss: pending in-flight evaluations through this node (parallel MCTS).
      kids: the children by index, None for one that is listed but not built yet. MCTS lists
        an expansion's children (`list_children`: their steps, priors, states and statuses,
        and their creation orders, taken then) and builds a child's Node only when selection
        first picks it (`child`), or when anyone reads `children`; most children of a search
        are never visited. A built child is exactly the Node an eager search would have made.
      listed: the `Listing` behind the unbuilt kids (None when every child is built).
      sure: the index of a child known to be solvable (MCTS: its exact value is 1.0, or it has
        such a child itself), which selection takes first; None when there is none.
      unvisited: UCT's queue of the children that may still be unvisited (`selection.uct_child`),
        made when it first needs it; None until then, and again whenever children are added.
    """

    __slots__ = ("state", "step", "_up", "kids", "listed", "prior", "visits", "value_sum",
                 "value", "status", "expanded", "saturated", "depth", "order", "virtual_loss",
                 "stale", "sure", "unvisited", "__weakref__")

    def __init__(self, state: Any, step: Any = None, parent: "Node | None" = None,
                 prior: float = 1.0, order: int = 0) -> None:
        self.state = state
        self.step = step
        self._up = None if parent is None else _ref(parent)
        self.kids: list[Node | None] = []
        self.listed: Listing | None = None
        self.prior = prior
        self.visits = 0
        self.value_sum = 0.0
        self.value: float | None = None
        self.status = UNKNOWN
        self.expanded = False
        self.saturated = False
        self.depth = 0 if parent is None else parent.depth + 1
        self.order = order
        self.virtual_loss = 0
        self.stale = 0
        self.sure: int | None = None
        self.unvisited: list[int] | None = None

    @property
    def parent(self) -> "Node | None":
        """The parent Node (None at the root, or once the ancestors are gone)."""
        up = self._up
        return None if up is None else up()

    @parent.setter
    def parent(self, node: "Node | None") -> None:
        self._up = None if node is None else _ref(node)

    def __getstate__(self) -> dict[str, Any]:
        # a weak reference cannot be pickled: each node's state leaves its parent out, and the
        # parent's __setstate__, which pickle and copy run after its children's, links them back
        return {k: getattr(self, k) for k in _STATE}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self._up = None
        up = _ref(self)
        for kid in self.kids:
            if kid is not None:
                kid._up = up

    @property
    def children(self) -> list["Node"]:
        """Every child, in creation order (built now if only listed)."""
        if self.listed is not None:
            for i in range(len(self.kids)):
                self.child(i)
            self.listed = None
        return self.kids

    @children.setter
    def children(self, nodes: list["Node"]) -> None:
        self.kids, self.listed, self.unvisited = nodes, None, None

    def list_children(self, proposals: list, statuses: list[int], order: int) -> None:
        """Add children without building them: the j-th new one is `proposals[j]` = (step,
        prior, next state), starts with status `statuses[j]` and has creation order
        `order + j`. Any children listed before are built first (one listing at a time)."""
        start = len(self.children)
        self.listed = Listing(proposals, statuses, order, start)
        self.kids.extend([None] * len(proposals))
        self.unvisited = None

    def child(self, i: int) -> "Node":
        """The i-th child, built now if it was only listed."""
        node = self.kids[i]
        if node is None:
            listed = self.listed
            j = i - listed.start
            step, prior, state = listed.proposals[j]
            node = self.kids[i] = Node(state, step, self, prior, listed.order + j)
            node.status = listed.statuses[j]
        return node

    def children_lost(self) -> bool:
        """Whether every child is LOSS (built or not)."""
        listed = self.listed
        for i, ch in enumerate(self.kids):
            if (listed.statuses[i - listed.start] if ch is None else ch.status) != LOSS:
                return False
        return True

    @property
    def q(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0

    def path(self) -> list["Node"]:
        """Nodes from the root down to this one."""
        out, node = [], self
        while node is not None:
            out.append(node)
            node = node.parent
        return out[::-1]

    def iter(self) -> Iterator["Node"]:
        """Every node of the subtree, depth first, children in creation order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def __repr__(self) -> str:
        return (f"Node(depth={self.depth}, N={self.visits}, Q={self.q:.3f}, P={self.prior:.3f}, "
                f"status={_STATUS_NAME[self.status]}, children={len(self.kids)})")


_STATE = tuple(k for k in Node.__slots__ if k not in ("_up", "__weakref__"))


def principal_path(root: Node) -> list[Node]:
    """The path a reader should look at: to a win if there is one, else by most visits."""
    node, path = root, [root]
    while node.children:
        wins = [c for c in node.children if c.status == WIN]
        node = wins[0] if wins else max(node.children, key=lambda c: (c.visits, c.q, -c.order))
        path.append(node)
    return path


def to_networkx(root: Node, puzzle: Any, *, solution: list[Node] | None = None):
    """The tree as a `networkx.DiGraph`, node ids = creation order, with per-node statistics."""
    import networkx as nx

    on_path = {id(n) for n in solution or ()}
    graph = nx.DiGraph()
    for node in root.iter():
        step_text = "" if node.parent is None else puzzle.render_step(node.parent.state, node.step)
        graph.add_node(node.order, step=step_text, state=puzzle.render(node.state),
                       visits=node.visits, value=round(node.q, 6), prior=round(node.prior, 6),
                       status=_STATUS_NAME[node.status], depth=node.depth, order=node.order,
                       solution=id(node) in on_path)
        if node.parent is not None:
            graph.add_edge(node.parent.order, node.order)
    return graph
