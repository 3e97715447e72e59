"""LLM policy/value inside real searches, against a scripted server whose answers come from an
independent brute-force Game of 24 reference (tests/game24_oracle.py)."""
from __future__ import annotations

import json
import os
import random
import stat
import threading

import numpy as np
import pytest
from click.testing import CliRunner
from game24_oracle import good_proposals, numbers_in_prompt, numbers_last_line, solvable
from mcts_reason.llm.scripted import Reply, ScriptedServer

from mcts_reason import Budget, solve
from mcts_reason.budget import Meter
from mcts_reason.cli import cli
from mcts_reason.llm import (LLMClient, LLMPolicy, LLMValue, LLMVerifyValue, ResponseCache,
                             Sampling)
from mcts_reason.llm.policy import parse_proposals
from mcts_reason.llm.prompts import parse_judgement
from mcts_reason.llm.local import free_port
from mcts_reason_puzzles.game24 import Game24

G = Game24()
KEY = "sk-test-PLANTED-KEY-77e2a"


def oracle_script(*, bad_lines: int = 2, per_sample: int = 3, jitter: float = 0.0):
    """Propose: a few steps (good ones first, rotated by the request seed) plus junk lines.
    Value: 'sure'/'impossible' by the reference solver."""
    def script(body, n):
        content = body["messages"][-1]["content"]
        rnd = random.Random(body.get("seed", 0))
        delay = rnd.random() * jitter
        if "Possible next steps:" in content:
            nums = numbers_in_prompt(content)
            props = good_proposals(nums)
            k = rnd.randrange(len(props))
            picked = (props[:1] + props[k:] + props[:k])[:per_sample]
            junk = ["I think we should add", "99 + 1 = 100 (left: 100)"][:bad_lines]
            return Reply("\n".join(junk[:1] + picked + junk[1:]), delay=delay)
        if "sure/likely/impossible" in content:
            nums = numbers_last_line(content)
            return Reply("thinking...\n" + ("sure" if solvable(nums) else "impossible"),
                         delay=delay)
        return Reply("no idea, likely", delay=delay)
    return script


def client_for(srv, **kw):
    return LLMClient(base_url=srv.base_url, model="oracle", api_key=KEY, sleep=lambda s: None,
                     **kw)


def tree_signature(root):
    return [(n.order, n.state, n.visits, round(n.value_sum, 9), n.status) for n in root.iter()]


def test_parse_proposals_counts_and_merges():
    s = G.parse_instance("1 1 4 6")
    text = ("Possible next steps:\n4 * 6 = 24 (left: 1 1 24)\nnonsense line\n"
            "4 * 6 = 24 (left: 1 1 24)\n1 + 4 = 5 (left: 6 8 12)\n7 + 3 = 10\n"
            "__import__('os').system('echo pwned')\nInput: 2 2 2 2\n2 + 2 = 4 (left: 2 2 4)")
    steps, invalid = parse_proposals(G, s, text)
    assert [G.render_step(s, st) for st in steps] == ["4 * 6 = 24 (left: 1 1 24)",
                                                      "1 + 4 = 5 (left: 1 5 6)"]
    assert invalid == 3          # nonsense, 7 + 3, the code line; stops at "Input:"
    strict, invalid = parse_proposals(G, s, text, lenient=False)
    assert len(strict) == 1 and invalid == 4


def test_priors_from_frequency_and_rank():
    answers = iter(["4 * 6 = 24 (left: 1 1 24)\n1 * 1 = 1 (left: 1 4 6)",
                    "1 * 1 = 1 (left: 1 4 6)\n6 - 4 = 2 (left: 1 1 2)"])
    lock = threading.Lock()

    def script(body, n):
        with lock:
            return Reply(next(answers))
    with ScriptedServer(script) as srv:
        policy = LLMPolicy(client_for(srv, concurrency=1), samples=2)
        meter = Meter(Budget())
        policy.bind(meter)
        s = G.parse_instance("1 1 4 6")
        out = policy.propose(G, s, k=None, rng=np.random.default_rng(0))
        got = {G.render_step(s, st): p for st, p in out}
        # 1*1: rank 1 then rank 0 -> 1/2 + 1; 4*6: rank 0 -> 1; 6-4: rank 1 -> 1/2
        assert got == {"1 * 1 = 1 (left: 1 4 6)": 1.5, "4 * 6 = 24 (left: 1 1 24)": 1.0,
                       "6 - 4 = 2 (left: 1 1 2)": 0.5}
        assert meter.usage.model_calls == 2 and meter.usage.invalid_proposals == 0
        assert len({b["seed"] for b in srv.requests}) == 2   # distinct per-sample seeds


