"""Finds puzzles through the `mcts_reason.puzzles` entry-point group, as a third party's would be."""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

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
