"""`LLMPolicy`: next steps proposed by a language model, parsed and checked by the puzzle."""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..budget import OverBudget
from ..types import ProposeGrammar
from .client import METER_LOCK, LLMClient, Request, Sampling
from .prompt_file import PromptFile
from .prompts import propose_messages

_NEW_EXAMPLE = re.compile(r"^\s*(input|question)\s*:", re.IGNORECASE)
_ANNOTATION = re.compile(r"\s*\([^()]*\)?\s*\.?\s*$")


def parse_proposals(puzzle: Any, state: Any, text: str, *, lenient: bool = True
                    ) -> tuple[list[Any], int]:
    """Legal steps named in a model's answer, in order, without repeats; and how many lines were
    not legal steps. Header lines ending in ':' are skipped; a line starting a new example
    ('Input: ...') ends the answer (a model continuing a few-shot pattern).

    `lenient`: a line the puzzle rejects is tried once more without its trailing parenthesised
    annotation -- small models often get "(left: ...)" wrong while the step itself is legal; the
    puzzle, not the model, then computes what is left."""
    steps, seen, invalid = [], set(), 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.endswith(":"):
            continue
        if _NEW_EXAMPLE.match(line):
            break
        step = puzzle.parse_step(state, line)
        if step is None and lenient:
            bare = _ANNOTATION.sub("", line)
            if bare and bare != line:
                step = puzzle.parse_step(state, bare)
        if step is None:
            invalid += 1
        elif step not in seen:
            seen.add(step)
            steps.append(step)
    return steps, invalid


class LLMPolicy:
    """Asks the model `samples` times for next steps; priors from frequency and rank.

    A step's score is the sum over samples of 1 / (1 + its rank among that sample's legal
    steps), so a step proposed early and often leads. Illegal or unparsable lines are counted in
    `Usage.invalid_proposals` and dropped. A sample that names no legal step adds nothing (a
    dead end for that sample, not an error); failed requests are counted as faults by the client.
    Not exhaustive: MCTS widens its nodes progressively and re-asks as visits grow; `patience`
    is how many re-asks that bring nothing new MCTS makes before it gives a node up.

    Constrained proposals: when the client's server honours GBNF grammars (`client.grammar`,
    e.g. llama.cpp) and the puzzle has `propose_grammar(state)`, each request carries that
    grammar, so every line has the step format over the state's numbers; the model still chooses
    the step and writes its result, which `parse_step` checks.
    """

    exhaustive = False

    def __init__(self, client: LLMClient, *, samples: int = 1,
                 sampling: Sampling | None = None, lenient: bool = True,
                 patience: int = 6, prompts: PromptFile | None = None) -> None:
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        self.client = client
        self.samples = samples
        self.sampling = sampling or Sampling(temperature=0.7, max_tokens=128)
        self.lenient = lenient
        self.patience = patience
        self.prompts = prompts       # a user's prompt file (`--prompts`), else the puzzle's
        self.calls_per_propose = samples
        self._meter = None

    def bind(self, meter: Any) -> None:
        self._meter = meter

    def propose(self, puzzle: Any, state: Any, *, k: int | None,
                rng: np.random.Generator) -> list[tuple[Any, float]]:
        messages = propose_messages(puzzle, state, self.prompts)
        grammar = None
        if getattr(self.client, "grammar", False) and isinstance(puzzle, ProposeGrammar):
            grammar = puzzle.propose_grammar(state)
        seeds = rng.integers(0, 2**31 - 1, size=self.samples)
        requests = [Request.of(messages, self.sampling, index=i, seed=int(seeds[i]),
                               grammar=grammar)
                    for i in range(self.samples)]
        answers = self.client.complete(requests, self._meter)
        meter = self._meter
        if meter is not None and meter.refused and all(a is None for a in answers):
            raise OverBudget(meter.refused)
        scores: dict[Any, float] = {}
        invalid = 0
        for answer in answers:
            if answer is None:
                continue
            steps, bad = parse_proposals(puzzle, state, answer.text,
                                         lenient=self.lenient)
            invalid += bad
            for rank, step in enumerate(steps):
                scores[step] = scores.get(step, 0.0) + 1.0 / (1 + rank)
        if meter is not None and invalid:
            with METER_LOCK:
                meter.usage.invalid_proposals += invalid
        out = sorted(scores.items(), key=lambda kv: -kv[1])   # stable: ties keep first-seen order
        return out[:k] if k is not None else out

    def __repr__(self) -> str:
        return f"LLMPolicy(samples={self.samples}, {self.sampling!r}, model={self.client.model!r})"
