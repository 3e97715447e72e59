"""The accounting half of the model client: budget-checked, retried, cached (`LLMClient`).

Every request goes through `LLMClient.complete`, which for each sample:
  1. reserves its worst case on the run's `Meter` -- one model call, an upper bound on the prompt
     tokens plus `max_tokens`, and their price -- and refuses (returns None, sets
     `meter.refused`) when that reservation would break a cap, counting in-flight reservations,
     so that no cap is ever exceeded, with any number of requests in flight;
  2. answers from the response cache when it can (charged exactly as the original call was, so
     a replay takes the same decisions; `Usage.cached_calls` counts these);
  3. otherwise hands it to its transport (`types.Transport`): by default
     `openai_transport.OpenAITransport`, one attempt over HTTP that ends within `timeout`
     seconds *in all* (and within what is left of the meter's `seconds` cap); an in-process
     model plugs in as another transport. Failed attempts (`wire.AttemptFailed`) are retried
     up to `max_retries` times with exponential backoff, honouring the server's Retry-After.
     Each attempt that reached the model is charged one model call; its tokens are charged as
     reported, or as the full reservation when nothing usable was reported (a timed-out
     request may still be billed). Every failed attempt is counted by kind in `Usage.faults`
     (`ATTEMPT_FAULTS`).

Fatal configuration errors (authentication, unknown model, nothing listening at the base URL)
raise `LLMError`, whose message names the base URL -- with any credentials in it redacted --
and never contains the API key.
"""
from __future__ import annotations

import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from ..budget import Meter
from .openai_transport import base_url_problem
from .wire import (PER_MESSAGE_TOKENS, TEMPLATE_TOKENS, AttemptFailed, Completion, LLMError,
                   Request, Sampling, valid_top_logprobs)

__all__ = ["ATTEMPT_FAULTS", "METER_LOCK", "PER_MESSAGE_TOKENS", "TEMPLATE_TOKENS",
           "AttemptFailed", "Completion", "LLMClient", "LLMError", "Price", "Request", "Sampling",
           "base_url_problem", "failed_attempts"]

# Every change that LLM code makes to a Meter happens under this lock: requests run in threads.
METER_LOCK = threading.RLock()

MAX_TEXT_CHARS = 65_536
_SURROGATES = re.compile("[\ud800-\udfff]")

# Fault kinds that are failed attempts (the rest -- empty_answer, oversized_answer, invalid_text,
# unjudged, cache_write, over_reservation, gave_up -- describe answers or whole requests);
# plus every "http_NNN".
ATTEMPT_FAULTS = ("timeout", "rate_limited", "malformed", "connection", "unreachable",
                  "timeout_unsent", "redirect", "context_length", "oversized_body")
_UNREACHED = ("unreachable", "timeout_unsent")     # nothing was sent: not charged


def failed_attempts(faults: Mapping[str, int]) -> int:
    """How many attempts of a `Usage.faults` tally reached the server and failed (each was
    charged one model call; "unreachable" and "timeout_unsent" ones were not)."""
    return sum(n for k, n in faults.items()
               if k not in _UNREACHED and (k in ATTEMPT_FAULTS or k.startswith("http_")))


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million prompt / completion tokens."""

    prompt: float
    completion: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1e6


def _count(n: Any) -> bool:
    """Whether a transport's token count is one (a non-negative int; None: not reported)."""
    return isinstance(n, int) and n >= 0


