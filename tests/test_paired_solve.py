"""benchmarks/paired_solve.py on two real bench results files: the counts, the sign test and
the instance-clustered difference against an independent computation (scipy, numpy)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

ROOT = Path(__file__).resolve().parent.parent
EXE = str(Path(sys.executable).with_name("mcts-reason"))
BOARDS = ["1 2 3 4 5 6 0 7 8", "1 2 3 4 0 6 7 5 8", "4 1 3 7 2 6 0 5 8", "1 2 3 0 4 6 7 5 8",
          "2 0 3 1 5 6 4 7 8", "1 2 3 5 0 6 4 7 8", "0 1 3 4 2 5 7 8 6", "1 3 6 4 2 0 7 5 8"]


def _bench(tmp: Path, name: str, policy: str, value: str) -> Path:
    out = tmp / f"{name}.jsonl"
    subprocess.run([EXE, "bench", "sliding", "--set", str(tmp / "boards.txt"), "--algos", "mcts",
                    "--budgets", "6", "--seeds", "3", "--policy", policy, "--value", value,
                    "--workers", "1", "--out", str(out)], check=True, capture_output=True)
    return out


def test_paired_figures_match_an_independent_count(tmp_path):
    (tmp_path / "boards.txt").write_text("\n".join(BOARDS) + "\n")
    a = _bench(tmp_path, "a", "heuristic", "heuristic")
    b = _bench(tmp_path, "b", "uniform", "rollout")
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "paired_solve.py"),
                          str(a), str(b)], capture_output=True, text=True, check=True)
    rec = {}
    for name, path in (("a", a), ("b", b)):
        for line in path.open():
            r = json.loads(line)
            rec[(name, r["instance"], r["seed"])] = bool(r["solved"])
    pairs = [(i, s) for (n, i, s) in rec if n == "a"]
    assert len(pairs) == 3 * len(BOARDS)
    ka = sum(rec[("a", *p)] for p in pairs)
    kb = sum(rec[("b", *p)] for p in pairs)
    only_a = sum(rec[("a", *p)] and not rec[("b", *p)] for p in pairs)
    only_b = sum(rec[("b", *p)] and not rec[("a", *p)] for p in pairs)
    assert f"mcts {ka}/{len(pairs)}" in res.stdout and f"mcts {kb}/{len(pairs)}" in res.stdout
    assert f"only A: {only_a}, only B: {only_b}" in res.stdout
    per = np.array([np.mean([rec[("a", i, s)] - rec[("b", i, s)] for s in range(3)])
                    for i in BOARDS])
    more_a, more_b = int((per > 0).sum()), int((per < 0).sum())
    assert more_a + more_b > 0
    assert f"A solved more seeds: {more_a}, B: {more_b}," in res.stdout
    p = float(re.search(r"sign test p = (\S+)", res.stdout)[1])
    ref = binomtest(more_a, more_a + more_b).pvalue
    assert abs(p - ref) <= 5e-3 * ref           # printed to 3 significant digits
    lo, hi = per.mean() - 1.96 * per.std(ddof=1) / np.sqrt(len(per)), \
        per.mean() + 1.96 * per.std(ddof=1) / np.sqrt(len(per))
    assert f"A - B: {100 * per.mean():+.1f} points, 95% CI [{100 * lo:+.1f}, {100 * hi:+.1f}]" \
        in res.stdout


def test_files_with_other_pairs_exit_2(tmp_path):
    (tmp_path / "boards.txt").write_text("\n".join(BOARDS) + "\n")
    a = _bench(tmp_path, "a", "heuristic", "heuristic")
    (tmp_path / "boards.txt").write_text("\n".join(BOARDS[:3]) + "\n")
    b = _bench(tmp_path, "b", "heuristic", "heuristic")
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "paired_solve.py"),
                          str(a), str(b)], capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.startswith("error:")
    assert "Traceback" not in res.stderr
