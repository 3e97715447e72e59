"""benchmarks/sliding_heldout.py: the pool of boards a 12-move scramble reaches, and a drawn
set that avoids the excluded boards."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from mcts_reason.registry import load

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from sliding_heldout import whole_pool  # noqa: E402

# 8-puzzle positions at each distance 0..12 from the goal (the published breadth-first counts,
# OEIS A089473); a 12-move scramble ends at an even distance
AT_DISTANCE = [1, 2, 4, 8, 16, 20, 39, 62, 116, 152, 286, 396, 748]


def test_the_pool_is_every_board_a_scramble_can_reach():
    p = load("sliding")
    pool = whole_pool(p, 12)
    assert len(pool) == len(set(pool)) == sum(AT_DISTANCE[2::2])
    drawn = p.generate(400, rng=np.random.default_rng(5), width=3, depth=12)
    assert set(drawn) <= set(pool)


def test_a_drawn_set_avoids_the_excluded_boards(tmp_path):
    p = load("sliding")
    excluded = list(dict.fromkeys(p.generate(300, rng=np.random.default_rng(1), width=3,
                                             depth=12)))
    (tmp_path / "ex.txt").write_text("\n".join(excluded) + "\n")
    out = tmp_path / "held.txt"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sliding_heldout.py"), "--count",
                    "150", "--seed", "3", "--exclude", "easy8", "--exclude",
                    str(tmp_path / "ex.txt"), "--out", str(out)], check=True, capture_output=True)
    boards = out.read_text().split("\n")[:-1]
    assert len(boards) == len(set(boards)) == 150
    assert not set(boards) & (set(excluded) | set(p.instance_set("easy8")))
    too_many = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sliding_heldout.py"),
                               "--count", "1300", "--patience", "2000",
                               "--out", str(tmp_path / "x.txt")],
                              capture_output=True, text=True)
    assert too_many.returncode == 2 and too_many.stderr.startswith("error:")
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sliding_heldout.py"),
                          "--exclude", str(tmp_path / "none.txt"), "--out", str(tmp_path / "y")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1


def test_the_sliding_plan_keeps_the_first_plans_boards_first(tmp_path):
    """The plan's harder scrambles come after the first plan's (SLIDING_PARTS_V1), drawn from the
    same generator: a seed's first-plan boards are a prefix of its boards, so a held-out set
    built to exclude the first plan's training files (as big200 and pool853 were) still
    excludes them; the harder boards reach distances a 12-move scramble cannot."""
    from learn_expert_iteration import (SLIDING_PARTS, SLIDING_PARTS_V1,
                                        generated_train_file, parts_spec)
    p = load("sliding")
    as_plan = lambda parts: [(n, {"width": 3, "depth": d}) for n, d in parts]  # noqa: E731
    for seed in (0, 3):
        (tmp_path / "v1").mkdir(exist_ok=True)
        (tmp_path / "new").mkdir(exist_ok=True)
        old = Path(generated_train_file("sliding", as_plan(SLIDING_PARTS_V1), tmp_path / "v1",
                                        seed)).read_text().split("\n")[:-1]
        new = Path(generated_train_file("sliding", as_plan(SLIDING_PARTS), tmp_path / "new",
                                        seed)).read_text().split("\n")[:-1]
        assert len(old) > 100 and new[:len(old)] == old and len(new) > len(old) + 100
        pool = set(whole_pool(p, 12)) | set(whole_pool(p, 11))    # every board within 12
        assert sum(b not in pool for b in new[len(old):]) > 50
        assert all(b in pool for b in old)
    assert parts_spec("30x4,60x16") == [(30, 4), (60, 16)]
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "learn_expert_iteration.py"),
                          "sliding", "--parts", "30x", "--train-only", "--out",
                          str(tmp_path / "z")], capture_output=True, text=True)
    assert bad.returncode == 2 and "COUNTxDEPTH" in bad.stderr
