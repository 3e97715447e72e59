"""The client's accounting over a transport that is not HTTP: an in-process "model" plugged in
through `LLMClient(transport=...)` (types.Transport). Each expected figure is computed here
from the request's own bytes and the script, not read back from the client.

The last test runs one fault schedule through both transports -- a real scripted HTTP server
on 127.0.0.1 with the default OpenAITransport, and the in-process one -- and asks for the same
accounting: the accounting does not depend on the backend.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from mcts_reason.budget import Budget, Meter
from mcts_reason.llm import (AttemptFailed, Completion, LLMClient, LLMError, Price, Request,
                             ResponseCache, Sampling)
from mcts_reason.llm.scripted import Reply, ScriptedServer
from mcts_reason.types import Transport

MSGS = [{"role": "user", "content": "Input: 2 3 4 5\nPossible next steps:\n"}]


class InProcess:
    """A model in this process: `script(request, n)` returns a Completion or an exception to
    raise, for the n-th attempt (0-based). Records every attempt and the peak in flight."""

    label = "in-process:scripted"

    def __init__(self, script, *, model: str = "inproc", delay: float = 0.0) -> None:
        self.model, self.script, self.delay = model, script, delay
        self.attempts: list[tuple[Request, float]] = []
        self.closed = False
        self._lock = threading.Lock()
        self._in_flight = self.peak = 0

    def send(self, request: Request, seconds: float) -> Completion:
        with self._lock:
            n = len(self.attempts)
            self.attempts.append((request, seconds))
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            out = self.script(request, n)
        finally:
            with self._lock:
                self._in_flight -= 1
        if isinstance(out, BaseException):
            raise out
        return out

    def close(self) -> None:
        self.closed = True


def req(max_tokens: int = 40, index: int = 0) -> Request:
    return Request.of(MSGS, Sampling(max_tokens=max_tokens), index=index)


def bound_of(r: Request) -> tuple[int, int]:
    """The reservation, from its definition: 64 for the template, 8 per message, the bytes."""
    prompt = 64 + sum(8 + len(m["role"].encode()) + len(m["content"].encode()) for m in MSGS)
    return prompt, r.sampling.max_tokens


def test_an_in_process_transport_is_a_transport_and_needs_no_http():
    t = InProcess(lambda r, n: Completion("ok", 3, 1))
    assert isinstance(t, Transport)
    # a fresh interpreter: the client over a non-HTTP transport never imports the SDK or httpx
    code = ("import sys\n"
            "from mcts_reason.llm import LLMClient, Completion, Request, Sampling\n"
            "class T:\n"
            "    model, label = 'm', 'in-process'\n"
            "    def send(self, r, s): return Completion('4 + 5 = 9', 2, 3)\n"
            "    def close(self): pass\n"
            "c = LLMClient(transport=T())\n"
            "[out] = c.complete([Request.of([{'role': 'user', 'content': 'x'}], Sampling())])\n"
            "c.close()\n"
            "print(out.text, 'openai' in sys.modules, any(m.startswith('httpx') for m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["4", "+", "5", "=", "9", "False", "False"]


def test_answers_are_charged_as_the_transport_reports_them():
    t = InProcess(lambda r, n: Completion(f"answer {n}", 30, 7))
    client = LLMClient(transport=t, prices={"inproc": Price(prompt=2.0, completion=10.0)},
                       timeout=9.0, concurrency=1)
    meter = Meter(Budget())
    outs = client.complete([req(index=0), req(index=1)], meter)
    assert [o.text for o in outs] == ["answer 0", "answer 1"]
    assert client.model == "inproc" and client.base_url == "in-process:scripted"
    assert "in-process:scripted" in repr(client)
    u = meter.usage
    assert (u.model_calls, u.prompt_tokens, u.completion_tokens) == (2, 60, 14)
    assert u.cost == pytest.approx(2 * (30 * 2.0 + 7 * 10.0) / 1e6)
    assert u.faults == {} and client.sent == 2
    assert [s for _, s in t.attempts] == [9.0, 9.0]       # each attempt gets the whole timeout
    client.close()
    assert t.closed


def test_unreported_counts_are_charged_as_the_reservation():
    t = InProcess(lambda r, n: Completion("ok", None, None))
    client = LLMClient(transport=t)
    meter = Meter(Budget())
    r = req(max_tokens=33)
    [out] = client.complete([r], meter)
    prompt, completion = bound_of(r)
    assert (out.prompt_tokens, out.completion_tokens) == (prompt, completion)
    assert (meter.usage.prompt_tokens, meter.usage.completion_tokens) == (prompt, completion)


def test_retries_follow_the_clients_policy_and_count_each_fault():
    fails = {0: AttemptFailed("http_503", reached=True, retry=True),
             1: AttemptFailed("rate_limited", reached=True, retry=True, wait=7.0),
             2: AttemptFailed("timeout", reached=True, retry=True)}
    t = InProcess(lambda r, n: fails.get(n) or Completion("ok", 5, 2))
    sleeps: list[float] = []
    client = LLMClient(transport=t, max_retries=3, backoff=0.5, max_backoff=5.0,
                       sleep=sleeps.append)
    meter = Meter(Budget())
    r = req()
    [out] = client.complete([r], meter)
    assert out.text == "ok" and len(t.attempts) == 4
    # backoff * 2**0; Retry-After 7 capped at max_backoff; backoff * 2**2
    assert sleeps == [0.5, 5.0, 2.0]
    u = meter.usage
    assert u.faults == {"http_503": 1, "rate_limited": 1, "timeout": 1}
    assert u.model_calls == 4
    prompt, completion = bound_of(r)       # only the timed-out attempt is charged its bound
    assert (u.prompt_tokens, u.completion_tokens) == (prompt + 5, completion + 2)


def test_a_failure_that_no_retry_fixes_is_one_attempt_then_gave_up():
    t = InProcess(lambda r, n: AttemptFailed("context_length", reached=True, retry=False))
    client = LLMClient(transport=t, max_retries=3, sleep=lambda s: None)
    meter = Meter(Budget())
    assert client.complete([req()], meter) == [None]
    assert len(t.attempts) == 1
    assert meter.usage.faults == {"context_length": 1, "gave_up": 1}
    assert (meter.usage.model_calls, meter.usage.prompt_tokens) == (1, 0)


def test_never_reaching_the_model_is_not_charged_and_ends_in_llm_error():
    t = InProcess(lambda r, n: AttemptFailed("unreachable", reached=False, retry=True))
    client = LLMClient(transport=t, max_retries=2, sleep=lambda s: None)
    meter = Meter(Budget())
    with pytest.raises(LLMError, match="in-process:scripted.*after 3 attempts"):
        client.complete([req()], meter)
    assert meter.usage.model_calls == 0 and meter.usage.faults == {"unreachable": 3}


def test_a_transport_error_is_raised_and_a_dead_server_check_stops_retries():
    t = InProcess(lambda r, n: LLMError("the in-process model refused the key"))
    with pytest.raises(LLMError, match="refused the key"):
        LLMClient(transport=t).complete([req()], Meter(Budget()))
    t = InProcess(lambda r, n: AttemptFailed("connection", reached=True, retry=True))
    seen: list[int] = []

    def check(sent: int) -> str | None:
        seen.append(sent)
        return "the model process died" if sent >= 2 else None

    client = LLMClient(transport=t, max_retries=5, sleep=lambda s: None, server_check=check)
    with pytest.raises(LLMError, match="model process died"):
        client.complete([req()], Meter(Budget()))
    assert seen == [1, 2] and len(t.attempts) == 2


def test_caps_hold_with_requests_in_flight():
    # 8 concurrent requests, a cap of 3 model calls: the reservations let exactly 3 through
    t = InProcess(lambda r, n: Completion("ok", 10, 2), delay=0.05)
    client = LLMClient(transport=t, concurrency=4)
    meter = Meter(Budget(model_calls=3))
    outs = client.complete([req(index=i) for i in range(8)], meter)
    assert sum(o is not None for o in outs) == 3 and len(t.attempts) == 3
    assert meter.usage.model_calls == 3 and meter.refused == "model_calls"
    assert t.peak <= 3
    client.close()
    # a token cap that holds two reservations, not three: two are sent, whatever they report
    prompt, completion = bound_of(req())
    t = InProcess(lambda r, n: Completion("ok", prompt, completion), delay=0.05)
    client = LLMClient(transport=t, concurrency=4)
    meter = Meter(Budget(tokens=3 * (prompt + completion) - 1))
    outs = client.complete([req(index=i) for i in range(6)], meter)
    assert len(t.attempts) == 2 and sum(o is not None for o in outs) == 2
    assert meter.usage.prompt_tokens + meter.usage.completion_tokens <= meter.budget.tokens
    assert meter.refused == "tokens"
    client.close()


def test_the_cache_answers_a_repeat_charged_as_the_original(tmp_path):
    t = InProcess(lambda r, n: Completion(f"answer {n}", 12, 4))
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = LLMClient(transport=t, cache=cache)
    first, second = Meter(Budget()), Meter(Budget())
    [a] = client.complete([req()], first)
    [b] = client.complete([req()], second)
    assert a.text == b.text == "answer 0" and b.cached and len(t.attempts) == 1
    assert (second.usage.model_calls, second.usage.prompt_tokens,
            second.usage.completion_tokens, second.usage.cached_calls) == (1, 12, 4, 1)
    cache.close()


def test_a_stopped_transport_gets_no_more_attempts():
    t = InProcess(lambda r, n: Completion("ok", 1, 1))
    t.stopped = True
    client = LLMClient(transport=t)
    assert client.stopped and client.complete([req()], Meter(Budget())) == [None]
    assert t.attempts == []


def test_a_transport_is_given_instead_of_an_address_not_with_one():
    t = InProcess(lambda r, n: Completion("ok", 1, 1))
    with pytest.raises(ValueError, match="not both"):
        LLMClient(transport=t, base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ValueError, match="model name"):
        LLMClient(base_url="http://127.0.0.1:1/v1")


def test_the_same_schedule_costs_the_same_over_http_and_in_process():
    """One schedule of answers and faults, both ways: identical Usage (faults, calls, tokens,
    cost) and identical answers. The HTTP side is a real server on 127.0.0.1."""
    words = ["9 - 5 = 4", "4 * 6 = 24", "2 + 2 = 4"]

    def http(body, n):
        return {0: Reply(status=503), 2: Reply(status=429, headers={"Retry-After": "0"}),
                3: Reply(status=400)}.get(n, Reply(words[n % 3], usage={
                    "prompt_tokens": 20 + n, "completion_tokens": 3, "total_tokens": 23 + n}))

    def local(r, n):
        return {0: AttemptFailed("http_503", reached=True, retry=True),
                2: AttemptFailed("rate_limited", reached=True, retry=True, wait=0.0),
                3: AttemptFailed("http_400", reached=True, retry=False)}.get(
                    n, Completion(words[n % 3], 20 + n, 3))

    prices = {"m": Price(prompt=1.0, completion=3.0)}
    results = []
    with ScriptedServer(http) as srv:
        for client in (LLMClient(base_url=srv.base_url, model="m", prices=prices,
                                 concurrency=1, sleep=lambda s: None),
                       LLMClient(transport=InProcess(local, model="m"), prices=prices,
                                 concurrency=1, sleep=lambda s: None)):
            meter = Meter(Budget())
            outs = client.complete([req(index=i) for i in range(4)], meter)
            client.close()
            results.append(([o and (o.text, o.prompt_tokens, o.completion_tokens) for o in outs],
                            meter.usage.to_dict()))
    assert results[0] == results[1]
    outs, usage = results[0]
    assert outs[0] == (words[1], 21, 3) and outs[1] is None    # 503 then answer; 429, 400: gave up
    assert usage["faults"] == {"http_503": 1, "rate_limited": 1, "http_400": 1, "gave_up": 1}
