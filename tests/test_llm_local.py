"""End to end with the real llama.cpp server and the bundled SmolLM2-135M-Instruct.

Skipped, with the install command as the reason, when the `local` extra or the model file is
missing; `.ci/run` installs both, so CI runs it.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcts_reason import Budget, solve
from mcts_reason.cli import cli
from mcts_reason.llm import LLMClient, LLMPolicy, Sampling, cpu_build
from mcts_reason.llm.local import LocalServer, missing_reason
from mcts_reason_puzzles.game24 import Game24

REASON = missing_reason()
pytestmark = [pytest.mark.local_model, pytest.mark.slow,
              pytest.mark.skipif(REASON is not None, reason=str(REASON))]

G = Game24()


@pytest.fixture(scope="module")
def server():
    with LocalServer(n_ctx=1024) as srv:
        yield srv
    assert not srv.ready()           # stopped: nothing answers on its port any more


def test_mcts_with_smollm2_policy_runs_end_to_end(server):
    """The real model through the whole engine: its lines parsed by the puzzle, illegal ones
    counted, llama.cpp's token usage charged, the cap kept, any answer verified."""
    # A generous per-call timeout: on a loaded machine one call once took over the default
    # 60 s and was counted a fault; faults are tested against a scripted server elsewhere.
    client = LLMClient(base_url=server.base_url, model=server.model, concurrency=1,
                       timeout=300.0)
    # About 3 in 10 of its answers name a legal first step: 20 calls make a tree that grows
    # with near certainty (a wall-clock cap would make that depend on the machine's load).
    policy = LLMPolicy(client, samples=1, patience=20,
                       sampling=Sampling(temperature=1.0, max_tokens=32, stop=("Input:",)))
    r = solve(G, "1 1 4 6", policy=policy, value=G.heuristic_value(),
              budget=Budget(model_calls=20), seed=0)
    client.close()
    u = r.usage
    assert u.model_calls == 20 or r.solved
    assert u.prompt_tokens > 200 and u.completion_tokens > 0
    assert u.completion_tokens <= 32 * u.model_calls
    assert u.invalid_proposals > 0          # SmolLM2-135M writes many lines that are not steps
    assert u.nodes > 1                      # ... and some that are: the tree grew
    assert not r.solved or G.verify("1 1 4 6", r.answer)
    assert not u.faults


def test_the_real_server_gives_first_token_probabilities_for_the_value(server):
    """`--value-scoring probs` against llama.cpp: the logprobs come back in OpenAI's layout, are
    read (text, log-probability <= 0, at most one distribution's mass), and the value is a
    number in [0, 1] whichever way it was scored."""
    import math

    import numpy as np

    from mcts_reason.budget import Meter
    from mcts_reason.llm import LLMValue, Request
    client = LLMClient(base_url=server.base_url, model=server.model, concurrency=1,
                       timeout=300.0)
    msgs = [{"role": "user", "content": "Can 4 and 6 make 24 with + - * /? Answer with one "
                                        "word: sure, likely or impossible."}]
    (done,) = client.complete([Request.of(msgs, Sampling(temperature=0.0, max_tokens=4),
                                          seed=0, top_logprobs=5)])
    top = done.top_logprobs
    assert top and len(top) >= 5
    assert all(isinstance(t, str) and lp <= 0 for t, lp in top)
    assert sum(math.exp(lp) for t, lp in dict(top).items()) <= 1.0 + 1e-3
    assert done.text.startswith(max(top, key=lambda x: x[1])[0].strip()[:1] or "")
    value = LLMValue(client, scoring="probs")
    meter = Meter(Budget())
    value.bind(meter)
    (v,) = value.evaluate(G, [G.parse_instance("1 1 4 6")], rng=np.random.default_rng(0))
    client.close()
    assert 0.0 <= v <= 1.0 and meter.usage.model_calls == 1


def test_mcts_with_constrained_smollm2_proposals_solves_an_easy_puzzle(server):
    """The issue's end-to-end goal: the real model, its proposals held by the puzzle's grammar to
    the format `a op b = c` over the state's numbers (the model picks the step and writes c, and
    parse_step checks c), MCTS with the heuristic value, solves 1 1 4 6 and the answer verifies.

    Deterministic on one machine (seeded samples, one request at a time, a call budget, no clock).
    Measured here: seeds 0-3 each solve in 6-13 calls of 20. Up to three seeds are tried so that
    a machine whose floating point samples other tokens does not turn this into a coin toss."""
    client = LLMClient(base_url=server.base_url, model=server.model, concurrency=1, grammar=True,
                       timeout=300.0)     # per request: a loaded machine is slow, not faulty
    policy = LLMPolicy(client, samples=1, patience=4,
                       sampling=Sampling(temperature=1.0, max_tokens=80, stop=("Input:",)))
    runs = []
    for seed in (0, 1, 2):
        r = solve(G, "1 1 4 6", policy=policy, value=G.heuristic_value(),
                  budget=Budget(model_calls=40), seed=seed, pw_c=1.0)
        runs.append(r)
        assert r.usage.model_calls <= 40 and not r.usage.faults
        assert not r.solved or G.verify("1 1 4 6", r.answer)
        if r.solved:
            break
    client.close()
    solved = [r for r in runs if r.solved]
    assert solved, [(r.stop_reason, r.usage.model_calls, r.usage.nodes) for r in runs]
    r = solved[0]
    assert r.answer and G.verify("1 1 4 6", r.answer)
    state = G.parse_instance("1 1 4 6")       # three legal steps that end at 24
    for text in r.steps:
        step = G.parse_step(state, text)
        assert step is not None, text
        state = G.apply(state, step)
    assert len(r.steps) == 3 and G.is_solved(state)


