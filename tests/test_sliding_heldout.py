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
