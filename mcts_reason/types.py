"""The whole contract between the engine and its plugins: types and protocols, no behaviour.

A *puzzle* owns the rules: it parses instances and steps, applies steps, and decides whether a
state is solved or a dead end. A *policy* proposes next steps with priors; a *value function*
scores partial states in [0, 1]. Search algorithms combine the three and never look inside a
state, so any domain that implements `Puzzle` plugs in (entry-point group `mcts_reason.puzzles`;
see docs/plugins.md).

The three core protocols (`Puzzle`, `Policy`, `ValueFunction`) are what every plugin implements.
Everything else the engine looks for is optional and declared here too, one small protocol (or a
documented attribute with its default) per capability; the engine tests for a capability with
`isinstance(obj, <Protocol>)` or reads the attribute with the default given below, and nothing
else. A plugin author needs this module and docs/plugins.md, nothing more.

Optional capabilities, by who carries them:

  puzzle   ProposePrompt.propose_messages, ValuePrompt.value_messages,
           VerifyPrompt.verify_messages   (prompts for model policies/values; generic otherwise)
           PromptFields.prompt_fields     (more placeholders for a user's --prompts file)
           ProposeGrammar.propose_grammar (a GBNF grammar for constrained proposals)
           ExtraValues.extra_values       (more named value functions for --value)
           Metrics.metrics                (per-solution figures in bench records)
           LearnTokens.learn_tokens       (extra feature tokens for learned policies/values)
           NamedSets.named_sets/instance_set, Generates.generate (instance sets for bench)
           InstanceRules.instance_rules   (the rule variant of an instance, shown and recorded)
           AnswerFormats.answer_formats/format_answer (answers in other tools' forms)
           Successors.successors          (every legal step with its next state, in one pass)
  policy   exhaustive (required), patience, calls_per_propose, MeterBound.bind
  value    deterministic, calls_per_state, PathValue.wants_path/evaluate_paths, MeterBound.bind,
           ExactValue.exact                (values known for certain: MCTS marks those lost)
           SolutionValue.solution_from     (the steps of a playout that solved the state it scored)

A model *backend* is a `Transport` (below): one attempt at one request. `llm.LLMClient` does
the accounting around it (budgets, cache, retries, fault counts), whatever the backend.
"""
from __future__ import annotations

from typing import (TYPE_CHECKING, Any, Callable, Hashable, Mapping, NamedTuple, Protocol,
                    Sequence, runtime_checkable)

import numpy as np

if TYPE_CHECKING:            # the request/answer types live with the client; no import cycle
    from .llm.wire import Completion, Request

State = Hashable
Step = Hashable
Messages = list[dict]           # OpenAI chat messages: [{"role": ..., "content": ...}, ...]


class Proposal(NamedTuple):
    """One proposed next step, in every layer: what a policy returns, what `Context.propose`
    hands the search (there with `next_state` always filled in and priors summing to 1).

    `next_state` is None when the policy did not compute it; the engine then asks
    `puzzle.apply`. Only trusted code (a heuristic policy) should fill it in: model output is
    always applied by the puzzle. A plain `(step, prior)` or `(step, prior, next_state)` tuple
    is accepted wherever a Proposal is.
    """

    step: Step
    prior: float
    next_state: State | None = None


