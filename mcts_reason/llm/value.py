"""`LLMValue` (the model judges a state) and `LLMVerifyValue` (the model judges the latest step)."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from ..budget import OverBudget
from ..search.expand import check_positive
from .client import METER_LOCK, LLMClient, Request, Sampling
from .prompt_file import PromptFile
from .prompts import JUDGEMENTS, parse_judgement, value_messages, verify_messages

DEFAULT_SCORES = {"sure": 1.0, "likely": 0.5, "impossible": 0.0}
# How a judgement becomes a number: "word": the judgement word the answer ends with (sampled);
# "probs": the expected score under the model's probabilities of the answer's first token
# (the judgement words' share of its top alternatives), falling back to the word when the
# answer does not most probably begin with a judgement.
SCORINGS = ("word", "probs")
TOP_LOGPROBS = 10
MIN_MASS = 0.5


def judgement_mass(top: Sequence[tuple[str, float]] | None) -> dict[str, float]:
    """Probability mass per judgement among a first token's alternatives: a token (stripped,
    lower-cased) counts for the judgement it begins or is the beginning of ("sur" -> sure,
    "Impossible" -> impossible); other tokens count for none. A one-letter token counts only
    in lower case (SmolLM2 spells "sure" as "s" + "ure"; "I" is the start of "I think")."""
    mass: dict[str, float] = {}
    for tok, lp in top or ():
        raw = tok.strip()
        t = raw.lower()
        if not t or (len(t) == 1 and raw != t):
            continue
        for w in JUDGEMENTS:
            if w.startswith(t) or t.startswith(w):
                mass[w] = mass.get(w, 0.0) + math.exp(lp)
                break
    return mass


def expected_score(top: Sequence[tuple[str, float]] | None,
                   scores: Mapping[str, float]) -> float | None:
    """The judgement scores weighted by their first-token probabilities, renormalised over
    the judgements; None when they hold less than MIN_MASS of the probability."""
    mass = judgement_mass(top)
    total = sum(mass.values())
    if total < MIN_MASS:
        return None
    return sum(scores[w] * m for w, m in mass.items()) / total


class _Judge:
    """Shared machinery: `samples` judgements per prompt, mapped to [0, 1] and averaged."""

    def __init__(self, client: LLMClient, *, samples: int = 1, sampling: Sampling | None = None,
                 scores: Mapping[str, float] | None = None, default: float = 0.5,
                 prompts: PromptFile | None = None, scoring: str = "word") -> None:
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        if scoring not in SCORINGS:
            raise ValueError(f"unknown value scoring {scoring!r}; choose from {SCORINGS}")
        self.scoring = scoring
        scores = dict(DEFAULT_SCORES if scores is None else scores)
        if set(scores) != set(JUDGEMENTS) or not all(0.0 <= v <= 1.0 for v in scores.values()):
            raise ValueError(f"scores must map {JUDGEMENTS} to numbers in [0, 1]")
        self.client = client
        self.samples = samples
        self.sampling = sampling or Sampling(temperature=0.7, max_tokens=96)
        self.scores = scores
        self.default = default
        self.prompts = prompts       # a user's prompt file (`--prompts`), else the puzzle's
        self.calls_per_state = samples
        self._meter = None

    def bind(self, meter: Any) -> None:
        self._meter = meter

    def _judge(self, prompts: Sequence[list[dict] | None], rng: np.random.Generator) -> list[float]:
        """One value per prompt (None: no call, the default value)."""
        seeds = rng.integers(0, 2**31 - 1, size=(len(prompts), self.samples))
        requests, owner = [], []
        for i, messages in enumerate(prompts):
            if messages is None:
                continue
            for j in range(self.samples):
                requests.append(Request.of(
                    messages, self.sampling, index=j, seed=int(seeds[i, j]),
                    top_logprobs=TOP_LOGPROBS if self.scoring == "probs" else 0))
                owner.append(i)
        answers = self.client.complete(requests, self._meter)
        meter = self._meter
        if requests and meter is not None and meter.refused and all(a is None for a in answers):
            raise OverBudget(meter.refused)
        judged: list[list[float]] = [[] for _ in prompts]
        unjudged = 0
        for i, answer in zip(owner, answers):
            if answer is None:
                continue
            if self.scoring == "probs":
                v = expected_score(answer.top_logprobs, self.scores)
                if v is not None:
                    judged[i].append(v)
                    continue
            word = parse_judgement(answer.text)
            if word is None:
                unjudged += 1
            else:
                judged[i].append(self.scores[word])
        if meter is not None and unjudged:
            with METER_LOCK:
                for _ in range(unjudged):
                    meter.fault("unjudged")
        return [sum(v) / len(v) if v else self.default for v in judged]


class LLMValue(_Judge):
    """The value prompt (for Game of 24, ToT's sure/likely/impossible) on each state;
    `samples` judgements averaged; answers naming no judgement count as `faults['unjudged']`
    and the state gets `default` if no sample judged it. `scoring="probs"` takes each
    answer's expected score under its first token's probabilities (`expected_score`) instead
    of the sampled word, where the answer most probably begins with a judgement. The search's
    transposition table and the response cache make sure the same state is judged once."""

    def evaluate(self, puzzle: Any, states: Sequence[Any], *,
                 rng: np.random.Generator) -> list[float]:
        return self._judge([value_messages(puzzle, s, self.prompts) for s in states], rng)

    def __repr__(self) -> str:
        return (f"LLMValue(samples={self.samples}, scores={self.scores}, "
                f"scoring={self.scoring!r}, model={self.client.model!r})")


class LLMVerifyValue(_Judge):
    """A step verifier ("Let's Verify Step by Step"): the model judges whether the latest step
    is correct and useful given the steps so far.

    `wants_path = True` asks the search's Context to call `evaluate_paths` with, for each state,
    the [(state_before, step), ...] path by which it was first reached. The initial state (no
    step yet) gets `default` without a call. Called through plain `evaluate` (no paths), it
    judges the states like LLMValue.
    """

    wants_path = True

    def evaluate_paths(self, puzzle: Any, paths: Sequence[Sequence[tuple[Any, Any]]], *,
                       rng: np.random.Generator) -> list[float]:
        prompts: list[list[dict] | None] = []
        for path in paths:
            if not path:
                prompts.append(None)
                continue
            texts = [puzzle.render_step(before, step) for before, step in path]
            last_before, last_step = path[-1]
            final = puzzle.apply(last_before, last_step)
            prompts.append(verify_messages(puzzle, path[0][0], texts, final, self.prompts))
        return self._judge(prompts, rng)

    def evaluate(self, puzzle: Any, states: Sequence[Any], *,
                 rng: np.random.Generator) -> list[float]:
        return self._judge([value_messages(puzzle, s, self.prompts) for s in states], rng)

    def __repr__(self) -> str:
        return f"LLMVerifyValue(samples={self.samples}, model={self.client.model!r})"


PICKS = ("prior", "first")


class LLMRolloutValue:
    """The model's own playouts as the value (`--value llm-rollout`): from a state, the policy
    (the model's propose prompt) is asked for next steps and one legal step that does not return
    to a state of this playout is taken, and so on until the puzzle says solved (1.0), or the
    state is a dead end, no legal new step was named, or `max_depth` steps were taken (0.0); the
    mean over `n` playouts. No judgement is asked for: the model proposes and the puzzle
    decides, as in the search itself (AlphaGo's rollouts with the model as rollout policy).

    `pick="prior"` draws the step from the policy's priors (with the search's generator: same
    seed, same playouts); `pick="first"` takes the first legal new step named, which makes every
    playout from a state the same at temperature 0 (the behaviour before issue 16's playouts).
    A playout that solves the state keeps its steps, and the search takes them
    (`solution_from`, `types.SolutionValue`): a solving playout ends the search with that
    answer, verified by the puzzle, instead of only scoring the state 1.0.

    Every step of a playout is one policy call, through the policy's client: cached, retried
    and charged like any, so a `model_calls` cap counts them (the search's own `value_calls`
    count states). When the budget refuses a call, `OverBudget` ends the evaluation as for any
    refused value call; a solution found before the refusal is still kept."""

    def __init__(self, policy: Any, *, n: int = 1, max_depth: int = 16,
                 pick: str = "prior") -> None:
        check_positive("playouts n", n, allow_none=False)
        check_positive("playout max_depth", max_depth, allow_none=False)
        if pick not in PICKS:
            raise ValueError(f"unknown playout pick {pick!r}; choose from {PICKS}")
        self.policy, self.n, self.max_depth, self.pick = policy, n, max_depth, pick
        self.calls_per_state = n * max_depth * int(getattr(policy, "calls_per_propose", 1) or 1)
        self._solutions: dict[Any, list[Any]] = {}

    def bind(self, meter: Any) -> None:
        self._solutions = {}        # a new search: nothing it has not found itself
        self.policy.bind(meter)

    def evaluate(self, puzzle: Any, states: Sequence[Any], *,
                 rng: np.random.Generator) -> list[float]:
        return [sum(self._playout(puzzle, s, rng) for _ in range(self.n)) / self.n
                for s in states]

    def solution_from(self, state: Any) -> list[Any] | None:
        """The steps of a playout that solved `state` since the search last asked, or None."""
        return self._solutions.pop(state, None)

    def _playout(self, puzzle: Any, start: Any, rng: np.random.Generator) -> float:
        state, seen, steps = start, {start}, []
        for _ in range(self.max_depth):
            if puzzle.is_solved(state) or puzzle.is_dead_end(state):
                break
            options: dict[Any, list] = {}       # next state -> [step, summed prior]
            for item in self.policy.propose(puzzle, state, k=None, rng=rng):
                nxt = puzzle.apply(state, item[0])
                if nxt not in seen:
                    options.setdefault(nxt, [item[0], 0.0])[1] += max(0.0, float(item[1]))
            if not options:
                break            # nothing legal and new was named
            nexts = list(options)
            i = 0
            if self.pick == "prior" and len(nexts) > 1:
                p = np.array([options[n][1] for n in nexts])
                total = p.sum()
                i = int(rng.choice(len(nexts), p=p / total)) if total > 0 \
                    else int(rng.integers(len(nexts)))
            state = nexts[i]
            steps.append(options[state][0])
            seen.add(state)
        if not puzzle.is_solved(state):
            return 0.0
        if steps:
            self._solutions.setdefault(start, steps)
        return 1.0

    def __repr__(self) -> str:
        return (f"LLMRolloutValue(n={self.n}, max_depth={self.max_depth}, pick={self.pick!r}, "
                f"policy={self.policy!r})")
