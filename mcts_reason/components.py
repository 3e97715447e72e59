"""Policies and value functions by name, for the CLI and benchmarks."""
from __future__ import annotations

from typing import Any

from .policies import UniformPolicy
from .types import ExtraValues
from .values import ConstantValue, RolloutValue

POLICIES = ("heuristic", "uniform", "llm", "learned:PATH")
VALUES = ("heuristic", "rollout", "constant", "oracle", "llm", "llm-verify", "llm-rollout",
          "learned:PATH")
LLM_PARTS = ("llm", "llm-verify", "llm-rollout")
LEARNED = "learned:"


def learned_model(puzzle: Any, name: str) -> Any:
    """The model file of a `learned:PATH` name, loaded (cached per process) for this puzzle.
    Raises ValueError (a `learn.model.ModelError`) with a one-line message."""
    from .learn.model import load_cached
    path = name[len(LEARNED):]
    if not path:
        raise ValueError("learned:PATH needs the path of a model file (mcts-reason train)")
    return load_cached(path, puzzle.name)


def make_policy(puzzle: Any, name: str, *, client: Any = None, settings: Any = None) -> Any:
    """`client`/`settings` (an LLMClient and LLMSettings) are needed for "llm" only."""
    if name == "llm":
        from .llm import LLMPolicy
        if client is None:
            raise ValueError("the llm policy needs a model client")
        return LLMPolicy(client, samples=settings.samples if settings else 1,
                         sampling=settings.sampling if settings else None,
                         prompts=settings.prompts if settings else None)
    if name == "heuristic":
        return puzzle.heuristic_policy()
    if name == "uniform":
        return UniformPolicy()
    if name.startswith(LEARNED):
        from .learn.model import LearnedPolicy
        return LearnedPolicy(learned_model(puzzle, name), source=name)
    raise ValueError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")


def make_value(puzzle: Any, name: str, *, client: Any = None, settings: Any = None) -> Any:
    """`client`/`settings` (an LLMClient and LLMSettings) are needed for the model's values
    (LLM_PARTS); "llm-rollout" plays out with the model's policy (`settings` as for --policy
    llm), one playout per state."""
    if name in LLM_PARTS:
        from .llm import LLMRolloutValue, LLMValue, LLMVerifyValue
        if client is None:
            raise ValueError(f"the {name} value needs a model client")
        if name == "llm-rollout":
            return LLMRolloutValue(make_policy(puzzle, "llm", client=client, settings=settings))
        cls = LLMValue if name == "llm" else LLMVerifyValue
        return cls(client, samples=settings.value_samples if settings else 1,
                   sampling=settings.value_sampling if settings else None,
                   prompts=settings.prompts if settings else None,
                   scoring=settings.value_scoring if settings else "word")
    if name == "heuristic":
        return puzzle.heuristic_value()
    if name == "rollout":
        return RolloutValue()
    if name == "constant":
        return ConstantValue()
    if name.startswith(LEARNED):
        from .learn.model import LearnedValue
        return LearnedValue(learned_model(puzzle, name), source=name)
    extra = dict(puzzle.extra_values()) if isinstance(puzzle, ExtraValues) else {}
    if name in extra:
        return extra[name]()
    raise ValueError(f"unknown value {name!r} for {puzzle.name}; "
                     f"choose from {', '.join(VALUES[:3] + tuple(extra) + LLM_PARTS + (LEARNED + 'PATH',))}")