def test_judgement_parsing_and_value_mapping():
    assert parse_judgement("10 + 14 = 24\nsure") == "sure"
    assert parse_judgement("Likely.\n") == "likely"
    assert parse_judgement("sure or impossible? impossible") == "impossible"
    assert parse_judgement("no verdict") is None
    words = iter(["sure", "likely", "blah", "impossible"])
    lock = threading.Lock()

    def script(body, n):
        with lock:
            return Reply(next(words))
    with ScriptedServer(script) as srv:
        value = LLMValue(client_for(srv, concurrency=1), samples=2)
        meter = Meter(Budget())
        value.bind(meter)
        a, b = G.parse_instance("1 1 4 6"), G.parse_instance("2 2 2 2")
        assert value.evaluate(G, [a, b], rng=np.random.default_rng(0)) == [0.75, 0.0]
        assert meter.usage.faults == {"unjudged": 1}


def test_mcts_with_llm_policy_and_value_solves_and_verifies():
    with ScriptedServer(oracle_script()) as srv:
        client = client_for(srv, concurrency=1)
        for inst in ("4 9 10 13", "1 1 4 6", "3 3 8 8"):
            r = solve(G, inst, policy=LLMPolicy(client), value=LLMValue(client),
                      budget=Budget(model_calls=60), seed=1)
            assert r.solved and G.verify(inst, r.answer)
            assert r.usage.model_calls <= 60 and r.usage.invalid_proposals > 0


def test_verifier_value_sees_the_steps_so_far():
    with ScriptedServer(oracle_script()) as srv:
        client = client_for(srv, concurrency=1)
        r = solve(G, "4 9 10 13", policy=LLMPolicy(client), value=LLMVerifyValue(client),
                  budget=Budget(model_calls=40), seed=2)
        verify_prompts = [b["messages"][-1]["content"] for b in srv.requests
                          if "Latest step:" in b["messages"][-1]["content"]]
        assert verify_prompts and r.usage.value_calls > 0
        # every verification names the start and a latest step that is legal where it was taken
        start = G.parse_instance("4 9 10 13")
        assert all("Start: 4 9 10 13" in p for p in verify_prompts)
        first = verify_prompts[0]
        assert "Steps so far:\n(none)\n" in first
        latest = first.split("Latest step: ")[1].splitlines()[0]
        assert G.parse_step(start, latest) is not None
        for p in verify_prompts:   # deeper ones list the earlier steps, each legal in turn
            state = start
            earlier = p.split("Steps so far:\n")[1].split("Latest step:")[0].strip()
            for line in [] if earlier == "(none)" else earlier.splitlines():
                step = G.parse_step(state, line.split(". ", 1)[1])
                assert step is not None
                state = G.apply(state, step)
            assert G.parse_step(state, p.split("Latest step: ")[1].splitlines()[0]) is not None


def test_search_survives_faults_and_counts_them():
    base = oracle_script()
    faults = [Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500),
              Reply(raw=b"<html>oops"), Reply(raw=b'{"choices": [{"message": {}}]'),
              Reply("")]

    def script(body, n):
        return faults[n % 5] if n % 3 == 0 else base(body, n)
    with ScriptedServer(script) as srv:
        client = client_for(srv, concurrency=1, max_retries=2, timeout=5)
        r = solve(G, "4 9 10 13", policy=LLMPolicy(client), value=LLMValue(client),
                  budget=Budget(model_calls=80), seed=3)
        assert r.usage.model_calls <= 80
        assert sum(r.usage.faults.values()) >= 3
        assert r.solved is False or G.verify("4 9 10 13", r.answer)


