"""An OpenAI-compatible chat client that a search can afford: budget-checked, retried, cached.

Every request goes through `LLMClient.complete`, which for each sample:
  1. reserves its worst case on the run's `Meter` -- one model call, an upper bound on the prompt
     tokens plus `max_tokens`, and their price -- and refuses (returns None, sets
     `meter.refused`) when that reservation would break a cap, counting in-flight reservations,
     so that no cap is ever exceeded, with any number of requests in flight;
  2. answers from the response cache when it can (charged exactly as the original call was, so
     a replay takes the same decisions; `Usage.cached_calls` counts these);
  3. otherwise sends it with the `openai` SDK (its own retries off) over `bounded_http`, which
     ends each attempt within `timeout` seconds *in all* (and within what is left of the
     meter's `seconds` cap), whatever the server trickles; retrying 429 / 5xx / timeouts /
     dropped connections / malformed bodies up to `max_retries` times with exponential
     backoff, honouring `Retry-After`. Each attempt that reached the server is charged one
     model call; its tokens are charged as the server reports them, or as the full reservation
     when it reported nothing usable (a timed-out request may still be billed). Every failed
     attempt is counted by kind in `Usage.faults` (`ATTEMPT_FAULTS`).

Fatal configuration errors (authentication, unknown model, nothing listening at the base URL)
raise `LLMError`, whose message names the base URL -- with any credentials in it redacted --
and never contains the API key.
"""
from __future__ import annotations

import email.utils
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ..budget import Meter
from .redact import redact_url

# Every change that LLM code makes to a Meter happens under this lock: requests run in threads.
METER_LOCK = threading.RLock()

# Upper bound on what a chat template adds around the messages (role markers, a default system
# prompt): the prompt reservation is len(utf-8 bytes) + these, since a byte-level BPE token never
# covers less than one byte.
TEMPLATE_TOKENS = 64
PER_MESSAGE_TOKENS = 8
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


def base_url_problem(base_url: str) -> str | None:
    """Why `base_url` cannot be a server's address (None when it can): an http(s) URL with a
    host. Anything else would fail every request as a "connection" fault, charged each time."""
    from urllib.parse import urlsplit
    if not base_url:
        return "the base URL is empty"
    shown = redact_url(base_url)
    shown = repr(shown if len(shown) <= 200 else shown[:200] + "...")
    try:
        parts = urlsplit(base_url)
        parts.port          # raises ValueError on a bad port
    except ValueError:
        return f"{shown} is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{shown} is not an http(s) URL with a host, e.g. http://127.0.0.1:8000/v1"
    return None


class LLMError(RuntimeError):
    """A configuration problem no retry can fix (bad key, unknown model, server unreachable)."""


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
    None. Only set it for a client whose server honours it (`LLMClient.grammar`)."""

    messages: tuple[tuple[str, str], ...]
    sampling: Sampling = field(default_factory=Sampling)
    index: int = 0
    seed: int | None = None
    grammar: str | None = None

    @classmethod
    def of(cls, messages: Sequence[Mapping[str, str]], sampling: Sampling, *, index: int = 0,
           seed: int | None = None, grammar: str | None = None) -> "Request":
        msgs = tuple((str(m["role"]), str(m["content"])) for m in messages)
        return cls(msgs, sampling, index, seed, grammar)

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
    """A model's answer to one Request, with the token usage the server reported."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None
    cached: bool = False

    def __repr__(self) -> str:
        return (f"Completion({self.text[:40]!r}, tokens={self.prompt_tokens}+"
                f"{self.completion_tokens}, cached={self.cached})")


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million prompt / completion tokens."""

    prompt: float
    completion: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1e6


class _Attempt(Exception):
    """One failed attempt: `kind` for Usage.faults, whether it reached the server, and the wait
    the server asked for (Retry-After), if any."""

    def __init__(self, kind: str, *, reached: bool, retry: bool, wait: float | None = None,
                 detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind, self.reached, self.retry, self.wait = kind, reached, retry, wait


def _retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), else None."""
    try:
        raw = headers.get("retry-after") if headers is not None else None
    except Exception:
        return None
    if not raw:
        return None
    raw = str(raw).strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time()) if when is not None else None


