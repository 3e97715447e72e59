"""Policies and value functions by name, for the CLI and benchmarks."""
from __future__ import annotations

from typing import Any

from .policies import UniformPolicy
from .types import ExtraValues
from .values import ConstantValue, RolloutValue

POLICIES = ("heuristic", "uniform", "llm")
VALUES = ("heuristic", "rollout", "constant", "oracle", "llm", "llm-verify")
LLM_PARTS = ("llm", "llm-verify")


def make_policy(puzzle: Any, name: str, *, client: Any = None, settings: Any = None) -> Any:
    """`client`/`settings` (an LLMClient and LLMSettings) are needed for "llm" only."""
    if name == "llm":
        from .llm import LLMPolicy
        if client is None:
            raise ValueError("the llm policy needs a model client")
        return LLMPolicy(client, samples=settings.samples if settings else 1,
                         sampling=settings.sampling if settings else None)
    if name == "heuristic":
        return puzzle.heuristic_policy()
    if name == "uniform":
        return UniformPolicy()
    raise ValueError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")


def make_value(puzzle: Any, name: str, *, client: Any = None, settings: Any = None) -> Any:
    """`client`/`settings` (an LLMClient and LLMSettings) are needed for "llm"/"llm-verify"."""
    if name in LLM_PARTS:
        from .llm import LLMValue, LLMVerifyValue
        if client is None:
            raise ValueError(f"the {name} value needs a model client")
        cls = LLMValue if name == "llm" else LLMVerifyValue
        return cls(client, samples=settings.value_samples if settings else 1,
                   sampling=settings.value_sampling if settings else None)
    if name == "heuristic":
        return puzzle.heuristic_value()
    if name == "rollout":
        return RolloutValue()
    if name == "constant":
        return ConstantValue()
    extra = dict(puzzle.extra_values()) if isinstance(puzzle, ExtraValues) else {}
    if name in extra:
        return extra[name]()
    raise ValueError(f"unknown value {name!r} for {puzzle.name}; "
                     f"choose from {', '.join(VALUES[:3] + tuple(extra) + LLM_PARTS)}")