def test_cache_replays_with_zero_calls_and_keeps_the_key_out(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"
    results = []
    counts = []
    for _ in range(2):
        with ScriptedServer(oracle_script()) as srv:
            cache = ResponseCache(path)
            client = client_for(srv, concurrency=2, cache=cache)
            r = solve(G, "1 1 4 6", policy=LLMPolicy(client, samples=2),
                      value=LLMValue(client), budget=Budget(model_calls=40), seed=7,
                      concurrency=2)
            client.close()
            cache.close()
            results.append(r)
            counts.append(srv.count)
    first, second = results
    assert first.solved and counts[0] > 0 and counts[1] == 0
    assert second.steps == first.steps and second.answer == first.answer
    assert second.usage.model_calls == first.usage.model_calls == second.usage.cached_calls
    assert tree_signature(second.root) == tree_signature(first.root)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for f in path.parent.iterdir():
        assert KEY.encode() not in f.read_bytes()
        assert b"127.0.0.1" not in f.read_bytes()


def test_parallel_mcts_is_deterministic_whatever_the_finish_order():
    sigs = []
    for _ in range(2):
        with ScriptedServer(oracle_script(jitter=0.02)) as srv:
            client = client_for(srv, concurrency=8)
            r = solve(G, "3 3 8 8", policy=LLMPolicy(client, samples=2), value=LLMValue(client),
                      budget=Budget(model_calls=48), seed=5, concurrency=4)
            sigs.append((tree_signature(r.root), r.steps, r.usage.model_calls))
            assert r.usage.model_calls <= 48
    assert sigs[0] == sigs[1]


def test_parallel_mcts_uses_virtual_loss_to_spread_leaves():
    lock, in_flight, peak = threading.Lock(), [0], [0]
    base = oracle_script()

    def script(body, n):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            import time
            time.sleep(0.05)
            return base(body, n)
        finally:
            with lock:
                in_flight[0] -= 1
    with ScriptedServer(script) as srv:
        client = client_for(srv, concurrency=8)
        solve(G, "1 5 5 5", policy=LLMPolicy(client), value=LLMValue(client),
              budget=Budget(model_calls=40), seed=0, concurrency=8)
    assert peak[0] >= 4


def test_cli_solve_through_a_server(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", KEY)
    with ScriptedServer(oracle_script()) as srv:
        args = ["solve", "game24", "4 9 10 13", "--policy", "llm", "--value", "llm",
                "--base-url", srv.base_url, "--model", "oracle", "--api-key-env", "MY_KEY",
                "--cache", str(tmp_path / "c.sqlite"), "--max-model-calls", "60", "--json"]
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0, res.output
        assert '"solved": true' in res.output and KEY not in res.output
        assert srv.headers[0]["authorization"] == f"Bearer {KEY}"
        n = srv.count
        res2 = CliRunner().invoke(cli, args)
        assert res2.exit_code == 0 and srv.count == n      # replayed: zero server calls
        a, b = json.loads(res.output), json.loads(res2.output)
        assert b["usage"].pop("cached_calls") == n and a["usage"].pop("cached_calls") == 0
        a["usage"].pop("seconds"), b["usage"].pop("seconds")
        assert a == b


def test_cli_errors():
    runner = CliRunner()
    res = runner.invoke(cli, ["solve", "game24", "4 9 10 13", "--policy", "llm",
                              "--base-url", "http://127.0.0.1:9/v1"])
    assert res.exit_code == 2 and "--model" in res.output
    url = f"http://127.0.0.1:{free_port()}/v1"
    res = runner.invoke(cli, ["solve", "game24", "4 9 10 13", "--policy", "llm", "--no-cache",
                              "--base-url", url, "--model", "m", "--retries", "0"])
    assert res.exit_code == 3 and url in res.output and "Traceback" not in res.output
    res = runner.invoke(cli, ["solve", "game24", "4 9 10 13", "--policy", "llm", "--base-url", url,
                              "--model", "m", "--max-cost", "1"])
    assert res.exit_code == 2 and "--max-cost" in res.output     # a cost cap needs prices


class _BarePuzzle:
    """Game of 24 without prompt methods: the engine must fall back to generic prompts."""

    def __getattr__(self, name):
        if name in ("propose_messages", "value_messages", "verify_messages"):
            raise AttributeError(name)
        return getattr(G, name)


def test_generic_prompts_for_a_puzzle_without_its_own():
    from mcts_reason.llm.prompts import propose_messages, value_messages
    bare, s = _BarePuzzle(), G.parse_instance("1 1 4 6")
    for make in (propose_messages, value_messages):
        [msg] = make(bare, s)
        assert msg["role"] == "user" and G.description in msg["content"]
        assert "Current state: 1 1 4 6" in msg["content"]
    assert propose_messages(G, s) == G.propose_messages(s)
    with ScriptedServer(lambda body, n: Reply("4 * 6 = 24 (left: 1 1 24)\nsure")) as srv:
        client = client_for(srv, concurrency=1)
        r = solve(bare, "1 1 4 6", policy=LLMPolicy(client), value=LLMValue(client),
                  budget=Budget(model_calls=10), seed=0)
        assert r.usage.model_calls > 0 and "Current state" in srv.requests[0]["messages"][0]["content"]
