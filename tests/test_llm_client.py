"""LLMClient against a scripted OpenAI-compatible server on 127.0.0.1 (no SDK mocks)."""
from __future__ import annotations

import json

import pytest
from mcts_reason.llm.scripted import Reply, ScriptedServer

from mcts_reason.budget import Budget, Meter
from mcts_reason.llm import LLMClient, LLMError, Price, Request, Sampling
from mcts_reason.llm.local import free_port

KEY = "sk-test-PLANTED-KEY-4f1c9"
MSGS = [{"role": "user", "content": "Input: 1 2 3 4\nPossible next steps:\n"}]


def make(server, **kw):
    sleeps = []
    kw.setdefault("sleep", sleeps.append)
    kw.setdefault("backoff", 0.01)
    client = LLMClient(base_url=server.base_url, model="m1", api_key=KEY, **kw)
    return client, sleeps


def test_protocol_usage_and_cost():
    with ScriptedServer(lambda body, n: Reply("4 * 6 = 24", usage={
            "prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37})) as srv:
        client, _ = make(srv, prices={"m1": Price(prompt=2.0, completion=10.0)})
        meter = Meter(Budget())
        req = Request.of(MSGS, Sampling(temperature=0.5, max_tokens=40, stop=("Input:",)),
                         index=3, seed=1234)
        [out] = client.complete([req], meter)
        assert out.text == "4 * 6 = 24" and not out.cached
        body = srv.requests[0]
        assert body["model"] == "m1" and body["messages"] == MSGS
        assert body["temperature"] == 0.5 and body["max_tokens"] == 40 and body["seed"] == 1234
        assert body["stop"] == ["Input:"] and body.get("n", 1) == 1
        assert srv.headers[0]["authorization"] == f"Bearer {KEY}"
        u = meter.usage
        assert (u.model_calls, u.prompt_tokens, u.completion_tokens) == (1, 30, 7)
        assert u.cost == pytest.approx((30 * 2.0 + 7 * 10.0) / 1e6)
        assert KEY not in repr(client)


def test_retries_after_429_and_500_honour_retry_after():
    script = {0: Reply(status=429, headers={"Retry-After": "0.25"}), 1: Reply(status=500)}
    with ScriptedServer(lambda body, n: script.get(n, Reply("ok"))) as srv:
        client, sleeps = make(srv, max_retries=3, backoff=0.01)
        meter = Meter(Budget())
        [out] = client.complete([Request.of(MSGS, Sampling())], meter)
        assert out.text == "ok" and srv.count == 3
        assert sleeps == [0.25, 0.02]          # Retry-After, then backoff * 2**1
        assert meter.usage.model_calls == 3    # each attempt that reached the server
        assert meter.usage.faults == {"rate_limited": 1, "http_500": 1}


def test_retries_are_bounded_and_search_goes_on():
    with ScriptedServer(lambda body, n: Reply(status=503)) as srv:
        client, sleeps = make(srv, max_retries=2)
        meter = Meter(Budget())
        assert client.complete([Request.of(MSGS, Sampling())], meter) == [None]
        assert srv.count == 3 and len(sleeps) == 2
        assert meter.usage.faults == {"http_503": 3, "gave_up": 1}


def test_timeout_counted_and_charged_its_reservation():
    script = {0: Reply("late", delay=1.0)}
    with ScriptedServer(lambda body, n: script.get(n, Reply("fine"))) as srv:
        client, _ = make(srv, timeout=0.2, max_retries=1)
        meter = Meter(Budget())
        req = Request.of(MSGS, Sampling(max_tokens=20))
        [out] = client.complete([req], meter)
        assert out.text == "fine"
        assert meter.usage.faults == {"timeout": 1}
        assert meter.usage.model_calls == 2
        # the timed-out attempt may have been billed: charged its whole reservation
        assert meter.usage.prompt_tokens == req.prompt_bound() + 50
        assert meter.usage.completion_tokens == 20 + 1


@pytest.mark.parametrize("raw", [b"this is not json", b'{"choices": [', b'{"choices": []}',
                                 b'{"object": "chat.completion"}'])
def test_malformed_bodies_are_counted_and_retried(raw):
    script = {0: Reply(raw=raw)}
    with ScriptedServer(lambda body, n: script.get(n, Reply("good"))) as srv:
        client, _ = make(srv, max_retries=2)
        meter = Meter(Budget())
        [out] = client.complete([Request.of(MSGS, Sampling())], meter)
        assert out.text == "good"
        assert meter.usage.faults == {"malformed": 1}


def test_dropped_connection_is_a_fault_not_a_crash():
    script = {0: Reply(close=True)}
    with ScriptedServer(lambda body, n: script.get(n, Reply("after"))) as srv:
        client, _ = make(srv, max_retries=2)
        meter = Meter(Budget())
        [out] = client.complete([Request.of(MSGS, Sampling())], meter)
        assert out.text == "after"
        assert sum(meter.usage.faults.values()) == 1


def test_caps_are_never_exceeded_even_with_concurrency():
    with ScriptedServer(lambda body, n: Reply("a b c d e", usage={
            "prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25})) as srv:
        client, _ = make(srv, concurrency=8)
        meter = Meter(Budget(model_calls=13))
        reqs = [Request.of(MSGS, Sampling(), index=i) for i in range(40)]
        outs = client.complete(reqs, meter)
        assert sum(o is not None for o in outs) == 13 == srv.count == meter.usage.model_calls
        assert meter.refused == "model_calls" and meter.exhausted() == "model_calls"

        req = Request.of(MSGS, Sampling(max_tokens=16))
        cap = 5 * (req.prompt_bound() + 16) + 3
        meter = Meter(Budget(tokens=cap))
        outs = client.complete([Request.of(MSGS, Sampling(max_tokens=16), index=i)
                                for i in range(200)], meter)
        spent = meter.usage.prompt_tokens + meter.usage.completion_tokens
        assert spent <= cap and meter.refused == "tokens"
        assert sum(o is not None for o in outs) >= 5


def test_cost_cap_never_exceeded():
    with ScriptedServer(lambda body, n: Reply("x", usage={
            "prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110})) as srv:
        client, _ = make(srv, prices={"m1": Price(prompt=1000.0, completion=1000.0)})
        meter = Meter(Budget(cost=1.0))
        client.complete([Request.of(MSGS, Sampling(max_tokens=10), index=i) for i in range(100)],
                        meter)
        assert 0 < meter.usage.cost <= 1.0 and meter.refused == "cost"


def test_unreachable_server_is_one_clear_error_without_the_key():
    url = f"http://127.0.0.1:{free_port()}/v1"
    client = LLMClient(base_url=url, model="m1", api_key=KEY, max_retries=1, sleep=lambda s: None)
    with pytest.raises(LLMError) as e:
        client.complete([Request.of(MSGS, Sampling())], Meter(Budget()))
    assert url in str(e.value) and KEY not in str(e.value)


def test_bad_key_is_fatal_and_not_echoed():
    with ScriptedServer(lambda body, n: Reply(status=401)) as srv:
        client, _ = make(srv)
        with pytest.raises(LLMError, match="refused the API key") as e:
            client.complete([Request.of(MSGS, Sampling())], Meter(Budget()))
        assert KEY not in str(e.value) and srv.count == 1


def test_bad_request_is_not_retried():
    with ScriptedServer(lambda body, n: Reply(status=400)) as srv:
        client, _ = make(srv)
        meter = Meter(Budget())
        assert client.complete([Request.of(MSGS, Sampling())], meter) == [None]
        assert srv.count == 1 and meter.usage.faults == {"http_400": 1, "gave_up": 1}


def test_missing_usage_is_charged_the_bound():
    with ScriptedServer(lambda body, n: Reply(raw=json.dumps({
            "id": "x", "object": "chat.completion", "created": 0, "model": "m1",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "hi"}}]}).encode())) as srv:
        client, _ = make(srv)
        meter = Meter(Budget())
        req = Request.of(MSGS, Sampling(max_tokens=12))
        [out] = client.complete([req], meter)
        assert out.text == "hi"
        assert meter.usage.prompt_tokens == req.prompt_bound()
        assert meter.usage.completion_tokens == 12


def test_usage_beyond_the_reservation_is_charged_as_reported_and_flagged():
    with ScriptedServer(lambda body, n: Reply("x", usage={
            "prompt_tokens": 100_000, "completion_tokens": 1, "total_tokens": 100_001})) as srv:
        client, _ = make(srv)
        meter = Meter(Budget())
        client.complete([Request.of(MSGS, Sampling())], meter)
        assert meter.usage.prompt_tokens == 100_000
        assert meter.usage.faults == {"over_reservation": 1}
