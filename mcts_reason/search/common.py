"""What every search algorithm shares: charged policy/value calls, the transposition table,
and the final verification of an answer. One place, so every algorithm is charged the same way."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..budget import Budget, Meter, OverBudget, Usage
from ..tree import LOSS, UNKNOWN, WIN, Node
from ..types import Policy, Proposal, Puzzle, State, Step, ValueFunction


_SOLVABLE = 2   # `Context.exact_statuses`' mark for a known-solvable state (never a node's status)


def tie_generator(rng: np.random.Generator) -> np.random.Generator:
    """The generator that breaks ties between equal priors: a child of the search's generator
    (`Generator.spawn`), so that breaking ties draws nothing from the search's own stream (a
    search without ties spends its generator exactly as before)."""
    try:
        return rng.spawn(1)[0]
    except (TypeError, ValueError, AttributeError):   # a bit generator without a SeedSequence
        return np.random.default_rng(int(rng.integers(2**63 - 1)))


def break_ties(items: list, rng: "np.random.Generator | Callable[[], np.random.Generator]"
               ) -> list:
    """`items` ([step, prior, next_state] lists) with each group of exactly equal priors put in
    a random order drawn from `rng` (a generator, or a function returning one, called only when
    there is a tie); everything else keeps its place.

    The one place where ties are broken for every algorithm: MCTS selection, the baselines'
    sorts and greedy's argmax all prefer the earlier child among equals, so a seeded shuffle
    here makes the seed matter exactly where the policy cannot tell steps apart (same seed,
    same order, same tree). Nothing is drawn when no two priors are equal; otherwise one
    random key per item is drawn, and each group takes its places in the order of its keys."""
    priors = [it[1] for it in items]
    distinct = len(set(priors))
    if distinct == len(priors):
        return items
    if not isinstance(rng, np.random.Generator):
        rng = rng()
    n = len(items)
    if distinct == 1:   # one group (a uniform prior): the items in the order of their keys
        return [items[i] for i in rng.random(n).argsort(kind="stable").tolist()]
    keys = rng.random(n).tolist()
    # Places in index order within each group, members in key order within each group; both
    # sorted by prior first, so the groups line up and a lone item maps onto itself. (Two
    # stable sorts on plain floats: cheaper than one on (prior, key) pairs.)
    places = sorted(range(n), key=priors.__getitem__)
    members = sorted(range(n), key=keys.__getitem__)
    members.sort(key=priors.__getitem__)
    out = list(items)
    for dst, src in zip(places, members):
        out[dst] = items[src]
    return out


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The outcome of one search. `answer` is set only when `Puzzle.verify` accepted it."""

    puzzle: str
    instance: str
    algo: str
    solved: bool
    answer: str | None
    steps: tuple[str, ...]
    usage: Usage
    stop_reason: str
    proved_unsolvable: bool = False
    root: Node | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"puzzle": self.puzzle, "instance": self.instance, "algo": self.algo,
                "solved": self.solved, "answer": self.answer, "steps": list(self.steps),
                "stop_reason": self.stop_reason, "proved_unsolvable": self.proved_unsolvable,
                "usage": self.usage.to_dict()}


