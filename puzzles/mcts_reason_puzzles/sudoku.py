"""Sudoku, 9x9 (3x3 boxes) and 4x4 (2x2 boxes): fill every row, column and box with 1..n.

Instance text: the grid row by row, 81 (or 16) characters, `.` or `0` for a blank; whitespace is
ignored, so a grid written over several lines works too. Steps fill one cell: `r3c5=7` (rows and
columns count from 1). A step is legal when the cell is empty and the digit does not already
appear in its row, column or box, so a full grid reached by legal steps is a solution.

Heuristic policy: a forced fill (naked or hidden single) when there is one; otherwise the
most-constrained empty cell (fewest candidates, first in reading order on a tie), one step per
candidate digit, or, when some digit has fewer places left in a row, column or box, one step per
place (`branching`). That is a complete branching: every solution of the state makes one of
those fills, and the order in which cells are filled does not matter (a state is just the grid),
so if every proposed child is unsolvable the state is too. The policy therefore sets
`exhaustive = True` honestly, although it does not list every legal step, and MCTS may back up
proofs of unsolvability through it.

Value: constraint propagation (naked and hidden singles to a fixed point): a contradiction is 0,
a grid it completes is 1, otherwise more cells forced means a higher score.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from mcts_reason.policies import top_k

SIZES = {81: 9, 16: 4}


@dataclass(frozen=True, slots=True)
class SudokuState:
    """`cells` row by row, 0 for an empty cell; `size` is 9 or 4."""

    size: int
    cells: tuple[int, ...]

    def __repr__(self) -> str:
        return f"SudokuState({''.join(str(d) if d else '.' for d in self.cells)})"


@dataclass(frozen=True, slots=True)
class Fill:
    """Put `digit` in row `row`, column `col` (both counted from 1)."""

    row: int
    col: int
    digit: int

    def __repr__(self) -> str:
        return f"Fill(r{self.row}c{self.col}={self.digit})"


@dataclass(frozen=True, slots=True)
class Geometry:
    """Index tables for one grid size: the 3n units and each cell's units and peers."""

    n: int
    box_h: int
    box_w: int
    units: tuple[tuple[int, ...], ...]          # rows, then columns, then boxes
    cell_units: tuple[tuple[int, int, int], ...]  # (row unit, column unit, box unit) per cell
    peers: tuple[tuple[int, ...], ...]

    def __repr__(self) -> str:
        return f"Geometry({self.n}x{self.n}, boxes {self.box_h}x{self.box_w})"


