"""Policies and value functions by name, for the CLI and benchmarks."""
from __future__ import annotations

from typing import Any

from .policies import UniformPolicy
from .values import ConstantValue, RolloutValue

POLICIES = ("heuristic", "uniform")
VALUES = ("heuristic", "rollout", "constant", "oracle")


def make_policy(puzzle: Any, name: str) -> Any:
    if name == "heuristic":
        return puzzle.heuristic_policy()
    if name == "uniform":
        return UniformPolicy()
    raise ValueError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")


def make_value(puzzle: Any, name: str) -> Any:
    if name == "heuristic":
        return puzzle.heuristic_value()
    if name == "rollout":
        return RolloutValue()
    if name == "constant":
        return ConstantValue()
    extra = getattr(puzzle, "extra_values", dict)()
    if name in extra:
        return extra[name]()
    raise ValueError(f"unknown value {name!r} for {puzzle.name}; "
                     f"choose from {', '.join(VALUES[:3] + tuple(extra))}")