class Context:
    """A search run's shared machinery.

    `propose` and `evaluate` are the only ways an algorithm may call the policy and the value
    function: they check the budget first (returning None when it would be exceeded), charge the
    call, merge proposals that lead to the same state, and keep the transposition table (state ->
    value), so the same state is never evaluated twice in one search.
    """

    def __init__(self, puzzle: Puzzle, instance: str, *, policy: Policy,
                 value: ValueFunction | None, budget: Budget, rng: np.random.Generator,
                 algo: str) -> None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        self.puzzle = puzzle
        self.instance = instance
        self.policy = policy
        self.value = value
        self.rng = rng
        self.algo = algo
        self.meter = Meter(budget)
        self.values: dict[State, float] = {}
        self.lost: set[State] = set()   # states proven unsolvable (only with an exhaustive policy)
        # state -> the (state, step) that first reached it (only for a PathValue)
        self.parents: dict[State, tuple[State, Step]] = {}
        # Capabilities read as attributes: an isinstance check on a runtime Protocol costs
        # about as much as a whole easy search (types.PathValue, types.MeterBound).
        self.track_parents = bool(getattr(value, "wants_path", False)) and \
            callable(getattr(value, "evaluate_paths", None))
        self.initial = puzzle.parse_instance(instance)
        self._is_solved, self._is_dead_end = puzzle.is_solved, puzzle.is_dead_end   # hot path
        self.exhaustive = bool(getattr(policy, "exhaustive", False))
        self._tie_rng: np.random.Generator | None = None   # spawned at the first tie
        # `exact(puzzle, state) -> 1.0 | 0.0 | None` when the value function knows some values
        # for certain (types.ExactValue); None when it does not.
        # (read as an attribute: an isinstance check on the Protocol costs more than a search)
        exact = getattr(value, "exact", None)
        self.exact = exact if callable(exact) else None
        # `solution_from(state) -> steps | None` when the value function may solve the states
        # it scores (types.SolutionValue): the search grafts those steps (search.expand.graft).
        found = getattr(value, "solution_from", None)
        self.solution_from = found if callable(found) else None
        self._nodes = 0
        self._verdicts: dict[tuple, str | None] = {}   # step chain -> verified answer or None
        for part in (policy, value):
            bind = getattr(part, "bind", None)
            if callable(bind):
                bind(self.meter)

    def tie_rng(self) -> np.random.Generator:
        """The generator that breaks ties (`tie_generator`), spawned when first needed: a
        search without ties never pays for it. Spawning does not depend on the search
        generator's state, so the same seed gives the same generator whenever it is made."""
        if self._tie_rng is None:
            self._tie_rng = tie_generator(self.rng)
        return self._tie_rng

    # -- charged operations -------------------------------------------------------------------
    def propose(self, state: State, *, k: int | None = None) -> list[Proposal] | None:
        """Proposals from `state` (next states filled in, priors summing to 1), or None if over
        budget."""
        if not self.charge_propose():
            return None
        raw = self.ask_policy(state, k=k, rng=self.rng)
        if isinstance(raw, OverBudget):
            self.meter.refused = raw.kind
            return None
        return self.merge_proposals(state, raw)

    def charge_propose(self) -> bool:
        """Check and charge one policy call; False (nothing charged) when over budget."""
        if not (self.meter.can("policy_calls") and self.meter.can("expansions")):
            return False
        self.meter.spend("policy_calls")
        self.meter.spend("expansions")
        return True

    def ask_policy(self, state: State, *, k: int | None, rng: np.random.Generator
                   ) -> Sequence[Proposal] | OverBudget:
        """The policy's raw proposals, uncharged (the caller has called `charge_propose`), or
        the `OverBudget` its model calls raised, returned rather than raised so that a worker
        thread can hand it back to the thread that owns the tree (parallel MCTS gives each
        in-flight call its own generator, drawn in the main thread)."""
        try:
            return self.policy.propose(self.puzzle, state, k=k, rng=rng)
        except OverBudget as e:
            return e

    def merge_proposals(self, state: State, raw: Sequence[Proposal]) -> list[Proposal]:
        """Merge proposals that lead to the same state; normalise priors; remember parents."""
        merged: dict[State, list] = {}
        apply = self.puzzle.apply
        total = 0.0
        for item in raw:
            # A trusted policy may pass the next state it already computed (Proposal.next_state);
            # model output is always applied by the puzzle.
            if len(item) == 3:
                step, prior, nxt = item
                if nxt is None:
                    nxt = apply(state, step)
            else:
                step, prior = item[0], item[1]
                nxt = apply(state, step)
            prior = float(prior) if prior > 0 else 0.0
            total += prior
            merged.setdefault(nxt, [step, 0.0, nxt])[1] += prior   # one hash of the state
        items = list(merged.values())
        if self.track_parents:   # the first step to reach each state (merged keeps the first)
            parents = self.parents
            for step, _, nxt in items:
                if nxt not in parents and nxt != self.initial:
                    parents[nxt] = (state, step)
        items = break_ties(items, self._tie_rng or self.tie_rng)
        make = tuple.__new__   # Proposal(...) without the NamedTuple keyword handling (hot path)
        if total > 0:
            return [make(Proposal, (s, p / total, nxt)) for s, p, nxt in items]
        n = len(items)
        return [make(Proposal, (s, 1.0 / n, nxt)) for s, _, nxt in items]

    def evaluate(self, states: Sequence[State], *, samples: int = 1) -> list[float] | None:
        """Values for `states`, from the table where known; None if the new ones are over budget.

        `samples` > 1 asks the value function that many times per new state (one charged value
        call each) and stores the mean, as Tree-of-Thoughts does with a sampling LLM judge.
        """
        if samples == 1 and len(states) == 1:
            return self._evaluate_one(states[0])
        missing = list(dict.fromkeys(s for s in states if s not in self.values))
        hits = len(states) - len(missing)
        if missing:
            raw = self._charged_values([s for s in missing for _ in range(samples)])
            if raw is None:
                return None
            for i, s in enumerate(missing):
                self.values[s] = sum(raw[i * samples:(i + 1) * samples]) / samples
        self.meter.usage.value_cache_hits += hits
        return [self.values[s] for s in states]

    def _evaluate_one(self, state: State) -> list[float] | None:
        """`evaluate([state])` with one sample (MCTS's leaf: the hot path), the same charges,
        table and value, with one table lookup instead of three."""
        v = self.values.get(state)
        if v is not None:
            self.meter.usage.value_cache_hits += 1
            return [v]
        raw = self._charged_values([state])
        if raw is None:
            return None
        v = self.values[state] = raw[0]
        return [v]

    def _charged_values(self, asked: list[State]) -> list[float] | None:
        """The value function on `asked` (a state once per sample), one charged value call
        each, every value clamped to [0, 1]; None (nothing charged, or the refusal noted) when
        the budget refuses."""
        if not self.meter.can("value_calls", len(asked)):
            return None
        self.meter.spend("value_calls", len(asked))
        try:
            raw = self.raw_values(asked, self.rng)
        except OverBudget as e:
            self.meter.refused = e.kind
            return None
        return [min(1.0, max(0.0, float(v))) for v in raw]

    def stop(self, default: str) -> str:
        """`budget: <the cap that stopped us>` for a refused operation."""
        return f"budget: {self.meter.exhausted() or default}"

    def raw_values(self, states: Sequence[State], rng: np.random.Generator) -> list[float]:
        """The value function on `states`, uncharged and uncached.

        A value function with `wants_path = True` (e.g. a step verifier) is called as
        `evaluate_paths(puzzle, paths, rng=)`, each path the [(state_before, step), ...] by which
        the state was first reached (`path_to`); every other one as `evaluate(puzzle, states)`.
        """
        if self.track_parents:
            return self.value.evaluate_paths(self.puzzle, [self.path_to(s) for s in states],
                                             rng=rng)
        return self.value.evaluate(self.puzzle, states, rng=rng)

    def path_to(self, state: State) -> list[tuple[State, Step]]:
        """[(state_before, step), ...] from the initial state to `state`, along the first
        proposals that reached each state in this search ([] for the initial state). Recorded
        only for value functions that want paths."""
        out = []
        while state != self.initial and state in self.parents and len(out) < 10_000:
            before, step = self.parents[state]
            out.append((before, step))
            state = before
        return out[::-1]

    def status_of(self, state: State, *, exact: bool = False) -> int:
        """How a new node for `state` starts: WIN when the puzzle says it is solved, LOSS when
        it is a dead end or already proven lost in this search, else UNKNOWN. The one rule every
        algorithm marks its new nodes with (the puzzle decides, not a value estimate).

        `exact=True` (MCTS) also marks LOSS a state that the value function knows exactly to be
        unsolvable (`types.ExactValue`, `self.exact`)."""
        return self.statuses((state,), exact=exact)[0]

    def statuses(self, states: Sequence[State], *, exact: bool = False) -> list[int]:
        """`status_of` for each of `states` (the children of one expansion: the hot path)."""
        if exact and self.exact is not None:
            return self.exact_statuses(states)[0]
        solved, dead_end, lost = self._is_solved, self._is_dead_end, self.lost
        return [WIN if solved(s) else LOSS if dead_end(s) or (lost and s in lost)
                else UNKNOWN for s in states]

    def exact_statuses(self, states: Sequence[State]) -> tuple[list[int], int | None]:
        """`statuses(states, exact=True)`, and the index of the first state that the value
        function knows exactly to be solvable (exact value 1.0) but that is not solved yet, or
        None: MCTS takes that child first (`Node.sure`). The value function is asked once per
        state that is not solved, before the dead-end test (a known value settles most states:
        in Game of 24 every two-number state)."""
        solved, dead_end, lost, puzzle, known = (self._is_solved, self._is_dead_end, self.lost,
                                                 self.puzzle, self.exact)
        # SOLVABLE marks a known-solvable state for the moment; it starts UNKNOWN (only the
        # puzzle says WIN). (The table last: hashing a state costs most.)
        out = [WIN if solved(s) else
               LOSS if (v := known(puzzle, s)) == 0.0 or dead_end(s) or (lost and s in lost)
               else _SOLVABLE if v == 1.0 else UNKNOWN for s in states]
        if _SOLVABLE not in out:
            return out, None
        first = out.index(_SOLVABLE)
        return [UNKNOWN if x == _SOLVABLE else x for x in out], first

    def new_node(self, state: State, *, step: Step = None, parent: Node | None = None,
                 prior: float = 1.0) -> Node:
        node = Node(state, step=step, parent=parent, prior=prior, order=self._nodes)
        self._nodes += 1
        self.meter.spend("nodes")
        return node

    def add_children(self, parent: Node, items: Sequence[Proposal], *, exact: bool = False
                     ) -> tuple[list[int], int | None]:
        """Add children for proposals (next states filled in), at most what the `nodes` cap
        still allows (the rest are dropped, never over-spent). Returns their statuses, in
        order, and with `exact=True` the index of the first known-solvable one, as
        `exact_statuses` gives them (None without `exact`). The children are listed, not built
        (`Node.list_children`): each takes its creation order and counts in `Usage.nodes` now,
        and its Node is made when the search first selects it, or when the tree is read."""
        cap = self.meter.budget.nodes
        if cap is not None:
            items = items[: max(0, int(cap - self.meter.usage.nodes))]
        states = [pr[2] for pr in items]
        if exact and self.exact is not None:
            statuses, sure = self.exact_statuses(states)
        else:
            statuses, sure = self.statuses(states), None
        parent.list_children(items, statuses, self._nodes)
        self._nodes += len(items)
        self.meter.usage.nodes += len(items)
        return statuses, sure

    # -- results --------------------------------------------------------------------------------
    def verified_answer(self, steps: Sequence[Step]) -> str | None:
        """The answer of the step chain `steps` when the chain ends in a solved state and
        `Puzzle.verify` accepts the answer, else None (counted in `Usage.rejected_answers`).

        The one place where an answer is checked: every algorithm's result goes through it
        (`result`), and so may an algorithm that must know before it stops (best-of-N). The
        verdict on a chain is remembered, so the puzzle checks each chain once."""
        key = tuple(steps)
        if key not in self._verdicts:
            state = self.initial
            for step in key:
                state = self.puzzle.apply(state, step)
            candidate = self.puzzle.answer(self.initial, list(key))
            ok = self.puzzle.is_solved(state) and self.puzzle.verify(self.instance, candidate)
            self._verdicts[key] = candidate if ok else None
        if self._verdicts[key] is None:
            self.meter.usage.rejected_answers += 1
        return self._verdicts[key]

    def result(self, steps: Sequence[Step] | None, *, stop_reason: str, proved: bool = False,
               root: Node | None = None) -> SearchResult:
        """Build the result; a step chain is reported solved only if `verified_answer` accepts
        it, so `SearchResult.solved` always means a verified answer."""
        usage = self.meter.finish()
        answer, texts, solved = None, (), False
        if steps is not None:
            answer = self.verified_answer(steps)
            if answer is not None:
                state, out = self.initial, []
                for step in steps:
                    out.append(self.puzzle.render_step(state, step))
                    state = self.puzzle.apply(state, step)
                texts, solved = tuple(out), True
            else:
                stop_reason = "answer failed verification"
        return SearchResult(puzzle=self.puzzle.name, instance=self.instance, algo=self.algo,
                            solved=solved, answer=answer, steps=texts, usage=usage,
                            stop_reason=stop_reason, proved_unsolvable=proved and not solved,
                            root=root)
