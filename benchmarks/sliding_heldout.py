"""A larger held-out 8-puzzle set drawn as `easy8` is (distinct boards scrambled by 12 random
moves, no immediate undo), with another seed, minus every board of the given sets.

    python benchmarks/sliding_heldout.py --count 200 --seed 8112 --out FILE
        [--exclude SPEC ...] [--all]

--exclude: set specs (easy8, a training file such as runs/learn-s5/sliding_train.txt) whose
boards may not appear; a drawn board equal to one of them is replaced by a further draw, so
the file holds exactly --count boards, disjoint from them. Prints how many draws were dropped.
The pool is small: a 12-move scramble of the 8-puzzle ends on one of 1209 boards (those at an
even distance 2-12 from the goal), so a --count near what the exclusions leave skews the set
towards the boards a scramble rarely reaches; exit 2 when --patience draws (100000) in a row
bring nothing new. --all writes instead every board such a scramble can end on (breadth-first from the goal,
even distances 2..--depth) outside the excluded ones: the whole remaining pool, each board once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mcts_reason.learn.dataset import canonical
from mcts_reason.registry import load
from mcts_reason.sets import read_set


def whole_pool(p, depth: int) -> list[str]:
    """Every board at an even distance 2..depth from the 3x3 goal, as instance text."""
    goal = p.parse_instance(" ".join(map(str, [*range(1, 9), 0])))
    seen, front, out = {p.render(goal)}, [goal], []
    for d in range(1, depth + 1):
        nxt = []
        for s in front:
            for step in p.legal_steps(s):
                t = p.apply(s, step)
                key = p.render(t)
                if key not in seen:
                    seen.add(key)
                    nxt.append(t)
        front = nxt
        if d % 2 == depth % 2:
            out += [" ".join(map(str, t.tiles)) for t in front]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=8112)
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--out", required=True)
    ap.add_argument("--patience", type=int, default=100_000)
    ap.add_argument("--all", action="store_true", help="the whole remaining pool")
    args = ap.parse_args()
    p = load("sliding")
    try:
        never = {canonical(p, t) for spec in args.exclude for t in read_set(p, spec).instances}
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if args.all:
        pool = whole_pool(p, args.depth)
        kept = [b for b in pool if canonical(p, b) not in never]
        Path(args.out).write_text("".join(f"{b}\n" for b in kept), encoding="utf-8")
        print(f"{len(kept)} of the {len(pool)} boards -> {args.out} ({len(never)} excluded)")
        return
    rng = np.random.default_rng(args.seed)
    out: list[str] = []
    seen: set[str] = set()
    dropped = misses = 0
    while len(out) < args.count:
        if misses >= args.patience:
            print(f"error: only {len(out)} boards outside the excluded ones: {args.patience} "
                  f"draws in a row brought nothing new; ask for fewer", file=sys.stderr)
            sys.exit(2)
        board = p.generate(1, rng=rng, width=3, depth=args.depth)[0]
        key = canonical(p, board)
        misses += 1
        if key in seen:
            continue
        if key in never:
            dropped += 1
            continue
        misses = 0
        seen.add(key)
        out.append(board)
    Path(args.out).write_text("".join(f"{b}\n" for b in out), encoding="utf-8")
    print(f"{len(out)} boards -> {args.out}; {dropped} draws dropped as excluded "
          f"({len(never)} excluded boards)")


if __name__ == "__main__":
    main()
