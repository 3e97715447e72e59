"""Where the policy noise hurts MCTS: the dev-tuned MCTS of compare_algorithms.py on hard100,
split by whether the noise fired on the root's policy call. Same seeds and draws as the
comparison, so the overall column reproduces its MCTS row.

Usage: python benchmarks/mcts_root_noise.py [--budgets 50,75,100] [--noise 0.5] [--seeds 3]
"""
from __future__ import annotations

import argparse

import numpy as np

from mcts_reason.budget import Budget
from mcts_reason.policies import NoisyPolicy
from mcts_reason.search import ALGORITHMS
from mcts_reason_puzzles.game24 import Game24


class NoiseSpy(NoisyPolicy):
    """`NoisyPolicy` with the same random draws, recording whether each call's noise fired."""

    def __init__(self, inner, p: float) -> None:
        super().__init__(inner, p)
        self.fired: list[bool] = []

    def propose(self, puzzle, state, *, k, rng):
        out = self.inner.propose(puzzle, state, k=k, rng=rng)
        if out:
            fired = rng.random() < self.p
            self.fired.append(fired)
            if fired:
                return [(item[0], 1.0, *item[2:]) for item in out]
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", default="50,75,100")
    ap.add_argument("--noise", type=float, default=0.5)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    game = Game24()
    instances = game.instance_set("hard100")
    print("| calls | root call noisy | root call informed | all |\n|---|---|---|---|")
    for calls in (int(b) for b in args.budgets.split(",")):
        tally = {True: [0, 0], False: [0, 0]}
        for i, inst in enumerate(instances):
            for s in range(args.seeds):
                policy = NoiseSpy(game.heuristic_policy(), args.noise)
                r = ALGORITHMS["mcts"](game, inst, policy=policy, value=game.heuristic_value(),
                                       budget=Budget(calls=calls),
                                       rng=np.random.default_rng([s, i]), c=0.5, expand_after=1)
                t = tally[bool(policy.fired and policy.fired[0])]
                t[0] += r.solved
                t[1] += 1
        cells = [f"{100 * w / n:.1f} % of {n}" for w, n in (tally[True], tally[False])]
        total = sum(t[0] for t in tally.values()) / sum(t[1] for t in tally.values())
        print(f"| {calls} | {cells[0]} | {cells[1]} | {100 * total:.1f} % |")


if __name__ == "__main__":
    main()
