"""Sliding tiles: MCTS with the heuristic policy that skips the undo of the last move, against the
same policy listing every legal move. Usage: python benchmarks/sliding_undo_ablation.py [--budget 1000]
"""
from __future__ import annotations

import argparse

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason_puzzles.sliding import Sliding, SlidingHeuristicPolicy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    puzzle = Sliding()
    print("| set | skip the undo: solved | simulations spent (all 20) | every legal move: solved "
          "| simulations spent |")
    print("|---|---|---|---|---|")
    for name in ("medium8", "hard8", "medium15"):
        cells = []
        for skip in (True, False):
            runs = [mcts_reason.solve(puzzle, inst, seed=args.seed,
                                      budget=Budget(simulations=args.budget),
                                      policy=SlidingHeuristicPolicy(skip_undo=skip))
                    for inst in puzzle.instance_set(name)]
            cells += [f"{sum(r.solved for r in runs)}/{len(runs)}",
                      str(sum(r.usage.simulations for r in runs))]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
