"""Finds puzzles through the `mcts_reason.puzzles` entry-point group, as a third party's would be.

The scan of installed distributions costs about a millisecond and a half, more than a whole
Game of 24 search, so it is done once per process (`refresh()` forgets it, e.g. after
installing a plugin in a running interpreter). Each `load` still returns a fresh puzzle object.
"""
from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .types import AnswerFormats, InstanceRules

GROUP = "mcts_reason.puzzles"


@cache
def _scan() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@cache
def _factory(name: str) -> Any:
    return _scan()[name].load()


def available() -> dict[str, EntryPoint]:
    """Registered puzzle names -> entry points (not yet loaded)."""
    return dict(_scan())


def load(name: str) -> Any:
    """An instance of the puzzle registered as `name`. Raises KeyError naming the known ones."""
    eps = _scan()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none"
        raise KeyError(f"unknown puzzle {name!r} (registered: {known})")
    return _factory(name)()


def refresh() -> None:
    """Forget the memoised scan, so that the next call sees newly installed puzzles."""
    _scan.cache_clear()
    _factory.cache_clear()


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
