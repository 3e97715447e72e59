"""What crosses the seam between the accounting client (`LLMClient`) and a transport
(`types.Transport`): the request, the answer, and the two ways an attempt can fail.

A transport turns one `Request` into one `Completion`, or raises `AttemptFailed` (a failed
attempt the client counts, charges and maybe retries) or `LLMError` (a configuration problem
no retry can fix). Everything about budgets, caches and retries stays in the client.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

# Upper bound on what a chat template adds around the messages (role markers, a default system
# prompt): the prompt reservation is len(utf-8 bytes) + these, since a byte-level BPE token never
# covers less than one byte.
TEMPLATE_TOKENS = 64
PER_MESSAGE_TOKENS = 8


class LLMError(RuntimeError):
    """A configuration problem no retry can fix (bad key, unknown model, server unreachable)."""


class AttemptFailed(Exception):
    """One failed attempt, raised by a transport.

    `kind` is the `Usage.faults` key (one of client.ATTEMPT_FAULTS, or "http_NNN");
    `reached`: whether anything reached the model (only then is the attempt charged);
    `retry`: whether another attempt may succeed; `wait`: the seconds the server asked to wait
    before retrying (Retry-After), or None."""

    def __init__(self, kind: str, *, reached: bool, retry: bool, wait: float | None = None,
                 detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind, self.reached, self.retry, self.wait = kind, reached, retry, wait

    def __repr__(self) -> str:
        return (f"AttemptFailed({self.kind!r}, reached={self.reached}, retry={self.retry}, "
                f"wait={self.wait})")


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sampling parameters sent with every request (and part of the cache key)."""

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 128
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")


@dataclass(frozen=True, slots=True)
class Request:
    """One chat completion: messages as ((role, content), ...), the `index`-th sample.

    `grammar`: a GBNF grammar the answer must follow (llama.cpp's `grammar` request field), or
    None. Only set it for a client whose server honours it (`LLMClient.grammar`).
    `top_logprobs`: > 0 asks for the log-probabilities of that many alternatives of each
    answer token (the OpenAI `logprobs`/`top_logprobs` fields); the answer's
    `Completion.top_logprobs` holds the first token's."""

    messages: tuple[tuple[str, str], ...]
    sampling: Sampling = field(default_factory=Sampling)
    index: int = 0
    seed: int | None = None
    grammar: str | None = None
    top_logprobs: int = 0

    @classmethod
    def of(cls, messages: Sequence[Mapping[str, str]], sampling: Sampling, *, index: int = 0,
           seed: int | None = None, grammar: str | None = None,
           top_logprobs: int = 0) -> "Request":
        msgs = tuple((str(m["role"]), str(m["content"])) for m in messages)
        return cls(msgs, sampling, index, seed, grammar, top_logprobs)

    def prompt_bound(self) -> int:
        """An upper bound on the prompt tokens of this request (see TEMPLATE_TOKENS)."""
        return TEMPLATE_TOKENS + sum(PER_MESSAGE_TOKENS + len(r.encode()) + len(c.encode())
                                     for r, c in self.messages)

    def __repr__(self) -> str:
        last = self.messages[-1][1] if self.messages else ""
        return (f"Request({len(self.messages)} messages, last={last[:40]!r}..., "
                f"index={self.index}, seed={self.seed})")


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer to one Request, with the token usage the server reported.

    From a transport, `prompt_tokens`/`completion_tokens` may be None: the backend reported no
    usable count, and the client charges the request's upper bound instead. What the client
    returns always has both counts. `top_logprobs`: for a request that asked for them, the
    first answer token's alternatives as ((token text, log-probability), ...), or None when
    the server sent none that parse (`valid_top_logprobs`)."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None = None
    cached: bool = False
    top_logprobs: tuple[tuple[str, float], ...] | None = None

    def __repr__(self) -> str:
        return (f"Completion({self.text[:40]!r}, tokens={self.prompt_tokens}+"
                f"{self.completion_tokens}, cached={self.cached})")


def valid_top_logprobs(items: Any) -> tuple[tuple[str, float], ...] | None:
    """((token, logprob), ...) from a sequence of pairs (or of objects/dicts with `token` and
    `logprob`), if every one is text with a finite log-probability <= 0; else None. What a
    server or a cache file holds is never trusted further than this."""
    if not isinstance(items, (list, tuple)) or not items or len(items) > 64:
        return None
    out = []
    for it in items:
        if isinstance(it, dict):
            tok, lp = it.get("token"), it.get("logprob")
        elif isinstance(it, (list, tuple)) and len(it) == 2:
            tok, lp = it
        else:
            tok, lp = getattr(it, "token", None), getattr(it, "logprob", None)
        if not isinstance(tok, str) or isinstance(lp, bool) or not isinstance(lp, (int, float)):
            return None
        lp = float(lp)
        if not math.isfinite(lp) or lp > 1e-6:
            return None
        out.append((tok[:64], min(lp, 0.0)))
    return tuple(out)
