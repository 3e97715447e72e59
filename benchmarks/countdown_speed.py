"""MCTS (heuristic policy + value) against an exhaustive solver on generated solvable Countdown
instances, timed side by side in the same run.

Usage: python benchmarks/countdown_speed.py [--n 200] [--seed 0] [--budget 1000]

Instances: `Countdown().generate(n, rng=default_rng(seed))` (6 numbers dealt as on the show,
target 100-999, solvable only). The exhaustive solver is a plain depth-first search over every
pair and operation under the same rule (positive whole intermediate results), stopping at its
first solution: the fair reference, since it also just needs one answer. It shares no code with
the puzzle module.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason_puzzles.countdown import Countdown


def exhaustive(nums: list[int], target: int) -> bool:
    if target in nums:
        return True
    n = len(nums)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = (nums[i], nums[j]) if nums[i] >= nums[j] else (nums[j], nums[i])
            rest = nums[:i] + nums[i + 1:j] + nums[j + 1:]
            outs = [a + b, a * b]
            if a > b:
                outs.append(a - b)
            if a % b == 0:
                outs.append(a // b)
            for r in outs:
                if exhaustive(rest + [r], target):
                    return True
    return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200, help="number of solvable instances")
    ap.add_argument("--seed", type=int, default=0, help="generator seed")
    ap.add_argument("--budget", type=int, default=1000, help="MCTS simulations")
    args = ap.parse_args()
    puzzle = Countdown()
    instances = puzzle.generate(args.n, rng=np.random.default_rng(args.seed))
    ex_times, mc_times, solved, failed = [], [], 0, []
    for inst in instances:
        left, right = inst.split("->")
        nums, target = [int(x) for x in left.split()], int(right)
        t = time.perf_counter()
        ok = exhaustive(nums, target)
        ex_times.append(time.perf_counter() - t)
        assert ok, inst                      # generate() promised a solvable instance
        t = time.perf_counter()
        r = mcts_reason.solve(puzzle, inst, budget=Budget(simulations=args.budget), seed=0)
        mc_times.append(time.perf_counter() - t)
        good = r.solved and puzzle.verify(inst, r.answer)
        solved += good
        if not good:
            failed.append(inst)
    print(f"date {time.strftime('%Y-%m-%d')}  python {platform.python_version()}  "
          f"machine {platform.machine()} {platform.processor() or ''}".rstrip())
    print(f"instances: {len(instances)} solvable (generate seed {args.seed}), "
          f"MCTS budget {args.budget} simulations")
    print(f"MCTS solved (verified): {solved}/{len(instances)} = {100 * solved / len(instances):.1f}%")
    print(f"exhaustive DFS: total {sum(ex_times):.3f} s, median {statistics.median(ex_times)*1e3:.3f} ms, "
          f"max {max(ex_times)*1e3:.1f} ms")
    print(f"MCTS:           total {sum(mc_times):.3f} s, median {statistics.median(mc_times)*1e3:.3f} ms, "
          f"max {max(mc_times)*1e3:.1f} ms")
    print(f"ratio of medians MCTS/exhaustive: {statistics.median(mc_times) / statistics.median(ex_times):.3f}")
    if failed:
        print("unsolved by MCTS:", "; ".join(failed))


if __name__ == "__main__":
    main()
