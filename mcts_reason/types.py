"""The interfaces the engine is written against: protocols only, no behaviour.

A *puzzle* owns the rules: it parses instances and steps, applies steps, and decides whether a
state is solved or a dead end. A *policy* proposes next steps with priors; a *value function*
scores partial states in [0, 1]. Search algorithms combine the three and never look inside a
state, so any domain that implements `Puzzle` plugs in (see the `mcts_reason.puzzles` entry-point
group).
"""
from __future__ import annotations

from typing import Any, Hashable, Protocol, Sequence, runtime_checkable

import numpy as np

State = Hashable
Step = Hashable


@runtime_checkable
class Puzzle(Protocol):
    """A puzzle domain. States and steps are immutable and hashable."""

    name: str
    description: str

    def parse_instance(self, text: str) -> State:
        """Instance text -> initial state. Raises ValueError with a one-line message."""

    def legal_steps(self, state: State) -> Sequence[Step]:
        """Every legal step from `state` (for puzzles small enough to list them)."""

    def parse_step(self, state: State, text: str) -> Step | None:
        """Free text (e.g. a model's line) -> a legal step from `state`, or None. Never raises."""

    def apply(self, state: State, step: Step) -> State:
        """The state after `step`; pure."""

    def is_solved(self, state: State) -> bool: ...

    def is_dead_end(self, state: State) -> bool:
        """True when no sequence of steps can solve `state` *by the rules alone* (no search)."""

    def render(self, state: State) -> str:
        """State as text, for prompts, logs and tree exports."""

    def render_step(self, state: State, step: Step) -> str:
        """Step as text in the puzzle's step format; `parse_step(state, render_step(state, s)) == s`."""

    def answer(self, initial: State, steps: Sequence[Step]) -> str:
        """The final answer that the step sequence produces, in the form `verify` checks."""

    def verify(self, instance: str, answer: str) -> bool:
        """Independent check of a final answer against the instance text. Never raises."""

    def heuristic_policy(self) -> "Policy": ...

    def heuristic_value(self) -> "ValueFunction": ...


@runtime_checkable
class Policy(Protocol):
    """Proposes next steps with priors.

    `exhaustive` is True when `propose` returns *every* legal step: only then may the search
    treat "all children lost" as a proof that the parent is lost. Samplers (LLMs) set it False
    and the search widens their nodes progressively instead.
    """

    exhaustive: bool

    def propose(self, puzzle: Puzzle, state: State, *, k: int | None,
                rng: np.random.Generator) -> list[tuple[Step, float]]:
        """Up to `k` (None: as many as it likes) legal steps with non-negative priors.

        A trusted (code, not model) policy may return `(step, prior, next_state)` triples when it
        has already applied the step, to save the engine a second `apply`."""


@runtime_checkable
class ValueFunction(Protocol):
    """Scores partial states: an estimate in [0, 1] of how likely the state is to be solvable."""

    def evaluate(self, puzzle: Puzzle, states: Sequence[State], *,
                 rng: np.random.Generator) -> list[float]: ...


@runtime_checkable
class ExactValue(Protocol):
    """Optional capability of a value function: the true value of some states, known without
    search (e.g. a Game of 24 state of two numbers: one operation either makes 24 or not).

    `exact(puzzle, state)` returns 1.0 (solvable) or 0.0 (unsolvable) when the value function is
    certain, None otherwise. It must be cheap, deterministic and spend no model calls: MCTS asks
    it about every child it creates, uncharged, as it asks `Puzzle.is_dead_end`. A child whose
    exact value is 0.0 is marked lost at once (never selected, and with an exhaustive policy a
    node whose children are all lost is proved lost); 1.0 is not marked won, because a win in
    this engine is a verified sequence of steps, which the search still has to find. Claiming
    0.0 for a solvable state would make the search miss solutions: only say it when it is true.
    """

    def exact(self, puzzle: Puzzle, state: State) -> float | None: ...


class Meterable(Protocol):
    """Optional: policies/values that spend model calls or tokens receive the run's meter."""

    def bind(self, meter: Any) -> None: ...
