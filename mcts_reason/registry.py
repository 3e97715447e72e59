"""Finds puzzles through the `mcts_reason.puzzles` entry-point group, as a third party's would be."""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from .types import AnswerFormats, InstanceRules

GROUP = "mcts_reason.puzzles"


def available() -> dict[str, Any]:
    """Registered puzzle names -> entry points (not yet loaded)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(name: str) -> Any:
    """An instance of the puzzle registered as `name`. Raises KeyError naming the known ones."""
    eps = available()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none"
        raise KeyError(f"unknown puzzle {name!r} (registered: {known})")
    return eps[name].load()()


def instance_rules(puzzle: Any, instance: str) -> dict[str, str]:
    """The rule variant `instance` is played under, from the puzzle's optional
    `types.InstanceRules` (e.g. Countdown's {"rule": "exactly-once"}); {} for puzzles without variants. Shown by
    `solve` and recorded by `bench`."""
    if not isinstance(puzzle, InstanceRules):
        return {}
    return dict(puzzle.instance_rules(puzzle.parse_instance(instance)))


def answer_formats(puzzle: Any) -> dict[str, str]:
    """The extra forms the puzzle can write an answer in (`types.AnswerFormats`: name ->
    description), used by `solve --answer-format`; {} for puzzles without any."""
    return dict(puzzle.answer_formats) if isinstance(puzzle, AnswerFormats) else {}
