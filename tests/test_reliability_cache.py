"""The response cache survives kill -9 during writes (sqlite transactions, WAL mode).

A writer process stores completions as fast as it can and prints each key once `put` has
returned; the test SIGKILLs it at random moments, several times, reopening the same file each
time. After every kill the file must pass sqlite's integrity check, open as a ResponseCache, and
hold every entry the writer reported as stored, each intact.
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

from mcts_reason.llm import Completion, Request, ResponseCache, Sampling

WRITER = textwrap.dedent("""
    import sys
    from mcts_reason.llm import Completion, Request, ResponseCache, Sampling
    cache = ResponseCache(sys.argv[1])
    start = int(sys.argv[2])
    print("ready", flush=True)
    for i in range(start, start + 100000):
        req = Request.of([{"role": "user", "content": f"question {i}"}], Sampling())
        cache.put("m", req, Completion(f"answer {i} " + "x" * 20000, 10, 20))
        print(i, flush=True)
""")


def _request(i: int) -> Request:
    return Request.of([{"role": "user", "content": f"question {i}"}], Sampling())


def test_cache_survives_kill_9_mid_write(tmp_path):
    path = tmp_path / "cache" / "responses.sqlite"
    rng = random.Random(5)
    stored: list[int] = []
    start = 0
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(start)],
                                stdout=subprocess.PIPE, text=True)
        # Wait for the writer to open the cache (Python's start-up is slow on a loaded machine),
        # then let it write for a random window before the kill.
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.1, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        out = proc.stdout.read()     # not communicate(): it would skip what readline buffered
        proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        done = [int(x) for x in out.split()]
        stored.extend(done)
        start = (done[-1] + 1) if done else start
        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            db.close()
        cache = ResponseCache(path)
        try:
            for i in done:
                got = cache.get("m", _request(i))
                assert got is not None and got.text.startswith(f"answer {i} ")
                assert len(got.text) == len(f"answer {i} ") + 20000
            assert len(cache) >= len(stored)        # plus at most the one in flight
            assert len(cache) <= len(stored) + 1
        finally:
            cache.close()
    assert len(stored) >= 20, "the writer never got going: make the windows longer"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if extra.exists():
            assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0, extra