class LLMClient:
    """Chat completions through a transport, within a budget: reserve, charge, cache, retry.

    By default the transport is `OpenAITransport` over HTTP to any OpenAI-compatible server
    (OpenAI, vLLM, llama.cpp, Ollama), built from `base_url`, `model`, `api_key` and `timeout`.
    Pass `transport=` instead to use another backend (an in-process model): anything that
    implements `types.Transport`; the client then owns it and closes it.

    Args:
      base_url: e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8080/v1" (not with
        `transport`).
      model: the model name sent with each request (and part of the cache key); with
        `transport`, defaults to the transport's `model`.
      api_key: sent as a bearer token; kept out of repr, caches and error messages (not with
        `transport`).
      timeout: seconds per attempt, in all (connect, send, headers and body together).
      max_retries: retries after the first attempt (429, 5xx, timeouts, malformed bodies).
      backoff, max_backoff: the wait before retry r is min(max_backoff, backoff * 2**r), or the
        server's Retry-After (also capped at max_backoff).
      cache: a ResponseCache, or None.
      prices: model name -> Price, for `Usage.cost`.
      concurrency: how many requests of one `complete` call may be in flight at once.
      grammar: whether the server honours a GBNF `grammar` in the request body (llama.cpp's
        server does; OpenAI does not). Policies send grammars only when this is true.
      server_check: for a server whose process we know (the embedded one), called with the
        number of requests sent so far when an attempt could not connect or lost its
        connection; a line saying the server died is raised as LLMError at once, instead of
        retrying into "connection refused".
      sleep: the function that waits between retries (tests pass a recorder); by default the
        transport's `wait` (for HTTP, a wait that `bounded_http.abort_all` cuts short).
      transport: a `types.Transport`, or None for the HTTP one.
    Raises:
      ValueError: for bad parameters.
    """

    def __init__(self, *, base_url: str | None = None, model: str | None = None,
                 api_key: str | None = None, timeout: float = 60.0, max_retries: int = 3,
                 backoff: float = 0.5, max_backoff: float = 30.0, cache: Any = None,
                 prices: Mapping[str, Price] | None = None, concurrency: int = 4,
                 grammar: bool = False,
                 server_check: Callable[[int], str | None] | None = None,
                 sleep: Callable[[float], Any] | None = None,
                 transport: Any = None) -> None:
        if transport is None:
            problem = base_url_problem(base_url or "")
            if problem:
                raise ValueError(problem)
            if model is None:
                raise ValueError("a model name is needed")
        elif base_url is not None or api_key is not None:
            raise ValueError("give either a transport or a base URL and key, not both")
        if not (0 < timeout < math.inf) or max_retries < 0 or not (0 <= backoff < math.inf) \
                or not (0 <= max_backoff < math.inf) or concurrency < 1:
            raise ValueError("need 0 < timeout < inf, max_retries >= 0, finite backoff >= 0, "
                             "concurrency >= 1")
        if transport is None:
            from .openai_transport import OpenAITransport
            transport = OpenAITransport(base_url=base_url, model=model, api_key=api_key,
                                        timeout=timeout)
        self.transport = transport
        self.base_url = transport.label       # what messages and reprs show (redacted)
        self.model = model if model is not None else transport.model
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.cache = cache
        self.prices = dict(prices or {})
        self.concurrency = concurrency
        self.grammar = bool(grammar)
        self.server_check = server_check
        self._sleep = sleep or getattr(transport, "wait", time.sleep)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._reserved: dict[int, list[float]] = {}   # id(meter) -> [calls, tokens, cost]
        self.sent = 0   # attempts handed to the transport by this client (all meters)

    # -- public ---------------------------------------------------------------------------------
    def complete(self, requests: Sequence[Request], meter: Meter | None = None
                 ) -> list[Completion | None]:
        """One Completion per request, in order; None where it failed or the budget refused."""
        if len(requests) <= 1 or self.concurrency == 1:
            return [self._one(r, meter) for r in requests]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="llm")
        futures = [self._pool.submit(self._one, r, meter) for r in requests]
        try:
            return [f.result() for f in futures]
        except BaseException:        # Ctrl-C: start nothing more; what is in flight ends soon
            for f in futures:
                f.cancel()
            raise

    @property
    def stopped(self) -> bool:
        """True once the transport was stopped (HTTP: `bounded_http.abort_all`, on Ctrl-C):
        every later attempt returns None."""
        return bool(getattr(self.transport, "stopped", False))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.transport.close()

    def __repr__(self) -> str:
        return (f"LLMClient(base_url={self.base_url!r}, model={self.model!r}, "
                f"timeout={self.timeout}, max_retries={self.max_retries}, "
                f"concurrency={self.concurrency}, cache={self.cache!r})")

    # -- budget -----------------------------------------------------------------------------------
    def _price(self, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.prices.get(self.model)
        return price.cost(prompt_tokens, completion_tokens) if price else 0.0

    def _reserve(self, meter: Meter | None, tokens: int) -> str | None:
        """Reserve one call and `tokens` tokens; the name of the refusing cap, else None."""
        if meter is None:
            return None
        cost = self._bound_cost(tokens)
        with METER_LOCK:
            b, u = meter.budget, meter.usage
            if b.seconds is not None and meter.elapsed() >= b.seconds:
                return "seconds"
            res = self._reserved.setdefault(id(meter), [0, 0, 0.0])
            if b.model_calls is not None and u.model_calls + res[0] + 1 > b.model_calls:
                return "model_calls"
            if b.tokens is not None and \
                    u.prompt_tokens + u.completion_tokens + res[1] + tokens > b.tokens:
                return "tokens"
            if b.cost is not None and u.cost + res[2] + cost > b.cost:
                return "cost"
            res[0] += 1
            res[1] += tokens
            res[2] += cost
        return None

    def _bound_cost(self, tokens_bound: int) -> float:
        price = self.prices.get(self.model)
        return tokens_bound * max(price.prompt, price.completion) / 1e6 if price else 0.0

    def _release(self, meter: Meter | None, tokens: int) -> None:
        if meter is None:
            return
        with METER_LOCK:
            res = self._reserved[id(meter)]
            res[0] -= 1
            res[1] -= tokens
            res[2] -= self._bound_cost(tokens)
            if res[0] == 0:
                del self._reserved[id(meter)]

    @staticmethod
    def _charge(meter: Meter | None, prompt: int, completion: int, cost: float, *,
                cached: bool = False, fault: str | None = None) -> None:
        if meter is None:
            return
        with METER_LOCK:
            u = meter.usage
            u.model_calls += 1
            u.prompt_tokens += prompt
            u.completion_tokens += completion
            u.cost += cost
            u.cached_calls += cached
            if fault:
                meter.fault(fault)

    def _charge_failure(self, meter: Meter | None, e: AttemptFailed, req: Request) -> None:
        """A failed attempt: one model call if it reached the server, plus the whole token
        reservation when the server may have done (and billed) the work without reporting it."""
        if meter is None:
            return
        if not e.reached:
            with METER_LOCK:
                meter.fault(e.kind)
        elif e.kind in ("timeout", "malformed", "connection"):
            bound = req.prompt_bound() + req.sampling.max_tokens
            self._charge(meter, req.prompt_bound(), req.sampling.max_tokens,
                         self._bound_cost(bound), fault=e.kind)
        else:
            self._charge(meter, 0, 0, 0.0, fault=e.kind)

    # -- one request ------------------------------------------------------------------------------
    def _one(self, req: Request, meter: Meter | None) -> Completion | None:
        bound = req.prompt_bound() + req.sampling.max_tokens
        connect_failures = 0
        for attempt in range(self.max_retries + 1):
            if self.stopped:
                return None
            refused = self._reserve(meter, bound)
            if refused is not None:
                with METER_LOCK:
                    meter.refused = refused
                return None
            try:
                if self.cache is not None:
                    hit = self.cache.get(self.model, req)
                    if hit is not None:
                        self._charge(meter, hit.prompt_tokens, hit.completion_tokens,
                                     self._price(hit.prompt_tokens, hit.completion_tokens),
                                     cached=True)
                        return hit
                try:
                    with METER_LOCK:
                        self.sent += 1
                    done = self.transport.send(req, self._time_left(meter))
                except AttemptFailed as e:
                    if self.stopped:
                        return None
                    self._charge_failure(meter, e, req)
                    if e.kind in ("unreachable", "connection") and self.server_check is not None:
                        died = self.server_check(self.sent)
                        if died:
                            raise LLMError(died) from None
                    connect_failures += e.kind == "unreachable"
                    if not e.retry or attempt == self.max_retries:
                        break
                    wait = e.wait if e.wait is not None else self.backoff * 2 ** attempt
                    wait = min(self.max_backoff, wait)
                    if meter is not None and meter.budget.seconds is not None and \
                            meter.elapsed() + wait >= meter.budget.seconds:
                        with METER_LOCK:   # the time cap, not the search, ended the retries
                            meter.refused = "seconds"
                        break
                    self._sleep(wait)
                    continue
                return self._answer(req, done, meter, bound)
            finally:
                self._release(meter, bound)
        if connect_failures == self.max_retries + 1:
            raise LLMError(f"cannot reach the model server at {self.base_url} "
                           f"(connection refused after {connect_failures} attempts)")
        if meter is not None:
            with METER_LOCK:
                meter.fault("gave_up")
        return None

    def _answer(self, req: Request, done: Completion, meter: Meter | None, bound: int
                ) -> Completion:
        """Charge and cache a transport's answer; what `complete` returns for it. Text that
        cannot be stored, is empty or oversized is counted as a fault, not retried."""
        text = done.text
        if _SURROGATES.search(text):     # not encodable: any later write would fail
            text = _SURROGATES.sub("\ufffd", text)
            if meter is not None:
                with METER_LOCK:
                    meter.fault("invalid_text")
        content_fault = ("empty_answer" if not text.strip() else
                         "oversized_answer" if len(text) > MAX_TEXT_CHARS else None)
        pt, ct = done.prompt_tokens, done.completion_tokens
        if not (_count(pt) and _count(ct)):   # no usable report: charge the bound
            pt, ct = req.prompt_bound(), req.sampling.max_tokens
        done = Completion(text[:MAX_TEXT_CHARS], pt, ct, done.finish_reason,
                          top_logprobs=(valid_top_logprobs(done.top_logprobs)
                                        if req.top_logprobs else None))
        if content_fault and meter is not None:
            # well-formed but useless: charged as any answer, and counted, not retried
            with METER_LOCK:
                meter.fault(content_fault)
        if done.prompt_tokens + done.completion_tokens > bound and meter is not None:
            # The server counted more than the reservation's upper bound (a chat template
            # adding more than TEMPLATE_TOKENS): charged as reported, and made visible.
            with METER_LOCK:
                meter.fault("over_reservation")
        self._charge(meter, done.prompt_tokens, done.completion_tokens,
                     self._price(done.prompt_tokens, done.completion_tokens))
        if self.cache is not None and not self.cache.put(self.model, req, done):
            with METER_LOCK:
                if meter is not None:
                    meter.fault("cache_write")
        return done

    def _time_left(self, meter: Meter | None) -> float:
        """How long the next attempt may take in all: `timeout`, or less when the meter's
        seconds cap comes first."""
        if meter is None or meter.budget.seconds is None:
            return self.timeout
        return max(0.0, min(self.timeout, meter.budget.seconds - meter.elapsed()))
