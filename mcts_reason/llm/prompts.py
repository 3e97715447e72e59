"""Prompts: a user's prompt file first (`--prompts`), then the puzzle's own, then a generic one
built from `render`.

Convention (shared by every puzzle; declared in `types.ProposePrompt`, `types.ValuePrompt`,
`types.VerifyPrompt`): `puzzle.propose_messages(state)` and `puzzle.value_messages(state)`
return OpenAI chat messages. The propose prompt asks for candidate next steps, one per line, in
the puzzle's step format (read back with `puzzle.parse_step`); the value prompt asks for a
judgement ending in one word: sure / likely / impossible. A puzzle may also bring
`verify_messages(initial, step_texts, state)` for the step verifier.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from ..types import PromptFields, ProposePrompt, ValuePrompt, VerifyPrompt
from .prompt_file import PromptFile

JUDGEMENTS = ("sure", "likely", "impossible")
_WORD = re.compile(r"\b(sure|likely|impossible)\b", re.IGNORECASE)


def _description(puzzle: Any) -> str:
    return str(getattr(puzzle, "description", "") or getattr(puzzle, "name", "a puzzle"))


def _state_fields(puzzle: Any, state: Any) -> dict[str, str]:
    fields = {"state": puzzle.render(state), "description": _description(puzzle)}
    if isinstance(puzzle, PromptFields):
        fields.update(puzzle.prompt_fields(state))
    return fields


def propose_messages(puzzle: Any, state: Any, prompts: PromptFile | None = None) -> list[dict]:
    if prompts is not None and prompts.get("propose") is not None:
        return prompts.messages("propose", **_state_fields(puzzle, state))
    if isinstance(puzzle, ProposePrompt):
        return list(puzzle.propose_messages(state))
    return [{"role": "user", "content":
             f"{_description(puzzle)}\nCurrent state: {puzzle.render(state)}\n"
             "List a few possible next steps, one per line, each in the puzzle's step format "
             "and nothing else.\nPossible next steps:\n"}]


def value_messages(puzzle: Any, state: Any, prompts: PromptFile | None = None) -> list[dict]:
    if prompts is not None and prompts.get("value") is not None:
        return prompts.messages("value", **_state_fields(puzzle, state))
    if isinstance(puzzle, ValuePrompt):
        return list(puzzle.value_messages(state))
    return [{"role": "user", "content":
             f"{_description(puzzle)}\nCurrent state: {puzzle.render(state)}\n"
             "Can this state still be solved? Think briefly, then end with one word on its "
             "own line: sure, likely or impossible.\n"}]


def verify_messages(puzzle: Any, initial: Any, step_texts: Sequence[str], state: Any,
                    prompts: PromptFile | None = None) -> list[dict]:
    """The step-verifier prompt: is the latest step correct and useful, given the steps so far?"""
    earlier = "".join(f"{i}. {t}\n" for i, t in enumerate(step_texts[:-1], 1)) or "(none)\n"
    if prompts is not None and prompts.get("verify") is not None:
        return prompts.messages("verify", description=_description(puzzle),
                                start=puzzle.render(initial), steps=earlier,
                                latest=step_texts[-1], state=puzzle.render(state))
    if isinstance(puzzle, VerifyPrompt):
        return list(puzzle.verify_messages(initial, list(step_texts), state))
    return [{"role": "user", "content":
             f"{_description(puzzle)}\nStart: {puzzle.render(initial)}\n"
             f"Steps so far:\n{earlier}Latest step: {step_texts[-1]}\n"
             f"State now: {puzzle.render(state)}\n"
             "Is the latest step correct, and does it bring the puzzle closer to a solution? "
             "Think briefly, then end with one word on its own line: sure, likely or "
             "impossible.\n"}]


def parse_judgement(text: str) -> str | None:
    """The judgement a model's answer ends with: the last of sure/likely/impossible on the last
    line that names one; None when no line does."""
    if not isinstance(text, str):
        return None
    for line in reversed(text.strip().splitlines()):
        words = _WORD.findall(line)
        if words:
            return words[-1].lower()
    return None
