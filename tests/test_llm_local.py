"""End to end with the real llama.cpp server and the bundled SmolLM2-135M-Instruct.

Skipped, with the install command as the reason, when the `local` extra or the model file is
missing; `.ci/run` installs both, so CI runs it.
"""
from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from mcts_reason import Budget, solve
from mcts_reason.cli import cli
from mcts_reason.llm import LLMClient, LLMPolicy, Sampling
from mcts_reason.llm.local import LocalServer, missing_reason
from puzzles.game24 import Game24

REASON = missing_reason()
pytestmark = [pytest.mark.local_model, pytest.mark.slow,
              pytest.mark.skipif(REASON is not None, reason=str(REASON))]

G = Game24()
# SmolLM2-135M rarely writes a legal step, so the budget is generous; the search stops as soon
# as it has a verified answer. Fixed seeds: same requests, same answers.
INSTANCE = "1 1 4 6"
SEED = 0
CALLS = 120


@pytest.fixture(scope="module")
def server():
    with LocalServer(n_ctx=1024) as srv:
        yield srv


def test_mcts_with_smollm2_policy_solves_an_easy_puzzle(server):
    client = LLMClient(base_url=server.base_url, model=server.model, concurrency=1)
    policy = LLMPolicy(client, samples=2,
                       sampling=Sampling(temperature=1.0, max_tokens=40, stop=("Input:",)))
    r = solve(G, INSTANCE, policy=policy, value=G.heuristic_value(),
              budget=Budget(model_calls=CALLS, seconds=150), seed=SEED)
    client.close()
    u = r.usage
    assert u.model_calls > 0 and u.prompt_tokens > 0 and u.completion_tokens > 0
    assert u.model_calls <= CALLS
    assert r.solved, f"not solved: {r.stop_reason}, {u!r}"
    assert G.verify(INSTANCE, r.answer)


def test_cli_embedded_default_starts_and_stops_the_server(tmp_path):
    args = ["solve", "game24", "4 4 6 8", "--policy", "llm", "--max-calls", "2", "--json",
            "--max-tokens", "16", "--cache", str(tmp_path / "c.sqlite")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code in (0, 1), res.output
    out = json.loads(res.output.strip().splitlines()[0])
    assert out["usage"]["model_calls"] == 2 and out["usage"]["prompt_tokens"] > 0
    assert not out["solved"] or G.verify("4 4 6 8", out["answer"])
    # the same command again: answered from the cache, zero calls to a fresh server
    res2 = CliRunner().invoke(cli, args)
    out2 = json.loads(res2.output.strip().splitlines()[0])
    assert out2["usage"]["cached_calls"] == 2 and out2["steps"] == out["steps"]
