"""Sliding tiles (8-puzzle, 15-puzzle): slide tiles into the blank until the board is in order.

Instance text is the tiles row by row with 0 for the blank, e.g. `1 2 3 4 5 6 0 7 8` (a 3x3
board; 4, 9, 16 or 25 numbers give widths 2-5). The goal is `1 2 ... n-1` with the blank last,
or, with the prefix `blank-first:`, `0 1 2 ... n-1` (the search literature's convention, e.g.
Korf's 100 15-puzzle instances). Boards of the wrong permutation parity cannot reach the goal
and are rejected by `parse_instance`.

Blank-first goals cost the search nothing extra: turning the board by 180 degrees and renaming
tile t to n - t maps the goal `0 1 ... n-1` onto `1 ... n-1 0` and every move onto a move (the
direction reversed), so a blank-first board is stored in that blank-last frame (`Board.tiles`,
`Move`s), where the heuristics and IDA* work unchanged, and `blank_first` makes every text in
and out (`render`, `render_step`, `parse_step`, prompts) use the instance's own tile numbers
and directions. A step slides one tile next to the blank into it: `move 7 left` means tile 7
moves one cell left (the blank was left of it). A plan (the answer) is the steps joined by ", ".

Cycles. The board graph is full of cycles (every move can be undone), so the search tree repeats
boards. Every solvable board stays solvable, so no board is a dead end and no node can ever be a
proven loss: "all children lost" never happens, and the loss table that MCTS shares between
paths stays empty whatever the policy. Cycles only waste budget. The cheapest and most wasteful
cycle, undoing the move just made, is what IDA* prunes, and so do we: a state remembers the tile
moved last (`Board.last`), and the heuristic policy proposes every legal move but that undo.
It still sets `exhaustive = True`: the flag licenses loss proofs, and those stay sound because
no state here is a dead end, while a widening (non-exhaustive) policy would spend simulations
re-asking for children that do not exist. `legal_steps` and `parse_step` keep the undo: it is a
legal move by the rules. Longer cycles stay in the tree; the value steers away from them.
Skipping the undo matters: at 1000 simulations MCTS solves 20/20 `medium8` boards with it and
7/20 without (benchmarks/sections/puzzles-b.md).

Long horizons. On boards of width 4 and up the heuristics follow a staged expert
(`staged_plan`, the human method: top row, left column, then the smaller square, each group of
one or two tiles placed by a small exact search): the value is 2 ** (-its plan length / scale)
and the policy gives its next move prior 0.99, so MCTS solves uniformly random 15-puzzles at the
default budget with about one simulation per move (plans about 1.7x the optimum; see
benchmarks/long_horizon.py). 8-puzzles keep the plain Manhattan + linear-conflict heuristics.

`optimal_length` is an IDA* search with Manhattan distance plus linear conflict (admissible), so
benchmarks can report a plan's optimality gap (`gap`, `metrics`).
"""
from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mcts_reason.policies import top_k
from mcts_reason.values import DistanceValue

MIN_WIDTH, MAX_WIDTH = 2, 5
DIRECTIONS = ("up", "down", "left", "right")
# direction a tile moves -> (row, col) offset of the blank relative to the tile
_BLANK_OFFSET = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
_MAX_ANSWER_CHARS = 50_000


@dataclass(frozen=True, slots=True)
class Board:
    """A position: `tiles` row by row (0 = blank) on a `width` x `width` grid.

    `last` is the tile moved to reach this board (0 for an instance's initial board); it lets the
    heuristic policy skip the immediate undo. Two boards with the same tiles but different `last`
    are different search states (the price of the pruning: a few more value calls).
    """

    tiles: tuple[int, ...]
    width: int
    last: int = 0
    blank_first: bool = False

    @property
    def blank(self) -> int:
        return self.tiles.index(0)

    def __repr__(self) -> str:
        frame = ", blank_first" if self.blank_first else ""
        return (f"Board({' '.join(map(str, self.tiles))}, width={self.width}, "
                f"last={self.last}{frame})")


@dataclass(frozen=True, slots=True)
class Move:
    """Slide `tile` one cell in `direction` (up/down/left/right) into the blank."""

    tile: int
    direction: str

    def __repr__(self) -> str:
        return f"Move({self.tile} {self.direction})"


def goal_tiles(width: int) -> tuple[int, ...]:
    n = width * width
    return tuple(range(1, n)) + (0,)


_OPPOSITE = {"up": "down", "down": "up", "left": "right", "right": "left"}