@lru_cache(maxsize=None)
def geometry(n: int) -> Geometry:
    box_h = box_w = math.isqrt(n)
    if box_h * box_w != n:
        raise ValueError(f"unsupported sudoku size {n}")
    rows = [tuple(r * n + c for c in range(n)) for r in range(n)]
    cols = [tuple(r * n + c for r in range(n)) for c in range(n)]
    boxes = [tuple((br * box_h + r) * n + bc * box_w + c for r in range(box_h) for c in range(box_w))
             for br in range(n // box_h) for bc in range(n // box_w)]
    units = tuple(rows + cols + boxes)
    cell_units = []
    for i in range(n * n):
        r, c = divmod(i, n)
        cell_units.append((r, n + c, 2 * n + (r // box_h) * (n // box_w) + c // box_w))
    peers = tuple(tuple(sorted({j for u in cu for j in units[u]} - {i}))
                  for i, cu in enumerate(cell_units))
    return Geometry(n, box_h, box_w, units, tuple(cell_units), peers)


def _full(n: int) -> int:
    return (1 << (n + 1)) - 2          # bits 1..n


def candidate_masks(cells: Sequence[int], n: int) -> list[int]:
    """Per cell: bitmask of digits allowed by the rules (bit d for digit d); 0 for filled cells."""
    geo = geometry(n)
    used = [0] * (3 * n)
    for i, d in enumerate(cells):
        if d:
            for u in geo.cell_units[i]:
                used[u] |= 1 << d
    full = _full(n)
    out = []
    for i, d in enumerate(cells):
        if d:
            out.append(0)
        else:
            r, c, b = geo.cell_units[i]
            out.append(full & ~(used[r] | used[c] | used[b]))
    return out


def _digits(mask: int) -> list[int]:
    return [d for d in range(1, 10) if mask >> d & 1]


def conflicts(cells: Sequence[int], n: int) -> str | None:
    """A description of the first repeated digit in a unit, or None when there is none."""
    geo = geometry(n)
    names = ["row", "column", "box"]
    for k, unit in enumerate(geo.units):
        seen: set[int] = set()
        for i in unit:
            d = cells[i]
            if d and d in seen:
                return f"digit {d} appears twice in {names[k // n]} {k % n + 1}"
            seen.add(d)
    return None


@lru_cache(maxsize=1 << 14)
def propagate(cells: tuple[int, ...], n: int, hidden: bool = True) -> tuple[int, ...] | None:
    """Naked singles (and hidden singles when `hidden`) to a fixed point; None on a contradiction
    (a cell with no candidate, or a digit with no place left in some unit).

    Candidates are kept as bitmasks and updated as cells are filled (a fill removes its digit
    from the peers' masks), so a chain of forced fills costs one pass over the peers each."""
    geo = geometry(n)
    grid = list(cells)
    masks = candidate_masks(grid, n)
    peers, units, full = geo.peers, geo.units, _full(n)
    queue = [i for i, m in enumerate(masks) if not grid[i] and m & (m - 1) == 0]
    if any(not grid[i] and masks[i] == 0 for i in queue):
        return None

    def assign(i: int, d: int) -> bool:
        """Fill cell i with d; False on a contradiction (a peer left without candidates)."""
        grid[i], masks[i] = d, 0
        bit = 1 << d
        for p in peers[i]:
            m = masks[p]
            if m & bit:
                m &= ~bit
                masks[p] = m
                if m == 0:
                    return False
                if m & (m - 1) == 0:
                    queue.append(p)
        return True

    while True:
        while queue:
            i = queue.pop()
            if grid[i]:
                continue
            m = masks[i]
            if m == 0 or not assign(i, m.bit_length() - 1):
                return None
        if not hidden:
            return tuple(grid)
        progress = False
        for unit in units:
            missing, once, twice, _ = _place_counts(unit, grid, masks, full)
            if missing & ~once:
                return None                      # a digit with no place left in this unit
            singles = missing & once & ~twice
            while singles:
                bit = singles & -singles
                singles ^= bit
                for i in unit:
                    if not grid[i] and masks[i] & bit:
                        if not assign(i, bit.bit_length() - 1):
                            return None
                        progress = True
                        break
            if queue:
                break
        if not progress and not queue:
            return tuple(grid)


def _place_counts(unit: Sequence[int], grid: Sequence[int], masks: Sequence[int],
                  full: int) -> tuple[int, int, int, int]:
    """Bitmasks over digits for one unit: (missing from it, with >= 1, >= 2, >= 3 places)."""
    once = twice = thrice = present = 0
    for i in unit:
        if grid[i]:
            present |= 1 << grid[i]
        else:
            m = masks[i]
            thrice |= twice & m
            twice |= once & m
            once |= m
    return full & ~present, once, twice, thrice


def branching(cells: Sequence[int], n: int) -> list[tuple[int, int]]:
    """A complete set of alternatives for the next fill, as (cell index, digit) pairs: every
    solution of the grid makes exactly one of them. A forced fill (a naked or hidden single)
    if there is one; otherwise the smaller of the most-constrained cell's candidates and the
    places left for the most-constrained (unit, digit) -- Knuth's exact-cover rule of
    branching on the constraint with the fewest options. [] for a full grid or a grid where
    some cell or digit has no option left (a dead end)."""
    geo = geometry(n)
    masks = candidate_masks(cells, n)
    best: list[tuple[int, int]] | None = None
    for i, m in enumerate(masks):
        if not cells[i]:
            k = bin(m).count("1")
            if k == 0:
                return []
            if best is None or k < len(best):
                best = [(i, d) for d in _digits(m)]
                if k == 1:
                    return best
    if best is None:
        return []
    pair: tuple[tuple[int, ...], int] | None = None
    full = _full(n)
    for unit in geo.units:
        missing, once, twice, thrice = _place_counts(unit, cells, masks, full)
        if missing & ~once:
            return []                            # a digit with no place left in this unit
        single = missing & once & ~twice
        if single:
            bit = single & -single
            return [(next(i for i in unit if not cells[i] and masks[i] & bit),
                     bit.bit_length() - 1)]
        two = missing & twice & ~thrice
        if two and pair is None and len(best) > 2:
            bit = two & -two
            pair = (tuple(i for i in unit if not cells[i] and masks[i] & bit), bit.bit_length() - 1)
    if pair is not None:
        return [(i, pair[1]) for i in pair[0]]
    return best


def count_solutions(cells: Sequence[int], n: int, limit: int = 2) -> int:
    """Solutions of the grid, counting stops at `limit`. Propagation + most-constrained-cell DFS."""
    start = propagate(tuple(cells), n)
    if start is None:
        return 0
    count = 0

    def go(grid: tuple[int, ...]) -> None:
        nonlocal count
        masks = candidate_masks(grid, n)
        best, best_k = -1, 99
        for i, m in enumerate(masks):
            if not grid[i]:
                k = bin(m).count("1")
                if k < best_k:
                    best, best_k = i, k
        if best < 0:
            count += 1
            return
        for d in _digits(masks[best]):
            g = list(grid)
            g[best] = d
            nxt = propagate(tuple(g), n)
            if nxt is not None:
                go(nxt)
                if count >= limit:
                    return

    go(start)
    return count


def proof_branching(cells: tuple[int, ...], n: int) -> list[tuple[int, int]]:
    """`branching` of the propagated grid, as fills of `cells`: a complete set of alternatives
    for `cells` too (propagation only draws conclusions every solution shares), each a legal fill
    of `cells` (the cell is empty there and the digit still a candidate). The forced fills are
    skipped rather than walked one node at a time, so a proof of unsolvability expands only the
    real choice points. When propagation completes the grid, one of its forced fills (the first
    empty cell in reading order); [] when propagation finds a contradiction or the grid is full."""
    grid = propagate(tuple(cells), n)
    if grid is None:
        return []
    if all(grid):
        i = next((i for i, d in enumerate(cells) if not d), None)
        return [] if i is None else [(i, grid[i])]
    return branching(grid, n)


def most_constrained(cells: Sequence[int], n: int) -> tuple[int, list[int]] | None:
    """(index, candidate digits) of the empty cell with fewest candidates; None if the grid is full."""
    masks = candidate_masks(cells, n)
    best, best_k = -1, 99
    for i, m in enumerate(masks):
        if not cells[i]:
            k = bin(m).count("1")
            if k < best_k:
                best, best_k = i, k
    return None if best < 0 else (best, _digits(masks[best]))


# -- heuristics ---------------------------------------------------------------------------------
def estimate(state: SudokuState) -> float:
    """0 if propagation finds a contradiction, 1 if it completes the grid, else in (0.3, 0.9)
    growing with the share of cells filled after propagation."""
    grid = propagate(state.cells, state.size)
    if grid is None:
        return 0.0
    filled = sum(1 for d in grid if d)
    if filled == len(grid):
        return 1.0
    return 0.3 + 0.6 * filled / len(grid)


class SudokuHeuristicValue:
    """Constraint propagation (naked + hidden singles) as the value."""

    def evaluate(self, puzzle, states, *, rng: np.random.Generator) -> list[float]:
        return [estimate(s) for s in states]

    def __repr__(self) -> str:
        return "SudokuHeuristicValue()"


class SudokuOracleValue:
    """Exact solvability as the value (1 or 0). For ablations only: it is a full solver."""

    def evaluate(self, puzzle, states, *, rng: np.random.Generator) -> list[float]:
        return [1.0 if count_solutions(s.cells, s.size, limit=1) else 0.0 for s in states]

    def __repr__(self) -> str:
        return "SudokuOracleValue()"


class SudokuHeuristicPolicy:
    """The alternatives of `proof_branching` (the most-constrained cell's candidates, or the
    most-constrained digit's places in a unit, once propagation has drawn its conclusions).
    The first alternative (the one a depth-first solver tries first) gets prior `follow`; the
    others share the rest in proportion to exp(beta * estimate(next)). So on a grid with many
    solutions, where the alternatives are rated alike, MCTS dives along one line instead of
    widening every level. A complete branching (see the module docstring), hence
    `exhaustive = True`: with dead ends found by propagation, MCTS refutes an unsolvable grid by
    expanding a small proof tree, and walks forced fills one child at a time."""

    exhaustive = True

    def __init__(self, beta: float = 4.0, *, follow: float = 0.9) -> None:
        if not 0.0 < follow < 1.0:
            raise ValueError(f"follow must be in (0, 1), got {follow!r}")
        self.beta = beta
        self.follow = follow

    def propose(self, puzzle, state, *, k: int | None, rng: np.random.Generator):
        n, out = state.size, []
        for i, d in proof_branching(state.cells, n):
            step = Fill(i // n + 1, i % n + 1, d)
            nxt = puzzle.apply(state, step)
            out.append((step, math.exp(self.beta * estimate(nxt)), nxt))
        if len(out) > 1:   # the first option (a depth-first solver's next try) gets `follow`
            rest = sum(p for _, p, _ in out[1:])
            out = [(out[0][0], self.follow, out[0][2])] + [
                (st, (1.0 - self.follow) * p / rest, nxt) for st, p, nxt in out[1:]]
        return top_k(out, k)

    def __repr__(self) -> str:
        return f"SudokuHeuristicPolicy(beta={self.beta}, follow={self.follow})"


# -- generation ---------------------------------------------------------------------------------
def random_solution(n: int, rng: np.random.Generator) -> tuple[int, ...]:
    """A random valid grid (not uniform over all grids): a base pattern under random digit,
    row-in-band, band, column-in-stack and stack permutations, and a random transpose."""
    geo = geometry(n)
    bh, bw = geo.box_h, geo.box_w

    def base(r: int, c: int) -> int:
        return (bw * (r % bh) + r // bh + c) % n

    digits = [int(x) + 1 for x in rng.permutation(n)]
    rows = [b * bh + int(r) for b in rng.permutation(n // bh) for r in rng.permutation(bh)]
    cols = [s * bw + int(c) for s in rng.permutation(n // bw) for c in rng.permutation(bw)]
    grid = [digits[base(r, c)] for r in rows for c in cols]
    if rng.random() < 0.5:
        grid = [grid[c * n + r] for r in range(n) for c in range(n)]
    return tuple(grid)


TECHNIQUES = ("naked", "hidden", "search")


def technique_needed(cells: tuple[int, ...], n: int) -> str:
    """The weakest of naked singles / + hidden singles / search that completes the grid."""
    for name, hidden in (("naked", False), ("hidden", True)):
        g = propagate(cells, n, hidden)
        if g is not None and all(g):
            return name
    return "search"


# -- parsing ------------------------------------------------------------------------------------
_BULLET = re.compile(r"^\s*(?:[-•*]\s+|\d+[.)]\s+|step\s*\d*\s*:\s*)", re.IGNORECASE)
_STEP_RC = re.compile(r"^(?:r|row)\s*(\d)\s*[,;]?\s*(?:c|col|column)\s*(\d)\s*"
                      r"(?:=|:|->|is|to|:=)?\s*(\d)\s*\.?$", re.IGNORECASE)
_STEP_PAIR = re.compile(r"^\(\s*(\d)\s*,\s*(\d)\s*\)\s*(?:=|:|->)?\s*(\d)\s*\.?$")


_BLANKS = "._0"
_RULE_LINE = re.compile(r"^[\s\-+|=]*$")                 # '------+-------+------', blank lines
_HEADER = re.compile(r"^\s*grid\s*\d*\s*:?\s*$", re.IGNORECASE)   # 'Grid 01' (Project Euler 96)
_CELL_SEPARATORS = re.compile(r"[\s,|]+")


def _grid_cells(text: str) -> str:
    """The cells of a grid as printed in puzzle files, one character each: one line of 81 (16)
    characters, or one line per row with cells optionally separated by spaces or commas and
    boxes by `|`, rule lines of `-`, `+`, `|`, `=` between boxes, and a leading `Grid NN` line.
    ValueError (one line) for rows of different lengths or a `-` inside a row."""
    rows: list[str] = []
    for k, line in enumerate(text.strip().splitlines()):
        if _RULE_LINE.match(line) or (k == 0 and _HEADER.match(line)):
            continue
        if "-" in line:
            raise ValueError("sudoku instance: '-' inside a row (rule lines of '-' and '+' go "
                             "between rows; blanks are '.', '0' or '_')")
        rows.append("".join(_CELL_SEPARATORS.split(line)))
    chars = "".join(rows)
    bad = next((ch for ch in chars if ch not in _BLANKS and ch not in "123456789"), None)
    if bad is not None:
        raise ValueError(f"sudoku instance: unexpected character {bad!r} "
                         f"(use digits, with '.', '0' or '_' for blanks)")
    if len(chars) not in SIZES:
        raise ValueError(f"sudoku instance: need 81 (9x9) or 16 (4x4) cells, got {len(chars)}")
    n = SIZES[len(chars)]
    if len(rows) > 1:
        for i, row in enumerate(rows, 1):
            if len(row) != n:
                raise ValueError(f"sudoku instance: row {i} has {len(row)} cells, expected {n} "
                                 f"(one row per line, or all cells on one line)")
    return chars


# -- the puzzle ---------------------------------------------------------------------------------
class Sudoku:
    """Sudoku (9x9 or 4x4) as a `mcts_reason.types.Puzzle`."""

    name = "sudoku"
    description = "Sudoku: fill the 9x9 (or 4x4) grid so each row, column and box has each digit."

    def parse_instance(self, text: str) -> SudokuState:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("sudoku instance is empty: give 81 (or 16) cells row by row, "
                             "digits with '.', '0' or '_' for blanks")
        chars = _grid_cells(text)
        n = SIZES[len(chars)]
        cells = tuple(0 if ch in _BLANKS else int(ch) for ch in chars)
        big = next((d for d in cells if d > n), None)
        if big is not None:
            raise ValueError(f"sudoku instance: digit {big} is out of range for a {n}x{n} grid")
        clash = conflicts(cells, n)
        if clash:
            raise ValueError(f"sudoku instance has contradictory givens: {clash}")
        return SudokuState(n, cells)

    def legal_steps(self, state: SudokuState) -> list[Fill]:
        n = state.size
        out = []
        for i, m in enumerate(candidate_masks(state.cells, n)):
            if m:
                r, c = divmod(i, n)
                out.extend(Fill(r + 1, c + 1, d) for d in _digits(m))
        return out

    def parse_step(self, state: SudokuState, text: str) -> Fill | None:
        try:
            return self._parse_step(state, text)
        except (ValueError, TypeError, AttributeError, IndexError):   # never raise on model output
            return None

    def _parse_step(self, state: SudokuState, text: str) -> Fill | None:
        if not isinstance(text, str) or len(text) > 100:
            return None
        text = _BULLET.sub("", text, count=1).strip()
        m = _STEP_RC.match(text) or _STEP_PAIR.match(text)
        if not m:
            return None
        r, c, d = (int(g) for g in m.groups())
        n = state.size
        if not (1 <= r <= n and 1 <= c <= n and 1 <= d <= n):
            return None
        i = (r - 1) * n + (c - 1)
        if state.cells[i] or not candidate_masks(state.cells, n)[i] >> d & 1:
            return None
        return Fill(r, c, d)

    def apply(self, state: SudokuState, step: Fill) -> SudokuState:
        n = state.size
        i = (step.row - 1) * n + (step.col - 1)
        if not (1 <= step.row <= n and 1 <= step.col <= n) or state.cells[i] \
                or any(state.cells[p] == step.digit for p in geometry(n).peers[i]) \
                or not 1 <= step.digit <= n:
            raise ValueError(f"{step!r} is not legal in {state!r}")
        cells = list(state.cells)
        cells[i] = step.digit
        return SudokuState(n, tuple(cells))

    def is_solved(self, state: SudokuState) -> bool:
        return all(state.cells)             # legal steps never break a unit, so full = solved

    def is_dead_end(self, state: SudokuState) -> bool:
        """Singles propagation (deduction, no branching) reaches a contradiction."""
        return not self.is_solved(state) and propagate(state.cells, state.size) is None

    def render(self, state: SudokuState) -> str:
        """The grid, one row a line, `.` for blanks, boxes separated by | and -+- lines."""
        n, geo = state.size, geometry(state.size)
        stacks = n // geo.box_w
        seg = "-" * (2 * geo.box_w + 1)
        rule = "+".join([seg] * stacks)[1:-1]
        lines = []
        for r in range(n):
            if r and r % geo.box_h == 0:
                lines.append(rule)
            row = state.cells[r * n:(r + 1) * n]
            lines.append(" | ".join(" ".join(str(d) if d else "." for d in row[c:c + geo.box_w])
                                    for c in range(0, n, geo.box_w)))
        return "\n".join(lines)

    def render_step(self, state: SudokuState, step: Fill) -> str:
        return f"r{step.row}c{step.col}={step.digit}"

    def answer(self, initial: SudokuState, steps: Sequence[Fill]) -> str:
        state = initial
        for step in steps:
            state = self.apply(state, step)
        return "".join(str(d) if d else "." for d in state.cells)

    def verify(self, instance: str, answer: str) -> bool:
        """True when `answer` is a complete grid (81 or 16 digits; whitespace and | - + ignored)
        that keeps every given and repeats no digit in a row, column or box."""
        try:
            state = self.parse_instance(instance)
            if not isinstance(answer, str) or len(answer) > 2000:
                return False
            text = re.sub(r"^\s*answer\s*:\s*", "", answer, flags=re.IGNORECASE)
            chars = re.sub(r"[\s|+\-]", "", text)
            n = state.size
            if len(chars) != n * n or not all(ch in "123456789"[:n] for ch in chars):
                return False
            grid = tuple(int(ch) for ch in chars)
            if any(g and g != a for g, a in zip(state.cells, grid)):
                return False
            want = set(range(1, n + 1))
            return all({grid[i] for i in unit} == want for unit in geometry(n).units)
        except (ValueError, TypeError):        # verify never raises
            return False

    def heuristic_policy(self) -> SudokuHeuristicPolicy:
        return SudokuHeuristicPolicy()

    def heuristic_value(self) -> SudokuHeuristicValue:
        return SudokuHeuristicValue()

    def extra_values(self) -> dict:
        return {"oracle": SudokuOracleValue}

    # -- instance sets ----------------------------------------------------------------------------
    def generate(self, n: int, *, rng: np.random.Generator, size: int = 9,
                 givens: int | None = None, technique: str = "hidden") -> list[str]:
        """`n` puzzles with a unique solution. Difficulty knobs: `givens` (stop removing clues at
        this many; None: as few as uniqueness and the technique allow) and `technique`, the
        strongest deduction the puzzle may need: "naked" singles, "hidden" singles, or "search"
        (anything; such puzzles are kept only if singles alone do not solve them)."""
        if size not in (4, 9):
            raise ValueError(f"sudoku size must be 4 or 9, got {size}")
        if technique not in TECHNIQUES:
            raise ValueError(f"unknown technique {technique!r}; choose from {', '.join(TECHNIQUES)}")
        if givens is not None and not 0 <= givens <= size * size:
            raise ValueError(f"givens must be 0-{size * size}")
        out: list[str] = []
        tries = 0
        while len(out) < n:
            tries += 1
            if tries > 50 * (n + 1):
                raise ValueError("could not generate puzzles with those knobs")
            grid = list(random_solution(size, rng))
            count = size * size
            for i in (int(x) for x in rng.permutation(size * size)):
                if givens is not None and count <= givens:
                    break
                keep = grid[i]
                grid[i] = 0
                t = tuple(grid)
                ok = count_solutions(t, size) == 1
                if ok and technique != "search":
                    ok = TECHNIQUES.index(technique_needed(t, size)) <= TECHNIQUES.index(technique)
                if ok:
                    count -= 1
                else:
                    grid[i] = keep
            cells = tuple(grid)
            if technique == "search" and technique_needed(cells, size) != "search":
                continue
            out.append("".join(str(d) if d else "." for d in cells))
        return out

    _SETS = {
        "4x4": ("10 unique-solution 4x4 puzzles, as few givens as uniqueness allows",
                dict(n=10, seed=1, size=4, technique="hidden")),
        "easy": ("10 unique-solution 9x9 puzzles, 36 givens, naked singles suffice",
                 dict(n=10, seed=2, givens=36, technique="naked")),
        "medium": ("10 unique-solution 9x9 puzzles, about 27 givens, hidden singles suffice",
                   dict(n=10, seed=3, givens=27, technique="hidden")),
        "hard": ("5 unique-solution 9x9 puzzles that singles alone cannot solve",
                 dict(n=5, seed=4, technique="search")),
    }

    def named_sets(self) -> dict[str, str]:
        return {name: desc for name, (desc, _) in self._SETS.items()}

    def instance_set(self, name: str) -> list[str]:
        if name not in self._SETS:
            raise ValueError(f"unknown sudoku set {name!r}; known: {', '.join(self._SETS)}")
        kw = dict(self._SETS[name][1])
        n, seed = kw.pop("n"), kw.pop("seed")
        return self.generate(n, rng=np.random.default_rng(seed), **kw)

    # -- LLM prompts ------------------------------------------------------------------------------
    def propose_messages(self, state: SudokuState) -> list[dict]:
        n = state.size
        return [
            {"role": "system", "content":
                f"You are solving a {n}x{n} Sudoku: every row, column and box must contain each "
                f"digit 1-{n} exactly once. '.' is an empty cell. Rows and columns count from 1."},
            {"role": "user", "content":
                f"{self.render(state)}\n\n"
                "List several candidate next moves, one per line, in exactly the format "
                "rRcC=D (for example r3c5=7), best first. Prefer cells with only one possible "
                "digit. Write only the moves."},
        ]

    def value_messages(self, state: SudokuState) -> list[dict]:
        n = state.size
        return [
            {"role": "system", "content":
                f"You judge partial {n}x{n} Sudoku grids: can the empty cells ('.') still be "
                f"filled so every row, column and box has each digit 1-{n} exactly once?"},
            {"role": "user", "content":
                f"{self.render(state)}\n\n"
                "Check for cells with no possible digit and digits with no place in a row, column "
                "or box. End with one word on its own line: sure, likely or impossible."},
        ]

    def __repr__(self) -> str:
        return "Sudoku()"
