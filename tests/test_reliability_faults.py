"""Searches through a misbehaving model server (issue 7, "Fault injection").

The server is tests/fault_server.py: a real HTTP server on 127.0.0.1 with a seeded fault
schedule; its normal answers come from the independent Game of 24 reference
(tests/game24_oracle.py), so what is tested is the plumbing, not a model's skill.

Accounting that the tests hold the client to (see docs/sections/reliability.md):
  * every attempt that reached the server is charged one model call, retries included, so
    Usage.model_calls == the number of requests the server logged (no cache in these runs);
  * every failed attempt is counted by kind: timeout, rate_limited, http_5xx, malformed (not
    JSON / truncated JSON), connection (dropped) -- exactly as many as the server injected;
  * well-formed but useless answers are counted too: empty_answer and oversized_answer faults,
    invalid_proposals for lines that are not legal steps, faults['unjudged'] for judgements
    that name none;
  * retries are bounded (max_retries + 1 attempts per request), and no budget cap is exceeded.
"""
from __future__ import annotations

import os
from collections import Counter

import pytest
from fault_server import CONTENT, FaultServer
from reliability_helpers import check_honest as _check, is_propose, oracle_answer

from mcts_reason import Budget, solve
from mcts_reason.llm import LLMClient, LLMPolicy, LLMValue, Sampling
from mcts_reason_puzzles.game24 import Game24

G = Game24()
REQUESTS = int(os.environ.get("MCTS_REASON_FAULT_REQUESTS", "1000"))
RETRIES = 3


def check_honest(inst: str, result) -> None:
    _check(inst, result.solved, result.answer, result.stop_reason, result.proved_unsolvable)


def client_for(srv: FaultServer, **kw) -> LLMClient:
    kw.setdefault("timeout", 0.1)
    return LLMClient(base_url=srv.base_url, model="fault-oracle", api_key="sk-unused",
                     max_retries=RETRIES, backoff=0.001, max_backoff=0.005, **kw)


def _sweep(srv: FaultServer, client: LLMClient, *, target: int, budget_for=None):
    """Solve instances until the server has seen `target` requests; per run results + usage."""
    instances = G.instance_set("every")[::7]
    runs = []
    i = 0
    while srv.count < target:
        inst = instances[i % len(instances)]
        seed = i // len(instances)
        budget = budget_for(i) if budget_for else Budget(simulations=12)
        before = srv.count
        result = solve(G, inst, algo="mcts", seed=seed, budget=budget,
                       policy=LLMPolicy(client, sampling=Sampling(max_tokens=64)),
                       value=LLMValue(client, sampling=Sampling(max_tokens=16)))
        runs.append((inst, budget, result, srv.count - before))
        i += 1
    return runs


@pytest.fixture(scope="module")
def thousand():
    """One sweep of searches through >= REQUESTS requests at a 30% fault rate."""
    # The client's timeout is far above an honest answer's latency, even on a loaded machine
    # (at 0.1 s one undelayed answer in ~1000 once took longer, and was counted as a timeout),
    # and the injected delay far above the timeout: only injected delays time out.
    with FaultServer(oracle_answer, fault_rate=0.3, seed=2024, delay=1.2,
                     huge_chars=100_000) as srv:
        client = client_for(srv, timeout=0.6)
        try:
            runs = _sweep(srv, client, target=REQUESTS)
        finally:
            client.close()
        return srv, runs


def _total(runs) -> tuple[Counter, int, int]:
    faults, calls, invalid = Counter(), 0, 0
    for _, _, r, _ in runs:
        faults.update(r.usage.faults)
        calls += r.usage.model_calls
        invalid += r.usage.invalid_proposals
    return faults, calls, invalid


def test_a_thousand_requests_no_crash_and_honest_results(thousand):
    srv, runs = thousand
    assert srv.count >= REQUESTS and srv.over_limit == 0
    for inst, _, result, _ in runs:
        check_honest(inst, result)
    assert sum(r.solved for _, _, r, _ in runs) >= len(runs) // 3   # faults slow it, not stop it


def test_every_injected_fault_is_counted_by_kind(thousand):
    srv, runs = thousand
    faults, calls, invalid = _total(runs)
    kinds = srv.kinds()
    assert sum(v for k, v in kinds.items() if k != "ok") >= 0.25 * srv.count
    assert calls == srv.count                          # one model call per attempt that arrived
    assert faults["timeout"] == kinds["delay"]
    assert faults["rate_limited"] == kinds["rate_limited"]
    for code in (500, 502, 503):
        assert faults[f"http_{code}"] == kinds[f"http_{code}"]
    assert faults["malformed"] == kinds["not_json"] + kinds["truncated_json"]
    assert faults["connection"] == kinds["close"]
    assert faults["empty_answer"] == kinds["empty_content"]
    assert faults["oversized_answer"] == kinds["huge_content"]
    # wrong format: every line of such an answer to a propose prompt is an invalid proposal;
    # to a value prompt, an unjudged answer (oversized and empty ones are unjudged too)
    by_prompt = Counter((is_propose(b), k) for b, (_, k) in zip(srv.bodies, srv.log))
    wrong_lines = 7
    assert invalid >= wrong_lines * by_prompt[(True, "wrong_format")]
    assert faults["unjudged"] == sum(by_prompt[(False, k)] for k in CONTENT)


def test_retries_are_bounded(thousand):
    srv, _ = thousand
    # a retry resends the same body; runs of the same body are at most max_retries + 1 long
    longest, run, prev = 1, 0, None
    for body in srv.bodies:
        key = repr(body)
        run = run + 1 if key == prev else 1
        prev = key
        longest = max(longest, run)
    assert longest <= RETRIES + 1


def test_no_budget_cap_is_exceeded_because_of_retries():
    caps = [Budget(simulations=50, model_calls=c) for c in (1, 2, 3, 5, 8, 13)] + \
           [Budget(simulations=50, tokens=t) for t in (300, 900, 2500)]
    with FaultServer(oracle_answer, fault_rate=0.5, seed=7, delay=0.3,
                     faults=("delay", "rate_limited", "http_503", "not_json", "close",
                             "truncated_json")) as srv:
        client = client_for(srv)
        try:
            runs = _sweep(srv, client, target=150, budget_for=lambda i: caps[i % len(caps)])
        finally:
            client.close()
    for inst, budget, result, seen in runs:
        u = result.usage
        check_honest(inst, result)
        if budget.model_calls is not None:
            assert u.model_calls <= budget.model_calls and seen <= budget.model_calls
        if budget.tokens is not None:
            assert u.prompt_tokens + u.completion_tokens <= budget.tokens
        assert u.model_calls == seen           # charged once per attempt that reached it