def test_cli_embedded_default_starts_uses_and_stops_the_server(tmp_path):
    args = ["solve", "game24", "4 4 6 8", "--policy", "llm", "--max-model-calls", "2", "--json",
            "--completion-tokens", "16", "--cache", str(tmp_path / "c.sqlite")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code in (0, 1), res.output
    out = json.loads(res.output.strip().splitlines()[0])
    assert out["usage"]["model_calls"] == 2 and out["usage"]["prompt_tokens"] > 0
    assert not out["solved"] or G.verify("4 4 6 8", out["answer"])
    res2 = CliRunner().invoke(cli, args)     # the same command: replayed from the cache
    out2 = json.loads(res2.output.strip().splitlines()[0])
    assert out2["usage"]["cached_calls"] == 2 and out2["steps"] == out["steps"]
    assert out2["usage"]["prompt_tokens"] == out["usage"]["prompt_tokens"]


def test_the_installed_build_cannot_take_the_amx_or_avx512_path():
    """llama.cpp's own report of the installed build (`llama_print_system_info`, in a child
    process): no AMX, no AVX-512; AVX2 on an x86 CPU that has it. The probe that LocalServer
    runs before starting the server reads the same from the library, and finds no problem."""
    done = subprocess.run([sys.executable, "-c", "import llama_cpp; "
                           "print(llama_cpp.llama_print_system_info().decode())"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    info = done.stdout
    assert "AMX" not in info and "AVX512" not in info, info
    on = {name.lower() for name in re.findall(r"(\w+) = 1", info)}
    flags = cpu_build.cpu_flags()
    x86 = platform.machine().lower() in cpu_build.X86_MACHINES
    if x86 and flags is not None and "avx2" in flags:
        assert "avx2" in on, info
    libraries = cpu_build.cpu_libraries()
    assert libraries
    for lib in libraries:
        features = cpu_build.library_features(lib)
        assert isinstance(features, frozenset), features
        assert features == on & set(cpu_build.LIBRARY_FEATURES), (lib, info)
    assert cpu_build.installed_build_problem() is None


# AMX instructions and registers, and AVX-512's zmm registers, as objdump prints them.
WIDE = re.compile(r"%zmm\d|%tmm\d|\b(ldtilecfg|sttilecfg|tileloadd\w*|tilestored|tilezero|"
                  r"tilerelease|tdp\w+)\b")
OBJDUMP = shutil.which("objdump")


def _wide_instructions(path: Path) -> list[str]:
    done = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn", str(path)], capture_output=True,
                          text=True, timeout=600, check=True)
    return [line.strip() for line in done.stdout.splitlines() if WIDE.search(line)]


@pytest.mark.skipif(OBJDUMP is None, reason="needs objdump (binutils)")
@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86 only")
def test_the_installed_cpu_library_has_no_amx_or_avx512_instruction(tmp_path):
    """The machine code itself: no AMX tile instruction and no zmm register anywhere in the
    installed llama.cpp CPU libraries. The scan is first shown to find both in a sample
    compiled with -mamx-tile -mavx512f, where a compiler is at hand."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is not None:
        src = tmp_path / "wide.c"
        src.write_text("#include <immintrin.h>\n"
                       "void t(const void *c) { _tile_loadconfig(c); _tile_release(); }\n"
                       "__m512 z(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }\n")
        obj = tmp_path / "wide.o"
        if subprocess.run([cc, "-O2", "-mamx-tile", "-mavx512f", "-c", str(src), "-o",
                           str(obj)], capture_output=True, timeout=120).returncode == 0:
            found = " ".join(_wide_instructions(obj))
            assert "ldtilecfg" in found and "%zmm" in found, found
    libraries = cpu_build.cpu_libraries()
    assert libraries
    for lib in libraries:
        wide = _wide_instructions(lib)
        assert not wide, (lib, wide[:5])


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _served_completions(pid: int) -> int:
    """Completions the server has answered so far, from its log (uvicorn's access lines)."""
    try:
        return Path(f"/proc/{pid}/fd/1").read_text(errors="replace").count(
            "POST /v1/chat/completions")
    except OSError:
        return 0


@pytest.mark.skipif(sys.platform != "linux", reason="finds the server's process in /proc")
@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_killing_the_real_server_mid_search_is_reported_as_its_death(tmp_path, sig):
    """What the AMX crash looked like, made on purpose: the real llama.cpp server, started by
    `solve`, is killed by a signal after it has answered a completion. The command exits 3 with
    one line naming the signal (never "connection refused"), and no traceback."""
    # 1 1 1 1 has no solution, so the search is still asking when the server dies
    cmd = [sys.executable, "-c", "from mcts_reason.cli import main; main()", "solve", "game24",
           "1 1 1 1", "--policy", "llm", "--max-model-calls", "40", "--no-cache",
           "--timeout", "300"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": ""})
    try:
        deadline, server = time.monotonic() + 600, None
        while time.monotonic() < deadline and proc.poll() is None:
            if server is None:
                servers = [c for c in _children(proc.pid) if b"llama_cpp.server" in _cmdline(c)]
                server = servers[0] if servers else None
            elif _served_completions(server) >= 1:
                os.kill(server, sig)
                break
            time.sleep(0.1)
        assert server is not None and proc.poll() is None, "the search ended before the kill"
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, (out, err)
    assert "Traceback" not in err and "connection refused" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.match(rf"error: the embedded llama.cpp server died \(signal {sig.name}\) on "
                    r"request \d+; last log lines: ", lines[0]), lines[0]
