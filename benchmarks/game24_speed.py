"""MCTS (heuristic policy + value) against an exhaustive solver on all 1820 Game of 24 multisets,
timed in the same run, solvable (1362) and unsolvable (458) reported apart.

Usage: python benchmarks/game24_speed.py [--budget 1000] [--repeat 3]

The exhaustive solver is a plain depth-first search over every pair and operation with exact
fractions, stopping at its first solution (the fair reference on a solvable puzzle: it also just
needs one answer; on an unsolvable one it has to try everything, as MCTS has to to prove it).
Every MCTS answer is re-checked with `Puzzle.verify`; every unsolvable multiset must come back
proved unsolvable. The two are interleaved puzzle by puzzle, alternating which goes first, so
load from anything else on the machine falls on both alike; `--repeat` runs the whole sweep
again and reports each run's ratios (the spread is the noise of a shared machine). Times are
this process's CPU time (`time.process_time`), which a shared machine's other jobs disturb far
less than wall-clock time (both searches are single-threaded, so it is the cost of each).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from itertools import combinations_with_replacement

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason_puzzles.game24 import Game24, div, norm

CLOCK = time.process_time


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


def sweep(puzzle: Game24, instances: list[str], budget: int) -> dict:
    """One interleaved pass; per-instance times and outcomes, split by solvability."""
    out = {True: {"ex": [], "mc": [], "ok": 0, "sims": 0},
           False: {"ex": [], "mc": [], "ok": 0, "sims": 0}}
    for k, inst in enumerate(instances):
        nums = [int(x) for x in inst.split()]
        for first in ((0, 1) if k % 2 else (1, 0)):
            t = CLOCK()
            if first:
                solvable = exhaustive(nums)
                ex = CLOCK() - t
            else:
                r = mcts_reason.solve(puzzle, inst, budget=Budget(simulations=budget), seed=0)
                mc = CLOCK() - t
        part = out[solvable]
        part["ex"].append(ex)
        part["mc"].append(mc)
        part["sims"] += r.usage.simulations
        if solvable:
            part["ok"] += bool(r.solved and puzzle.verify(inst, r.answer))
        elif r.solved:
            raise SystemExit(f"MCTS reported a solution for unsolvable {inst}: {r.answer}")
        else:
            part["ok"] += r.proved_unsolvable
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=1000, help="MCTS simulations per puzzle")
    ap.add_argument("--repeat", type=int, default=1, help="whole sweeps, each reported")
    args = ap.parse_args()
    puzzle = Game24()
    instances = [" ".join(map(str, c)) for c in combinations_with_replacement(range(1, 14), 4)]
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  python "
          f"{platform.python_version()}  machine {platform.machine()}  budget {args.budget}  "
          f"CPU time (process_time)")
    ratios = {True: [], False: []}
    for run in range(args.repeat):
        res = sweep(puzzle, instances, args.budget)
        print(f"-- run {run + 1}/{args.repeat}")
        for solvable, label, goal in ((True, "solvable", "solved (verified)"),
                                      (False, "unsolvable", "proved unsolvable")):
            p = res[solvable]
            n = len(p["ex"])
            tot_ex, tot_mc = sum(p["ex"]), sum(p["mc"])
            ratios[solvable].append(tot_mc / tot_ex)
            print(f"{label:10s} {n:4d}: MCTS {goal} {p['ok']}/{n}, {p['sims'] / n:.1f} simulations"
                  f" each; exhaustive total {tot_ex:.3f} s (median {statistics.median(p['ex'])*1e3:.3f}"
                  f" ms), MCTS total {tot_mc:.3f} s (median {statistics.median(p['mc'])*1e3:.3f} ms);"
                  f" ratio MCTS/exhaustive {tot_mc / tot_ex:.3f}")
    for solvable, label in ((True, "solvable"), (False, "unsolvable")):
        r = ratios[solvable]
        print(f"ratio MCTS/exhaustive total, {label}: median {statistics.median(r):.3f} "
              f"(range {min(r):.3f}-{max(r):.3f} over {len(r)} runs)")


if __name__ == "__main__":
    main()
