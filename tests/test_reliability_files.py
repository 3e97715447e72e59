"""Files `bench` and `report` must not harm (issue 12, items 1, 2, 4 and the file cases of 7).

A command changes a file only once it knows the file is its own: a results file, or a PNG for
the plot. Everything else -- the results file itself as the plot, a text or JSON file as --out,
devices, a read-only filesystem, a full disk -- is one line and exit 2 or 3, the file untouched,
no traceback. Disk full and read-only use a real small tmpfs in a private mount namespace
(tests/fs_helpers.py), or a file-size rlimit where namespaces are refused.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fs_helpers import limited_file_size, mount_problem, run_in_mount

from mcts_reason.records import read_records
from mcts_reason_puzzles.game24 import Game24

SET = ["1 1 4 6", "4 9 10 13", "1 2 3 4", "2 2 6 6"]


def cli(tmp: Path, *args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcts_reason.cli", *args], cwd=tmp,
                          capture_output=True, text=True, timeout=timeout, **kw)


def bench_args(tmp: Path, out: str, *extra: str, n: int = 1) -> list[str]:
    spec = tmp / "set.txt"
    spec.write_text("\n".join(SET[:n]) + "\n")
    return ["bench", "game24", "--set", str(spec), "--budgets", "2", "--workers", "1",
            "--no-progress", "--out", out, *extra]


def one_line_error(res: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert res.returncode == code, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.lower().startswith("error")]
    assert len(errors) == 1, res.stderr
    for w in words:
        assert w in errors[0], errors[0]


def test_out_ending_in_png_keeps_every_record_and_plots_beside_it(tmp_path):
    res = cli(tmp_path, *bench_args(tmp_path, "r.png", n=3))
    assert res.returncode == 0, res.stderr
    assert len(read_records(tmp_path / "r.png").records) == 3          # not replaced by a PNG
    assert (tmp_path / "r.plot.png").read_bytes()[:4] == b"\x89PNG"
    res = cli(tmp_path, "report", "r.png")                              # report: same default
    assert res.returncode == 0 and len(read_records(tmp_path / "r.png").records) == 3


@pytest.mark.parametrize("command", ["bench", "report"])
def test_plot_onto_the_results_file_or_a_foreign_file_is_refused(tmp_path, command):
    assert cli(tmp_path, *bench_args(tmp_path, "r.jsonl")).returncode == 0
    before = (tmp_path / "r.jsonl").read_bytes()
    (tmp_path / "notes.txt").write_text("mine\n")
    for target, word in (("r.jsonl", "is the results file"), ("notes.txt", "not a PNG")):
        args = bench_args(tmp_path, "r.jsonl", "--plot", target) if command == "bench" else \
            ["report", "r.jsonl", "--plot", target]
        one_line_error(cli(tmp_path, *args), 2, "--plot", word)
    assert (tmp_path / "r.jsonl").read_bytes() == before
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize("content", [b"line one\nlast line without newline",
                                     b'{"notes": "precious"}', b'{"notes": "precious"}\n',
                                     b"precious\n"])
def test_an_out_file_that_is_not_a_results_file_is_refused_untouched(tmp_path, content):
    (tmp_path / "mine.txt").write_bytes(content)
    one_line_error(cli(tmp_path, *bench_args(tmp_path, "mine.txt")), 2, "--out")
    assert (tmp_path / "mine.txt").read_bytes() == content


@pytest.mark.parametrize("device", ["/dev/full", "/dev/zero", "/dev/null"])
def test_devices_are_refused_at_once(tmp_path, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    one_line_error(cli(tmp_path, *bench_args(tmp_path, device), timeout=30), 2,
                   "--out", "not a regular file")
    one_line_error(cli(tmp_path, "report", device, timeout=30), 2, "not a regular file")
    one_line_error(cli(tmp_path, *bench_args(tmp_path, "r.jsonl", "--trees", device),
                       timeout=30), 2, "--trees")


def test_a_results_file_with_an_endless_line_is_refused_with_bounded_memory(tmp_path):
    from mcts_reason import records
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as f:        # one "line" past the bound: refused, never held whole
        f.truncate(records.MAX_LINE_BYTES + 10)
    with pytest.raises(records.NotResultsFile, match="longer than"):
        records.read_records(big)


def test_a_missing_plot_folder_is_refused_before_the_sweep(tmp_path):
    res = cli(tmp_path, *bench_args(tmp_path, "r.jsonl", "--plot", "/nonexistent/dir/p.png"))
    one_line_error(res, 2, "--plot", "does not exist")
    assert not (tmp_path / "r.jsonl").exists()          # nothing ran, nothing was left behind


def _sweep_on_full_disk_checks(res, records_path: Path, n: int) -> None:
    one_line_error(res, 3, "resume")
    recs = read_records(records_path)            # every line complete, none half-written
    assert 1 <= len(recs.records) < n and not recs.partial_tail


def test_disk_full_during_bench_on_a_small_tmpfs(tmp_path):
    problem = mount_problem()
    if problem:
        pytest.skip(problem)
    n = len(Game24().instance_set("every")[:60])
    spec = tmp_path / "set.txt"
    spec.write_text("\n".join(Game24().instance_set("every")[:60]) + "\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (f'"$PY" -m mcts_reason.cli bench game24 --set {spec} --budgets 2 --workers 1 '
              f'--no-progress --out r.jsonl --plot {tmp_path}/p.png; echo "rc=$?" >&2; '
              f'cp r.jsonl {tmp_path}/r.jsonl')
    res = run_in_mount(script, str(mnt), size="24k", env={"PYTHONPATH": os.getcwd()})
    rc = int(res.stderr.rsplit("rc=", 1)[1].split()[0])
    res = subprocess.CompletedProcess(res.args, rc, res.stdout, res.stderr.rsplit("rc=", 1)[0])
    _sweep_on_full_disk_checks(res, tmp_path / "r.jsonl", n)
    # the plot on a full disk: one line, exit 3, no partial PNG left
    script = (f'"$PY" -m mcts_reason.cli bench game24 --set {spec} --budgets 2 --workers 1 '
              f'--no-progress --out {tmp_path}/full.jsonl --plot p.png')
    res = run_in_mount(f'head -c 4096 /dev/zero > fill 2>/dev/null; {script}', str(mnt),
                       size="4k")
    one_line_error(res, 3, "plot")


def test_disk_full_during_bench_by_file_size_limit(tmp_path):
    """The same through RLIMIT_FSIZE (EFBIG): runs wherever namespaces are refused, too."""
    spec = tmp_path / "set.txt"
    insts = Game24().instance_set("every")[:60]
    spec.write_text("\n".join(insts) + "\n")
    args = ["bench", "game24", "--set", str(spec), "--budgets", "2", "--workers", "1",
            "--no-progress", "--out", "r.jsonl", "--plot", "p.png"]
    res = cli(tmp_path, *args, preexec_fn=limited_file_size(12_000))
    _sweep_on_full_disk_checks(res, tmp_path / "r.jsonl", len(insts))
    res = cli(tmp_path, *args)                       # room again: the rerun resumes and ends
    assert res.returncode == 0, res.stderr
    assert len(read_records(tmp_path / "r.jsonl").records) == len(insts)


def test_a_new_out_on_a_read_only_filesystem(tmp_path):
    problem = mount_problem()
    if problem:
        pytest.skip(problem)
    spec = tmp_path / "set.txt"
    spec.write_text("1 1 4 6\n")
    mnt = tmp_path / "ro"
    mnt.mkdir()
    script = (f'"$PY" -m mcts_reason.cli bench game24 --set {spec} --budgets 2 --workers 1 '
              f'--no-progress --out r.jsonl --plot {tmp_path}/p.png')
    res = run_in_mount(script, str(mnt), read_only=True, env={"PYTHONPATH": os.getcwd()})
    one_line_error(res, 2, "--out", "Read-only file system")


def test_a_set_of_deeply_nested_json_is_one_line(tmp_path):
    (tmp_path / "s.jsonl").write_text("[" * 200_000 + "]" * 200_000 + "\n")
    res = cli(tmp_path, "bench", "game24", "--set", "s.jsonl", "--budgets", "2", "--out",
              "r.jsonl", "--workers", "1")
    one_line_error(res, 2, "--set")
    nested = tmp_path / "nested.jsonl"               # a results file: the same, not a traceback
    nested.write_text(json.dumps({"algo": "x"})[:-1] + ', "z": ' + "[" * 200_000 +
                      "]" * 200_000 + "}\n")
    one_line_error(cli(tmp_path, "report", "nested.jsonl"), 2, "not JSON")
