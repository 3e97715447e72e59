"""A hostile model server (issue 12, items 3, 5, 6, 7, 8, 9, 10): the fault server's HOSTILE
modes on 127.0.0.1, real CLI processes and the real client.

Stated slack (docs/reliability.md): one request ends within --timeout + REQUEST_SLACK seconds,
a search within --max-seconds + SEARCH_SLACK, whatever the server sends or withholds.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_server import HOSTILE_COUNTED, FaultServer
from reliability_helpers import oracle_answer

from mcts_reason.budget import Budget, Meter
from mcts_reason.llm import LLMClient, Sampling
from mcts_reason.llm.client import Completion, Request

REQUEST_SLACK = 0.5
SEARCH_SLACK = 1.0
SECRET = "sk-URLSECRET-77aa"


def env_for(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAY_"))}
    env.update(HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "xdg"), PYTHONUNBUFFERED="1")
    return env


def cli(tmp: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcts_reason.cli", *args], cwd=tmp,
                          env=env_for(tmp), capture_output=True, text=True, timeout=timeout)


def solve_args(url: str, *extra: str, instance: str = "4 9 10 13") -> list[str]:
    return ["solve", "game24", instance, "--policy", "llm", "--value", "llm", "--base-url", url,
            "--model", "m", "--budget", "30", "--json", *extra]


def no_traceback(res) -> None:
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.returncode in (0, 1, 2, 3), (res.returncode, res.stderr[-2000:])


def one_request(srv: FaultServer, *, timeout: float, retries: int = 0, **kw):
    client = LLMClient(base_url=srv.base_url, model="m", timeout=timeout, max_retries=retries,
                       backoff=0.001, max_backoff=0.002, **kw)
    meter = Meter(Budget())
    req = Request.of([{"role": "user", "content": "Possible next steps: 1 2 3 4"}], Sampling())
    try:
        t0 = time.monotonic()
        out = client.complete([req], meter)[0]
        return out, meter.usage, time.monotonic() - t0
    finally:
        client.close()


# -- item 3: a request's whole duration and a run's are bounded ---------------------------------
@pytest.mark.parametrize("mode", ["trickle_body", "trickle_headers", "hang"])
def test_one_request_ends_within_its_timeout_whatever_the_server_trickles(mode):
    with FaultServer(fault_rate=1.0, faults=(mode,), trickle=0.05) as srv:
        out, usage, wall = one_request(srv, timeout=0.6)
    assert out is None and usage.faults == {"timeout": 1, "gave_up": 1}
    assert wall <= 0.6 + REQUEST_SLACK, wall


@pytest.mark.parametrize("mode", ["trickle_body", "trickle_headers", "hang"])
def test_solve_max_seconds_is_hard_against_a_trickling_or_silent_server(tmp_path, mode):
    with FaultServer(oracle_answer, fault_rate=1.0, faults=(mode,), trickle=0.2) as srv:
        t0 = time.monotonic()
        res = cli(tmp_path, *solve_args(srv.base_url, "--timeout", "30", "--max-seconds", "2",
                                        "--no-cache"))
        wall = time.monotonic() - t0
    no_traceback(res)
    out = json.loads(res.stdout)
    assert out["usage"]["seconds"] <= 2 + SEARCH_SLACK, out["usage"]
    assert out["stop_reason"] == "budget: seconds", out["stop_reason"]
    assert res.returncode == 3 and "no model call succeeded" in res.stderr   # item 8
    assert wall < 2 + 15, wall        # the process: + start-up, never the 30 s timeout


# -- item 9: one SIGINT ends a run at any concurrency -------------------------------------------
def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("command", ["solve", "bench"])
def test_one_sigint_stops_hung_concurrent_requests_at_once(tmp_path, command):
    with FaultServer(oracle_answer, fault_rate=1.0, faults=("hang",)) as srv:
        common = ["--policy", "llm", "--value", "llm", "--base-url", srv.base_url, "--model",
                  "m", "--timeout", "30", "--concurrency", "4", "--no-cache"]
        if command == "solve":
            args = ["solve", "game24", "4 9 10 13", "--budget", "30", *common]
        else:
            (tmp_path / "s.txt").write_text("4 9 10 13\n1 2 3 4\n")
            args = ["bench", "game24", "--set", "s.txt", "--budgets", "30", "--workers", "1",
                    "--out", "r.jsonl", "--no-progress", *common]
        proc = subprocess.Popen([sys.executable, "-m", "mcts_reason.cli", *args], cwd=tmp_path,
                                env=env_for(tmp_path), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
        try:
            deadline = time.monotonic() + 60
            while srv.count < 2 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            assert srv.count >= 2, "the requests never arrived"
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            t0 = time.monotonic()
            _, err = proc.communicate(timeout=30)
            stopped = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err, err
    assert stopped < 5, stopped           # not the 30 s --timeout, nor 30 s x retries


# -- item 5: text a server sends is data --------------------------------------------------------
def test_a_lone_surrogate_is_counted_and_stored_safely(tmp_path):
    with FaultServer(oracle_answer, fault_rate=1.0, faults=("surrogate",)) as srv:
        res = cli(tmp_path, *solve_args(srv.base_url, "--timeout", "5",
                                        "--cache", str(tmp_path / "c.sqlite")))
        no_traceback(res)
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout)
        assert out["solved"] and out["usage"]["faults"]["invalid_text"] >= 1
        (tmp_path / "s.txt").write_text("4 9 10 13\n")
        res = cli(tmp_path, "bench", "game24", "--set", "s.txt", "--budgets", "30", "--out",
                  "r.jsonl", "--workers", "1", "--policy", "llm", "--value", "llm",
                  "--base-url", srv.base_url, "--model", "m", "--timeout", "5",
                  "--cache", str(tmp_path / "c.sqlite"), "--no-progress")
    no_traceback(res)
    assert res.returncode == 0, res.stderr


def test_the_cache_stores_text_it_cannot_encode_as_utf8(tmp_path):
    from mcts_reason.llm.cache import ResponseCache
    cache = ResponseCache(tmp_path / "c.sqlite")
    req = Request.of([{"role": "user", "content": "x"}], Sampling())
    assert cache.put("m", req, Completion("a\ud800b", 1, 1))
    assert cache.get("m", req).text == "a\ud800b"
    cache.close()


# -- item 6: credentials inside --base-url ------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _secret_url(port: int) -> str:
    return f"http://user:{SECRET}@127.0.0.1:{port}/v1?api_key={SECRET}x"


def _assert_no_secret(tmp: Path, *texts: str) -> None:
    for t in texts:
        assert SECRET not in t, t[-1000:]
    for p in tmp.rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes(), p


def test_credentials_in_the_base_url_never_reach_output_or_files(tmp_path):
    from mcts_reason.records import read_records
    res = cli(tmp_path, *solve_args(_secret_url(_free_port()), "--retries", "0"))
    assert res.returncode == 3 and "cannot reach" in res.stderr and "***" in res.stderr
    texts = [res.stdout, res.stderr]
    with FaultServer(fault_rate=1.0, faults=("unauthorized",)) as srv:
        res = cli(tmp_path, *solve_args(_secret_url(srv.port)))
    assert res.returncode == 3 and "refused the API key" in res.stderr
    texts += [res.stdout, res.stderr]
    res = cli(tmp_path, "solve", "game24", "1 2 3 4", "--policy", "llm", "--model", "m",
              "--base-url", f"ftp://u:{SECRET}@h/v1")
    assert res.returncode == 2
    texts += [res.stdout, res.stderr]
    (tmp_path / "s.txt").write_text("4 9 10 13\n1 1 4 6\n")
    with FaultServer(oracle_answer, fault_rate=0.0) as srv:
        args = ["bench", "game24", "--set", "s.txt", "--budgets", "30", "--out", "r.jsonl",
                "--workers", "2", "--policy", "llm", "--value", "llm", "--base-url",
                _secret_url(srv.port), "--model", "m", "--timeout", "5", "--no-progress",
                "--cache", str(tmp_path / "c.sqlite")]
        res = cli(tmp_path, *args)
        assert res.returncode == 0, res.stderr
        assert srv.count > 0                         # the workers reached the server
        texts += [res.stdout, res.stderr]
        recs = read_records(tmp_path / "r.jsonl").records
        assert len(recs) == 2
        for r in recs:
            assert r["config"]["llm"]["base_url"].startswith("http://***@127.0.0.1")
            assert r["config"]["llm_runtime"]["base_url"].startswith("http://***@127.0.0.1")
        res = cli(tmp_path, *args)                   # resumes: the stored forms agree
        assert res.returncode == 0 and "already there 2" in res.stderr, res.stderr
        texts += [res.stdout, res.stderr]
    with FaultServer(oracle_answer, fault_rate=1.0, faults=("hang",)) as srv:
        args[args.index("--base-url") + 1] = _secret_url(srv.port)
        args[args.index("r.jsonl")] = "r2.jsonl"
        args[args.index("--cache") + 1] = str(tmp_path / "c2.sqlite")   # nothing answered yet
        proc = subprocess.Popen([sys.executable, "-m", "mcts_reason.cli", *args, "--workers",
                                 "1"], cwd=tmp_path, env=env_for(tmp_path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_default_sigint)
        deadline = time.monotonic() + 60
        while srv.count < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "resume" in err, err     # the resume hint, redacted
    texts += [out, err]
    _assert_no_secret(tmp_path, *texts)


def test_redaction_of_urls_and_command_lines():
    from mcts_reason.llm.redact import redact_argv, redact_url
    assert redact_url("http://u:pw@h:1/v1?api_key=k&x=1") == "http://***@h:1/v1?api_key=***&x=1"
    assert redact_url("https://h/v1") == "https://h/v1"
    assert redact_argv(["--base-url=http://a:b@h/v1", "--key", "x"]) == \
        ["--base-url=http://***@h/v1", "--key", "x"]
    from mcts_reason.llm.session import LLMSettings
    assert SECRET not in repr(LLMSettings(base_url=f"http://u:{SECRET}@h/v1", model="m"))


# -- items 7, 8, 10: bodies the client must survive, and failures that must say so ---------------
def test_nested_json_gzip_bomb_and_redirect_loop_are_faults_not_crashes():
    import tracemalloc
    with FaultServer(fault_rate=1.0, faults=("nested_json",)) as srv:
        out, usage, _ = one_request(srv, timeout=5)
    assert out is None and usage.faults["malformed"] == 1
    with FaultServer(fault_rate=1.0, faults=("gzip_bomb",), bomb_bytes=64 << 20) as srv:
        tracemalloc.start()
        try:
            out, usage, _ = one_request(srv, timeout=10)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert out is None and usage.faults["oversized_body"] == 1
    assert peak < 48 << 20, peak                # 64 MiB of zeros were sent; not held
    with FaultServer(fault_rate=1.0, faults=("redirect_loop",)) as srv:
        out, usage, _ = one_request(srv, timeout=5, retries=3)
        assert srv.count == 1                   # one request per charged call, not 21
    assert out is None and usage.faults["redirect"] == 1 and usage.model_calls == 1


@pytest.mark.parametrize("mode", sorted(HOSTILE_COUNTED))
def test_every_hostile_mode_is_counted_as_its_kind(mode):
    with FaultServer(fault_rate=1.0, faults=(mode,), trickle=0.05, bomb_bytes=20 << 20) as srv:
        out, usage, wall = one_request(srv, timeout=1.0)
    assert usage.faults.get(HOSTILE_COUNTED[mode]) == 1, usage.faults
    assert wall <= 1.0 + REQUEST_SLACK


@pytest.mark.parametrize("fault,word", [("http_500", "http_500"), ("not_json", "malformed"),
                                        ("context_length", "context length")])
def test_a_server_failing_every_request_is_exit_3_naming_the_fault(tmp_path, fault, word):
    with FaultServer(oracle_answer, fault_rate=1.0, faults=(fault,), retry_after_5xx="0") as srv:
        res = cli(tmp_path, *solve_args(srv.base_url, "--timeout", "5", "--retries", "1",
                                        "--no-cache"))
        no_traceback(res)
        assert res.returncode == 3, res.stderr
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error")]
        assert len(errors) == 1 and "no model call succeeded" in errors[0] and word in errors[0]
        if fault == "http_500":
            (tmp_path / "s.txt").write_text("4 9 10 13\n1 1 4 6\n")
            res = cli(tmp_path, "bench", "game24", "--set", "s.txt", "--budgets", "8", "--out",
                      "r.jsonl", "--workers", "1", "--policy", "llm", "--value", "llm",
                      "--base-url", srv.base_url, "--model", "m", "--timeout", "5",
                      "--retries", "1", "--no-cache", "--no-progress")
            no_traceback(res)
            assert res.returncode == 3 and "no model call succeeded" in res.stderr, res.stderr


def test_mostly_failing_calls_are_a_warning_line(tmp_path):
    with FaultServer(oracle_answer, fault_rate=0.8, seed=3, faults=("http_503",),
                     retry_after_5xx="0") as srv:
        res = cli(tmp_path, *solve_args(srv.base_url, "--timeout", "5", "--retries", "3",
                                        "--no-cache"))
    no_traceback(res)
    out = json.loads(res.stdout)
    assert out["usage"]["faults"]["http_503"] > out["usage"]["model_calls"] / 2
    assert "warning:" in res.stderr and "model calls failed (" in res.stderr, res.stderr


def test_retries_cut_by_max_seconds_say_seconds_not_exhausted(tmp_path):
    with FaultServer(oracle_answer, fault_rate=1.0, faults=("http_503",),
                     retry_after_5xx="5") as srv:
        res = cli(tmp_path, *solve_args(srv.base_url, "--timeout", "5", "--retries", "3",
                                        "--max-seconds", "2", "--no-cache"))
    no_traceback(res)
    assert json.loads(res.stdout)["stop_reason"] == "budget: seconds"


def test_a_huge_instance_gets_a_short_message(tmp_path):
    res = cli(tmp_path, "solve", "game24", "1 " * 60_000)
    assert res.returncode == 2 and len(res.stderr) < 1500, len(res.stderr)
