"""The command line through a misbehaving or missing model server, and a planted API key.

Each run is a real `python -m mcts_reason.cli` process (so everything it prints is captured) with
HOME and XDG_CACHE_HOME pointed into the test's folder (so every file it writes can be searched).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_server import FaultServer
from reliability_helpers import check_honest, fraction_value, mediocre_answer, oracle_answer

KEY = "sk-PLANTED-9f3c1e7a-DO-NOT-LEAK"
RETRIES = 3


def run_cli(args, tmp: Path, *, timeout=120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAY_"))}
    env.update(HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "xdg-cache"),
               OPENAI_API_KEY=KEY, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "mcts_reason.cli", *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=timeout)


def written_files(tmp: Path) -> list[Path]:
    return [p for p in tmp.rglob("*") if p.is_file()]


def assert_key_nowhere(tmp: Path, *outputs: str) -> int:
    """The planted key in no output and no byte of any file under tmp; returns files searched."""
    for text in outputs:
        assert KEY not in text
        assert KEY[:12] not in text            # not even a prefix
    files = written_files(tmp)
    for p in files:
        data = p.read_bytes()
        assert KEY.encode() not in data and KEY[:12].encode() not in data, p
    return len(files)


def _solve_args(srv_url: str, tmp: Path, *extra: str, instance: str = "4 9 10 13") -> list[str]:
    return ["solve", "game24", instance, "--policy", "llm", "--value", "llm",
            "--base-url", srv_url, "--model", "fault-oracle", "--timeout", "0.2",
            "--retries", str(RETRIES), "--cache", str(tmp / "cache" / "responses.sqlite"),
            "--budget", "40", "--json", *extra]


@pytest.mark.parametrize("instance,seed", [("4 9 10 13", 1), ("1 1 1 1", 2)])
def test_solve_through_faults_counts_them_and_never_leaks_the_key(tmp_path, instance, seed):
    with FaultServer(mediocre_answer, fault_rate=0.3, seed=seed, delay=0.5, retry_after="0",
                     retry_after_5xx="0", huge_chars=80_000) as srv:
        res = run_cli(_solve_args(srv.base_url, tmp_path, "--tree", str(tmp_path / "t.html"),
                                  instance=instance), tmp_path)
        kinds = srv.kinds()
        headers = list(srv.headers)
    assert sum(v for k, v in kinds.items() if k != "ok") >= 10    # the run did meet faults
    assert res.returncode in (0, 1), res.stderr
    assert "Traceback" not in res.stderr
    out = json.loads(res.stdout)
    check_honest(instance, out["solved"], out["answer"], out["stop_reason"],
                 out["proved_unsolvable"])
    if res.returncode == 1:
        assert "no solution" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    faults = out["usage"]["faults"]
    assert out["usage"]["model_calls"] == sum(kinds.values())     # no cache hits on a fresh cache
    assert faults.get("timeout", 0) == kinds["delay"]
    assert faults.get("rate_limited", 0) == kinds["rate_limited"]
    assert faults.get("malformed", 0) == kinds["not_json"] + kinds["truncated_json"]
    assert faults.get("connection", 0) == kinds["close"]
    # the key was really sent, as a bearer token, and is nowhere else
    assert all(h.get("authorization") == f"Bearer {KEY}" for h in headers)
    assert (tmp_path / "t.html").stat().st_size > 0 and "(left:" in (tmp_path / "t.html").read_text()
    assert assert_key_nowhere(tmp_path, res.stdout, res.stderr) >= 2     # cache and tree
    cache = tmp_path / "cache" / "responses.sqlite"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700


def test_a_rerun_is_answered_from_the_cache_and_still_verified(tmp_path):
    with FaultServer(oracle_answer, fault_rate=0.0) as srv:
        first = run_cli(_solve_args(srv.base_url, tmp_path, "--seed", "3"), tmp_path)
        n = srv.count
        second = run_cli(_solve_args(srv.base_url, tmp_path, "--seed", "3"), tmp_path)
        assert srv.count == n                  # all from the cache
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["solved"] and b["solved"] and a["answer"] == b["answer"]
    value, _ = fraction_value(b["answer"])
    assert value == 24
    assert_key_nowhere(tmp_path, first.stdout, first.stderr, second.stdout, second.stderr)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_server_down_one_line_naming_the_url_exit_3(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    res = run_cli(["solve", "game24", "4 9 10 13", "--policy", "llm", "--base-url", url,
                   "--model", "m", "--retries", "1", "--no-cache"], tmp_path, timeout=60)
    assert res.returncode == 3, (res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and url in lines[0], res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert_key_nowhere(tmp_path, res.stdout, res.stderr)


def test_a_refused_key_is_exit_3_and_the_message_does_not_echo_it(tmp_path):
    with FaultServer(oracle_answer, fault_rate=1.0, faults=("unauthorized",)) as srv:
        res = run_cli(_solve_args(srv.base_url, tmp_path), tmp_path)
        assert srv.count == 1                  # not retried
    assert res.returncode == 3
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and srv.base_url in lines[0] and "401" in lines[0]
    assert_key_nowhere(tmp_path, res.stdout, res.stderr)


# -- bench through faults ---------------------------------------------------------------------------
def _bench_args(url: str, tmp: Path, out: Path, *extra: str) -> list[str]:
    spec = tmp / "set.txt"
    spec.write_text("4 9 10 13\n1 1 4 6\n1 1 1 1\n3 3 8 8\n")
    return ["bench", "game24", "--set", str(spec), "--algos", "mcts", "--budgets", "4,8",
            "--seeds", "2", "--policy", "llm", "--value", "llm", "--base-url", url,
            "--model", "fault-oracle", "--timeout", "0.2", "--retries", str(RETRIES),
            "--cache", str(tmp / "cache" / "responses.sqlite"), "--out", str(out),
            "--no-progress", "--trees", str(tmp / "trees"), "--tree-format", "json", *extra]


def _kill_when(args, tmp: Path, out: Path, *, lines: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAY_"))}
    env.update(HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "xdg-cache"), OPENAI_API_KEY=KEY)
    proc = subprocess.Popen([sys.executable, "-m", "mcts_reason.cli", *args], cwd=tmp, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= lines:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait(timeout=60)
    return proc


def test_bench_through_faults_loses_no_record_and_leaks_no_key(tmp_path):
    from mcts_reason.records import read_records
    out = tmp_path / "results.jsonl"
    with FaultServer(mediocre_answer, fault_rate=0.3, seed=11, delay=0.5, retry_after="0",
                     retry_after_5xx="0", huge_chars=80_000) as srv:
        args = _bench_args(srv.base_url, tmp_path, out, "--workers", "2")
        killed = _kill_when(args, tmp_path, out, lines=4)      # kill -9 mid-sweep...
        res = run_cli(args, tmp_path)                            # ...and resume
        kinds = srv.kinds()
        headers = list(srv.headers)
    assert killed.returncode == -signal.SIGKILL
    assert res.returncode == 0, res.stderr[-2000:]
    assert "already there" in res.stderr
    assert "Traceback" not in res.stderr
    records = read_records(out).records
    assert len(records) == 4 * 2 * 2                 # instances x budgets x seeds: none lost
    faults: dict = {}
    calls = 0
    for rec in records:
        check_honest(rec["instance"], rec["solved"], rec["answer"], rec["stop_reason"],
                     rec["proved_unsolvable"])
        calls += rec["usage"]["model_calls"]
        for k, v in rec["usage"]["faults"].items():
            faults[k] = faults.get(k, 0) + v
    # runs share the response cache, so a run may be answered from it: charged as the original
    # call was, so the records' model calls are at least the server's requests
    assert calls >= sum(kinds.values())
    assert sum(v for k, v in kinds.items() if k != "ok") >= 5
    assert faults.get("timeout", 0) >= 1 or kinds["delay"] == 0
    assert all(h.get("authorization") == f"Bearer {KEY}" for h in headers)
    assert assert_key_nowhere(tmp_path, res.stdout, res.stderr, killed.stdout.read(),
                              killed.stderr.read()) >= 3      # results, cache, trees
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_bench_with_the_server_down_exit_3_one_line(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    res = run_cli(_bench_args(url, tmp_path, tmp_path / "r.jsonl", "--workers", "1",
                              "--retries", "0"), tmp_path)
    assert res.returncode == 3, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and url in lines[0] and "Traceback" not in res.stderr
    assert_key_nowhere(tmp_path, res.stdout, res.stderr)
