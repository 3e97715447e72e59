"""bench with an LLM policy: a real loopback OpenAI-compatible server, worker processes that
each open their own client, resume with zero server calls, and a key that is never written."""
from __future__ import annotations

import json

from click.testing import CliRunner
from test_llm_search import KEY, oracle_script

from mcts_reason.cli import cli
from mcts_reason.llm.scripted import ScriptedServer
from mcts_reason.records import read_records
from mcts_reason_puzzles.game24 import Game24

G = Game24()
INSTANCES = ["4 9 10 13", "1 1 4 6", "2 3 5 12", "3 3 8 8"]


def test_bench_llm_policy_records_resume_and_keep_the_key_out(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", KEY)
    sets = tmp_path / "set.txt"
    sets.write_text("\n".join(INSTANCES) + "\n")
    out = tmp_path / "llm.jsonl"
    with ScriptedServer(oracle_script()) as srv:
        args = ["bench", "game24", "--set", str(sets), "--algos", "mcts,greedy",
                "--budgets", "4,16", "--seeds", "2", "--workers", "2", "--policy", "llm",
                "--base-url", srv.base_url, "--model", "oracle", "--api-key-env", "MY_KEY",
                "--cache", str(tmp_path / "c.sqlite"), "--out", str(out), "--no-progress"]
        first = CliRunner().invoke(cli, args)
        assert first.exit_code == 0, first.output
        records = read_records(out).records
        assert len(records) == len(INSTANCES) * 2 * 2 * 2
        for r in records:
            assert r["usage"]["model_calls"] > 0 and r["config"]["policy"] == "llm"
            assert r["config"]["llm"]["api_key_env"] == "MY_KEY"
            assert not r["solved"] or G.verify(r["instance"], r["answer"])
        assert any(r["solved"] for r in records if r["algo"] == "mcts")
        calls = srv.count
        assert calls > 0 and srv.headers[0]["authorization"] == f"Bearer {KEY}"

        again = CliRunner().invoke(cli, args)       # resume: everything is already there
        assert again.exit_code == 0 and "already there 32" in again.output
        assert srv.count == calls

        other = CliRunner().invoke(cli, [a if a != "oracle" else "other-model" for a in args])
        assert other.exit_code == 2 and "--out" in other.output    # a different model: refused

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path
    for res in (first, again, other):
        assert KEY not in res.output
    assert json.loads(out.read_text().splitlines()[0])["config"]["llm_runtime"]["base_url"] \
        == srv.base_url
