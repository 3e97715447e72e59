"""MCTS (heuristic policy + value) against an exhaustive solver on all 1362 solvable Game of 24
puzzles, timed in the same run (the 458 unsolvable multisets are run too, to check MCTS claims
none, but only solvable ones enter the timing). Usage: python benchmarks/game24_speed.py [--budget 1000]

The exhaustive solver is a plain depth-first search over every pair and operation with exact
fractions, stopping at its first solution (the fair reference: it also just needs one answer).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from itertools import combinations_with_replacement

import numpy as np

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason_puzzles.game24 import Game24, div, norm


def exhaustive(nums: list) -> bool:
    """First-solution DFS with the puzzle's own exact arithmetic (ints, Fractions only when
    needed), so the comparison is between search strategies, not number types."""
    if len(nums) == 1:
        return nums[0] == 24
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            a, b = nums[i], nums[j]
            rest = nums[:i] + nums[i + 1:j] + nums[j + 1:]
            outs = [norm(a + b), norm(a * b), norm(abs(a - b))]
            if b:
                outs.append(div(a, b))
            if a:
                outs.append(div(b, a))
            for r in outs:
                if exhaustive(rest + [r]):
                    return True
    return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=1000)
    args = ap.parse_args()
    puzzle = Game24()
    instances = [" ".join(map(str, c)) for c in combinations_with_replacement(range(1, 14), 4)]
    # Interleaved, puzzle by puzzle, alternating which goes first, so that load from anything
    # else on the machine falls on both alike.
    ex_times, mc_times, solvable, solved = [], [], [], 0
    for k, inst in enumerate(instances):
        nums = [int(x) for x in inst.split()]
        for first in ((0, 1) if k % 2 else (1, 0)):
            t = time.perf_counter()
            if first:
                ok = exhaustive(nums)
                ex = time.perf_counter() - t
            else:
                r = mcts_reason.solve(puzzle, inst, budget=Budget(simulations=args.budget), seed=0)
                mc = time.perf_counter() - t
        if ok:
            solvable.append(inst)
            ex_times.append(ex)
            mc_times.append(mc)
            solved += r.solved and puzzle.verify(inst, r.answer)
        elif r.solved:
            raise SystemExit(f"MCTS reported a solution for unsolvable {inst}: {r.answer}")
    tot_ex, tot_mc = sum(ex_times), sum(mc_times)
    print(f"date {time.strftime('%Y-%m-%d')}  python {platform.python_version()}  "
          f"machine {platform.machine()} {platform.processor() or ''}".rstrip())
    print(f"solvable puzzles: {len(solvable)} (of {len(instances)} multisets)")
    print(f"MCTS solved (verified): {solved}/{len(solvable)}; unsolvable ones claimed: 0")
    print(f"exhaustive: total {tot_ex:.3f} s, median {statistics.median(ex_times)*1e3:.3f} ms")
    print(f"MCTS:       total {tot_mc:.3f} s, median {statistics.median(mc_times)*1e3:.3f} ms")
    print(f"ratio MCTS/exhaustive total: {tot_mc / tot_ex:.3f}")


if __name__ == "__main__":
    main()
