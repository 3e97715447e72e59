"""MCTS (heuristic policy + value) on the sliding-tile and Blocksworld named sets, with the
optimality gap against an exact solver (IDA* for sliding tiles, BFS for Blocksworld) timed in the
same run. Prints a Markdown table.

Usage: python benchmarks/puzzles_b.py [--budgets 1000,10000] [--seed 0] [--sets sliding:easy8,...]
"""
from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import time

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason_puzzles.blocksworld import Blocksworld
from mcts_reason_puzzles.sliding import Sliding

PUZZLES = {"sliding": Sliding(), "blocksworld": Blocksworld()}
DEFAULT_SETS = ("sliding:easy8,sliding:medium8,sliding:hard8,sliding:easy15,sliding:medium15,"
                "blocksworld:easy,blocksworld:medium,blocksworld:hard,blocksworld:six,"
                "blocksworld:eight")


def exact(puzzle, inst: str) -> tuple[int | None, float]:
    t = time.perf_counter()
    if isinstance(puzzle, Sliding):
        opt = puzzle.optimal_length(inst, max_nodes=5_000_000)
    else:
        opt = puzzle.optimal_length(inst, max_states=2_000_000)
    return opt, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", default="1000,10000", help="comma-separated simulation budgets")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sets", default=DEFAULT_SETS, help="puzzle:set,... (named sets)")
    args = ap.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    print(f"<!-- {' '.join(sys.argv)} | {platform.machine()} Python {platform.python_version()} "
          f"| {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC -->")
    print("| puzzle | set | n | optimal (mean) | exact solver median s | budget | solved | "
          "optimal plans | mean gap | max gap | MCTS median s | median simulations |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for spec in args.sets.split(","):
        pname, sname = spec.split(":")
        puzzle = PUZZLES[pname]
        insts = puzzle.instance_set(sname)
        exacts = [exact(puzzle, i) for i in insts]
        opts = [o for o, _ in exacts]
        known = [o for o in opts if o is not None]
        opt_mean = f"{statistics.mean(known):.1f}" if known else "?"
        if len(known) < len(opts):
            opt_mean += f" ({len(opts) - len(known)} unknown)"
        ex_med = statistics.median(t for _, t in exacts)
        for budget in budgets:
            gaps, times, sims, solved = [], [], [], 0
            for inst, opt in zip(insts, opts):
                t = time.perf_counter()
                r = mcts_reason.solve(puzzle, inst, budget=Budget(simulations=budget),
                                      seed=args.seed)
                times.append(time.perf_counter() - t)
                sims.append(r.usage.simulations)
                if r.solved:
                    solved += 1
                    if opt is not None:
                        gaps.append(puzzle.gap(inst, r.answer, optimal=opt))
            n = len(insts)
            mean_gap = f"{statistics.mean(gaps):.2f}" if gaps else "-"
            max_gap = str(max(gaps)) if gaps else "-"
            optimal_plans = f"{sum(g == 0 for g in gaps)}/{len(gaps)}" if gaps else "-"
            print(f"| {pname} | {sname} | {n} | {opt_mean} | {ex_med:.3f} | {budget} | "
                  f"{solved}/{n} | {optimal_plans} | {mean_gap} | {max_gap} | "
                  f"{statistics.median(times):.3f} | {int(statistics.median(sims))} |", flush=True)


if __name__ == "__main__":
    main()
