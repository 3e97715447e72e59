"""Reliability figures: `mcts-reason solve` (and `bench`) through >= 1000 requests to a model
server that injects a fault into 30% of them.

    python benchmarks/reliability_faults.py [--requests 1000] [--rate 0.3] [--seed 2024]

The server is tests/fault_server.py (127.0.0.1, seeded schedule); its normal answers come from
the independent Game of 24 reference tests/game24_oracle.py. Each solve is a real CLI process
with a planted API key. Printed: requests, faults injected and counted by kind, exit codes,
crashes (a traceback or an exit code other than 0/1), answers verified independently, key leaks,
and for bench the records written against those expected (records lost).

Then the hostile modes of issue 12 (`--hostile-runs` solves per mode, each mode on every
request): trickled body and headers, a server that never answers, a lone surrogate, deeply
nested JSON, a gzip bomb, a redirect loop, 400 context length. Printed per mode: exit codes,
crashes (a traceback, or an exit code outside 0/1/3), cap overruns (a search past --max-seconds
+ 1 s), the command's wall time beside that of the same solve through a healthy server (the
difference is what the hostile server cost beyond start-up), what the client counted; then a
bench through a mix of them, interrupted with SIGINT and resumed (records lost), with
credentials in --base-url (credential leaks).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
import tempfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fault_server import HOSTILE, HOSTILE_COUNTED, FaultServer  # noqa: E402
from reliability_helpers import fraction_value, oracle_answer  # noqa: E402

KEY = "sk-PLANTED-bench-5b1d-DO-NOT-LEAK"
SERVER_TO_CLIENT = {"delay": "timeout", "rate_limited": "rate_limited", "http_500": "http_500",
                    "http_502": "http_502", "http_503": "http_503", "not_json": "malformed",
                    "truncated_json": "malformed", "close": "connection",
                    "empty_content": "empty_answer", "huge_content": "oversized_answer"}


def run(args, tmp: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "xdg"), OPENAI_API_KEY=KEY)
    return subprocess.run([sys.executable, "-m", "mcts_reason.cli", *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=600)


def leaks(tmp: Path, *texts: str) -> int:
    n = sum(KEY in t for t in texts)
    for p in tmp.rglob("*"):
        if p.is_file() and KEY.encode() in p.read_bytes():
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--timeout", type=float, default=0.2)
    ap.add_argument("--hostile-runs", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=3.0)
    ap.add_argument("--only-hostile", action="store_true",
                    help="skip the 1000-request part (for a quick pass over the new modes)")
    a = ap.parse_args()
    if a.only_hostile:
        print(f"# reliability_faults --only-hostile: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} "
              f"UTC, {platform.machine()} {os.cpu_count()} cores, Python "
              f"{platform.python_version()}")
        hostile(a)
        return
    from mcts_reason_puzzles.game24 import Game24
    instances = Game24().instance_set("every")[::13]
    tmp = Path(tempfile.mkdtemp(prefix="reliability-"))
    t0 = time.monotonic()
    codes, counted, crashes, verified, solved, key_leaks = Counter(), Counter(), 0, 0, 0, 0
    calls = 0
    with FaultServer(oracle_answer, fault_rate=a.rate, seed=a.seed, delay=2 * a.timeout,
                     retry_after="0", retry_after_5xx="0", huge_chars=100_000) as srv:
        i = 0
        while srv.count < a.requests:
            inst = instances[i % len(instances)]
            res = run(["solve", "game24", inst, "--policy", "llm", "--value", "llm",
                       "--base-url", srv.base_url, "--model", "oracle", "--timeout",
                       str(a.timeout), "--retries", "3", "--budget", "30", "--seed", str(i),
                       "--no-cache", "--json"], tmp)
            codes[res.returncode] += 1
            if res.returncode not in (0, 1) or "Traceback" in res.stderr:
                crashes += 1
            else:
                out = json.loads(res.stdout)
                counted.update(out["usage"]["faults"])
                calls += out["usage"]["model_calls"]
                if out["solved"]:
                    solved += 1
                    value, leaves = fraction_value(out["answer"])
                    verified += value == 24 and leaves == sorted(map(int, inst.split()))
            key_leaks += leaks(tmp, res.stdout, res.stderr)
            i += 1
        injected = srv.kinds()
        requests = srv.count
        solve_seconds = time.monotonic() - t0
        # bench: 10 instances x budgets 4,16 x seeds 0,1 = 40 records, 2 workers, shared cache;
        # killed with SIGKILL once 10 records are in, then resumed
        t1 = time.monotonic()
        spec = tmp / "set.txt"
        spec.write_text("\n".join(instances[1:11]) + "\n")
        out = tmp / "bench.jsonl"
        bench = ["bench", "game24", "--set", str(spec), "--algos", "mcts", "--budgets", "4,16",
                 "--seeds", "2", "--policy", "llm", "--value", "llm", "--base-url",
                 srv.base_url, "--model", "oracle", "--timeout", str(a.timeout), "--retries",
                 "3", "--cache", str(tmp / "cache.sqlite"), "--out", str(out), "--workers", "2",
                 "--no-progress"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        env.update(HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "xdg"), OPENAI_API_KEY=KEY)
        proc = subprocess.Popen([sys.executable, "-m", "mcts_reason.cli", *bench], cwd=tmp,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        while proc.poll() is None and (not out.exists() or
                                       out.read_bytes().count(b"\n") < 10):
            time.sleep(0.01)
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        k_out, k_err = proc.communicate()
        resumed = run(bench, tmp)
        from mcts_reason.records import read_records
        recs = read_records(out).records
        bench_faults = Counter()
        for r in recs:
            bench_faults.update(r["usage"]["faults"])
        bench_requests = srv.count - requests
        bench_seconds = time.monotonic() - t1
        key_leaks += leaks(tmp, k_out, k_err, resumed.stdout, resumed.stderr)
        bench_crashes = int(resumed.returncode != 0 or "Traceback" in resumed.stderr + k_err)
    seconds = solve_seconds
    expected = Counter()
    for k, v in injected.items():
        if k in SERVER_TO_CLIENT:
            expected[SERVER_TO_CLIENT[k]] += v
    print(f"# reliability_faults: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"command: python benchmarks/reliability_faults.py --requests {a.requests} "
          f"--rate {a.rate} --seed {a.seed} --timeout {a.timeout}")
    print(f"solve runs: {i}; exit codes: {dict(sorted(codes.items()))}; crashes: {crashes}; "
          f"solved: {solved}, verified independently: {verified}; key leaks: {key_leaks}")
    print(f"requests to the server: {requests}; model calls charged: {calls}; "
          f"faulty: {requests - injected['ok']} ({(requests - injected['ok']) / requests:.1%}); "
          f"wall: {seconds:.0f}s")
    print("| fault injected | times | counted as | times counted |")
    print("|---|---|---|---|")
    for k in sorted(k for k in injected if k != "ok"):
        target = SERVER_TO_CLIENT.get(k, "invalid_proposals / unjudged")
        print(f"| {k} | {injected[k]} | {target} | "
              f"{counted[target] if k in SERVER_TO_CLIENT else '-'} |")
    print(f"gave_up (all attempts failed): {counted['gave_up']}; unjudged: {counted['unjudged']}; "
          f"over_reservation: {counted['over_reservation']}")
    mismatched = {k: (expected[k], counted[k]) for k in expected if expected[k] != counted[k]}
    print(f"injected vs counted mismatches: {mismatched or 'none'}")
    print(f"bench: killed (exit {proc.returncode}) after {10} records, resumed (exit "
          f"{resumed.returncode}); records {len(recs)} of 40 expected, lost {40 - len(recs)}; "
          f"crashes {bench_crashes}; requests {bench_requests}; faults counted in records "
          f"{dict(sorted(bench_faults.items()))}; wall {bench_seconds:.0f}s")
    print(f"API key leaks (every file written, everything printed): {key_leaks}")
    hostile(a)


SEARCH_SLACK = 1.0
URL_SECRET = "sk-URLSECRET-bench-31c2"


def hostile(a) -> None:
    """Issue 12's modes: per mode, solves with every request hostile; then a bench through a
    mix, SIGINT, resume."""
    import signal
    tmp = Path(tempfile.mkdtemp(prefix="reliability-hostile-"))
    from mcts_reason_puzzles.game24 import Game24
    instances = Game24().instance_set("every")[::13]
    def solve(url: str, i: int) -> tuple[subprocess.CompletedProcess, float]:
        t0 = time.monotonic()
        res = run(["solve", "game24", instances[i], "--policy", "llm", "--value", "llm",
                   "--base-url", url, "--model", "m", "--timeout", "1", "--retries", "2",
                   "--budget", "30", "--seed", str(i), "--no-cache", "--max-seconds",
                   str(a.max_seconds), "--json"], tmp)
        return res, time.monotonic() - t0

    print(f"\n## hostile modes: --timeout 1 --max-seconds {a.max_seconds}, "
          f"{a.hostile_runs} solves per mode")
    print("| mode | solves | exit codes | crashes | search over cap + 1 s | max search s | "
          "max command s | healthy command s | counted as | times |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    total_crashes = total_over = 0
    for mode in HOSTILE:
        codes, crashes, over, worst, worst_wall, counted = Counter(), 0, 0, 0.0, 0.0, 0
        with FaultServer(oracle_answer, fault_rate=0.0) as healthy:
            healthy_wall = max(solve(healthy.base_url, i)[1] for i in range(1))
        with FaultServer(oracle_answer, fault_rate=1.0, faults=(mode,), trickle=0.2) as srv:
            for i in range(a.hostile_runs):
                res, wall = solve(srv.base_url, i)
                codes[res.returncode] += 1
                crash = res.returncode not in (0, 1, 3) or "Traceback" in res.stderr
                crashes += crash
                if not crash:
                    out = json.loads(res.stdout)
                    worst = max(worst, out["usage"]["seconds"])
                    counted += out["usage"]["faults"].get(HOSTILE_COUNTED[mode], 0)
                    over += out["usage"]["seconds"] > a.max_seconds + SEARCH_SLACK
                worst_wall = max(worst_wall, wall)
        total_crashes += crashes
        total_over += over
        print(f"| {mode} | {a.hostile_runs} | {dict(sorted(codes.items()))} | {crashes} | "
              f"{over} | {worst:.2f} | {worst_wall:.1f} | {healthy_wall:.1f} | "
              f"{HOSTILE_COUNTED[mode]} | {counted} |")
    # bench through a mix: 30% of requests hostile, credentials in the URL, SIGINT, resume
    spec = tmp / "set.txt"
    spec.write_text("\n".join(instances[1:9]) + "\n")
    out_path = tmp / "bench.jsonl"
    mix = tuple(m for m in HOSTILE if m != "context_length")
    with FaultServer(oracle_answer, fault_rate=0.3, seed=5, faults=mix, trickle=0.2) as srv:
        url = f"http://user:{URL_SECRET}@127.0.0.1:{srv.port}/v1"
        bench = ["bench", "game24", "--set", str(spec), "--algos", "mcts", "--budgets", "8,16",
                 "--seeds", "2", "--policy", "llm", "--value", "llm", "--base-url", url,
                 "--model", "m", "--timeout", "0.5", "--retries", "2", "--concurrency", "4",
                 "--cache", str(tmp / "cache.sqlite"), "--out", str(out_path), "--workers", "1",
                 "--no-progress"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        env.update(HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "xdg"), OPENAI_API_KEY=KEY)
        proc = subprocess.Popen([sys.executable, "-m", "mcts_reason.cli", *bench], cwd=tmp,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                           signal.SIG_DFL))
        while proc.poll() is None and (not out_path.exists() or
                                       out_path.read_bytes().count(b"\n") < 8):
            time.sleep(0.05)
        t_int = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        i_out, i_err = proc.communicate()
        stop_s = time.monotonic() - t_int
        resumed = run(bench, tmp)
    from mcts_reason.records import read_records
    recs = read_records(out_path).records
    leaks = sum(URL_SECRET in t for t in (i_out, i_err, resumed.stdout, resumed.stderr))
    leaks += sum(1 for p in tmp.rglob("*") if p.is_file() and URL_SECRET.encode() in p.read_bytes())
    key_leaks = sum(KEY in t for t in (i_out, i_err, resumed.stdout, resumed.stderr))
    b_crash = int("Traceback" in i_err + resumed.stderr or resumed.returncode not in (0, 3))
    faults = Counter()
    for r in recs:
        faults.update(r["usage"]["faults"])
    print(f"\nbench through a 30% mix of {', '.join(mix)}: SIGINT (exit {proc.returncode}, "
          f"stopped {stop_s:.1f}s after the signal), resumed (exit {resumed.returncode}); "
          f"records {len(recs)} of 32 expected, lost {32 - len(recs)}; crashes {b_crash}; "
          f"credential leaks (URL secret and key, every file and output): {leaks + key_leaks}; "
          f"faults in records {dict(sorted(faults.items()))}")
    print(f"hostile totals: crashes {total_crashes + b_crash}, cap overruns beyond the slack "
          f"{total_over}, lost records {32 - len(recs)}")


if __name__ == "__main__":
    main()
