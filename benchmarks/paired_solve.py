"""Paired comparison of two bench results files on the same instances and seeds.

    python benchmarks/paired_solve.py A.jsonl B.jsonl [--algo mcts]

For one algorithm: each file's solved/runs with a Wilson 95% interval; the (instance, seed)
pairs solved by only A and only B; the instances where A solved more of the seeds than B and
the reverse, with an exact two-sided sign test over those instances; and the solve-rate
difference A - B with a 95% interval clustered by instance (each instance's mean difference
over its seeds; normal approximation over instances). The seeds of one board are not
independent (MCTS on the 8-puzzle gives the same result for every seed), so the tests are over
instances, not pairs. Exits 2 when the files do not hold the same pairs.
"""
from __future__ import annotations

import argparse
import math
import sys

from mcts_reason.records import scan_records
from mcts_reason.report import wilson


def solved(path: str, algo: str) -> dict[tuple[str, int], bool]:
    return {(r["instance"], r["seed"]): bool(r["solved"])
            for _, r in scan_records(path) if r["algo"] == algo}


def sign_test(b: int, c: int) -> float:
    """Exact two-sided binomial test of b successes in b + c trials at p = 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--algo", default="mcts")
    args = ap.parse_args()
    a, b = solved(args.a, args.algo), solved(args.b, args.algo)
    if not a or set(a) != set(b):
        print(f"error: the files do not hold the same (instance, seed) pairs for {args.algo}",
              file=sys.stderr)
        sys.exit(2)
    n = len(a)
    for name, d in ((args.a, a), (args.b, b)):
        k = sum(d.values())
        lo, hi = wilson(k, n)
        print(f"{name}: {args.algo} {k}/{n} = {100 * k / n:.1f}% "
              f"[{100 * lo:.1f}, {100 * hi:.1f}]")
    only_a = sum(a[k] and not b[k] for k in a)
    only_b = sum(b[k] and not a[k] for k in a)
    print(f"pairs solved by only A: {only_a}, only B: {only_b}")
    per: dict[str, list[int]] = {}
    for (inst, _seed), v in a.items():
        per.setdefault(inst, []).append(int(v) - int(b[(inst, _seed)]))
    diffs = [sum(v) / len(v) for v in per.values()]
    more_a, more_b = sum(x > 0 for x in diffs), sum(x < 0 for x in diffs)
    print(f"instances where A solved more seeds: {more_a}, B: {more_b}, "
          f"sign test p = {sign_test(more_a, more_b):.3g}")
    m = len(diffs)
    mean = sum(diffs) / m
    sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / (m - 1)) if m > 1 else 0.0
    half = 1.96 * sd / math.sqrt(m)
    print(f"A - B: {100 * mean:+.1f} points, 95% CI [{100 * (mean - half):+.1f}, "
          f"{100 * (mean + half):+.1f}] (clustered by instance, {m} instances)")


if __name__ == "__main__":
    main()
