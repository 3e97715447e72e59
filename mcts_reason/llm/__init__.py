"""LLM policies and values over any OpenAI-compatible chat server.

client.py  the budget-checked, retried, concurrent client (`LLMClient`): the accounting
wire.py    what it hands a transport and gets back (`Request`, `Completion`, `AttemptFailed`)
openai_transport.py  the HTTP transport (`OpenAITransport`), over bounded_http.py
cache.py   the persistent sqlite response cache (`ResponseCache`)
prompts.py generic prompts for puzzles that bring none, and the judgement parser
policy.py  `LLMPolicy` (proposals) ; value.py `LLMValue`, `LLMVerifyValue`, `LLMRolloutValue`
local.py   the embedded llama.cpp server with the bundled SmolLM2 model
"""
from __future__ import annotations

from .cache import ResponseCache, default_cache_path
from .client import Completion, LLMClient, LLMError, Price, Request, Sampling
from .openai_transport import OpenAITransport
from .policy import LLMPolicy
from .value import LLMRolloutValue, LLMValue, LLMVerifyValue
from .wire import AttemptFailed

__all__ = ["AttemptFailed", "Completion", "LLMClient", "LLMError", "LLMPolicy", "LLMRolloutValue",
           "LLMValue", "LLMVerifyValue", "OpenAITransport", "Price", "Request", "ResponseCache",
           "Sampling", "default_cache_path"]