# -- the core protocols --------------------------------------------------------------------------
@runtime_checkable
class Puzzle(Protocol):
    """A puzzle domain. States and steps are immutable and hashable."""

    name: str
    description: str            # one paragraph: the rules, used by the generic prompts

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

    Optional attributes (read with these defaults when absent):
      patience: int = 2 -- how many re-asks that bring no new step make MCTS give a node up
        (sampling policies only).
      calls_per_propose: int = 0 -- model calls one `propose` spends at most; parallel MCTS
        admits a leaf only if the model-call budget has room for them.
    """

    exhaustive: bool

    def propose(self, puzzle: Puzzle, state: State, *, k: int | None,
                rng: np.random.Generator) -> Sequence[Proposal]:
        """Up to `k` (None: as many as it likes) legal steps with non-negative priors (any
        scale: the engine normalises). Spend randomness only through `rng`."""


@runtime_checkable
class ValueFunction(Protocol):
    """Scores partial states: an estimate in [0, 1] of how likely the state is to be solvable.

    Optional attributes (read with these defaults when absent):
      deterministic: bool = False -- the same state always gets the same value, so searches
        that sample a stochastic judge several times (`n_evaluate`) ask this one once.
      calls_per_state: int = 0 -- model calls one state's evaluation spends at most (see
        `Policy.calls_per_propose`).
    """

    def evaluate(self, puzzle: Puzzle, states: Sequence[State], *,
                 rng: np.random.Generator) -> list[float]:
        """One value per state, batched (a model-backed value may send them concurrently)."""


# -- optional capabilities of policies and values ----------------------------------------------
@runtime_checkable
class ExactValue(Protocol):
    """A value function that knows the true value of some states without search (e.g. a Game
    of 24 state of two numbers: one operation either makes 24 or not).

    `exact(puzzle, state)` returns 1.0 (solvable) or 0.0 (unsolvable) when the value function is
    certain, None otherwise. It must be cheap, deterministic and spend no model calls: MCTS asks
    it about every child it creates, uncharged, as it asks `Puzzle.is_dead_end`. A child whose
    exact value is 0.0 is marked lost at once (never selected, and with an exhaustive policy a
    node whose children are all lost is proved lost); 1.0 is not marked won, because a win in
    this engine is a verified sequence of steps, which the search still has to find, but MCTS
    goes there next (`tree.Node.sure`: selection follows it before scoring children). Claiming
    0.0 for a solvable state would make the search miss solutions: only say it when it is true.
    The engine reads it as an attribute (`getattr(value, "exact", None)`, called if callable):
    an `isinstance` check on this Protocol costs more than a small search's step.
    """

    def exact(self, puzzle: Puzzle, state: State) -> float | None: ...


@runtime_checkable
class SolutionValue(Protocol):
    """A value function that may solve a state while scoring it (a playout that reached the
    goal): `solution_from(state)` returns the steps it took from `state` to a solved state, or
    None, and forgets them (a second call returns None).

    The search asks for each state just after `evaluate` has scored it, whether or not the
    budget then refused the rest of the batch, and grafts the steps into its tree
    (`search.expand.graft`): the puzzle applies each one, the whole chain from the initial state
    goes through `Context.verified_answer`, and every new node counts against the nodes cap. A
    chain that does not verify is counted in `Usage.rejected_answers` and dropped, so a wrong
    claim costs the search nothing but that count. Read as an attribute
    (`getattr(value, "solution_from", None)`); without it the search never asks.
    """

    def solution_from(self, state: State) -> Sequence[Step] | None: ...


@runtime_checkable
class MeterBound(Protocol):
    """A policy or value that spends model calls or tokens: the search hands it its run's
    `budget.Meter` before the first call, and it charges that meter (raising
    `budget.OverBudget` when a cap refuses)."""

    def bind(self, meter: Any) -> None: ...


@runtime_checkable
class PathValue(Protocol):
    """A value function that judges how a state was reached (e.g. a step verifier).

    With `wants_path = True` the search records the first (state_before, step) reaching each
    state and calls `evaluate_paths` instead of `evaluate`; each path is the list of
    (state_before, step) pairs from the initial state ([] for the initial state itself)."""

    wants_path: bool

    def evaluate_paths(self, puzzle: Puzzle, paths: Sequence[Sequence[tuple[State, Step]]], *,
                       rng: np.random.Generator) -> list[float]: ...


# -- optional capabilities of puzzles ---------------------------------------------------------
@runtime_checkable
class ProposePrompt(Protocol):
    """The puzzle's own prompt for model proposals: chat messages asking for candidate next
    steps, one per line, in the step format `parse_step` reads. Without it the engine builds a
    generic prompt from `description` and `render`."""

    def propose_messages(self, state: State) -> Messages: ...


@runtime_checkable
class ValuePrompt(Protocol):
    """The puzzle's own prompt for a model judge: messages asking for a judgement that ends
    with one word, sure / likely / impossible."""

    def value_messages(self, state: State) -> Messages: ...


@runtime_checkable
class VerifyPrompt(Protocol):
    """The puzzle's own step-verifier prompt: is the latest of `step_texts` correct and useful?"""

    def verify_messages(self, initial: State, step_texts: list[str], state: State) -> Messages: ...


@runtime_checkable
class PromptFields(Protocol):
    """Placeholders that a user's prompt file (`--prompts FILE`, llm/prompt_file.py) may use
    besides the generic {state} and {description}: e.g. Game of 24's {numbers}, Countdown's
    {numbers} and {target}. `prompt_field_names` lists them without needing a state."""

    prompt_field_names: tuple[str, ...]

    def prompt_fields(self, state: State) -> dict[str, str]: ...


@runtime_checkable
class ProposeGrammar(Protocol):
    """A GBNF grammar that every proposal line from `state` must follow, sent with each request
    when the model server honours grammars (llama.cpp); the model still picks the step."""

    def propose_grammar(self, state: State) -> str: ...


