"""Instructions the default MCTS executes on the 1362 solvable and the 458 unsolvable Game of 24
multisets, and the exhaustive solver of `game24_speed.py` on the same, counted by valgrind
(cachegrind without its cache simulation).

Usage: python benchmarks/game24_instructions.py [--sets solvable,unsolvable]
Needs valgrind (Debian: `apt install valgrind`); valgrind runs the interpreter about 50x slower,
so a set takes 1-2 minutes.

CPU time on a shared machine moves by 10-20% from run to run with the other jobs on it, more
than most single changes to the engine are worth. An instruction count does not move with load,
so two trees can be compared at any time, on a busy machine too; with `setarch -R` available the
count repeats exactly. It is a proxy, not the goal: `game24_speed.py` times the goals (numpy's C
code, for one, runs more instructions per second than the interpreter loop).

Each set is counted in its own valgrind run that imports everything, splits the multisets with
the puzzle's exhaustive `solvable` and solves one puzzle first; a run that stops there is
subtracted, so the figure is the searches alone: every multiset once, heuristic policy and
value, 1000 simulations, seed 0, as in `game24_speed.py`.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from itertools import combinations_with_replacement

SETS = ("solvable", "unsolvable")


def run_set(name: str) -> None:
    """The measured work: "mcts:SET" one search per multiset of SET, "exhaustive:SET" the
    reference solver of `game24_speed.py` on each; "none": imports and the warm-up alone."""
    import mcts_reason
    from game24_speed import exhaustive
    from mcts_reason.budget import Budget
    from mcts_reason_puzzles.game24 import Game24, solvable
    puzzle = Game24()
    instances = [" ".join(map(str, c)) for c in combinations_with_replacement(range(1, 14), 4)]
    solver, _, which = name.partition(":")
    # the split is made in every run, "none" too, so that it is subtracted with the imports
    chosen = [inst for inst in instances
              if solvable(tuple(int(x) for x in inst.split())) == (which == "solvable")]
    mcts_reason.solve(puzzle, instances[0], budget=Budget(simulations=1000), seed=0)
    exhaustive([int(x) for x in instances[0].split()])
    if solver == "mcts":
        for inst in chosen:
            mcts_reason.solve(puzzle, inst, budget=Budget(simulations=1000), seed=0)
    elif solver == "exhaustive":
        for inst in chosen:
            exhaustive([int(x) for x in inst.split()])


def count(name: str) -> int:
    """Instructions of a valgrind run of `run_set(name)` in a fresh interpreter."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, __file__, "--inner", name]
    # A fixed string-hash seed, one BLAS/OpenMP thread (numpy's idle threads count too) and no
    # address randomisation (`setarch -R`, where there is one): with any of them left as it
    # is, dict and set layouts, allocations and threads move the count by about 1% from run to
    # run; with all three the same tree counts exactly the same.
    if shutil.which("setarch"):
        cmd[:0] = ["setarch", platform.machine(), "-R"]
    res = subprocess.run(cmd, capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
                              "OPENBLAS_NUM_THREADS": "1"})
    m = re.search(r"I\s+refs:\s+([\d,]+)", res.stderr)
    if res.returncode or not m:
        tail = res.stderr.strip().splitlines()[-1:] or ["no output"]
        raise SystemExit(f"valgrind run for {name} failed (exit {res.returncode}): {tail[0]}")
    return int(m.group(1).replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated: solvable,unsolvable")
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        run_set(args.inner)
        return
    sets = [s for s in args.sets.split(",") if s]
    if not sets or any(s not in SETS for s in sets):
        raise SystemExit(f"--sets: choose from {', '.join(SETS)}, got {args.sets!r}")
    if shutil.which("valgrind") is None:
        raise SystemExit("game24_instructions needs valgrind (Debian: apt install valgrind)")
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  python "
          f"{platform.python_version()}  machine {platform.machine()}  budget 1000  seed 0")
    base = count("none")
    print(f"imports and warm-up, subtracted: {base / 1e6:.1f} M instructions")
    for name in sets:
        mc, ex = (count(f"{solver}:{name}") - base for solver in ("mcts", "exhaustive"))
        print(f"{name:10s} MCTS {mc / 1e6:8.1f} M instructions, exhaustive {ex / 1e6:8.1f} M;"
              f" ratio MCTS/exhaustive {mc / ex:.3f}", flush=True)


if __name__ == "__main__":
    main()
