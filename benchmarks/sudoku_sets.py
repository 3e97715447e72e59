"""MCTS (most-constrained-cell policy + propagation value) on every named Sudoku set, timed side
by side with a plain backtracking solver (first empty cell, digits in order, no propagation).

Usage: python benchmarks/sudoku_sets.py [--budget 1000]

The backtracking solver shares no code with the puzzle module; every MCTS answer is checked
against it as well as by `Sudoku.verify`.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason_puzzles.sudoku import Sudoku


def backtrack(cells: list[int], n: int) -> bool:
    """Fill `cells` in place; True when a solution was found."""
    b = int(n ** 0.5)
    try:
        i = cells.index(0)
    except ValueError:
        return True
    r, c = divmod(i, n)
    br, bc = r - r % b, c - c % b
    used = {cells[r * n + k] for k in range(n)} | {cells[k * n + c] for k in range(n)} | {
        cells[(br + x) * n + bc + y] for x in range(b) for y in range(b)}
    for d in range(1, n + 1):
        if d not in used:
            cells[i] = d
            if backtrack(cells, n):
                return True
    cells[i] = 0
    return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=1000, help="MCTS simulations")
    args = ap.parse_args()
    puzzle = Sudoku()
    print(f"date {time.strftime('%Y-%m-%d')}  python {platform.python_version()}  "
          f"machine {platform.machine()} {platform.processor() or ''}".rstrip())
    print(f"MCTS budget {args.budget} simulations\n")
    print("| set | puzzles | blanks (median) | MCTS solved | MCTS simulations (median) "
          "| MCTS median ms | backtracking median ms |")
    print("|---|---|---|---|---|---|---|")
    for name in puzzle.named_sets():
        insts = puzzle.instance_set(name)
        mc, bt, sims, solved = [], [], [], 0
        for inst in insts:
            s = puzzle.parse_instance(inst)
            cells = list(s.cells)
            t = time.perf_counter()
            assert backtrack(cells, s.size)
            bt.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = mcts_reason.solve(puzzle, inst, budget=Budget(simulations=args.budget), seed=0)
            mc.append(time.perf_counter() - t)
            sims.append(r.usage.simulations)
            ok = r.solved and puzzle.verify(inst, r.answer) and r.answer == "".join(map(str, cells))
            solved += ok
        blanks = statistics.median(inst.count(".") for inst in insts)
        print(f"| {name} | {len(insts)} | {blanks:g} | {solved}/{len(insts)} | "
              f"{statistics.median(sims):g} | {statistics.median(mc) * 1e3:.1f} | "
              f"{statistics.median(bt) * 1e3:.1f} |")


if __name__ == "__main__":
    main()
