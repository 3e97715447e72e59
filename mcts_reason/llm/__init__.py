"""LLM policies and values over any OpenAI-compatible chat server.

client.py  the budget-checked, retried, concurrent client (`LLMClient`)
cache.py   the persistent sqlite response cache (`ResponseCache`)
prompts.py generic prompts for puzzles that bring none, and the judgement parser
policy.py  `LLMPolicy` (proposals) ; value.py `LLMValue`, `LLMVerifyValue`
local.py   the embedded llama.cpp server with the bundled SmolLM2 model
"""
from __future__ import annotations

from .cache import ResponseCache, default_cache_path
from .client import Completion, LLMClient, LLMError, Price, Request, Sampling
from .policy import LLMPolicy
from .value import LLMValue, LLMVerifyValue

__all__ = ["Completion", "LLMClient", "LLMError", "LLMPolicy", "LLMValue", "LLMVerifyValue",
           "Price", "Request", "ResponseCache", "Sampling", "default_cache_path"]
