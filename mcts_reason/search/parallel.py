"""Parallel MCTS: up to K leaves in flight at once, kept apart by virtual loss.

Each round selects up to K distinct leaves; every node on a selected path gets a virtual loss
(`Node.virtual_loss`, read by the selection rules as K pending visits of value 0), which steers
the next selection elsewhere. A round closes early when selection keeps coming back to leaves
already in it (`repeats`): then the search's best next leaves are in flight already, and
pushing the virtual losses further would send the rest of the round to leaves the sequential
search would not pick yet (a wide, shallow tree that solves less at the same calls). Early on,
when the tree is small, rounds are short; they widen as the tree grows. `min_rounds` also
bounds a round by the budget: no round holds more than 1/min_rounds of the leaves the whole
budget pays for, so a small budget is spent in at least that many rounds (each seeing the
results of the last) rather than in a few wide ones.
The round's expansions (policy calls) run in a thread pool; its evaluations go to the value
function as one batch (an LLM value sends them concurrently).
Results are applied in selection order, so the tree does not depend on which request finished
first: every random draw happens in the main thread (each in-flight policy call gets its own
child generator seeded from the search's generator), and a leaf is admitted to a round only if
the model-call budget has room for all of its calls. A leaf's value is asked for while its
expansion is in flight (the sequential search asks only after expanding, and skips the value
when the expansion proved the leaf lost or won: the parallel one may spend that call). Same seed, same tree -- for any K (the tree
at K > 1 differs from the sequential one, which spends the generator differently).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..budget import OverBudget
from ..tree import LOSS, UNKNOWN, Node
from .common import Context, SearchResult
from .mcts import MCTS


REPEATS = 2        # a round closes at the third return to a leaf in it (issue 14, goal 4)
MIN_ROUNDS = 0     # off: see benchmarks/README.md, "Parallel MCTS against a 200 ms server"


class ParallelMCTS(MCTS):
    def __init__(self, ctx: Context, *, concurrency: int, speculate: bool = True,
                 repeats: int | None = REPEATS, min_rounds: int = MIN_ROUNDS,
                 **kw: Any) -> None:
        """`speculate`: ask for the leaves' values while their expansions are in flight (one
        latency per round); False asks after expanding, only for leaves still undecided.
        `repeats`: a round closes when selection returns a leaf already in the round for the
        (repeats + 1)-th time; None fills every round to K if it can (the search before
        issue 14; see benchmarks/README.md, "Parallel MCTS against a 200 ms server").
        `min_rounds`: no round holds more than 1/min_rounds of the leaves that the search's
        model-call, call and simulation caps pay for (at least one); 0: K whatever the budget."""
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if repeats is not None and (isinstance(repeats, bool) or not isinstance(repeats, int)
                                    or repeats < 0):
            raise ValueError(f"repeats must be a non-negative integer or None, got {repeats!r}")
        if isinstance(min_rounds, bool) or not isinstance(min_rounds, int) or min_rounds < 0:
            raise ValueError(f"min_rounds must be a non-negative integer, got {min_rounds!r}")
        super().__init__(ctx, **kw)
        self.k = concurrency
        self.speculate = speculate
        self.repeats = repeats
        self.min_rounds = min_rounds
        # Model calls per leaf, as the policy and value declare them (types.Policy/ValueFunction).
        self._calls_per_leaf = (int(getattr(ctx.policy, "calls_per_propose", 0) or 0)
                                + int(getattr(ctx.value, "calls_per_state", 0) or 0))
        self._width = self.k if not min_rounds else self._share_of_budget(min_rounds)

    def _share_of_budget(self, min_rounds: int) -> int:
        """1/min_rounds of the leaves the budget pays for now, at the start (a leaf costs one
        simulation, one policy and one value call, and `_calls_per_leaf` model calls), in
        [1, K]; K when nothing caps them."""
        meter, per_leaf = self.ctx.meter, {"simulations": 1, "calls": 2}
        if self._calls_per_leaf:
            per_leaf["model_calls"] = self._calls_per_leaf
        left = {kind: meter.left(kind) for kind in per_leaf}
        afford = [left[kind] / n for kind, n in per_leaf.items() if left[kind] is not None]
        if not afford:
            return self.k
        return max(1, min(self.k, int(min(afford) // min_rounds)))

    def _select_batch(self) -> tuple[list[Node], list[Node]]:
        """Up to K distinct leaves, and the extra virtual losses laid on repeats.

        Each leaf comes from `MCTS.select`, which reads the virtual losses and descends through
        a node already in this batch (`_pending`) instead of returning it again. A leaf selected
        again gets one more virtual loss along its path and selection goes on, so that the
        penalty pushes the next descent elsewhere (or makes a parent widen) -- until the
        (`repeats` + 1)-th repeat, which closes the round."""
        meter, batch, repeats = self.ctx.meter, [], []
        self._pending = set()
        width = self._width
        for _ in range(16 * width):
            if len(batch) == width or not meter.can("simulations", len(batch) + 1):
                break
            if self._calls_per_leaf and not meter.can("model_calls",
                                                      self._calls_per_leaf * (len(batch) + 1)):
                break
            leaf = self.select()
            if any(leaf is b for b in batch):
                if self.repeats is not None and len(repeats) >= self.repeats:
                    break
                repeats.append(leaf)
            else:
                batch.append(leaf)
                self._pending.add(id(leaf))
            for n in leaf.path():
                n.virtual_loss += 1
        return batch, repeats

    @staticmethod
    def _clear(leaf: Node) -> None:
        for n in leaf.path():
            n.virtual_loss -= 1

    def _evaluate(self, leaves: list[Node]) -> str | None:
        """Values for the leaves that lack one; the stop reason if the budget refused."""
        todo = [leaf for leaf in leaves if leaf.value is None]
        values = self.ctx.evaluate([leaf.state for leaf in todo]) if todo else []
        if self.ctx.solution_from is not None and any(self.found(leaf) for leaf in todo):
            return None     # solved: `run` stops on `self.win`
        if values is None:
            return self.ctx.meter.exhausted() or "value_calls"
        for leaf, v in zip(todo, values):
            leaf.value = v
        return None

    def run(self) -> SearchResult:
        ctx, meter = self.ctx, self.ctx.meter
        stop = None
        with ThreadPoolExecutor(self.k, thread_name_prefix="mcts") as pool:
            while self.root.status == UNKNOWN:
                stop = meter.exhausted()
                if stop is None and not meter.can("simulations"):
                    stop = "simulations"
                if stop:
                    break
                batch, repeats = self._select_batch()
                for leaf in repeats:
                    self._clear(leaf)
                if not batch:
                    stop = meter.exhausted() or "model_calls"
                    break
                meter.spend("simulations", len(batch))
                admitted = []
                for leaf in batch:
                    if ctx.charge_propose():
                        admitted.append(leaf)
                    else:
                        self._clear(leaf)
                        stop = "policy_calls"
                seeds = ctx.rng.integers(0, 2**63 - 1, size=len(admitted))
                futures = [pool.submit(ctx.ask_policy, leaf.state, k=self.samples,
                                       rng=np.random.default_rng(int(s)))
                           for leaf, s in zip(admitted, seeds)]
                # The leaves' own values do not depend on their children: judge them while the
                # proposals are in flight (one latency per round, not two).
                if self.speculate:
                    stop = self._evaluate(admitted) or stop
                expanded = []
                for leaf, fut in zip(admitted, futures):
                    raw = fut.result()
                    if isinstance(raw, OverBudget):
                        meter.refused = raw.kind
                        self._clear(leaf)
                        continue
                    self.attach(leaf, ctx.merge_proposals(leaf.state, raw))
                    expanded.append(leaf)
                if self.win is not None:
                    for leaf in expanded:
                        self._clear(leaf)
                    break
                if not self.speculate:
                    stop = self._evaluate([lf for lf in expanded if lf.status != LOSS]) or stop
                for leaf in expanded:
                    self._clear(leaf)
                    if leaf.status == LOSS:
                        self.backup(leaf.path(), 0.0)
                    elif leaf.value is not None:
                        self.backup(leaf.path(), leaf.value)
                if stop:
                    break
        return self.finish(stop)

    def __repr__(self) -> str:
        return f"ParallelMCTS(k={self.k}, root={self.root!r})"
