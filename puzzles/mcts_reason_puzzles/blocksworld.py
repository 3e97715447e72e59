"""Blocksworld in natural language, the domain of RAP and PlanBench.

Blocks sit on the table or on one other block; one hand holds at most one block. Four actions:
`pick up the red block` (from the table), `unstack the red block from the blue block`,
`put down the red block` (onto the table), `stack the red block on top of the blue block`. A block
can be taken only when it is clear (nothing on it) and the hand is empty; a block can be stacked
only on a clear block.

Instance text: an `initial:` section and a `goal:` section, each a list of facts separated by
commas, semicolons or "and" (sections separated by a semicolon or a new line):

    initial: the red block is on the table, the blue block is on top of the red block,
             the hand is empty; goal: the red block is on top of the blue block

PlanBench / RAP statements are read as published: "As initial conditions I have that, the red
block is clear, ..., the hand is empty, ... and the blue block is on the table. My goal is to have
that the orange block is on top of the red block.", optionally inside `[STATEMENT] ...` and
followed by "My plan is as follows:" / `[PLAN]` (whatever follows those is not read).

Facts: `the X block is on the table`, `the X block is on (top of) the Y block`,
`the X block is clear`, `the hand is empty`, `the hand is holding the X block`. Block names are
single words (colours in the generated sets; PDDL-style letters such as `the a block`,
`block b`, `a is on b` work too); "the" and "block" may be left out. The initial
section must place every block exactly once (on the table, on a block, or in the hand); the goal
is partial, as in PlanBench (usually only "on" facts), and must not contradict itself. The plan
(the answer) is the steps joined by ", "; `format_answer` rewrites it one action per line in
PlanBench's two forms, PDDL `(unstack red blue)` and text "unstack the red block from on top of
the blue block" (`solve --answer-format pddl|text`), and `parse_step` reads both back.

As in sliding tiles, every state can still reach a consistent goal, so no state is a dead end and
MCTS never proves a loss; the heuristic policy lists every legal step (`exhaustive = True`).

Long horizons. The heuristics are goal-directed (`expert_plan`, the classic strategy: a block
goes straight to its final place when that place is ready, otherwise misplaced blocks go to the
table): the value is 2 ** (-length of that plan / scale), and the policy ranks actions by what
the strategy thinks of them (`action_rank`) with a bonus for the strategy's own next action, so
MCTS follows one coherent plan and spends about one simulation per action (the `large` set, 6-15
blocks, is solved at the default budget; benchmarks/long_horizon.py).
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

TABLE, HAND = "table", "hand"
MAX_BLOCKS = 26
COLOURS = ("red", "blue", "orange", "yellow", "white", "magenta", "black", "cyan", "green",
           "violet", "silver", "gold", "brown", "pink", "purple", "grey")
# words that cannot name a block ("a" and "i" can: PDDL-style instances name blocks a, b, c, ...)
_RESERVED = frozenset({TABLE, HAND, "block", "blocks", "the", "an", "top", "on", "of", "is",
                       "and", "from", "onto", "empty", "clear", "holding", "up", "down", "off",
                       "to", "upon", "atop", "with", "goal", "initial", "you", "then"})
_MAX_ANSWER_CHARS = 50_000


@dataclass(frozen=True, slots=True)
class Goal:
    """What must hold at the end: `on` pairs (block, block or "table"), `clear` blocks and
    optionally an empty hand. Facts not mentioned are free."""

    on: tuple[tuple[str, str], ...] = ()
    clear: tuple[str, ...] = ()
    hand_empty: bool = False

    def __repr__(self) -> str:
        parts = [f"{a} on {b}" for a, b in self.on] + [f"{c} clear" for c in self.clear]
        return "Goal(" + ", ".join(parts + (["hand empty"] if self.hand_empty else [])) + ")"


@dataclass(frozen=True, slots=True)
class World:
    """A state: `pos` maps each block (sorted by name) to "table", "hand" or the block below it;
    the goal rides along so that `is_solved` can see it."""

    pos: tuple[tuple[str, str], ...]
    goal: Goal

    @property
    def blocks(self) -> tuple[str, ...]:
        return tuple(b for b, _ in self.pos)

    @property
    def holding(self) -> str | None:
        return next((b for b, p in self.pos if p == HAND), None)

    def where(self) -> dict[str, str]:
        return dict(self.pos)

    def clear(self) -> set[str]:
        """Blocks with nothing on them and not in the hand."""
        below = {p for _, p in self.pos}
        return {b for b, p in self.pos if p != HAND and b not in below}

    def __repr__(self) -> str:
        return "World(" + ", ".join(f"{b}/{p}" for b, p in self.pos) + f"; {self.goal!r})"


@dataclass(frozen=True, slots=True)
class Action:
    """`verb` is pick-up, put-down, stack or unstack; `target` is the block below (stack/unstack)."""

    verb: str
    block: str
    target: str | None = None

    def __repr__(self) -> str:
        return f"Action({self.verb} {self.block}" + (f" {self.target})" if self.target else ")")


# -- rules ----------------------------------------------------------------------------------------
def legal_actions(state: World) -> list[Action]:
    held, clear = state.holding, state.clear()
    out = []
    if held is None:
        for b, p in state.pos:
            if b in clear:
                out.append(Action("pick-up", b) if p == TABLE else Action("unstack", b, p))
    else:
        out.append(Action("put-down", held))
        out.extend(Action("stack", held, b) for b in sorted(clear))
    return out


def is_legal(state: World, a: Action) -> bool:
    where = state.where()
    if a.block not in where:
        return False
    held, clear = state.holding, state.clear()
    if a.verb == "pick-up":
        return held is None and where[a.block] == TABLE and a.block in clear and a.target is None
    if a.verb == "unstack":
        return held is None and a.target is not None and where[a.block] == a.target \
            and a.target in where and a.block in clear
    if a.verb == "put-down":
        return held == a.block and a.target is None
    if a.verb == "stack":
        return held == a.block and a.target in clear and a.target != a.block
    return False


def goal_holds(state: World, goal: Goal) -> bool:
    where = state.where()
    if goal.hand_empty and state.holding is not None:
        return False
    if any(where.get(b) != p for b, p in goal.on):
        return False
    clear = state.clear()
    return all(c in clear for c in goal.clear)


def placed(state: World) -> set[str]:
    """Blocks that never need to move again: their support matches the goal (or is free and
    wanted by no other block) all the way down to the table."""
    return _placed(state.where(), state.goal)


def _placed(where: dict[str, str], goal: Goal) -> set[str]:
    goal_on = dict(goal.on)
    # supports the goal reserves: for the block it puts there, or to stay clear
    wanted_below = {p for _, p in goal.on if p != TABLE} | set(goal.clear)
    done: set[str] = set()
    for b in _bottom_up(where):
        p = where[b]
        if p == HAND:
            continue
        if b in goal_on:
            ok = goal_on[b] == p
        elif p == TABLE:
            ok = True
        else:
            ok = p not in wanted_below
        if ok and (p == TABLE or p in done):
            done.add(b)
    return done


def _bottom_up(where: dict[str, str]) -> list[str]:
    order, seen = [], set()
    for b in sorted(where):
        chain = []
        x = b
        while x not in seen and x in where:
            chain.append(x)
            seen.add(x)
            x = where[x]
        order.extend(reversed(chain))
    return order


def remaining(state: World) -> int:
    """A lower bound on the actions left: every block not `placed` must still move at least once,
    2 actions (take + place), or 1 if it is already in the hand."""
    done = placed(state)
    return sum(1 if p == HAND else 2 for b, p in state.pos if b not in done)


def expert_plan(state: World) -> list[Action]:
    """A plan by the classic goal-directed strategy (Gupta & Nau's "US" algorithm in hand-action
    form): put the held block in its final place if that place is ready, else on the table; with
    an empty hand take a clear misplaced block whose final place is ready (the table, or a
    `placed` clear block) -- such a move is final -- and when there is none (a deadlock), move a
    clear misplaced block that stands on another block to the table, preferring one whose removal
    frees a final place soonest. Blocks that are `placed` are never touched, so every block moves
    at most twice: the plan has at most 4 actions per block, and it always reaches the goal.

    The goal holds exactly when every block but a held one is `placed` (and the hand is empty if
    the goal says so); taking a block off another never changes what is placed, and a block put
    in its final place becomes placed, so `placed` is kept up to date as the plan is built."""
    where, goal = state.where(), state.goal
    goal_on = dict(goal.on)
    done = _placed(where, goal)
    covered: dict[str, int] = {}
    for p in where.values():
        if p not in (TABLE, HAND):
            covered[p] = covered.get(p, 0) + 1
    held = next((b for b, p in where.items() if p == HAND), None)
    plan: list[Action] = []

    def ready(b: str) -> bool:
        d = goal_on.get(b, TABLE)
        return d == TABLE or (d in done and not covered.get(d))

    def put(b: str, dest: str) -> None:
        where[b] = dest
        if dest == TABLE:
            plan.append(Action("put-down", b))
            if goal_on.get(b, TABLE) == TABLE:
                done.add(b)
        else:
            plan.append(Action("stack", b, dest))
            covered[dest] = covered.get(dest, 0) + 1
            done.add(b)                  # only ever stacked on its ready final place

    n = len(where)
    for _ in range(4 * n + 2):
        if held is not None:
            d = goal_on.get(held, TABLE)
            put(held, d if d != TABLE and ready(held) else TABLE)
            held = None
            continue
        if len(done) == n:
            return plan
        todo = sorted(b for b in where if not covered.get(b) and b not in done)
        moves = [b for b in todo if ready(b)]
        if not moves:
            moves = sorted((b for b in todo if where[b] != TABLE),
                           key=lambda b: (_blocked_depth(b, where, goal_on, done), b))
        held = moves[0]
        below = where[held]
        if below == TABLE:
            plan.append(Action("pick-up", held))
        else:
            plan.append(Action("unstack", held, below))
            covered[below] -= 1
        where[held] = HAND
    raise AssertionError("expert_plan did not reach the goal")   # unreachable (see docstring)


def _blocked_depth(b: str, where: dict[str, str], goal_on: dict[str, str], done: set[str]) -> int:
    """How many blocks sit above the nearest block below `b` that some misplaced block is waiting
    for (its goal support): small means moving `b` away frees a final place soon."""
    wanted = {d for x, d in goal_on.items() if d != TABLE and x not in done}
    depth, x = 0, where[b]
    while x not in (TABLE, HAND):
        if x in wanted:
            return depth
        depth += 1
        x = where[x]
    return len(where)


def shortest(start: World, *, max_states: int | None = 2_000_000) -> int | None:
    """Length of a shortest plan from `start` by A* with `remaining` (admissible: every block
    not yet `placed` must still be taken and put somewhere); None past `max_states` states."""
    best = {start: 0}
    tie = 0
    heap = [(remaining(start), 0, tie, start)]
    while heap:
        _, g, _, s = heapq.heappop(heap)
        if g > best[s]:
            continue                      # a stale entry: s was reached more cheaply since
        if goal_holds(s, s.goal):
            return g
        for a in legal_actions(s):
            n = _apply(s, a)
            if g + 1 < best.get(n, math.inf):
                best[n] = g + 1
                tie += 1
                heapq.heappush(heap, (g + 1 + remaining(n), g + 1, tie, n))
        if max_states is not None and len(best) > max_states:
            return None
    return None


def _apply(state: World, a: Action) -> World:
    where = state.where()
    where[a.block] = {"pick-up": HAND, "unstack": HAND, "put-down": TABLE,
                      "stack": a.target}[a.verb]
    return World(tuple(sorted(where.items())), state.goal)


def blocksworld_tokens(state: World) -> list[str]:
    """See `Blocksworld.learn_tokens`."""
    done = placed(state)
    n = len(state.pos)
    out = [f"placed={len(done)}/{n}", f"unplaced={n - len(done)}",
           f"remaining={remaining(state)}"]
    if goal_holds(state, state.goal):
        out.append("goal-holds")
    held = state.holding
    if held is None:
        out.append("hand-empty")
    else:
        target = dict(state.goal.on).get(held)
        ready = target == TABLE or (target is not None and target in done
                                    and target in state.clear())
        out.append("holding-ready" if ready else
                   "holding-free" if target is None else "holding-not-ready")
    clear_unplaced = sum(1 for b in state.clear() if b not in done)
    out.append(f"clear-unplaced={clear_unplaced}")
    return out


class BlocksworldOracleValue(DistanceValue):
    """2 ** (-shortest / scale): the exact distance as the value. For ablations only (a solver)."""

    def __init__(self, scale: float = 4.0) -> None:
        super().__init__(scale)

    def distance(self, s) -> float:
        d = shortest(s, max_states=200_000)
        return remaining(s) if d is None else d


class BlocksworldHeuristicValue(DistanceValue):
    """2 ** (-distance / scale), 1 when the goal holds. The distance is the length of
    `expert_plan` from the state (an upper bound that the goal-directed strategy achieves; on
    the 3-6-block sets it equals the optimum on every instance tried), or, with
    `distance="lower"`, the admissible `remaining` count (the older, weaker value: every
    misplaced block counts 2, so most siblings tie)."""

    deterministic = True

    def __init__(self, scale: float = 4.0, *, distance: str = "expert") -> None:
        super().__init__(scale)
        if distance not in ("expert", "lower"):
            raise ValueError(f"distance must be 'expert' or 'lower', got {distance!r}")
        self.kind = distance

    def distance(self, s) -> float:
        if goal_holds(s, s.goal):
            return 0
        return len(expert_plan(s)) if self.kind == "expert" else remaining(s)

    def __repr__(self) -> str:
        return f"BlocksworldHeuristicValue(scale={self.scale}, distance={self.kind!r})"


def action_rank(state: World) -> dict[Action, int]:
    """Every legal action ranked by what the goal-directed strategy thinks of it (0 best):
    0 puts a block in its final place (or takes a block whose final place is ready, or puts the
    held block on the table when its final place is not ready); 1 takes a misplaced block off
    another block while nothing can go to its final place (resolving a deadlock), or when
    something can; 2 takes a misplaced block off the table before its place is ready, or puts
    the held block down when it could go to its final place; 3 touches a `placed` block or
    stacks the held block anywhere but its final place."""
    where, goal_on = state.where(), dict(state.goal.on)
    done = _placed(where, state.goal)
    covered = {p for p in where.values() if p not in (TABLE, HAND)}

    def ready(b: str) -> bool:
        d = goal_on.get(b, TABLE)
        return d == TABLE or (d in done and d not in covered)

    out: dict[Action, int] = {}
    for a in legal_actions(state):
        b = a.block
        if a.verb in ("pick-up", "unstack"):
            if b in done:
                out[a] = 3
            elif ready(b):
                out[a] = 0
            else:
                out[a] = 1 if a.verb == "unstack" else 2
        elif a.verb == "put-down":
            final = goal_on.get(b, TABLE)
            out[a] = 0 if final == TABLE or not ready(b) else 2
        else:
            out[a] = 0 if goal_on.get(b) == a.target and ready(b) else 3
    return out


class BlocksworldHeuristicPolicy:
    """Every legal action, prior exp(-beta * (rank + follow * [not the expert's next action]))
    with `action_rank` (the goal-directed strategy's preferences) and `expert_plan`'s first
    action, so that among several equally good moves the search follows one coherent plan
    instead of spreading its visits over their many orders; `exhaustive = True`. Other ties
    (equal ranks) are broken by the engine's seeded tie-break."""

    exhaustive = True

    def __init__(self, beta: float = 2.0, *, follow: float = 1.0) -> None:
        self.beta = beta
        self.follow = follow

    def propose(self, puzzle, state, *, k: int | None, rng: np.random.Generator):
        ranks = action_rank(state)
        plan = expert_plan(state) if self.follow else []
        first = plan[0] if plan else None
        out = [(a, math.exp(-self.beta * (r + (a != first) * self.follow)), _apply(state, a))
               for a, r in ranks.items()]
        return top_k(out, k)

    def __repr__(self) -> str:
        return f"BlocksworldHeuristicPolicy(beta={self.beta}, follow={self.follow})"


# -- text -----------------------------------------------------------------------------------------
_NAME = r"[a-z][a-z0-9_\-]*"
_B = rf"(?:the\s+|a\s+)?(?:block\s+)?(?P<{{g}}>{_NAME})(?:\s+block)?"


def _blk(group: str) -> str:
    return _B.format(g=group)


_FACT_TABLE = re.compile(rf"^{_blk('x')}\s+is\s+(?:on|upon|sitting\s+on|resting\s+on)\s+"
                         rf"(?:top\s+of\s+)?the\s+table$")
_FACT_ON = re.compile(rf"^{_blk('x')}\s+is\s+(?:on\s+top\s+of|on|upon|atop|stacked\s+on(?:\s+top\s+of)?)"
                      rf"\s+{_blk('y')}$")
_FACT_CLEAR = re.compile(rf"^{_blk('x')}\s+is\s+clear$")
_FACT_EMPTY = re.compile(r"^(?:the\s+)?hand\s+is\s+empty$")
_FACT_HOLD = re.compile(rf"^(?:the\s+)?hand\s+is\s+holding\s+{_blk('x')}$|^(?:i\s+am|you\s+are)\s+"
                        rf"holding\s+{_blk('x2')}$")
_INIT_LABEL = re.compile(r"as\s+initial\s+conditions\s+i\s+have\s+that\s*[,:]?|"
                         r"(?:initial(?:[ \t]+state)?|init|start)[ \t]*:")
_STATEMENT = "[statement]"
_PLAN_START = re.compile(r"\[plan\]|\bmy\s+plan\s+is\s+as\s+follows\b")
_GOAL_LABEL = re.compile(r"\b(?:my[ \t]+goal[ \t]+is[ \t]+to[ \t]+have[ \t]+that|goal)\b[ \t]*:?")
_SPLIT = re.compile(r",|;|\n|\.\s|\band\b")


def _facts(text: str) -> list[str]:
    out = []
    for f in _SPLIT.split(text.lower()):
        f = f.strip().strip(".").strip()
        if f:
            out.append(" ".join(f.split()))
    return out


def _sections(text: str) -> tuple[str, str] | None:
    """(initial facts, goal facts) text, or None. Plain scanning, no backtracking regex.
    A PlanBench `[STATEMENT]` is read from its marker to "My plan is as follows" / `[PLAN]`;
    two statements (a prompt with a worked example) are ambiguous: ValueError."""
    low = text.lower()
    if (k := low.count(_STATEMENT)) > 1:
        raise ValueError(f"blocksworld instance: {k} [STATEMENT] sections (a prompt with worked "
                         f"examples?); give only the one to solve")
    if k:
        low = low[low.index(_STATEMENT) + len(_STATEMENT):]
    if plan := _PLAN_START.search(low):
        low = low[:plan.start()]
    low = low.strip()
    m = _INIT_LABEL.match(low)
    g = _GOAL_LABEL.search(low, m.end()) if m else None
    if not m or not g:
        return None
    return low[m.end():g.start()], low[g.end():]


def _check_name(name: str, where: str, raw: str) -> str:
    if name in _RESERVED:
        raise ValueError(f"blocksworld instance: {name!r} cannot name a block ({where}: {raw!r})")
    return name


def _parse_fact(fact: str, where: str):
    """(kind, a, b) for one fact; ValueError naming the fact when it is not understood."""
    if _FACT_EMPTY.match(fact):
        return ("empty", None, None)
    if m := _FACT_HOLD.match(fact):
        return ("on", _check_name(m.group("x") or m.group("x2"), where, fact), HAND)
    if m := _FACT_TABLE.match(fact):
        return ("on", _check_name(m.group("x"), where, fact), TABLE)
    if m := _FACT_ON.match(fact):
        x, y = _check_name(m.group("x"), where, fact), m.group("y")
        if y == TABLE:
            return ("on", x, TABLE)
        return ("on", x, _check_name(y, where, fact))
    if m := _FACT_CLEAR.match(fact):
        return ("clear", _check_name(m.group("x"), where, fact), None)
    raise ValueError(f"blocksworld instance: cannot read the {where} fact {_short(fact)}; use e.g. "
                     f"'the red block is on the table', 'the red block is on top of the blue "
                     f"block', 'the red block is clear', 'the hand is empty'")


def _cycle(on: dict[str, str]) -> str | None:
    for start in on:
        seen, x = set(), start
        while x in on:
            if x in seen:
                return x
            seen.add(x)
            x = on[x]
    return None


def _render_block(b: str) -> str:
    return f"the {b} block"


# -- step parsing ---------------------------------------------------------------------------------
_BULLET = re.compile(r"^\s*(?:[-*•]\s+|\d+\s*[.):]\s+|step\s*\d*\s*[:.)-]\s*|\[\w+\]\s*)",
                     re.IGNORECASE)
_N = _NAME
_STEP_PATTERNS = [
    # unstack X (from Y)
    ("unstack", re.compile(rf"^(?:unstack|un-stack)\s+(?P<x>{_N})(?:\s+(?:from|off)(?:\s+of)?"
                           rf"(?:\s+on)?(?:\s+top\s+of)?\s+(?P<y>{_N}))?$")),
    # pick up / take / lift X from Y  -> unstack
    ("unstack", re.compile(rf"^(?:pick\s*-?\s*up|pick|take|lift|grab|remove)\s+(?P<x>{_N})(?:\s+up)?"
                           rf"\s+(?:from|off)(?:\s+of)?(?:\s+on)?(?:\s+top\s+of)?\s+(?P<y>{_N})$")),
    # pick up X
    ("pick-up", re.compile(rf"^(?:pick\s*-?\s*up|pick|take|lift|grab)\s+(?P<x>{_N})(?:\s+up)?$")),
    # put down X / put X down (on table)
    ("put-down", re.compile(rf"^(?:put\s*-?\s*down|set\s+down|place\s+down|lower)\s+(?P<x>{_N})"
                            rf"(?:\s+(?:on|onto)(?:\s+top\s+of)?\s+table)?$")),
    ("put-down", re.compile(rf"^(?:put|set|place|lay)\s+(?P<x>{_N})\s+down"
                            rf"(?:\s+(?:on|onto)(?:\s+top\s+of)?\s+table)?$")),
    # stack / put / place X on (top of) Y (Y may be the table)
    ("stack", re.compile(rf"^(?:stack|(?:put|place|set|lay)(?:\s+down)?|move)\s+(?P<x>{_N})(?:\s+down)?\s+"
                         rf"(?:on\s+top\s+of|onto|on\s+to|on|upon|atop)\s+(?P<y>{_N})$")),
]


_PDDL_STEP = re.compile(rf"^\(\s*(?P<verb>pick-up|pickup|put-down|putdown|stack|unstack)\s+"
                        rf"(?P<x>{_N})(?:\s+(?P<y>{_N}))?\s*\)$")
_PDDL_VERBS = {"pickup": "pick-up", "putdown": "put-down"}
_ARITY = {"pick-up": 1, "put-down": 1, "stack": 2, "unstack": 2}


def _normalise(text: str, names: frozenset = frozenset()) -> str:
    """Lower case, no bullet, no "block", no articles. "a" is an article unless it names a block
    of the state and the next word does not (so "the a block" and "unstack a from b" keep it,
    "a red block" loses it)."""
    text = _BULLET.sub("", text.strip(), count=1).strip().strip("`*\"'").strip()
    words = text.lower().rstrip(".!;").strip().split()
    out = []
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else None
        if w in ("the", "an", "block", "blocks") or \
                (w == "a" and ("a" not in names or (nxt in names and nxt != "a"))):
            continue
        out.append(w)
    return " ".join(out)


def _pddl_action(text: str) -> Action | None:
    """`(unstack red blue)`, `(pick-up a)`, ...: PlanBench's PDDL plan lines."""
    m = _PDDL_STEP.match(" ".join(text.strip().lower().rstrip(".;").split()))
    if not m:
        return None
    verb = _PDDL_VERBS.get(m.group("verb"), m.group("verb"))
    if (m.group("y") is not None) != (_ARITY[verb] == 2):
        return None
    return Action(verb, m.group("x"), m.group("y"))


# -- the puzzle -----------------------------------------------------------------------------------
class Blocksworld:
    """Blocksworld (RAP / PlanBench) as a `mcts_reason.types.Puzzle`."""

    name = "blocksworld"
    description = ("Blocksworld: 'initial: the red block is on the table, ...; goal: the red block "
                   "is on top of the blue block'; steps like 'pick up the red block'.")

    def parse_instance(self, text: str) -> World:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("blocksworld instance is empty: give 'initial: <facts>; goal: <facts>'")
        if len(text) > 20_000:
            raise ValueError("blocksworld instance is too long (over 20000 characters)")
        sections = _sections(text)
        if sections is None:
            raise ValueError(f"blocksworld instance {_short(text)}: expected 'initial: <facts>; "
                             f"goal: <facts>' or PlanBench's 'As initial conditions I have that, "
                             f"...  My goal is to have that ...'")
        init_text, goal_text = sections
        where: dict[str, str] = {}
        said_clear, said_empty = [], False
        for fact in _facts(init_text):
            kind, x, y = _parse_fact(fact, "initial")
            if kind == "empty":
                said_empty = True
            elif kind == "clear":
                said_clear.append(x)
            else:
                if x in where and where[x] != y:
                    raise ValueError(f"blocksworld instance: the {x} block is placed twice in the "
                                     f"initial state")
                if x == y:
                    raise ValueError(f"blocksworld instance: the {x} block cannot be on itself")
                where[x] = y
        if not where:
            raise ValueError("blocksworld instance: the initial state places no block")
        if len(where) > MAX_BLOCKS:
            raise ValueError(f"blocksworld instance: at most {MAX_BLOCKS} blocks, got {len(where)}")
        mentioned = set(said_clear) | {y for y in where.values() if y not in (TABLE, HAND)}
        for b in sorted(mentioned - set(where)):
            raise ValueError(f"blocksworld instance: the initial state does not say where the {b} "
                             f"block is")
        held = [b for b, p in where.items() if p == HAND]
        if len(held) > 1 or (held and said_empty):
            raise ValueError("blocksworld instance: the hand holds at most one block (and is not "
                             "empty while holding one)")
        supports: dict[str, str] = {}
        for b, p in sorted(where.items()):
            if p not in (TABLE, HAND):
                if p in supports:
                    raise ValueError(f"blocksworld instance: the {supports[p]} and {b} blocks are "
                                     f"both on the {p} block")
                if where[p] == HAND:
                    raise ValueError(f"blocksworld instance: the {b} block is on the {p} block, "
                                     f"which is in the hand")
                supports[p] = b
        if (c := _cycle({b: p for b, p in where.items() if p not in (TABLE, HAND)})) is not None:
            raise ValueError(f"blocksworld instance: the initial blocks stand on each other in a "
                             f"loop (through the {c} block)")
        for b in said_clear:
            if b in supports or where[b] == HAND:
                raise ValueError(f"blocksworld instance: the {b} block is said to be clear but "
                                 f"is not")
        goal = self._parse_goal(goal_text, set(where))
        return World(tuple(sorted(where.items())), goal)

    def _parse_goal(self, text: str, blocks: set[str]) -> Goal:
        on: dict[str, str] = {}
        clear: set[str] = set()
        empty = False
        for fact in _facts(text):
            kind, x, y = _parse_fact(fact, "goal")
            for b in (x, y):
                if b not in (None, TABLE, HAND) and b not in blocks:
                    raise ValueError(f"blocksworld instance: the goal names the {b} block, which "
                                     f"is not in the initial state")
            if kind == "empty":
                empty = True
            elif kind == "clear":
                clear.add(x)
            elif y == HAND:
                raise ValueError("blocksworld instance: a goal cannot hold a block in the hand")
            else:
                if (x in on and on[x] != y) or x == y:
                    raise ValueError(f"blocksworld instance: the goal puts the {x} block in two "
                                     f"places" if x != y else
                                     f"blocksworld instance: the {x} block cannot be on itself")
                on[x] = y
        if not on and not clear and not empty:
            raise ValueError("blocksworld instance: the goal is empty")
        below = [p for p in on.values() if p != TABLE]
        if len(below) != len(set(below)):
            dup = next(p for p in below if below.count(p) > 1)
            raise ValueError(f"blocksworld instance: the goal puts two blocks on the {dup} block")
        if (c := _cycle({b: p for b, p in on.items() if p != TABLE})) is not None:
            raise ValueError(f"blocksworld instance: the goal stacks blocks in a loop (through the "
                             f"{c} block)")
        if bad := sorted(clear & set(below)):
            raise ValueError(f"blocksworld instance: the goal wants the {bad[0]} block clear and "
                             f"covered")
        return Goal(tuple(sorted(on.items())), tuple(sorted(clear)), empty)

    def legal_steps(self, state: World) -> list[Action]:
        return legal_actions(state)

    def parse_step(self, state: World, text: str) -> Action | None:
        try:
            if not isinstance(text, str) or len(text) > 300:
                return None
            bare = _BULLET.sub("", text.strip(), count=1).strip().strip("`*\"'").strip()
            if bare.startswith("("):
                a = _pddl_action(bare)
                return a if a is not None and is_legal(state, a) else None
            t = _normalise(text, frozenset(state.blocks))
            for verb, pat in _STEP_PATTERNS:
                m = pat.match(t)
                if not m:
                    continue
                x = m.group("x")
                y = m.groupdict().get("y")
                if verb == "stack" and y == TABLE:
                    verb, y = "put-down", None
                if verb == "unstack" and y == TABLE:
                    verb, y = "pick-up", None
                if verb == "unstack" and y is None:
                    y = state.where().get(x)
                    if y in (TABLE, HAND, None):
                        return None
                a = Action(verb, x, y if verb in ("stack", "unstack") else None)
                return a if is_legal(state, a) else None
            return None
        except Exception:  # parse_step never raises: bad text is data
            return None

    def apply(self, state: World, step: Action) -> World:
        if not is_legal(state, step):
            raise ValueError(f"{step!r} is not legal in {state!r}")
        return _apply(state, step)

    def is_solved(self, state: World) -> bool:
        return goal_holds(state, state.goal)

    def is_dead_end(self, state: World) -> bool:
        return False      # parse_instance only accepts consistent goals, reachable from anywhere

    def render(self, state: World) -> str:
        facts = []
        for b, p in state.pos:
            if p == TABLE:
                facts.append(f"{_render_block(b)} is on the table")
            elif p != HAND:
                facts.append(f"{_render_block(b)} is on top of {_render_block(p)}")
        clear = state.clear()
        facts.extend(f"{_render_block(b)} is clear" for b in state.blocks if b in clear)
        held = state.holding
        facts.append(f"the hand is holding {_render_block(held)}" if held else "the hand is empty")
        return ", ".join(facts)

    def render_goal(self, goal: Goal) -> str:
        facts = [f"{_render_block(b)} is on the table" if p == TABLE
                 else f"{_render_block(b)} is on top of {_render_block(p)}" for b, p in goal.on]
        facts.extend(f"{_render_block(b)} is clear" for b in goal.clear)
        if goal.hand_empty:
            facts.append("the hand is empty")
        return ", ".join(facts)

    def render_step(self, state: World, step: Action) -> str:
        return _action_text(step, "from")

    def answer(self, initial: World, steps: Sequence[Action]) -> str:
        return ", ".join(self.render_step(initial, s) for s in steps)

    answer_formats = {
        "pddl": "one PDDL action per line, e.g. (unstack red blue), as in PlanBench's plans",
        "text": "one action per line in PlanBench's words, e.g. 'unstack the red block from on "
                "top of the blue block'",
    }

    def format_answer(self, instance: str, answer: str, fmt: str) -> str:
        """The plan `answer` rewritten one action per line in form `fmt` (see `answer_formats`).
        ValueError for an unknown form or an answer that is not a legal plan."""
        if fmt not in self.answer_formats:
            raise ValueError(f"unknown answer format {fmt!r}; known: {', '.join(self.answer_formats)}")
        actions = self.actions(instance, answer)
        if actions is None:
            raise ValueError("the answer is not a legal plan for this instance")
        write = _pddl_line if fmt == "pddl" else _planbench_line
        return "\n".join(write(a) for a in actions)

    def plan(self, instance: str, answer: str) -> tuple[int, World] | None:
        """(number of actions, final state) of an answer; None if an action is unreadable/illegal."""
        actions = self.actions(instance, answer)
        if actions is None:
            return None
        state = self.parse_instance(instance)
        for a in actions:
            state = self.apply(state, a)
        return len(actions), state

    def actions(self, instance: str, answer: str) -> list[Action] | None:
        """The actions of an answer (separated by commas, semicolons, new lines or "then"; a
        PlanBench `[PLAN END]` marker is skipped); None if one is unreadable or illegal."""
        state = self.parse_instance(instance)
        if not isinstance(answer, str) or len(answer) > _MAX_ANSWER_CHARS:
            return None
        text = re.sub(r"^\s*(?:answer|plan|solution)\s*:\s*", "", answer.strip(), flags=re.I)
        text = re.sub(r"\[plan(?:\s+end)?\]", "\n", text, flags=re.I)
        parts = [p for p in re.split(r"[,;\n]+|\bthen\b", text) if p.strip(" .")]
        if len(parts) == 1 and parts[0].strip(" .").lower() in ("none", "(none)", "no actions"):
            parts = []
        out = []
        for p in parts:
            step = self.parse_step(state, p)
            if step is None:
                return None
            out.append(step)
            state = self.apply(state, step)
        return out

    def verify(self, instance: str, answer: str) -> bool:
        try:
            out = self.plan(instance, answer)
            return out is not None and self.is_solved(out[1])
        except Exception:  # verify never raises
            return False

    def learn_tokens(self, state: World) -> list[str]:
        """Structure tokens for the learned policy and value (`types.LearnTokens`): blocks in
        their final position (`placed`) and not, the lower bound on actions left, what the
        hand holds (nothing, a block whose goal support is ready, another), and whether the
        goal holds."""
        return blocksworld_tokens(state)

    def heuristic_policy(self) -> BlocksworldHeuristicPolicy:
        return BlocksworldHeuristicPolicy()

    def heuristic_value(self) -> BlocksworldHeuristicValue:
        return BlocksworldHeuristicValue()

    def extra_values(self) -> dict:
        return {"oracle": BlocksworldOracleValue}

    # -- optimality ------------------------------------------------------------------------------
    def optimal_length(self, instance: str, *, max_states: int | None = 2_000_000) -> int | None:
        """Length of a shortest plan (A*, see `shortest`); None past `max_states` states."""
        return shortest(self.parse_instance(instance), max_states=max_states)

    def gap(self, instance: str, answer: str, *, optimal: int | None = None) -> int | None:
        """Actions in `answer` beyond the optimum; None if it does not verify or no optimum."""
        if not self.verify(instance, answer):
            return None
        if optimal is None:
            optimal = self.optimal_length(instance)
        return None if optimal is None else self.plan(instance, answer)[0] - optimal

    def metrics(self, instance: str, answer: str, *, max_states: int | None = 2_000_000) -> dict:
        """For benchmark records: plan length, optimal length (BFS) and gap; None where unknown."""
        out = self.plan(instance, answer) if self.verify(instance, answer) else None
        optimal = self.optimal_length(instance, max_states=max_states)
        length = None if out is None else out[0]
        gap = None if length is None or optimal is None else length - optimal
        return {"length": length, "optimal": optimal, "gap": gap}

    # -- instance sets -----------------------------------------------------------------------------
    def generate(self, n: int, *, rng: np.random.Generator, blocks: int = 4,
                 min_moves: int = 1) -> list[str]:
        """`n` instances with `blocks` colour-named blocks: a random initial arrangement and a
        random goal arrangement, the goal stated PlanBench-style as its "on top of" facts (or,
        when the goal has every block on the table, as "on the table" facts); never solved at
        the start. `blocks` is the difficulty knob; `min_moves` keeps only instances whose
        admissible lower bound (`remaining`) is at least that many actions."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        if n < 0 or not 2 <= blocks <= len(COLOURS):
            raise ValueError(f"need n >= 0 and 2 <= blocks <= {len(COLOURS)}")
        out = []
        while len(out) < n:
            names = [COLOURS[i] for i in sorted(rng.choice(len(COLOURS), blocks, replace=False))]
            init = _random_arrangement(names, rng)
            target = _random_arrangement(names, rng)
            on = {b: p for b, p in target.items() if p != TABLE} or target
            goal = Goal(tuple(sorted(on.items())))
            state = World(tuple(sorted(init.items())), goal)
            if goal_holds(state, goal) or remaining(state) < min_moves:
                continue
            out.append(f"initial: {self.render(state)}; goal: {self.render_goal(goal)}")
        return out

    def named_sets(self) -> dict[str, str]:
        return {name: desc for name, (desc, *_rest) in _SETS.items()}

    def instance_set(self, name: str) -> list[str]:
        if name not in _SETS:
            raise ValueError(f"unknown blocksworld instance set {name!r}; known: {', '.join(_SETS)}")
        _, seed, n, blocks = _SETS[name]
        rng = np.random.default_rng(seed)
        if isinstance(blocks, tuple):          # (smallest, largest, spare): n of each size
            lo, hi, spare = blocks
            return [inst for b in range(lo, hi + 1)
                    for inst in self.generate(n, rng=rng, blocks=b, min_moves=2 * b - spare)]
        return self.generate(n, rng=rng, blocks=blocks)

    # -- LLM prompts -------------------------------------------------------------------------------
    _RULES = (
        "Blocks world: blocks stand on the table or on each other, and one hand moves them, one "
        "block at a time. A block is clear when nothing stands on it and the hand does not hold "
        "it. With an empty hand you may take a clear block: from the table ('pick up the X "
        "block') or from the block it stands on ('unstack the X block from the Y block'). A "
        "held block goes onto the table ('put down the X block') or onto a clear block ('stack "
        "the X block on top of the Y block'), and the hand is empty again.")

    prompt_field_names = ("goal",)

    def prompt_fields(self, state: World) -> dict[str, str]:
        """{goal}, for a user's prompt file ({state} is the current arrangement)."""
        return {"goal": self.render_goal(state.goal)}

    def _messages(self, state: World, ask: str) -> list[dict]:
        """The rules, then the current state and the goal followed by `ask`."""
        return [
            {"role": "system", "content": self._RULES},
            {"role": "user", "content": (
                f"Current state: {self.render(state)}.\nGoal: {self.render_goal(state.goal)}.\n"
                + ask)},
        ]

    def propose_messages(self, state: World) -> list[dict]:
        return self._messages(state, (
            "Propose the most promising next actions, best first, one per line, each in one "
            "of the forms 'pick up the X block', 'unstack the X block from the Y block', "
            "'put down the X block', 'stack the X block on top of the Y block', with nothing "
            "else on the line."))

    def value_messages(self, state: World) -> list[dict]:
        return self._messages(state, (
            "How close is the current state to the goal? Say which blocks are already where "
            "the goal wants them and which must still move. Reason briefly, then end with one "
            "word on the last line: sure (the goal is a few actions away), likely (a moderate "
            "number of actions), or impossible (far from the goal)."))

    def __repr__(self) -> str:
        return "Blocksworld()"


def _random_arrangement(names: list[str], rng: np.random.Generator) -> dict[str, str]:
    """Blocks in random order, cut into random towers: each block starts a new tower with
    probability 1/2, else goes on top of the previous one."""
    order = [names[i] for i in rng.permutation(len(names))]
    where = {order[0]: TABLE}
    for prev, b in zip(order, order[1:]):
        where[b] = TABLE if rng.random() < 0.5 else prev
    return where


# name -> (description, seed, count, blocks)
_SETS = {
    "easy": ("20 instances with 3 blocks", 3003, 20, 3),
    "medium": ("20 instances with 4 blocks", 4004, 20, 4),
    "hard": ("20 instances with 5 blocks", 5005, 20, 5),
    "six": ("20 instances with 6 blocks", 6006, 20, 6),
    "eight": ("20 instances with 8 blocks", 8008, 20, 8),
    "large": ("30 instances, 3 each with 6 to 15 blocks (PlanBench's larger sizes), at least "
              "2 * blocks - 4 actions (a 15-block one takes 26-40)", 1515, 3, (6, 15, 4)),
}


def _pddl_line(a: Action) -> str:
    return f"({a.verb} {a.block}" + (f" {a.target})" if a.target else ")")


def _action_text(a: Action, unstack_from: str) -> str:
    """An action in words: `unstack_from` is "from" in our steps, "from on top of" in PlanBench's."""
    x = _render_block(a.block)
    if a.verb == "pick-up":
        return f"pick up {x}"
    if a.verb == "put-down":
        return f"put down {x}"
    if a.verb == "stack":
        return f"stack {x} on top of {_render_block(a.target)}"
    return f"unstack {x} {unstack_from} {_render_block(a.target)}"


def _planbench_line(a: Action) -> str:
    return _action_text(a, "from on top of")


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
