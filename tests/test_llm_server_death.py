"""The embedded server dying is reported as what it is, by `solve`, `bench` and `serve-local`.

A real process stands in for llama.cpp's server (`tests/dying_server.py`: a loopback
OpenAI-compatible server that kills itself with a real signal, before answering its N-th
completion, as llama.cpp did at an AMX instruction), so this runs without the `local` extra;
`test_llm_local.py` does the same to the real llama.cpp server. Only the command that
`LocalServer` starts is replaced; the process, its signal, HTTP and the CLI are all real.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcts_reason import Budget, solve
from mcts_reason.cli import cli
from mcts_reason.llm import local
from mcts_reason.llm.client import LLMClient, LLMError, Sampling
from mcts_reason.llm.local import LocalServer
from mcts_reason.llm.policy import LLMPolicy
from mcts_reason.records import read_records
from mcts_reason_puzzles.game24 import Game24

SCRIPT = Path(__file__).with_name("dying_server.py")
SOLVE = ["solve", "game24", "1 1 4 6", "--policy", "llm", "--max-model-calls", "10", "--no-cache"]


@pytest.fixture
def stand_in(monkeypatch):
    """Make LocalServer start tests/dying_server.py with the given options."""
    def use(*options: str) -> None:
        def command(self):
            return [sys.executable, str(SCRIPT), "--port", str(self.port), *options]
        monkeypatch.setattr(local, "missing_reason", lambda: None)
        monkeypatch.setattr(LocalServer, "command", command)
        monkeypatch.setenv(local.TRUST_BUILD_ENV, "1")      # no llama.cpp build to check
    return use


def error_line(output: str) -> str:
    assert "Traceback" not in output and "connection refused" not in output, output
    lines = [ln for ln in output.splitlines() if ln.lower().startswith("error")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("sig, die_on, when", [("SIGSEGV", "1", "on its first request"),
                                               ("SIGKILL", "3", "on request 3"),
                                               ("SIGILL", "0", "at start-up")])
def test_solve_reports_the_death_with_its_signal_when_and_log(stand_in, sig, die_on, when):
    stand_in("--signal", sig, "--die-on", die_on)
    res = CliRunner().invoke(cli, SOLVE)
    assert res.exit_code == 3, res.output
    line = error_line(res.output)
    assert f"error: the embedded llama.cpp server died (signal {sig}) {when}; " in line
    # the log's last lines: what the stand-in wrote just before it died
    assert "last log lines: " in line and f"killing itself with {sig}" in line


def test_a_client_with_concurrent_requests_stops_at_once(stand_in):
    """Four requests in flight when the server dies: LLMError, not retries into refusals."""
    stand_in("--signal", "SIGSEGV", "--die-on", "2")
    g = Game24()
    with LocalServer() as srv:
        client = LLMClient(base_url=srv.base_url, model=srv.model, concurrency=4,
                           max_retries=3, server_check=srv.check)
        policy = LLMPolicy(client, samples=4, sampling=Sampling(max_tokens=16))
        with pytest.raises(LLMError, match=r"died \(signal SIGSEGV\)"):
            solve(g, "1 1 4 6", policy=policy, value=g.heuristic_value(),
                  budget=Budget(model_calls=40), seed=0)
        client.close()
        assert srv.proc.returncode == -signal.SIGSEGV


@pytest.mark.parametrize("workers", [1, 2])
def test_bench_reports_the_death_and_records_nothing_from_a_dead_server(stand_in, tmp_path,
                                                                        workers):
    stand_in("--signal", "SIGSEGV", "--die-on", "3")
    out, instances = tmp_path / "r.jsonl", tmp_path / "set.txt"
    instances.write_text("1 1 4 6\n")
    args = ["bench", "game24", "--set", str(instances), "--algos", "mcts", "--budgets", "30",
            "--seeds", "2", "--workers", str(workers), "--policy", "llm", "--no-cache",
            "--out", str(out), "--no-progress"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 3, res.output
    assert "the embedded llama.cpp server died (signal SIGSEGV)" in error_line(res.output)
    records = read_records(out).records if out.exists() else []
    assert not records       # each run needs far more than 3 calls: none finished


def test_serve_local_reports_the_death_of_its_server(stand_in):
    stand_in("--signal", "SIGSEGV", "--die-after-ready", "0.5")
    res = CliRunner().invoke(cli, ["serve-local"])
    assert res.exit_code == 3, res.output
    line = error_line(res.output)
    assert "died (signal SIGSEGV)" in line and "its output is above" in line


def test_the_stand_in_really_dies_by_its_signal():
    """The stand-in itself ends by the signal (not an exit status): the reference that the
    tests above rely on."""
    port = local.free_port()
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--port", str(port), "--signal",
                             "SIGSEGV", "--die-on", "1"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/chat/completions",
                                       data=b'{"model": "m"}', timeout=5)
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        assert proc.wait(timeout=30) == -signal.SIGSEGV
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_death_found_on_the_retry_is_named_after_the_first_failed_request(tmp_path):
    """On a loaded machine the process may still be alive when the client's first failed request
    is checked (it was: CI-like load made the message say "on request 2" for a death on the
    first). The first failure is kept, so the death found on the retry names request 1."""
    server = LocalServer(model=tmp_path / "unused.gguf", port=1)
    server.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert server.check(1) is None                       # alive: no death to report yet
        server.proc.send_signal(signal.SIGSEGV)
        message = server.check(2)
        assert message is not None
        assert message.startswith("the embedded llama.cpp server died (signal SIGSEGV) "
                                  "on its first request; "), message
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        server.proc.wait()
