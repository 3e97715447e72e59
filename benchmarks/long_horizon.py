"""Long-horizon instances (issue 11 section 3): Blocksworld with 6-15 blocks, uniformly random
15-puzzles, Sudoku grids with no solution or very many. MCTS with the heuristic policy and value
at the default budget (1000 simulations, seed 0); each plan is checked by the puzzle's `verify`
and compared with an optimum where an exact solver finishes, else with bounds. Prints Markdown.

Usage: python benchmarks/long_horizon.py [--only blocksworld,sliding,sudoku] [--ida-nodes N]
"""
from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import time

import numpy as np

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason_puzzles.blocksworld import TABLE, Action, Blocksworld, placed, remaining, shortest
from mcts_reason_puzzles.sliding import Sliding, distance, ida_star
from mcts_reason_puzzles.sudoku import Sudoku, conflicts, propagate

# Peter Norvig, "Solving Every Sudoku Puzzle" (norvig.com/sudoku.html): the grid his solver took
# longest on; it has no solution.
NORVIG_IMPOSSIBLE = ".....5.8....6.1.43..........1.5........1.6...3.......553.....61........4........."
# tests/test_sudoku.py's UNSOLVABLE grid (no contradiction visible to singles propagation).
TEST_UNSOLVABLE = "6.8.3..14..3.14....4168....2..45....53.2.1..84...9.2.1.....6.....4......8953..1.."


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


# -- Blocksworld ------------------------------------------------------------------------------------
def unstack_all_then_build(p: Blocksworld, inst: str) -> int:
    """The simple known upper bound: every misplaced block not on the table is put on the table
    (tops first), then the goal towers are built bottom-up. Built from legal actions and checked
    with `verify`; returns its length."""
    s = p.parse_instance(inst)
    plan = []

    def do(a: Action) -> None:
        nonlocal s
        plan.append(a)
        s = p.apply(s, a)

    if s.holding:
        do(Action("put-down", s.holding))
    while True:
        done, where, clear = placed(s), s.where(), s.clear()
        up = [b for b in sorted(clear) if b not in done and where[b] != TABLE]
        if not up:
            break
        do(Action("unstack", up[0], where[up[0]]))
        do(Action("put-down", up[0]))
    goal_on = dict(s.goal.on)
    while not p.is_solved(s):
        done, clear = placed(s), s.clear()
        b = next(b for b in sorted(goal_on) if b not in done and goal_on[b] != TABLE
                 and goal_on[b] in done and goal_on[b] in clear and b in clear)
        do(Action("pick-up", b))
        do(Action("stack", b, goal_on[b]))
    assert p.verify(inst, p.answer(p.parse_instance(inst), plan))
    return len(plan)