@runtime_checkable
class ExtraValues(Protocol):
    """More value functions by name (e.g. an exact oracle), offered by `--value NAME`."""

    def extra_values(self) -> Mapping[str, Any]:
        """name -> a zero-argument factory returning a ValueFunction."""


@runtime_checkable
class Metrics(Protocol):
    """Per-solution figures (e.g. plan length, optimal length, gap) added to bench records."""

    def metrics(self, instance: str, answer: str) -> dict: ...


@runtime_checkable
class LearnTokens(Protocol):
    """Extra feature tokens of a state for the learned policy and value (`mcts_reason.learn`),
    hashed beside the n-grams of `render(state)`: a few words that say what matters (e.g. the
    sorted numbers left, a distance). Without it the learned models see the rendered text only."""

    def learn_tokens(self, state: State) -> Sequence[str]: ...


@runtime_checkable
class NamedSets(Protocol):
    """Built-in instance sets by name, for `bench --set NAME`."""

    def named_sets(self) -> Mapping[str, str]:
        """name -> one-line description."""

    def instance_set(self, name: str) -> list[str]: ...


@runtime_checkable
class Generates(Protocol):
    """A generator of fresh instances (seeded: the same generator state, the same instances)."""

    def generate(self, n: int, *, rng: np.random.Generator) -> list[str]: ...


@runtime_checkable
class InstanceRules(Protocol):
    """On a puzzle whose instances come in rule variants (Countdown's exactly-once,
    sliding tiles' blank-first goal): which variant `state` is played under, e.g.
    {"rule": "exactly-once"}. `solve` prints it, `--json` and `bench` records carry it."""

    def instance_rules(self, state: State) -> dict[str, str]: ...


@runtime_checkable
class AnswerFormats(Protocol):
    """On a puzzle that can write its answer in other tools' forms (Blocksworld:
    PlanBench's PDDL and text plans): `answer_formats` maps a name to a description, and
    `format_answer` rewrites a verified answer (ValueError for an unknown name).
    `solve --answer-format NAME` prints it."""

    answer_formats: dict[str, str]

    def format_answer(self, instance: str, answer: str, fmt: str) -> str: ...


@runtime_checkable
class Successors(Protocol):
    """Every legal step from `state` with the state it leads to, computed in one pass:
    [(step, next_state), ...] with the steps of `legal_steps(state)` in the same order and each
    next state equal to `apply(state, step)`. A puzzle that lists its steps by computing their
    results anyway offers it so that the generic uniform policy and random rollouts need not
    apply each step again (`policies.UniformPolicy`, `values.RolloutValue`)."""

    def successors(self, state: State) -> Sequence[tuple[Step, State]]: ...


def successors_of(puzzle: Any) -> Callable[[State], Sequence[tuple[Step, State]]] | None:
    """`puzzle.successors` when the puzzle offers it (`Successors`), else None. An attribute
    read, not an isinstance check against the protocol: it runs once per expansion."""
    successors = getattr(puzzle, "successors", None)
    return successors if callable(successors) else None


# -- model backends ----------------------------------------------------------------------------
@runtime_checkable
class Transport(Protocol):
    """One attempt at one chat request, for `llm.LLMClient(transport=...)`: the HTTP one is
    `llm.openai_transport.OpenAITransport`; an in-process model is another.

    `model` names the model (it keys the response cache and the price table); `label` is what
    messages and reprs show for where the model is (never a credential).

    `send(request, seconds)` makes exactly one attempt, ended within `seconds`, and returns a
    `llm.wire.Completion` whose token counts are what the model used (None when unknown: the
    client then charges the request's upper bound). Any failure is raised as
    `llm.wire.AttemptFailed(kind, reached=..., retry=..., wait=...)` -- the client counts it in
    `Usage.faults` under `kind`, charges it when `reached`, and retries when `retry` -- or, for a
    problem no retry fixes, as `llm.wire.LLMError` with a one-line message. The client may call
    `send` from several threads at once (`concurrency`). Budgets, the cache and retries are
    the client's: a transport never sleeps between attempts and never counts.

    Optional attributes (read with these defaults when absent):
      stopped: bool = False -- True once the transport was told to stop (Ctrl-C): the client
        then starts no more attempts.
      wait(seconds) = time.sleep -- the wait between retries; a stoppable transport cuts it
        short when stopped.
    """

    model: str
    label: str

    def send(self, request: "Request", seconds: float) -> "Completion": ...

    def close(self) -> None: ...
