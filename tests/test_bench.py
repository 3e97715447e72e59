"""bench: records, resume after kill -9 / a half-written line, config mismatch, Ctrl-C, CLI errors."""
import ast
import json
import os
import random
import signal
import subprocess
import sys
import time
from fractions import Fraction

import pytest
from click.testing import CliRunner

from mcts_reason.bench import Interrupted, SweepConfig, run_sweep
from mcts_reason.cli import cli
from mcts_reason.records import read_records
from mcts_reason.sets import read_set
from mcts_reason_puzzles.game24 import Game24

G = Game24()
BUDGETS, SEEDS = (1, 4, 16), (0, 1)


def _set_file(tmp_path, step=7):
    path = tmp_path / "set.txt"
    path.write_text("\n".join(G.instance_set("every")[::step]) + "\n")
    return str(path)


def _config(spec, algos=("mcts",), budgets=BUDGETS, seeds=SEEDS):
    s = read_set(G, spec)
    return s, SweepConfig.for_set("game24", s, algos=algos, budget_kind="simple",
                                  budgets=budgets, seeds=seeds,
                                  algo_options={"mcts": {"c": 1.5}})


def _stable(rec):
    """A record without what legitimately varies between runs (timings, memory)."""
    rec = json.loads(json.dumps(rec))
    for k in ("wall_seconds", "worker_max_rss_mib"):
        rec.pop(k)
    rec["usage"].pop("seconds")
    return rec


def _by_key(path):
    recs = read_records(path).records     # raises on duplicates: nothing counted twice
    return {(r["instance"], r["algo"], r["budget"], r["seed"]): _stable(r) for r in recs}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted inline run of the small sweep the tests below interrupt."""
    d = tmp_path_factory.mktemp("ref")
    spec = _set_file(d)
    s, cfg = _config(spec)
    out = d / "ref.jsonl"
    summary = run_sweep(cfg, s.instances, out, workers=1, progress=False)
    assert summary.ran == summary.total == len(s) * len(BUDGETS) * len(SEEDS)
    return spec, _by_key(out)


def _fraction_eval(expr):
    """Independent check of an answer: evaluate with Fractions over Python's own AST."""
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}
    leaves = []

    def ev(node):
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            leaves.append(node.value)
            return Fraction(node.value)
        raise AssertionError(f"unexpected {ast.dump(node)}")
    return ev(ast.parse(expr, mode="eval").body), sorted(leaves)


def test_records_hold_the_required_fields_and_verified_answers(reference):
    spec, ref = reference
    rec = next(iter(ref.values()))
    for field in ("instance", "algo", "budget", "seed", "solved", "answer", "usage", "versions",
                  "config", "budget_kind", "stop_reason"):
        assert field in rec
    assert rec["config"]["budgets"] == list(BUDGETS) and rec["config"]["seeds"] == list(SEEDS)
    assert set(rec["usage"]) >= {"simulations", "policy_calls", "value_calls", "model_calls",
                                 "prompt_tokens", "completion_tokens", "nodes", "faults"}
    solved = [r for r in ref.values() if r["solved"]]
    assert solved and len(solved) < len(ref)          # the small budgets do not solve everything
    for r in solved:
        lhs, rhs = r["answer"].split("=")
        value, leaves = _fraction_eval(lhs)
        assert value == 24 and int(rhs) == 24
        assert leaves == sorted(int(x) for x in r["instance"].split())
    for r in ref.values():
        assert r["caps"] == {"simulations": r["budget"]}       # "simple" budget of mcts
        assert r["usage"]["simulations"] <= r["budget"]
        if not r["solved"]:
            assert r["answer"] is None


def test_same_records_with_a_process_pool(reference, tmp_path):
    spec, ref = reference
    s, cfg = _config(spec)
    out = tmp_path / "pool.jsonl"
    run_sweep(cfg, s.instances, out, workers=2, progress=False)
    assert _by_key(out) == ref


