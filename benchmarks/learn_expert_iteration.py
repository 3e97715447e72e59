"""Expert iteration from tabula rasa, per puzzle: `mcts-reason train` with a fixed plan.

    python benchmarks/learn_expert_iteration.py game24 [--rounds 5] [--workers 2]
        [--budget N] [--seed N] [--out DIR]

Runs into runs/learn/PUZZLE/ (or DIR/PUZZLE/; resumable: rerun the same command) and prints the
summary table. --budget replaces the plan's simulations per training search (the data the
model learns from); the evaluation budget stays the plan's, so runs remain comparable.
--seed N (default 0: the recorded runs) is the training seed: generated training instances are
drawn with TRAIN_SEED + N, and N is `train --split-seed` (the split of each round's records
and their rollout labels; the searches' own seeds stay 0..--seeds-1).
Game of 24 trains on every third instance of ../shared/data/game24_4nums.csv outside ranks
901-1000 and evaluates on ranks 901-1000 (the Tree-of-Thoughts test set, never trained on);
the other puzzles train on instances generated with a seed of this script's own (150 of them;
sliding: 30 each scrambled by 4, 6, 8, 10 and 12 moves, then 60 each by 14 and 16) and evaluate
on one of the puzzle's named sets (passed as --held-out too, so a generated instance that
happens to equal an evaluation one is dropped from training).
--parts COUNTxDEPTH,... (sliding) replaces the plan's scrambles: `--parts
30x4,30x6,30x8,30x10,30x12` is the plan before 2026-12-02 18:30 UTC (SLIDING_PARTS_V1).
--held-out SPEC (repeatable) adds sets never trained on (train --held-out), e.g. the larger
8-puzzle sets of benchmarks/sliding_heldout.py. --train-only writes the training file
(OUT/PUZZLE_train.txt) and exits: how the sliding_heldout.py exclusions are regenerated.
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOT = Path("..") / "shared" / "data" / "game24_4nums.csv"      # relative to the repo root

# The 8-puzzle's training scrambles, (count, depth): the curriculum 4..12 of the first plan
# (SLIDING_PARTS_V1), then harder boards, 60 each scrambled by 14 and 16 moves (mostly at
# distance 12-16). With V1 the learned search was behind the heuristic on distance-12 boards
# (each training set held about 30 of them): benchmarks/README.md, learning section. V1 comes
# first so that a seed's V1 boards are a prefix of its boards under the new plan (the same
# draws): sets built to exclude the V1 training boards (sliding_heldout.py) stay disjoint from
# those, and the new boards are kept apart from them with --held-out.
SLIDING_PARTS_V1 = [(30, d) for d in (4, 6, 8, 10, 12)]
SLIDING_PARTS = SLIDING_PARTS_V1 + [(60, 14), (60, 16)]
PLANS = {
    # puzzle: (generator options of the training instances: (count, options) per part, eval
    # set, training budget, eval budget). Sliding mixes scramble depths (a curriculum inside
    # each round's set: tabula-rasa MCTS solves short scrambles, and what it learns there,
    # distance features above all, carries over to the longer ones).
    "game24": (None, f"{TOT}:901-1000", 50, 8),
    "countdown": ([(150, {"count": 4, "target_low": 10, "target_high": 99})], "easy", 50, 20),
    "sliding": ([(n, {"width": 3, "depth": d}) for n, d in SLIDING_PARTS], "easy8", 100, 50),
    "blocksworld": ([(150, {"blocks": 3})], "easy", 50, 20),
}
TRAIN_SEED = 20261201
# Graded value labels (`train --gamma`): the 8-puzzle's outcome labels are 1 on the found path
# and about 0 beside it, so the fitted value saturated beyond ~8 moves; gamma ** (steps to the
# solution) keeps a slope. The other puzzles keep outcome labels (their runs predate it).
GAMMA = {"sliding": 0.9}
# `train --policy-states solved`: the 8-puzzle's policy is fitted only to states on a path to a
# solution the search found (its visit shares elsewhere, at 100 simulations, taught slowly:
# 70% after round 4 against the heuristic's 75%; with `solved`, 75%: benchmarks/README.md).
# The other puzzles keep all states.
POLICY_STATES = {"sliding": "solved"}


def generated_train_file(puzzle: str, parts: list, out: Path, seed: int = 0) -> str:
    import numpy as np

    from mcts_reason.registry import load
    rng = np.random.default_rng(TRAIN_SEED + seed)
    p = load(puzzle)
    insts = list(dict.fromkeys(t for n, options in parts
                               for t in p.generate(n, rng=rng, **options)))
    path = out / f"{puzzle}_train.txt"
    (ROOT / path).write_text("".join(f"{t}\n" for t in insts), encoding="utf-8")
    return str(path)


def game24_train_file(out: Path) -> str:
    """Every third ranked instance outside 901-1000, as a plain instance file."""
    rows = list(csv.DictReader((ROOT / TOT).open(encoding="utf-8")))
    keep = [r["Puzzles"] for r in rows if not 901 <= int(r["Rank"]) <= 1000]
    path = out / "game24_train.txt"
    (ROOT / path).write_text("".join(f"{t}\n" for t in keep[::3]), encoding="utf-8")
    return str(path)


def at_least(low: int):
    """An argparse type: an int no smaller than `low`."""
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = "int"   # argparse names the type in its "invalid int value" message
    return parse


def parts_spec(text: str) -> list[tuple[int, int]]:
    """COUNTxDEPTH,COUNTxDEPTH,... -> [(count, depth), ...] (both >= 1)."""
    try:
        out = [tuple(int(x) for x in part.split("x")) for part in text.split(",")]
    except ValueError:
        out = []
    if not out or any(len(t) != 2 or min(t) < 1 for t in out):
        raise argparse.ArgumentTypeError(f"expected COUNTxDEPTH,... (e.g. 30x4,60x12), "
                                         f"got {text!r}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("puzzle", choices=sorted(PLANS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budget", type=at_least(1), default=None,
                    help="simulations per training search (default: the plan's)")
    ap.add_argument("--seed", type=at_least(0), default=0,
                    help="training seed: the generated training instances and train "
                         "--split-seed (default: 0, the recorded runs)")
    ap.add_argument("--parts", default=None, type=parts_spec,
                    help="sliding: the generated training instances as COUNTxDEPTH,... "
                         "instead of the plan's (30x4,30x6,30x8,30x10,30x12: the first plan)")
    ap.add_argument("--held-out", action="append", default=[],
                    help="more sets never trained on (repeatable; passed to train --held-out: "
                         "a generated instance equal to one of theirs is dropped)")
    ap.add_argument("--train-only", action="store_true",
                    help="write the training instances (OUT/PUZZLE_train.txt) and exit")
    ap.add_argument("--out", default=str(Path("runs") / "learn"),
                    help="folder under the repo root for the run (default: runs/learn)")
    args = ap.parse_args()
    out = Path(args.out)                    # relative paths: they end up in the summaries
    (ROOT / out).mkdir(parents=True, exist_ok=True)
    train, evals, budget, eval_budget = PLANS[args.puzzle]
    budget = args.budget or budget
    if args.parts is not None:
        if args.puzzle != "sliding":
            ap.error("--parts is for the sliding plan only")
        train = [(n, {"width": 3, "depth": d}) for n, d in args.parts]
    train = game24_train_file(out) if args.puzzle == "game24" else \
        generated_train_file(args.puzzle, train, out, args.seed)
    if args.train_only:
        print(train)
        return
    cmd = [str(Path(sys.executable).with_name("mcts-reason")), "train", args.puzzle,
           "--set", train, "--eval-set", evals, "--held-out", evals,
           "--rounds", str(args.rounds), "--budget", str(budget),
           "--eval-budget", str(eval_budget), "--workers", str(args.workers),
           "--out", str(out / args.puzzle)]
    for spec in args.held_out:
        cmd[-2:-2] = ["--held-out", spec]
    if args.seed:
        cmd[-2:-2] = ["--split-seed", str(args.seed)]
    if args.puzzle in GAMMA:
        cmd[-2:-2] = ["--gamma", str(GAMMA[args.puzzle])]
    if args.puzzle in POLICY_STATES:
        cmd[-2:-2] = ["--policy-states", POLICY_STATES[args.puzzle]]
    print("$", " ".join(cmd), flush=True)
    rc = subprocess.call(cmd, cwd=ROOT)
    summary = ROOT / out / args.puzzle / "summary.md"
    if summary.exists():
        print(summary.read_text(encoding="utf-8"))
    sys.exit(rc)


if __name__ == "__main__":
    main()
