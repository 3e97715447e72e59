"""Interruption gaps not covered by test_bench.py (issue 7).

test_bench.py kills `bench` when the results file reaches a line count. Here the kills come at
random *times* (so some land during start-up, before any record, or while workers are busy), and
the sequence ends with a Ctrl-C and a plain rerun, which must produce exactly the records of an
uninterrupted run: none lost, none doubled.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

from mcts_reason.bench import SweepConfig, run_sweep
from mcts_reason.records import read_records
from mcts_reason.sets import read_set
from mcts_reason_puzzles.game24 import Game24

BUDGETS, SEEDS = (1, 4, 16), 2


def _stable(path) -> dict:
    out = {}
    for rec in read_records(path).records:      # raises on a duplicate key
        rec = json.loads(json.dumps(rec))
        rec.pop("wall_seconds"), rec.pop("worker_max_rss_mib"), rec["usage"].pop("seconds")
        out[(rec["instance"], rec["algo"], rec["budget"], rec["seed"])] = rec
    return out


def _argv(spec, out):
    return [sys.executable, "-m", "mcts_reason.cli", "bench", "game24", "--set", spec,
            "--budgets", ",".join(map(str, BUDGETS)), "--seeds", str(SEEDS), "--workers", "2",
            "--out", str(out), "--no-progress"]


def _default_sigint() -> None:
    """A suite started as a background job by a non-interactive shell passes SIGINT on ignored
    (and Python keeps it so); a terminal's Ctrl-C is what these tests mean."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _kill_after(argv, seconds, sig):
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, err


def _lines(path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _interrupt_after_records(argv, out, extra_delay):
    """SIGINT to the process group once `out` has grown by a record, plus `extra_delay` s."""
    before = _lines(out)
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60
    while proc.poll() is None and _lines(out) <= before and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(extra_delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_ctrl_c_while_the_report_is_made_exits_130_not_aborted(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mcts_reason import bench_cli
    from mcts_reason.cli import cli

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(bench_cli, "_report", interrupted)
    spec = tmp_path / "s.txt"
    spec.write_text("1 1 4 6\n")
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(cli, ["bench", "game24", "--set", str(spec), "--out", str(out),
                                   "--budgets", "2", "--workers", "1", "--no-progress"])
    assert res.exit_code == 130, res.output
    assert "Aborted" not in res.output and "run the same command to resume" in res.output
    assert len(read_records(out).records) == 1


def test_kills_at_random_times_then_ctrl_c_then_rerun_gives_the_uninterrupted_records(tmp_path):
    g = Game24()
    spec = tmp_path / "set.txt"
    spec.write_text("\n".join(g.instance_set("every")[::15]) + "\n")
    s = read_set(g, str(spec))
    cfg = SweepConfig.for_set("game24", s, algos=("mcts",), budget_kind="simple",
                              budgets=BUDGETS, seeds=tuple(range(SEEDS)),
                              algo_options={"mcts": {"c": 1.5}})
    ref_path = tmp_path / "ref.jsonl"
    run_sweep(cfg, s.instances, ref_path, workers=1, progress=False)
    ref = _stable(ref_path)

    out = tmp_path / "out.jsonl"
    rng = random.Random(11)
    # Ctrl-C once a record has landed: flushes, says how to resume, exits 130, no traceback
    code, err = _interrupt_after_records(_argv(str(spec), out), out, rng.uniform(0, 0.2))
    assert code == 130 and "run the same command to resume" in err, err
    assert "Traceback" not in err, err
    assert 1 <= len(read_records(out).records) < len(ref)
    # then kill -9 at random times: some during start-up, some while workers write
    outcomes = []
    for delay in [0.05] + [rng.uniform(0.2, 0.9) for _ in range(4)]:
        code, _ = _kill_after(_argv(str(spec), out), delay, signal.SIGKILL)
        outcomes.append(code)
        assert len(read_records(out).records) <= len(ref)
    assert outcomes.count(-signal.SIGKILL) >= 3, outcomes
    t0 = time.monotonic()
    done = subprocess.run(_argv(str(spec), out), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _stable(out) == ref
    assert len(out.read_bytes().splitlines()) == len(ref)
    assert time.monotonic() - t0 < 60