def test_half_written_last_line_is_dropped_and_rerun(reference, tmp_path):
    spec, ref = reference
    s, cfg = _config(spec)
    out = tmp_path / "r.jsonl"
    run_sweep(cfg, s.instances, out, workers=1, progress=False)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:50]) + lines[50][: len(lines[50]) // 2])   # kill -9 mid-write
    summary = run_sweep(cfg, s.instances, out, workers=1, progress=False)
    assert summary.dropped_partial and summary.skipped == 50
    assert summary.ran == summary.total - 50
    assert _by_key(out) == ref
    assert os.stat(out).st_mode & 0o077 == 0        # results are user-only


def _bench_argv(spec, out, workers=2):
    return [sys.executable, "-m", "mcts_reason.cli", "bench", "game24", "--set", spec,
            "--budgets", ",".join(map(str, BUDGETS)), "--seeds", str(len(SEEDS)),
            "--workers", str(workers), "--out", str(out), "--no-progress"]


def _lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def _run_until(argv, path, target, sig, timeout=60):
    """Start bench in its own process group; when `path` holds `target` lines, send `sig` to
    the group (like kill -9 of the job, or Ctrl-C). Returns the process (finished)."""
    # A job started in the background by a non-interactive shell (as CI may start this suite)
    # inherits SIGINT ignored, and Python keeps it ignored; a terminal's Ctrl-C is what we mean.
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if _lines(path) >= target:
                os.killpg(proc.pid, sig)
                break
            time.sleep(0.002)
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc


def test_resume_after_kill_9_at_random_points(reference, tmp_path):
    spec, ref = reference
    out = tmp_path / "killed.jsonl"
    rng = random.Random(7)
    kills = 0
    for _ in range(3):
        target = _lines(out) + rng.randint(5, 60)
        proc = _run_until(_bench_argv(spec, out), out, target, signal.SIGKILL)
        kills += proc.returncode == -signal.SIGKILL
        assert len(read_records(out).records) <= len(ref)
    assert kills >= 2, "the sweep finished before it could be killed: make it bigger"
    done = subprocess.run(_bench_argv(spec, out), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _by_key(out) == ref            # same records, none lost, none doubled
    assert len(out.read_bytes().splitlines()) == len(ref)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_flushes_says_how_to_resume_and_exits_130(reference, tmp_path, sig, code):
    spec, ref = reference
    out = tmp_path / "int.jsonl"
    proc = _run_until(_bench_argv(spec, out), out, 30, sig)
    err = proc.stderr.read()
    assert proc.returncode == code, err
    assert "interrupted:" in err and "run the same command to resume" in err
    assert "Traceback" not in err
    contents = read_records(out)
    assert not contents.partial_tail and 30 <= len(contents.records) < len(ref)
    part = _by_key(out)
    assert all(part[k] == ref[k] for k in part)


def test_interrupted_library_call_keeps_what_it_wrote(reference, tmp_path):
    spec, ref = reference
    s, cfg = _config(spec)
    out = tmp_path / "lib.jsonl"
    seen = []

    def stop_after_ten(rec):
        seen.append(rec)
        if len(seen) == 10:
            raise KeyboardInterrupt
    with pytest.raises(Interrupted) as e:
        run_sweep(cfg, s.instances, out, workers=1, progress=False, on_record=stop_after_ten)
    assert e.value.summary.ran == 10 and len(read_records(out).records) == 10
    run_sweep(cfg, s.instances, out, workers=1, progress=False)
    assert _by_key(out) == ref


def test_different_configuration_is_refused(reference, tmp_path):
    spec, _ = reference
    out = tmp_path / "mix.jsonl"
    runner = CliRunner()
    args = ["bench", "game24", "--set", spec, "--seeds", "1", "--workers", "1", "--out", str(out),
            "--no-progress"]
    first = runner.invoke(cli, args + ["--budgets", "1,2"])
    assert first.exit_code == 0, first.output
    before = out.read_bytes()
    second = runner.invoke(cli, args + ["--budgets", "1,2,4"])
    assert second.exit_code == 2
    assert f"{out}:1: written by a different sweep configuration" in second.output
    assert "budgets" in second.output and "'--out'" in second.output
    assert out.read_bytes() == before


@pytest.mark.parametrize("extra,option,words", [
    (["--budgets", "8,x"], "'--budgets'", "whole numbers"),
    (["--budgets", "0"], "'--budgets'", "> 0"),
    (["--algos", "mcts,nope"], "'--algos'", "unknown algorithm 'nope'"),
    (["--seeds", "0"], "'--seeds'", "at least one seed"),
    (["--seeds", "a"], "'--seeds'", "count or a list"),
    (["--value", "psychic"], "'--value'", "unknown value"),
    (["--budget-kind", "calories"], "'--budget-kind'", "calories"),
    (["--workers", "0"], "'--workers'", "0"),
    (["--executor", "ray"], "'--ray-address'", "Ray cluster"),
    # a heuristic best-of-n spends no model call: such a budget would never stop it
    (["--algos", "mcts,best-of-n", "--budget-kind", "model_calls", "--budgets", "5"],
     "--budget-kind", "may never run out"),
    (["--algos", "best-of-n", "--budget-kind", "tokens", "--budgets", "50"],
     "--budget-kind", "a tokens budget"),
])
def test_bad_options_exit_2_naming_the_option(tmp_path, extra, option, words):
    spec = tmp_path / "s.txt"
    spec.write_text("1 1 4 6\n")
    res = CliRunner(env={"RAY_ADDRESS": None}).invoke(
        cli, ["bench", "game24", "--set", str(spec), "--out", str(tmp_path / "o.jsonl")] + extra)
    assert res.exit_code == 2, res.output
    assert option in res.output and words in res.output
    assert "Traceback" not in res.output and not (tmp_path / "o.jsonl").exists()


def test_bad_set_file_exit_2_naming_file_and_line(tmp_path):
    spec = tmp_path / "s.txt"
    spec.write_text("1 1 4 6\n1 1 4 66\n")
    res = CliRunner().invoke(cli, ["bench", "game24", "--set", str(spec), "--out",
                                   str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2
    assert f"{spec}:2:" in res.output and "'--set'" in res.output
    assert not (tmp_path / "o.jsonl").exists()


def test_another_bench_on_the_same_file_is_refused(reference, tmp_path):
    from mcts_reason.records import ResultsFile
    out = tmp_path / "locked.jsonl"
    with ResultsFile(out):
        with pytest.raises(ValueError, match="in use by another running bench"):
            ResultsFile(out)


def test_trees_are_handed_to_the_tree_viewer(tmp_path, monkeypatch):
    """--trees calls `mcts_reason.viz.write_tree(result, puzzle, path, meta=)` once per run (a
    stand-in viewer here, so the hook is tested whether or not the real one is installed); `meta`
    is the run's provenance (budget, seed, policy, value, version) for `mcts-reason traces`."""
    import types
    written = []
    fake = types.ModuleType("mcts_reason.viz")
    fake.write_tree = lambda result, puzzle, path, meta=None: written.append(
        (result.instance, result.root is not None, puzzle.name, os.path.basename(path)))
    monkeypatch.setitem(sys.modules, "mcts_reason.viz", fake)
    spec = tmp_path / "s.txt"
    spec.write_text("1 1 4 6\n4 9 10 13\n")
    s, cfg = _config(str(spec), budgets=(2,), seeds=(0,))
    run_sweep(cfg, s.instances, tmp_path / "o.jsonl", workers=1, progress=False,
              trees=str(tmp_path / "trees"))
    assert written == [("1 1 4 6", True, "game24", "1_1_4_6__mcts__b2__s0.html"),
                       ("4 9 10 13", True, "game24", "4_9_10_13__mcts__b2__s0.html")]
    from mcts_reason.bench import tree_meta
    assert tree_meta(cfg, 2, 0) == {
        "budget": "simple=2", "seed": 0, "policy": "heuristic", "value": "heuristic",
        "version": __import__("mcts_reason").__version__}


def test_trees_with_the_real_viewer(tmp_path):
    viz = pytest.importorskip("mcts_reason.viz", reason="the tree viewer is not installed")
    spec = tmp_path / "s.txt"
    spec.write_text("4 9 10 13\n")
    res = CliRunner().invoke(cli, ["bench", "game24", "--set", str(spec), "--budgets", "8",
                                   "--workers", "1", "--out", str(tmp_path / "o.jsonl"),
                                   "--trees", str(tmp_path / "t"), "--tree-format", "json",
                                   "--no-progress"])
    assert res.exit_code == 0, res.output
    graph = viz.read_tree(tmp_path / "t" / "4_9_10_13__mcts__b8__s0.json")
    rec = read_records(tmp_path / "o.jsonl").records[0]
    assert 1 < graph.number_of_nodes() <= rec["usage"]["nodes"]


def test_workers_do_not_outlive_a_killed_bench(reference, tmp_path):
    """kill -9 of the bench process alone (not its group): its pool workers exit by themselves."""
    spec, _ = reference
    out = tmp_path / "orphans.jsonl"
    proc = subprocess.Popen(_bench_argv(spec, out), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _lines(out) < 10 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        alive = True
        while alive and time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)     # anyone left in the bench's process group?
                time.sleep(0.1)
            except ProcessLookupError:
                alive = False
        assert not alive, "pool workers survived their parent"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_resume_with_the_same_set_spelled_otherwise(tmp_path):
    (tmp_path / "a").mkdir()
    spec = tmp_path / "a" / "s.txt"
    spec.write_text("1 1 4 6\n4 9 10 13\n")
    out = tmp_path / "o.jsonl"
    s, cfg = _config(str(spec), budgets=(2, 8), seeds=(0,))
    with pytest.raises(Interrupted):
        run_sweep(cfg, s.instances, out, workers=1, progress=False,
                  on_record=lambda r: (_ for _ in ()).throw(KeyboardInterrupt))
    other = str(tmp_path / "a" / ".." / "a" / "s.txt")
    s2, cfg2 = _config(other, budgets=(2, 8), seeds=(0,))
    run_sweep(cfg2, s2.instances, out, workers=1, progress=False)
    recs = read_records(out).records
    assert len(recs) == 4 and {r["set"] for r in recs} == {str(spec)}


def test_plan_metrics_are_recorded_for_puzzles_that_have_them(tmp_path):
    """Sliding tiles report plan length, optimum and gap; the record carries them and the
    report shows the mean gap. The optimum is checked with an independent BFS here."""
    from collections import deque

    from mcts_reason.registry import load
    sliding = load("sliding")
    boards = sliding.instance_set("easy8")[:3]
    spec = tmp_path / "s.txt"
    spec.write_text("\n".join(boards) + "\n")
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(cli, ["bench", "sliding", "--set", str(spec), "--budgets", "400",
                                   "--workers", "1", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "mean gap (solved)" in res.output

    def bfs(board):
        start, goal = tuple(map(int, board.split())), tuple(list(range(1, 9)) + [0])
        seen, q = {start: 0}, deque([start])
        while q:
            s = q.popleft()
            if s == goal:
                return seen[s]
            z = s.index(0)
            for d in (-3, 3, -1, 1):
                t = z + d
                if 0 <= t < 9 and not (d in (-1, 1) and t // 3 != z // 3):
                    n = list(s)
                    n[z], n[t] = n[t], n[z]
                    n = tuple(n)
                    if n not in seen:
                        seen[n] = seen[s] + 1
                        q.append(n)

    solved = [r for r in read_records(out).records if r["solved"]]
    assert solved
    for r in solved:
        m = r["metrics"]
        assert m["optimal"] == bfs(r["instance"]) and m["length"] == len(r["steps"])
        assert m["gap"] == m["length"] - m["optimal"] >= 0