def blocksworld(a_star_states: int) -> None:
    p = Blocksworld()
    insts = p.instance_set("large")
    print("\n### Blocksworld `large` (3 instances each of 6-15 blocks), default budget\n")
    print(f"| blocks | solved | median s | max s | plan | A* optimum (<= 9 blocks, "
          f"{a_star_states} states) | lower bound | unstack-all-then-build |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for inst in insts:
        s = p.parse_instance(inst)
        r, dt = timed(lambda: mcts_reason.solve(p, inst, seed=0))
        ok = r.solved and p.verify(inst, r.answer)
        opt = shortest(s, max_states=a_star_states) if len(s.blocks) <= 9 else None
        rows.append((len(s.blocks), ok, dt, len(r.steps) if ok else None, opt, remaining(s),
                     unstack_all_then_build(p, inst)))
    for nb in sorted({x[0] for x in rows}):
        g = [x for x in rows if x[0] == nb]
        fmt = lambda vals: "/".join("?" if v is None else str(v) for v in vals)  # noqa: E731
        print(f"| {nb} | {sum(x[1] for x in g)}/{len(g)} | {statistics.median(x[2] for x in g):.2f}"
              f" | {max(x[2] for x in g):.2f} | {fmt(x[3] for x in g)} | {fmt(x[4] for x in g)} | "
              f"{fmt(x[5] for x in g)} | {fmt(x[6] for x in g)} |")
    solved = [x for x in rows if x[1]]
    known = [x for x in solved if x[4] is not None]
    print(f"\nsolved {len(solved)}/{len(rows)} (within 30 s: "
          f"{sum(x[2] <= 30 for x in solved)}); plan = optimum on {sum(x[3] == x[4] for x in known)}"
          f"/{len(known)} with a known optimum; mean plan/lower bound "
          f"{statistics.mean(x[3] / x[5] for x in solved):.3f}; mean plan/unstack-all-then-build "
          f"{statistics.mean(x[3] / x[6] for x in solved):.3f}")


# -- Sliding tiles ----------------------------------------------------------------------------------
def sliding(ida_nodes: int) -> None:
    p = Sliding()
    insts = p.instance_set("korf15")
    print("\n### 15-puzzle `korf15` (20 uniformly random solvable boards), default budget\n")
    print("| # | solved | simulations | s | plan | Manhattan+LC bound | IDA* optimum |")
    print("|---|---|---|---|---|---|---|")
    ratios_opt, ratios_lb, solved = [], [], 0
    for k, inst in enumerate(insts):
        s = p.parse_instance(inst)
        r, dt = timed(lambda: mcts_reason.solve(p, inst, seed=0))
        ok = r.solved and p.verify(inst, r.answer)
        solved += ok
        sol = ida_star(s.tiles, 4, max_nodes=ida_nodes)
        opt = None if sol is None else len(sol)
        lb = distance(s.tiles, 4)
        if ok:
            ratios_lb.append(len(r.steps) / lb)
            if opt:
                ratios_opt.append(len(r.steps) / opt)
        print(f"| {k} | {ok} | {r.usage.simulations} | {dt:.2f} | "
              f"{len(r.steps) if ok else '-'} | {lb} | "
              f"{opt if opt is not None else f'not within {ida_nodes} nodes'} |", flush=True)
    print(f"\nsolved {solved}/{len(insts)}; mean plan/bound {statistics.mean(ratios_lb):.2f}; "
          f"mean plan/optimum {statistics.mean(ratios_opt):.2f} on the {len(ratios_opt)} "
          f"boards IDA* finished" if ratios_opt else "")
    old = [mcts_reason.solve(p, inst, seed=0,
                             policy=type(p.heuristic_policy())(expert=False),
                             value=type(p.heuristic_value())(expert=False)).solved
           for inst in insts[:5]]
    print(f"\nwithout the staged expert (Manhattan + linear conflict only), first 5 boards: "
          f"{sum(old)}/5 solved at the default budget")


def sliding_scrambled(ida_nodes: int) -> None:
    """Where IDA* does finish: 15-puzzles 40 random moves from the goal (`medium15`)."""
    p = Sliding()
    insts = p.instance_set("medium15")
    print("\n### 15-puzzle `medium15` (20 boards 40 random moves from the goal), default budget\n")
    rows = []
    for inst in insts:
        s = p.parse_instance(inst)
        r = mcts_reason.solve(p, inst, seed=0)
        ok = r.solved and p.verify(inst, r.answer)
        sol = ida_star(s.tiles, 4, max_nodes=ida_nodes)
        rows.append((ok, len(r.steps), None if sol is None else len(sol), r.usage.simulations))
    known = [x for x in rows if x[0] and x[2]]
    print(f"solved {sum(x[0] for x in rows)}/{len(rows)}; median simulations "
          f"{statistics.median(x[3] for x in rows)}; IDA* optimum known for {len(known)}: mean "
          f"plan {statistics.mean(x[1] for x in known):.1f} vs optimum "
          f"{statistics.mean(x[2] for x in known):.1f}, mean ratio "
          f"{statistics.mean(x[1] / x[2] for x in known):.2f}, optimal plans "
          f"{sum(x[1] == x[2] for x in known)}/{len(known)}")


# -- Sudoku ----------------------------------------------------------------------------------------
def wrong_clue_grids(p: Sudoku, n: int, seed: int) -> list[str]:
    """Unique puzzles of the `medium` and `hard` sets with one extra, wrong, clue that singles propagation
    does not refute: no solution (the puzzle had one, and the clue disagrees with it)."""
    from mcts_reason_puzzles.sudoku import count_solutions
    rng = np.random.default_rng(seed)
    out = []
    for inst in p.instance_set("medium") + p.instance_set("hard"):
        cells = [0 if c == "." else int(c) for c in inst]
        for _ in range(200):
            i, d = int(rng.integers(81)), int(rng.integers(1, 10))
            if cells[i]:
                continue
            g = list(cells)
            g[i] = d
            if conflicts(g, 9) or propagate(tuple(g), 9) is None:
                continue
            if count_solutions(tuple(g), 9, limit=1) == 0:
                out.append("".join(str(x) if x else "." for x in g))
                break
        if len(out) == n:
            break
    return out


def sudoku() -> None:
    p = Sudoku()
    print("\n### Sudoku: no solution, and very many solutions (default budget unless noted)\n")
    print("| grid | result | simulations | s |")
    print("|---|---|---|---|")
    cases = [("tests' UNSOLVABLE", TEST_UNSOLVABLE, None)]
    cases += [(f"unique puzzle + a wrong clue ({i})", g, None)
              for i, g in enumerate(wrong_clue_grids(p, 5, seed=5))]
    cases += [("Norvig's impossible grid (budget 5000)", NORVIG_IMPOSSIBLE, 5000),
              ("empty grid", "." * 81, None), ("one given", "1" + "." * 80, None)]
    cases += [(f"hard[{i}] (unique)", g, None) for i, g in enumerate(p.instance_set("hard"))]
    for name, g, budget in cases:
        r, dt = timed(lambda: mcts_reason.solve(
            p, g, seed=0, budget=Budget(simulations=budget) if budget else None))
        res = ("solved" if r.solved and p.verify(g, r.answer) else
               "proved unsolvable" if r.proved_unsolvable else r.stop_reason)
        print(f"| {name} | {res} | {r.usage.simulations} | {dt:.3f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="blocksworld,sliding,sudoku")
    ap.add_argument("--a-star-states", type=int, default=50_000,
                    help="A* state cap per Blocksworld instance for the optimum")
    ap.add_argument("--ida-nodes", type=int, default=300_000,
                    help="IDA* node cap per 15-puzzle for the optimum")
    args = ap.parse_args()
    print(f"<!-- {' '.join(sys.argv)} | {platform.machine()} Python {platform.python_version()} "
          f"| {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC -->")
    parts = args.only.split(",")
    if "blocksworld" in parts:
        blocksworld(args.a_star_states)
    if "sliding" in parts:
        sliding(args.ida_nodes)
    if "sliding-scrambled" in parts:
        sliding_scrambled(args.ida_nodes)
    if "sudoku" in parts:
        sudoku()


if __name__ == "__main__":
    main()
