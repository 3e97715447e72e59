"""The fault-injecting server itself, checked over plain http.client (no model client involved)."""
from __future__ import annotations

import http.client
import json
from collections import Counter

import pytest
from fault_server import FAULTS, FaultServer


def test_schedule_is_seeded_and_hits_the_rate():
    a, b = FaultServer(seed=3), FaultServer(seed=3)
    try:
        kinds = [a.kind(n) for n in range(1000)]
        assert kinds == [b.kind(n) for n in range(1000)]          # same seed, same schedule
        assert kinds != [FaultServer(seed=4).kind(n) for n in range(1000)]
        c = Counter(kinds)
        assert 250 <= sum(v for k, v in c.items() if k != "ok") <= 350   # 30% of 1000
        assert set(c) == set(FAULTS) | {"ok"}                    # every fault kind occurs
    finally:
        for s in (a, b):
            s.httpd.server_close()


def _post(port, timeout=5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    return conn.getresponse()


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_a_real_http_behaviour(fault):
    with FaultServer(lambda body, n: "4 * 6 = 24", fault_rate=1.0, faults=(fault,), delay=0.3,
                     retry_after="7", huge_chars=8000) as srv:
        assert srv.httpd.server_address[0] == "127.0.0.1"
        if fault == "close":
            with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
                _post(srv.port)
            assert srv.log == [(0, "close")]
            return
        if fault == "delay":
            with pytest.raises(TimeoutError):
                _post(srv.port, timeout=0.1)
            resp = _post(srv.port, timeout=5)             # a patient client gets the answer
            assert resp.status == 200
            return
        resp = _post(srv.port)
        data = resp.read()
        if fault == "rate_limited":
            assert resp.status == 429 and resp.getheader("Retry-After") == "7"
        elif fault.startswith("http_"):
            assert resp.status == int(fault[5:])
        elif fault == "not_json":
            with pytest.raises(ValueError):
                json.loads(data)
        elif fault == "truncated_json":
            with pytest.raises(ValueError):
                json.loads(data)
        else:
            content = json.loads(data)["choices"][0]["message"]["content"]
            if fault == "empty_content":
                assert content == ""
            elif fault == "huge_content":
                assert len(content) >= 7000
            else:
                assert "24" not in content and "pwned" in content     # wrong format
        assert srv.log == [(0, fault)]


def test_requests_past_the_limit_are_cut():
    with FaultServer(fault_rate=0.0, max_requests=2) as srv:
        assert _post(srv.port).status == 200 and _post(srv.port).status == 200
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            _post(srv.port)
        assert srv.count == 2 and srv.over_limit == 1


def test_a_body_that_is_not_a_chat_request_gets_400_and_is_logged():
    with FaultServer(fault_rate=0.0) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        conn.request("POST", "/v1/chat/completions", b'{"model": "m", "mess',
                     {"Content-Type": "application/json"})
        assert conn.getresponse().status == 400
        assert srv.log == [(0, "bad_request")]