_CONTEXT = re.compile(r"context.{0,40}(length|size|window)|too many tokens|maximum context|"
                      r"exceeds? the (available )?context", re.I | re.S)


def _says_context_length(e: Any) -> bool:
    """Whether an HTTP 400 says the prompt does not fit the model's context (OpenAI's
    `context_length_exceeded`, llama.cpp's "exceeds the available context size", vLLM's
    "maximum context length")."""
    if getattr(e, "code", None) == "context_length_exceeded":
        return True
    try:
        text = f"{getattr(e, 'message', '')} {e.response.text[:4000]}"
    except Exception:
        text = str(getattr(e, "message", ""))
    return bool(_CONTEXT.search(text))


class LLMClient:
    """Chat completions from any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama).

    Args:
      base_url: e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8080/v1".
      model: the model name sent with each request (and part of the cache key).
      api_key: sent as a bearer token; kept out of repr, caches and error messages.
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
      sleep: the function that waits between retries (tests pass a recorder); by default a
        wait that `bounded_http.abort_all` cuts short.
    Raises:
      ValueError: for bad parameters.
    """

    def __init__(self, *, base_url: str, model: str, api_key: str | None = None,
                 timeout: float = 60.0, max_retries: int = 3, backoff: float = 0.5,
                 max_backoff: float = 30.0, cache: Any = None,
                 prices: Mapping[str, Price] | None = None, concurrency: int = 4,
                 grammar: bool = False,
                 server_check: Callable[[int], str | None] | None = None,
                 sleep: Callable[[float], Any] | None = None) -> None:
        import openai       # (and httpx) imported here: importing this module stays cheap

        from . import bounded_http
        problem = base_url_problem(base_url)
        if problem:
            raise ValueError(problem)
        if not (0 < timeout < math.inf) or max_retries < 0 or not (0 <= backoff < math.inf) \
                or not (0 <= max_backoff < math.inf) or concurrency < 1:
            raise ValueError("need 0 < timeout < inf, max_retries >= 0, finite backoff >= 0, "
                             "concurrency >= 1")
        self._url = base_url.rstrip("/")
        self.base_url = redact_url(self._url)     # what messages and reprs show
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.cache = cache
        self.prices = dict(prices or {})
        self.concurrency = concurrency
        self.grammar = bool(grammar)
        self.server_check = server_check
        self._openai, self._bounded = openai, bounded_http
        self._http, self._backend = bounded_http.client(timeout=timeout)
        self._sleep = sleep or self._backend.stopped.wait
        self._sdk = openai.OpenAI(base_url=self._url, api_key=api_key or "no-key",
                                  timeout=timeout, max_retries=0, http_client=self._http)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._reserved: dict[int, list[float]] = {}   # id(meter) -> [calls, tokens, cost]
        self.sent = 0   # attempts sent to the server by this client (all meters)

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
        """True once `bounded_http.abort_all` ran (Ctrl-C): every later attempt returns None."""
        return self._backend.stopped.is_set()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._sdk.close()
        self._http.close()

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

    def _charge_failure(self, meter: Meter | None, e: "_Attempt", req: Request) -> None:
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
                    done = self._send(req, self._time_left(meter))
                except _Attempt as e:
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
                text = done.text
                if _SURROGATES.search(text):     # not encodable: any later write would fail
                    text = _SURROGATES.sub("\ufffd", text)
                    if meter is not None:
                        with METER_LOCK:
                            meter.fault("invalid_text")
                content_fault = ("empty_answer" if not text.strip() else
                                 "oversized_answer" if len(text) > MAX_TEXT_CHARS else None)
                done = Completion(text[:MAX_TEXT_CHARS], done.prompt_tokens,
                                  done.completion_tokens, done.finish_reason)
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
            finally:
                self._release(meter, bound)
        if connect_failures == self.max_retries + 1:
            raise LLMError(f"cannot reach the model server at {self.base_url} "
                           f"(connection refused after {connect_failures} attempts)")
        if meter is not None:
            with METER_LOCK:
                meter.fault("gave_up")
        return None

    def _time_left(self, meter: Meter | None) -> float:
        """How long the next attempt may take in all: `timeout`, or less when the meter's
        seconds cap comes first."""
        if meter is None or meter.budget.seconds is None:
            return self.timeout
        return max(0.0, min(self.timeout, meter.budget.seconds - meter.elapsed()))

    def _send(self, req: Request, seconds: float | None = None) -> Completion:
        """One attempt, ended within `seconds` (default `timeout`). Raises _Attempt for
        anything but a well-formed completion."""
        oa, bh = self._openai, self._bounded
        s = req.sampling
        kwargs: dict[str, Any] = {"model": self.model,
                                  "messages": [{"role": r, "content": c} for r, c in req.messages],
                                  "temperature": s.temperature, "top_p": s.top_p,
                                  "max_tokens": s.max_tokens, "n": 1}
        if s.stop:
            kwargs["stop"] = list(s.stop)
        if req.seed is not None:
            kwargs["seed"] = int(req.seed)
        if req.grammar is not None:
            kwargs["extra_body"] = {"grammar": req.grammar}
        with METER_LOCK:
            self.sent += 1
        try:
            with bh.deadline(self.timeout if seconds is None else seconds):
                resp = self._sdk.chat.completions.create(**kwargs)
        except oa.APITimeoutError as e:
            # a connect that timed out sent nothing: not charged (as a refused connection)
            if not bh.request_sent():   # time ran out before a byte left: not charged
                raise _Attempt("timeout_unsent", reached=False, retry=True) from None
            raise _Attempt("timeout", reached=True, retry=True) from None
        except oa.APIConnectionError as e:
            if isinstance(e.__cause__, bh.BodyTooLarge):
                raise _Attempt("oversized_body", reached=True, retry=True) from None
            if isinstance(e.__cause__, bh.BodyUndecodable):
                raise _Attempt("malformed", reached=True, retry=True) from None
            cause = repr(e.__cause__ or e)
            refused = "ConnectError" in cause or "Connection refused" in cause
            raise _Attempt("unreachable" if refused else "connection", reached=not refused,
                           retry=True) from None
        except oa.APIStatusError as e:
            code = e.status_code
            wait = _retry_after(getattr(e.response, "headers", None))
            if code == 429:
                raise _Attempt("rate_limited", reached=True, retry=True, wait=wait) from None
            if code >= 500:
                raise _Attempt(f"http_{code}", reached=True, retry=True, wait=wait) from None
            if code in (401, 403):
                raise LLMError(f"the model server at {self.base_url} refused the API key "
                               f"(HTTP {code})") from None
            if code == 404:
                raise LLMError(f"the model server at {self.base_url} does not serve model "
                               f"{self.model!r} (HTTP 404)") from None
            if 300 <= code < 400:     # never followed: a loop would cost 20 requests per call
                raise _Attempt("redirect", reached=True, retry=False) from None
            if code in (400, 413) and _says_context_length(e):
                raise _Attempt("context_length", reached=True, retry=False) from None
            raise _Attempt(f"http_{code}", reached=True, retry=False) from None
        except (oa.APIResponseValidationError, ValueError, TypeError, RecursionError):
            # RecursionError: a body of JSON nested too deeply for the SDK's parser
            raise _Attempt("malformed", reached=True, retry=True) from None
        try:
            choice = resp.choices[0]
            text = choice.message.content
            if text is None:
                text = ""
            if not isinstance(text, str):
                raise TypeError("content is not text")
            usage = getattr(resp, "usage", None)
            pt = getattr(usage, "prompt_tokens", None) if usage is not None else None
            ct = getattr(usage, "completion_tokens", None) if usage is not None else None
            reported = isinstance(pt, int) and isinstance(ct, int) and pt >= 0 and ct >= 0
        except (AttributeError, IndexError, TypeError, KeyError):
            raise _Attempt("malformed", reached=True, retry=True) from None
        if not reported:   # no usable usage report: charge the bound
            pt, ct = req.prompt_bound(), s.max_tokens
        return Completion(text, pt, ct, getattr(choice, "finish_reason", None))