def turned(tiles: Sequence[int]) -> tuple[int, ...]:
    """The board turned by 180 degrees with tile t renamed n - t (the blank stays 0): maps the
    blank-first goal onto the blank-last one and back (it is its own inverse)."""
    n = len(tiles)
    return tuple(n - t if t else 0 for t in reversed(tiles))


def turned_move(move: "Move", n: int) -> "Move":
    """`move` seen in the turned frame: the tile renamed, the direction reversed."""
    return Move(n - move.tile if move.tile else 0, _OPPOSITE.get(move.direction, move.direction))


def inversions(tiles: Sequence[int]) -> int:
    seq = [t for t in tiles if t]
    return sum(1 for i in range(len(seq)) for j in range(i + 1, len(seq)) if seq[i] > seq[j])


def is_solvable(tiles: Sequence[int], width: int) -> bool:
    """Permutation parity test against the goal with the blank last.

    Odd width: a move never changes the inversion parity, and the goal has none. Even width: a
    vertical move changes both the inversion parity (it jumps width-1 tiles) and the blank's row,
    so inversions + blank row is invariant; the goal has 0 + (width - 1).
    """
    inv = inversions(tiles)
    if width % 2:
        return inv % 2 == 0
    return (inv + tiles.index(0) // width) % 2 == (width - 1) % 2


# -- heuristics ---------------------------------------------------------------------------------
def manhattan(tiles: Sequence[int], width: int) -> int:
    total = 0
    for i, t in enumerate(tiles):
        if t:
            g = t - 1
            total += abs(i // width - g // width) + abs(i % width - g % width)
    return total


def _line_conflict(goal_positions: list[int]) -> int:
    """2 * (tiles that must leave the line to let the rest pass): len - longest increasing run."""
    if len(goal_positions) < 2:
        return 0
    best: list[int] = []          # patience sorting: longest strictly increasing subsequence
    for g in goal_positions:
        lo, hi = 0, len(best)
        while lo < hi:
            mid = (lo + hi) // 2
            if best[mid] < g:
                lo = mid + 1
            else:
                hi = mid
        if lo == len(best):
            best.append(g)
        else:
            best[lo] = g
    return 2 * (len(goal_positions) - len(best))


def _row_conflict(tiles: Sequence[int], width: int, r: int) -> int:
    line = [tiles[r * width + c] - 1 for c in range(width)]
    return _line_conflict([g % width for g in line if g >= 0 and g // width == r])


def _col_conflict(tiles: Sequence[int], width: int, c: int) -> int:
    line = [tiles[r * width + c] - 1 for r in range(width)]
    return _line_conflict([g // width for g in line if g >= 0 and g % width == c])


def linear_conflict(tiles: Sequence[int], width: int) -> int:
    """Hansson et al.'s linear conflict: extra moves forced by tiles in their goal row (column)
    but in reverse order. Per line, the fewest tiles that must step out and back (2 moves each)."""
    return sum(_row_conflict(tiles, width, r) + _col_conflict(tiles, width, r)
               for r in range(width))


def distance(tiles: Sequence[int], width: int) -> int:
    """Manhattan distance + linear conflict: an admissible lower bound on the moves left."""
    return manhattan(tiles, width) + linear_conflict(tiles, width)


def value_of(h: int, scale: float = 6.0) -> float:
    """Monotone map of a distance to (0, 1]: 1 at the goal, halving every `scale` moves."""
    return 2.0 ** (-h / scale)


def sliding_tokens(state: Board) -> list[str]:
    """See `Sliding.learn_tokens`."""
    w, tiles = state.width, state.tiles
    md = manhattan(tiles, w)
    out = [f"manhattan={md}", f"conflict={linear_conflict(tiles, w)}",
           f"distance={md + linear_conflict(tiles, w)}"]
    wrong = 0
    for i, t in enumerate(tiles):
        if t:
            d = abs(i // w - (t - 1) // w) + abs(i % w - (t - 1) % w)
            wrong += d > 0
            out.append(f"tile{t}-off={d}")
    out.append(f"misplaced={wrong}")
    if state.last:
        out.append(f"last=t{state.last}")      # the tile moved last (a text value: see
    return out                                 # features.delta_tokens, `~same` = an undo)


EXPERT_FROM_WIDTH = 4     # boards this wide or wider use the staged expert by default


class StagedPlans:
    """`staged_plan` with a memo: a plan from a board also gives the plan from every board
    along it (its suffixes), so a search that follows the plan never recomputes it. Bounded:
    cleared when it holds `max_boards` boards."""

    def __init__(self, max_boards: int = 200_000) -> None:
        self.max_boards = max_boards
        self._memo: dict[tuple[int, ...], tuple[int, ...]] = {}

    def __call__(self, tiles: tuple[int, ...], width: int) -> tuple[int, ...]:
        got = self._memo.get(tiles)
        if got is not None:
            return got
        plan = tuple(staged_plan(tiles, width))
        if len(self._memo) + len(plan) > self.max_boards:
            self._memo.clear()
        board, blank = list(tiles), tiles.index(0)
        for k, t in enumerate(plan):
            self._memo.setdefault(tuple(board), plan[k:])
            j = board.index(t)
            board[blank], board[j], blank = t, 0, j
        self._memo.setdefault(tuple(board), ())
        return plan

    def __repr__(self) -> str:
        return f"StagedPlans(max_boards={self.max_boards})"


def _use_expert(expert: bool | None, width: int) -> bool:
    return width >= EXPERT_FROM_WIDTH if expert is None else expert


class SlidingHeuristicValue(DistanceValue):
    """`value_of(distance)`: 2 ** (-moves / scale), with moves the length of the staged expert's
    plan (`staged_plan`, an achievable upper bound) on boards of width >= 4, and the admissible
    Manhattan + linear-conflict `distance` on smaller ones (`expert=True/False` forces either)."""

    deterministic = True

    def __init__(self, scale: float = 6.0, *, expert: bool | None = None,
                 plans: StagedPlans | None = None) -> None:
        super().__init__(scale)
        self.expert = expert
        self.plans = plans or StagedPlans()

    def distance(self, s) -> float:
        if _use_expert(self.expert, s.width):
            return len(self.plans(s.tiles, s.width))
        return distance(s.tiles, s.width)

    def __repr__(self) -> str:
        return f"SlidingHeuristicValue(scale={self.scale}, expert={self.expert})"


class SlidingHeuristicPolicy:
    """Every legal move except the undo of the last one, prior exp(-beta * distance(next)).

    On boards of width >= 4 (or with `expert=True`) the staged expert's next move gets prior
    `follow` and the other moves share the rest, so MCTS follows the expert's plan (about one
    simulation a move) and leaves it only where its value says a sibling is better.

    `exhaustive = True` although the undo is left out: see the module docstring (no board is a
    dead end, so the loss proofs the flag licenses never fire, and no solution needs an undo).
    `skip_undo=False` lists every legal move, for ablations: at 1000 simulations it solves 7/20
    of `medium8` instead of 20/20 (benchmarks/sections/puzzles-b.md).
    """

    exhaustive = True

    def __init__(self, beta: float = 2.0, *, skip_undo: bool = True, expert: bool | None = None,
                 follow: float = 0.99, plans: StagedPlans | None = None) -> None:
        if not 0.0 < follow < 1.0:
            raise ValueError(f"follow must be in (0, 1), got {follow!r}")
        self.beta = beta
        self.skip_undo = skip_undo
        self.expert, self.follow = expert, follow
        self.plans = plans or StagedPlans()

    def propose(self, puzzle, state, *, k: int | None, rng: np.random.Generator):
        out = []
        for step in puzzle.legal_steps(state):
            if self.skip_undo and step.tile == state.last:
                continue
            nxt = puzzle.apply(state, step)
            out.append((step, math.exp(-self.beta * distance(nxt.tiles, nxt.width)), nxt))
        if len(out) > 1 and _use_expert(self.expert, state.width):
            plan = self.plans(state.tiles, state.width)
            mine = [o for o in out if plan and o[0].tile == plan[0]]
            if mine:
                rest = sum(p for st, p, _ in out if st.tile != plan[0])
                out = [(st, self.follow if st.tile == plan[0] else (1 - self.follow) * p / rest,
                        nxt) for st, p, nxt in out]
        return top_k(out, k)

    def __repr__(self) -> str:
        return (f"SlidingHeuristicPolicy(beta={self.beta}, skip_undo={self.skip_undo}, "
                f"expert={self.expert}, follow={self.follow})")


class SlidingOracleValue(DistanceValue):
    """`value_of(optimal moves left)` by IDA*: the exact distance as the value. For ablations only
    (it is a solver); falls back to the heuristic distance past `max_nodes` expansions."""

    def __init__(self, scale: float = 6.0, max_nodes: int = 200_000) -> None:
        super().__init__(scale)
        self.max_nodes = max_nodes

    def distance(self, s) -> float:
        sol = ida_star(s.tiles, s.width, max_nodes=self.max_nodes)
        return distance(s.tiles, s.width) if sol is None else len(sol)

    def __repr__(self) -> str:
        return f"SlidingOracleValue(scale={self.scale}, max_nodes={self.max_nodes})"


# -- optimal solver -------------------------------------------------------------------------------
def ida_star(tiles: Sequence[int], width: int, *, max_nodes: int | None = None) -> list[int] | None:
    """An optimal solution as the list of tiles moved, by IDA* with Manhattan + linear conflict.

    Returns None when `max_nodes` node expansions were not enough (or the board is unsolvable).
    """
    tiles = list(tiles)
    if len(tiles) != width * width or sorted(tiles) != list(range(width * width)):
        raise ValueError("not a board")
    if not is_solvable(tiles, width):
        return None
    goal = list(goal_tiles(width))
    nbrs = [[j for j in (i - width, i + width) if 0 <= j < width * width]
            + [j for j in (i - 1, i + 1) if 0 <= j < width * width and j // width == i // width]
            for i in range(width * width)]
    rows = [_row_conflict(tiles, width, r) for r in range(width)]
    cols = [_col_conflict(tiles, width, c) for c in range(width)]
    md = manhattan(tiles, width)
    path: list[int] = []
    nodes = 0

    def dfs(blank: int, g: int, md: int, bound: int, last: int) -> int:
        """-1 when solved (path holds the moves), else the smallest f over the bound."""
        nonlocal nodes
        h = md + sum(rows) + sum(cols)
        f = g + h
        if f > bound:
            return f
        if h == 0 and tiles == goal:
            return -1
        nodes += 1
        if max_nodes is not None and nodes > max_nodes:
            raise _Budget
        best = math.inf
        for j in nbrs[blank]:
            t = tiles[j]
            if t == last:
                continue
            gr, gc = (t - 1) // width, (t - 1) % width
            d_old = abs(j // width - gr) + abs(j % width - gc)
            d_new = abs(blank // width - gr) + abs(blank % width - gc)
            tiles[blank], tiles[j] = t, 0
            vertical = j // width != blank // width
            if vertical:
                a, b = j // width, blank // width
                saved = rows[a], rows[b]
                rows[a], rows[b] = _row_conflict(tiles, width, a), _row_conflict(tiles, width, b)
            else:
                a, b = j % width, blank % width
                saved = cols[a], cols[b]
                cols[a], cols[b] = _col_conflict(tiles, width, a), _col_conflict(tiles, width, b)
            path.append(t)
            r = dfs(j, g + 1, md - d_old + d_new, bound, t)
            if r == -1:
                return -1
            path.pop()
            if vertical:
                rows[a], rows[b] = saved
            else:
                cols[a], cols[b] = saved
            tiles[blank], tiles[j] = 0, t
            best = min(best, r)
        return best

    bound = md + sum(rows) + sum(cols)
    try:
        while True:
            r = dfs(tiles.index(0), 0, md, bound, 0)
            if r == -1:
                return list(path)
            if r == math.inf:
                return None
            bound = r
    except _Budget:
        return None


class _Budget(Exception):
    pass


# -- staged expert ---------------------------------------------------------------------------------
def _group_plan(tiles: list[int], width: int, frozen: set[int], group: dict[int, int]
                ) -> list[int] | None:
    """Fewest blank moves that bring every tile of `group` (tile -> goal cell) home without the
    blank entering a `frozen` cell, by A* over (blank, the group's cells) with the group's
    Manhattan distance; other tiles are interchangeable. The blank's cells after each move, or
    None if impossible."""
    order = sorted(group)
    goal = tuple(group[t] for t in order)
    nbrs = _neighbours(width)

    def h(cells: tuple[int, ...]) -> int:
        return sum(abs(c // width - g // width) + abs(c % width - g % width)
                   for c, g in zip(cells, goal))

    start = (tiles.index(0), tuple(tiles.index(t) for t in order))
    best = {start: 0}
    came: dict = {}
    heap = [(h(start[1]), 0, start)]
    while heap:
        _, g, node = heapq.heappop(heap)
        if g > best[node]:
            continue
        blank, cells = node
        if cells == goal:
            path = []
            while node != start:
                path.append(node[0])
                node = came[node]
            return path[::-1]
        for j in nbrs[blank]:
            if j in frozen:
                continue
            nc = tuple(blank if c == j else c for c in cells)
            nxt = (j, nc)
            if g + 1 < best.get(nxt, 1 << 30):
                best[nxt] = g + 1
                came[nxt] = node
                heapq.heappush(heap, (g + 1 + h(nc), g + 1, nxt))
    return None


def _stages(width: int) -> list[list[int]]:
    """Tile groups solved one after another: the top row, then the left column, of an ever
    smaller square, each line in pairs with its last two tiles together (a line's last tile
    cannot be slid in alone once its neighbour is fixed); the final 2x2 as one group."""
    out: list[list[int]] = []
    top = 0
    while width - top > 2:
        row = [top * width + c + 1 for c in range(top, width)]
        col = [r * width + top + 1 for r in range(top + 1, width)]
        for line in (row, col):
            head, tail = line[:-2], line[-2:]
            out.extend(head[i:i + 2] for i in range(0, len(head), 2))
            out.append(tail)
        top += 1
    out.append([r * width + c + 1 for r in range(top, width) for c in range(top, width)
                if r * width + c + 1 < width * width])
    return out


def staged_plan(tiles: Sequence[int], width: int) -> list[int]:
    """A solution (the tiles moved) by the human method: solve the top row and the left column,
    then the smaller square that is left, down to 2x2; each group of one or two tiles is placed
    by a small exact search (`_group_plan`) that leaves the tiles already placed alone. Not
    optimal (about 1.5-2x on 15-puzzles) but cheap; immediate undos across stages are removed."""
    board = list(tiles)
    if not is_solvable(board, width):
        raise ValueError("unsolvable board")
    frozen: set[int] = set()
    moves: list[int] = []
    for group in _stages(width):
        want = {t: t - 1 for t in group}
        path = _group_plan(board, width, frozen, want)
        if path is None:
            raise AssertionError(f"stage {group} cannot be placed")   # unreachable
        for j in path:
            b = board.index(0)
            t = board[j]
            board[b], board[j] = t, 0
            if moves and moves[-1] == t:
                moves.pop()               # the move undoes the previous one
            else:
                moves.append(t)
        frozen |= set(want.values())
    if board != list(goal_tiles(width)):
        raise AssertionError("staged plan did not reach the goal")    # unreachable
    return moves


def _neighbours(width: int) -> list[list[int]]:
    n = width * width
    return [[j for j in (i - width, i + width) if 0 <= j < n]
            + [j for j in (i - 1, i + 1) if 0 <= j < n and j // width == i // width]
            for i in range(n)]


# -- parsing ------------------------------------------------------------------------------------
_BULLET = re.compile(r"^\s*(?:[-*•]\s+|\d+\s*[.):]\s+|step\s*\d*\s*[:.)-]\s*)", re.IGNORECASE)
_STEP = re.compile(
    r"^(?:(?:move|slide|shift|push)\s+)?(?:the\s+)?(?:tile\s+)?(?:number\s+)?#?(?P<tile>\d{1,3})"
    r"(?:\s+tile)?"
    r"(?:\s+(?:(?:to\s+the|towards\s+the|toward\s+the|to|towards|toward)\s+)?"
    r"(?P<dir>left|right|up|down|l|r|u|d)(?:wards?)?)?"
    r"\s*(?:\([^()]*\))?\s*[.;]?$",
    re.IGNORECASE)
_DIR_ALIAS = {"l": "left", "r": "right", "u": "up", "d": "down"}


# -- the puzzle ---------------------------------------------------------------------------------
class Sliding:
    """Sliding-tile puzzles as a `mcts_reason.types.Puzzle`."""

    name = "sliding"

    def __init__(self) -> None:
        self._plans = StagedPlans()      # shared by the heuristic policy and value
    description = ("Sliding tiles (8-/15-puzzle): tiles row by row, 0 = blank, e.g. "
                   "'1 2 3 4 5 6 0 7 8'; steps like 'move 7 left'.")

    def parse_instance(self, text: str) -> Board:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("sliding instance is empty: give the tiles row by row with 0 for the "
                             "blank, e.g. '1 2 3 4 5 6 0 7 8'")
        blank_first, body = _goal_prefix(text)
        parts = [p for p in re.split(r"[\s,;/|]+", body.strip()) if p]
        for p in parts:
            if not p.isascii() or not p.isdigit():
                raise ValueError(f"sliding instance {_short(text)}: {_short(p)} is not a whole number")
            if len(p) > 3:
                raise ValueError(f"sliding instance {_short(text)}: {_short(p)} is not a tile "
                                 f"(boards go up to 5x5)")
        n = len(parts)
        width = math.isqrt(n)
        if width * width != n or not MIN_WIDTH <= width <= MAX_WIDTH:
            hint = ""
            if math.isqrt(n - 1) ** 2 == n - 1 and n > 1:
                hint = (" (if the first number is the instance's index, as in Korf's files, "
                        "leave it out)")
            raise ValueError(f"sliding instance {_short(text)}: need 4, 9, 16 or 25 numbers "
                             f"(a square board), got {n}{hint}")
        tiles = tuple(int(p) for p in parts)
        if sorted(tiles) != list(range(n)):
            missing = sorted(set(range(n)) - set(tiles))
            extra = sorted(t for t in set(tiles) if not 0 <= t < n or tiles.count(t) > 1)
            what = f"missing {missing[0]}" if missing else f"bad or repeated {extra[0]}"
            raise ValueError(f"sliding instance {_short(text)}: the tiles must be 0-{n - 1} each "
                             f"once ({what})")
        if blank_first:
            tiles = turned(tiles)
        if not is_solvable(tiles, width):
            goal = f"0 1 2 ... {n - 1}" if blank_first else f"1 2 ... {n - 1} 0"
            if width % 2:     # both goals have no inversions: the same parity class
                other = "; the other goal convention has the same parity on odd widths"
            elif blank_first:
                other = "; for the blank-last goal leave out 'blank-first:'"
            else:
                other = "; for the goal 0 1 2 ... (blank first) write 'blank-first: <tiles>'"
            raise ValueError(f"sliding instance {_short(text)}: unsolvable for the goal {goal} "
                             f"(wrong permutation parity){other}")
        return Board(tiles, width, 0, blank_first)

    def instance_rules(self, state: Board) -> dict[str, str]:
        """The goal convention, for `solve`'s output and `bench` records."""
        return {"goal": "blank-first" if state.blank_first else "blank-last"}

    def legal_steps(self, state: Board) -> list[Move]:
        w, b = state.width, state.blank
        br, bc = divmod(b, w)
        out = []
        for d in DIRECTIONS:
            dr, dc = _BLANK_OFFSET[d]
            tr, tc = br - dr, bc - dc        # the tile sits opposite to where the blank is
            if 0 <= tr < w and 0 <= tc < w:
                out.append(Move(state.tiles[tr * w + tc], d))
        return out

    def parse_step(self, state: Board, text: str) -> Move | None:
        try:
            if not isinstance(text, str) or len(text) > 200:
                return None
            text = _BULLET.sub("", text.strip(), count=1).strip().strip("`*\"'").strip()
            m = _STEP.match(text)
            if not m:
                return None
            tile = int(m.group("tile"))
            direction = m.group("dir")
            for step in self.legal_steps(state):
                said = self._outside(state, step)     # the step in the instance's own frame
                if said.tile == tile and tile != 0:
                    if direction is None or _DIR_ALIAS.get(direction.lower(),
                                                            direction.lower()) == said.direction:
                        return step
            return None
        except Exception:  # parse_step never raises: bad text is data
            return None

    def apply(self, state: Board, step: Move) -> Board:
        w, b = state.width, state.blank
        dr, dc = _BLANK_OFFSET.get(step.direction, (0, 0))
        t = (b // w - dr) * w + (b % w - dc)
        if (dr, dc) == (0, 0) or not (0 <= b // w - dr < w and 0 <= b % w - dc < w) \
                or state.tiles[t] != step.tile or step.tile == 0:
            raise ValueError(f"{step!r} is not legal on {state!r}")
        tiles = list(state.tiles)
        tiles[b], tiles[t] = tiles[t], 0
        return Board(tuple(tiles), w, step.tile, state.blank_first)

    def is_solved(self, state: Board) -> bool:
        return state.tiles == goal_tiles(state.width)

    def is_dead_end(self, state: Board) -> bool:
        return False          # every board parse_instance accepts can reach the goal

    def render(self, state: Board) -> str:
        w = state.width
        cell = len(str(w * w - 1))
        tiles = turned(state.tiles) if state.blank_first else state.tiles
        rows = [" ".join((str(t) if t else "_").rjust(cell) for t in tiles[r * w:(r + 1) * w])
                for r in range(w)]
        return "\n".join(rows)

    def render_step(self, state: Board, step: Move) -> str:
        said = self._outside(state, step)
        return f"move {said.tile} {said.direction}"

    @staticmethod
    def _outside(state: Board, step: Move) -> Move:
        """`step` as the instance's text names it (tile numbers and direction)."""
        return turned_move(step, len(state.tiles)) if state.blank_first else step

    def goal_board(self, state: Board) -> Board:
        return Board(goal_tiles(state.width), state.width, 0, state.blank_first)

    def answer(self, initial: Board, steps: Sequence[Move]) -> str:
        return ", ".join(self.render_step(initial, s) for s in steps)

    def verify(self, instance: str, answer: str) -> bool:
        try:
            moves = self.plan(instance, answer)
            return moves is not None and self.is_solved(moves[1])
        except Exception:  # verify never raises
            return False

    def plan(self, instance: str, answer: str) -> tuple[int, Board] | None:
        """(number of moves, final board) of an answer, or None if a move is malformed/illegal."""
        state = self.parse_instance(instance)
        if not isinstance(answer, str) or len(answer) > _MAX_ANSWER_CHARS:
            return None
        text = re.sub(r"^\s*(?:answer|plan|solution)\s*:\s*", "", answer.strip(), flags=re.I)
        parts = [p for p in re.split(r"[,;\n]+", text) if p.strip()]
        if len(parts) == 1 and parts[0].strip().lower() in ("none", "(none)", "no moves"):
            parts = []
        for p in parts:
            step = self.parse_step(state, p)
            if step is None:
                return None
            state = self.apply(state, step)
        return len(parts), state

    def learn_tokens(self, state: Board) -> list[str]:
        """Structure tokens for the learned policy and value (`types.LearnTokens`): the Manhattan
        distance, the linear conflicts, the misplaced tiles, each tile's displacement (how
        many moves it is from its goal cell), and the tile moved last (`last=tN`)."""
        return sliding_tokens(state)

    def heuristic_policy(self) -> SlidingHeuristicPolicy:
        return SlidingHeuristicPolicy(plans=self._plans)

    def heuristic_value(self) -> SlidingHeuristicValue:
        return SlidingHeuristicValue(plans=self._plans)

    def extra_values(self) -> dict:
        return {"oracle": SlidingOracleValue}

    # -- optimality ------------------------------------------------------------------------------
    def optimal_length(self, instance: str, *, max_nodes: int | None = None) -> int | None:
        """Length of a shortest solution (IDA*); None if `max_nodes` expansions did not suffice."""
        board = self.parse_instance(instance)
        sol = ida_star(board.tiles, board.width, max_nodes=max_nodes)
        return None if sol is None else len(sol)

    def gap(self, instance: str, answer: str, *, optimal: int | None = None) -> int | None:
        """Moves in `answer` beyond the optimum (0 = optimal); None if the answer does not verify
        or the optimum is unknown. Pass `optimal` to reuse a length computed once."""
        if not self.verify(instance, answer):
            return None
        if optimal is None:
            optimal = self.optimal_length(instance)
        if optimal is None:
            return None
        return self.plan(instance, answer)[0] - optimal

    def metrics(self, instance: str, answer: str, *, max_nodes: int | None = 5_000_000) -> dict:
        """For benchmark records: plan length, optimal length (IDA*) and gap; None where unknown."""
        out = self.plan(instance, answer) if self.verify(instance, answer) else None
        optimal = self.optimal_length(instance, max_nodes=max_nodes)
        length = None if out is None else out[0]
        gap = None if length is None or optimal is None else length - optimal
        return {"length": length, "optimal": optimal, "gap": gap}

    # -- instance sets -----------------------------------------------------------------------------
    def generate(self, n: int, *, rng: np.random.Generator, width: int = 3,
                 depth: int | None = 20, blank_first: bool = False) -> list[str]:
        """`n` boards scrambled by `depth` random moves (no immediate undo) from the goal
        (with `blank_first`, from `0 1 2 ...`, written with the `blank-first:` prefix).

        The optimal length is at most `depth` (often less): `depth` is the difficulty knob.
        `depth=None`: uniformly random solvable boards, as in Korf's 1985 test set (a random
        permutation; when its parity is wrong, the first two tiles are swapped).
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        if n < 0 or (depth is not None and depth < 1) or not MIN_WIDTH <= width <= MAX_WIDTH:
            raise ValueError(f"need n >= 0, depth >= 1 and width {MIN_WIDTH}-{MAX_WIDTH}")
        if depth is None:
            out = []
            while len(out) < n:
                t = [int(x) for x in rng.permutation(width * width)]
                if not is_solvable(t, width):
                    a, b = [i for i in range(width * width) if t[i]][:2]
                    t[a], t[b] = t[b], t[a]
                if t != list(goal_tiles(width)):
                    tiles = turned(t) if blank_first else t
                    out.append(("blank-first: " if blank_first else "") + " ".join(map(str, tiles)))
            return out
        out = []
        goal = Board(goal_tiles(width), width)
        while len(out) < n:
            state = goal
            for _ in range(depth):
                steps = [s for s in self.legal_steps(state) if s.tile != state.last]
                state = self.apply(state, steps[int(rng.integers(len(steps)))])
            if not self.is_solved(state):
                tiles = turned(state.tiles) if blank_first else state.tiles
                out.append(("blank-first: " if blank_first else "") + " ".join(map(str, tiles)))
        return out

    def named_sets(self) -> dict[str, str]:
        return {name: desc for name, (desc, *_rest) in _SETS.items()}

    def instance_set(self, name: str) -> list[str]:
        if name not in _SETS:
            raise ValueError(f"unknown sliding instance set {name!r}; known: {', '.join(_SETS)}")
        _, seed, n, width, depth = _SETS[name]
        rng = np.random.default_rng(seed)
        # n distinct boards: a random scramble can repeat an earlier one (easy8 drew one
        # twice, so bench ran it twice); further draws from the same generator replace repeats,
        # which leaves a set without repeats exactly as `generate` draws it.
        out = list(dict.fromkeys(self.generate(n, rng=rng, width=width, depth=depth)))
        while len(out) < n:
            board = self.generate(1, rng=rng, width=width, depth=depth)[0]
            if board not in out:
                out.append(board)
        return out

    # -- LLM prompts -------------------------------------------------------------------------------
    prompt_field_names = ("goal", "moves")

    def prompt_fields(self, state: Board) -> dict[str, str]:
        """{goal} (the solved board) and {moves} (the legal moves), for a user's prompt file."""
        return {"goal": self.render(Board(goal_tiles(state.width), state.width)),
                "moves": ", ".join(self.render_step(state, s) for s in self.legal_steps(state))}

    def propose_messages(self, state: Board) -> list[dict]:
        w = state.width
        goal = self.render(self.goal_board(state))
        moves = ", ".join(self.render_step(state, s) for s in self.legal_steps(state))
        return [
            {"role": "system", "content": (
                f"You solve sliding-tile puzzles on a {w}x{w} board. '_' is the blank. A move "
                "slides one tile that is next to the blank into the blank, written "
                "'move <tile> <left|right|up|down>' (the direction the tile travels). The goal "
                f"is:\n{goal}")},
            {"role": "user", "content": (
                f"Board:\n{self.render(state)}\n\nLegal moves now: {moves}.\n"
                "Propose the most promising next moves, best first, one per line, each exactly "
                "in the form 'move <tile> <direction>', with nothing else on the line.")},
        ]

    def value_messages(self, state: Board) -> list[dict]:
        goal = self.render(self.goal_board(state))
        return [
            {"role": "system", "content": (
                "You judge positions of sliding-tile puzzles. '_' is the blank; a move slides a "
                f"tile next to the blank into it. The goal is:\n{goal}")},
            {"role": "user", "content": (
                f"Board:\n{self.render(state)}\n\nHow close is this board to the goal? Count the "
                "misplaced tiles and how far each must travel. Reason briefly, then end with one "
                "word on the last line: sure (solvable in a few moves), likely (a moderate number "
                "of moves), or impossible (far from the goal).")},
        ]

    def __repr__(self) -> str:
        return "Sliding()"


# name -> (description, seed, count, width, scramble depth)
_SETS = {
    "easy8": ("20 8-puzzles scrambled by 12 random moves", 8012, 20, 3, 12),
    "medium8": ("20 8-puzzles scrambled by 30 random moves", 8030, 20, 3, 30),
    "hard8": ("20 8-puzzles scrambled by 200 random moves (about uniform)", 8200, 20, 3, 200),
    "easy15": ("20 15-puzzles scrambled by 15 random moves", 15015, 20, 4, 15),
    "medium15": ("20 15-puzzles scrambled by 40 random moves", 15040, 20, 4, 40),
    "korf15": ("20 uniformly random solvable 15-puzzles (Korf-style; optimum about 53)", 15100,
               20, 4, None),
}


_GOAL_PREFIX = re.compile(r"^\s*(blank-first|blank-last)\s*:", re.IGNORECASE)


def _goal_prefix(text: str) -> tuple[bool, str]:
    """(blank_first, the tiles' text) of an instance with an optional goal prefix."""
    m = _GOAL_PREFIX.match(text)
    if m is None:
        return False, text
    return m.group(1).lower() == "blank-first", text[m.end():]


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
