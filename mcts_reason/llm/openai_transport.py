"""The HTTP transport of the model client: one attempt at an OpenAI-compatible chat server.

`OpenAITransport.send` makes one request with the `openai` SDK (its own retries off) over
`bounded_http`, which ends the attempt within the seconds it is given *in all*, whatever the
server trickles, caps the decoded body and follows no redirects. It maps every way the attempt
can go wrong onto an `AttemptFailed` kind (with the server's Retry-After) or, for what no retry
fixes (a refused key, an unknown model), an `LLMError` naming the base URL with any credentials
in it redacted -- never the API key. Budgets, caches and retries are the client's
(`client.LLMClient`); this module only talks to the server.
"""
from __future__ import annotations

import email.utils
import math
import re
import time
from typing import Any

from .redact import redact_url
from .wire import AttemptFailed, Completion, LLMError, Request, valid_top_logprobs


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


class OpenAITransport:
    """Chat completions from an OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama).

    Args:
      base_url: e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8080/v1".
      model: the model name sent with each request.
      api_key: sent as a bearer token; kept out of repr and error messages.
      timeout: the longest any one attempt may take, in all (`send` may be given less).
    Raises:
      ValueError: for a base URL that is no http(s) URL with a host, or a bad timeout.
    """

    def __init__(self, *, base_url: str, model: str, api_key: str | None = None,
                 timeout: float = 60.0) -> None:
        import openai       # (and httpx) imported here: importing this module stays cheap

        from . import bounded_http
        problem = base_url_problem(base_url)
        if problem:
            raise ValueError(problem)
        if not 0 < timeout < math.inf:
            raise ValueError(f"need 0 < timeout < inf, got {timeout}")
        self._url = base_url.rstrip("/")
        self.label = redact_url(self._url)     # what messages and reprs show
        self.model = model
        self.timeout = timeout
        self._openai, self._bounded = openai, bounded_http
        self._http, self._backend = bounded_http.client(timeout=timeout)
        self._sdk = openai.OpenAI(base_url=self._url, api_key=api_key or "no-key",
                                  timeout=timeout, max_retries=0, http_client=self._http)

    @property
    def stopped(self) -> bool:
        """True once `bounded_http.abort_all` ran (Ctrl-C): the client starts no more attempts."""
        return self._backend.stopped.is_set()

    def wait(self, seconds: float) -> None:
        """The wait between retries, cut short by `bounded_http.abort_all`."""
        self._backend.stopped.wait(seconds)

    def close(self) -> None:
        self._sdk.close()
        self._http.close()

    def __repr__(self) -> str:
        return f"OpenAITransport(base_url={self.label!r}, model={self.model!r}, " \
               f"timeout={self.timeout})"

    def send(self, req: Request, seconds: float) -> Completion:
        """One attempt, ended within `seconds`. Raises AttemptFailed for anything but a
        well-formed completion, LLMError for a refused key or an unknown model."""
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
        if req.top_logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = int(req.top_logprobs)
        try:
            with bh.deadline(seconds):
                resp = self._sdk.chat.completions.create(**kwargs)
        except oa.APITimeoutError:
            # a connect that timed out sent nothing: not charged (as a refused connection)
            if not bh.request_sent():   # time ran out before a byte left: not charged
                raise AttemptFailed("timeout_unsent", reached=False, retry=True) from None
            raise AttemptFailed("timeout", reached=True, retry=True) from None
        except oa.APIConnectionError as e:
            if isinstance(e.__cause__, bh.BodyTooLarge):
                raise AttemptFailed("oversized_body", reached=True, retry=True) from None
            if isinstance(e.__cause__, bh.BodyUndecodable):
                raise AttemptFailed("malformed", reached=True, retry=True) from None
            cause = repr(e.__cause__ or e)
            refused = "ConnectError" in cause or "Connection refused" in cause
            raise AttemptFailed("unreachable" if refused else "connection", reached=not refused,
                                retry=True) from None
        except oa.APIStatusError as e:
            raise self._status_failure(e) from None
        except (oa.APIResponseValidationError, ValueError, TypeError, RecursionError):
            # RecursionError: a body of JSON nested too deeply for the SDK's parser
            raise AttemptFailed("malformed", reached=True, retry=True) from None
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
            raise AttemptFailed("malformed", reached=True, retry=True) from None
        if not reported:   # no usable usage report: the client charges the bound
            pt = ct = None
        top = _first_top_logprobs(choice) if req.top_logprobs else None
        return Completion(text, pt, ct, getattr(choice, "finish_reason", None), top_logprobs=top)

    def _status_failure(self, e: Any) -> Exception:
        """The failure an HTTP error status stands for."""
        code = e.status_code
        wait = _retry_after(getattr(e.response, "headers", None))
        if code == 429:
            return AttemptFailed("rate_limited", reached=True, retry=True, wait=wait)
        if code >= 500:
            return AttemptFailed(f"http_{code}", reached=True, retry=True, wait=wait)
        if code in (401, 403):
            return LLMError(f"the model server at {self.label} refused the API key "
                            f"(HTTP {code})")
        if code == 404:
            return LLMError(f"the model server at {self.label} does not serve model "
                            f"{self.model!r} (HTTP 404)")
        if 300 <= code < 400:     # never followed: a loop would cost 20 requests per call
            return AttemptFailed("redirect", reached=True, retry=False)
        if code in (400, 413) and _says_context_length(e):
            return AttemptFailed("context_length", reached=True, retry=False)
        return AttemptFailed(f"http_{code}", reached=True, retry=False)


def _first_top_logprobs(choice: Any) -> tuple[tuple[str, float], ...] | None:
    """The first answer token's alternatives from a choice's `logprobs.content`, or None when
    the server sent none (or none that parse): the caller falls back to the text."""
    try:
        content = choice.logprobs.content
        first = content[0]
        return valid_top_logprobs(first.top_logprobs)
    except (AttributeError, IndexError, TypeError, KeyError):
        return None
