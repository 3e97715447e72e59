"""The input forms of public benchmarks and datasets (issue 11, section 2).

Each dataset form must parse to the same state as the canonical form; anything ambiguous or
malformed is a one-line ValueError (exit 2 from the CLI, no traceback). The instances below are
written here by hand in those forms; no dataset file is copied. Rule variants (Countdown's
exactly-once, blank-first sliding goals) and PlanBench plan output are checked against
independent references written in this file or in tests/reference.py.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter, deque

import numpy as np
import pytest
from click.testing import CliRunner

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.cli import cli
from mcts_reason_puzzles.blocksworld import Blocksworld
from mcts_reason_puzzles.countdown import Countdown, estimate, reachable
from mcts_reason_puzzles.game24 import Game24
from mcts_reason_puzzles.sliding import Sliding
from mcts_reason_puzzles.sudoku import Sudoku
from reference import countdown_exact

G, C, S, T, B = Game24(), Countdown(), Sudoku(), Sliding(), Blocksworld()


def one_line_error(puzzle, text: str, words: str) -> None:
    with pytest.raises(ValueError) as e:
        puzzle.parse_instance(text)
    msg = str(e.value)
    assert words in msg and "\n" not in msg, msg


def cli_exit_2(puzzle: str, text: str, words: str) -> None:
    res = CliRunner().invoke(cli, ["solve", puzzle, text])
    assert res.exit_code == 2, res.output
    assert words in res.output and "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


# -- Game of 24 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["[4, 9, 10, 13]", "Input: 4 9 10 13", "input:[4,9,10,13]",
                                  "  Input:  13 4 9 10 ", "[13,10,9,4]"])
def test_game24_dataset_forms(text):
    assert G.parse_instance(text) == G.parse_instance("4 9 10 13")


@pytest.mark.parametrize("text,words", [
    ("[4, 9, 10, 13", "unbalanced"), ("[4, 9] [10, 13]", "more than one"),
    ("Input: Input: 4 9 10 13", "not a whole number"), ("Input: 4 9 10", "need 4 numbers"),
    ("Output: 4 9 10 13", "not a whole number"),
])
def test_game24_bad_forms(text, words):
    one_line_error(G, text, words)
    cli_exit_2("game24", text, words)


# -- Sudoku -------------------------------------------------------------------------------------------
CLASSIC = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
ROWS = [CLASSIC[i:i + 9] for i in range(0, 81, 9)]


def boxed(blank: str = ".", outer: bool = False) -> str:
    """The grid as pretty-printers write it: '5 3 . | . 7 . | . . .' and '------+------+------'."""
    rule = "+-------+-------+-------+" if outer else "------+-------+------"
    lines = [rule] if outer else []
    for i, row in enumerate(ROWS):
        if i and i % 3 == 0:
            lines.append(rule)
        cells = row.replace(".", blank)
        body = " | ".join(" ".join(cells[j:j + 3]) for j in (0, 3, 6))
        lines.append(f"| {body} |" if outer else body)
    return "\n".join(lines + ([rule] if outer else []))


@pytest.mark.parametrize("text", [
    boxed(), boxed("_"), boxed("0"), boxed(".", outer=True),
    "\n".join(",".join(r.replace(".", "0")) for r in ROWS),               # comma-separated
    "\n".join(" ".join(r.replace(".", "0")) for r in ROWS),               # space-separated
    "Grid 01\n" + "\n".join(r.replace(".", "0") for r in ROWS),           # Project Euler 96
    CLASSIC.replace(".", "_"), "\n".join(ROWS) + "\n\n",
])
def test_sudoku_printed_grids(text):
    assert S.parse_instance(text) == S.parse_instance(CLASSIC)


def test_sudoku_4x4_printed():
    grid = "1 . | . .\n. . | 3 .\n----+----\n. 4 | . .\n. . | . 2"
    assert S.parse_instance(grid) == S.parse_instance("1.....3..4.....2")


@pytest.mark.parametrize("text,words", [
    (boxed().replace("5 3 .", "5 3 -", 1), "'-' inside a row"),
    ("\n".join(ROWS[:8]) + "\n" + ROWS[8][:8] + "\n9", "row 9 has 8 cells"),
    (CLASSIC[:40] + "\n" + CLASSIC[40:], "row 1 has 40 cells"),
    (boxed().replace("5 3 .", "5 3 x", 1), "unexpected character 'x'"),
    (boxed() + "\n1", "need 81"),
    ("Grid 01\nGrid 02\n" + "\n".join(ROWS), "unexpected character 'G'"),
])
def test_sudoku_bad_grids(text, words):
    one_line_error(S, text, words)
    cli_exit_2("sudoku", text, words)


# -- sliding tiles, blank-first goal --------------------------------------------------------------
DIRS = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}


def slide(tiles: tuple[int, ...], w: int, tile: int, direction: str) -> tuple[int, ...] | None:
    """The test's own simulator: `tile` moves one cell in `direction` into the blank, or None."""
    t, z = tiles.index(tile), tiles.index(0)
    dr, dc = DIRS[direction]
    if (t // w + dr, t % w + dc) != (z // w, z % w) or (dc and t // w != z // w):
        return None
    out = list(tiles)
    out[t], out[z] = 0, tile
    return tuple(out)


def bfs_depths(goal: tuple[int, ...], w: int) -> dict[tuple[int, ...], int]:
    """Every board reachable from `goal` with its distance (fine for 2x2 and 3x3)."""
    seen, q = {goal: 0}, deque([goal])
    while q:
        s = q.popleft()
        for tile in s:
            if tile:
                for d in DIRS:
                    n = slide(s, w, tile, d)
                    if n is not None and n not in seen:
                        seen[n] = seen[s] + 1
                        q.append(n)
    return seen


def replay(tiles, w, answer: str):
    for move in answer.split(", "):
        m = re.fullmatch(r"move (\d+) (left|right|up|down)", move)
        assert m, move
        tiles = slide(tiles, w, int(m.group(1)), m.group(2))
        assert tiles is not None, move
    return tiles


def test_blank_first_2x2_agrees_with_bfs_for_every_board():
    import itertools
    goal = (0, 1, 2, 3)
    depth = bfs_depths(goal, 2)
    for perm in itertools.permutations(range(4)):
        text = "blank-first: " + " ".join(map(str, perm))
        if perm not in depth:
            one_line_error(T, text, "unsolvable for the goal 0 1 2 ... 3")
            continue
        state = T.parse_instance(text)
        assert T.render(state).split() == [str(t) if t else "_" for t in perm]
        assert T.optimal_length(text) == depth[perm]
        assert T.is_solved(state) == (perm == goal)


def test_blank_first_3x3_solutions_replay_to_the_blank_first_goal():
    goal = tuple(range(9))
    depth = bfs_depths(goal, 3)
    rng = np.random.default_rng(11)
    boards = list(depth)
    for k in rng.choice(len(boards), size=12, replace=False):
        board = boards[int(k)]
        if board == goal:
            continue
        text = "blank-first: " + " ".join(map(str, board))
        result = mcts_reason.solve(T, text, budget=Budget(simulations=3000), seed=0)
        assert result.solved, text
        assert replay(board, 3, result.answer) == goal
        assert T.verify(text, result.answer)
        assert T.optimal_length(text) == depth[board]


def test_blank_first_steps_are_the_instances_own_tiles_and_directions():
    text = "blank-first: 1 0 2 3 4 5 6 7 8"
    state = T.parse_instance(text)
    said = sorted(T.render_step(state, m) for m in T.legal_steps(state))
    assert said == ["move 1 right", "move 2 left", "move 4 up"]
    for m in T.legal_steps(state):
        words = T.render_step(state, m).split()
        assert T.parse_step(state, T.render_step(state, m)) == m
        after = slide((1, 0, 2, 3, 4, 5, 6, 7, 8), 3, int(words[1]), words[2])
        assert T.render(T.apply(state, m)).split() == [str(t) if t else "_" for t in after]
    assert T.parse_step(state, "move 1 left") is None       # 1 cannot move left here
    assert T.verify(text, "move 1 right") and not T.verify("1 0 2 3 4 5 6 7 8", "move 1 right")
    assert T.render(T.goal_board(state)) == "_ 1 2\n3 4 5\n6 7 8"
    assert T.instance_rules(state) == {"goal": "blank-first"}
    assert T.parse_instance("blank-last: 1 2 3 4 5 6 7 0 8") == T.parse_instance("1 2 3 4 5 6 7 0 8")


def test_blank_first_generated_boards_round_trip():
    for text in T.generate(5, rng=np.random.default_rng(3), width=4, depth=25, blank_first=True):
        assert text.startswith("blank-first: ")
        s = T.parse_instance(text)
        assert " ".join(T.render(s).replace("_", "0").split()) == text.split(": ")[1]


@pytest.mark.parametrize("text,words", [
    ("1 2 3 4 5 6 7 8 9 10 11 12 13 15 14 0", "write 'blank-first: <tiles>'"),
    ("blank-first: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 15 14", "leave out 'blank-first:'"),
    ("blank-first: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 0", "goal 0 1 2 ... 15"),
    ("blank-first: 0 2 1 3 4 5 6 7 8", "same parity on odd widths"),
    ("1 14 13 15 7 11 12 9 5 6 0 2 1 4 8 10 3", "Korf"),          # a Korf file line, index first
    ("blank-first: blank-first: 0 1 2 3", "not a whole number"),
])
def test_sliding_goal_errors(text, words):
    one_line_error(T, text, words)
    cli_exit_2("sliding", text, words)


def test_korf_style_blank_first_instance_parses():
    # the first of Korf's 100 (the board only, index dropped); solvable for the blank-first goal
    text = "blank-first: 14 13 15 7 11 12 9 5 6 0 2 1 4 8 10 3"
    assert T.parse_instance(text).blank_first
    one_line_error(T, text.split(": ")[1], "blank-first")


# -- Countdown ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "[30, 100, 93] -> 23",
    "Numbers: [30, 100, 93]\nTarget: 23",
    "numbers: 30 100 93\ntarget: 23\n",
    "Target: 23\nNumbers: [30, 100, 93]",
    "Numbers: [30, 100, 93], Target: 23",
    "Using the numbers [30, 100, 93], create an equation that equals 23.",
    "Using the numbers [30, 100, 93], create an equation that equals 23. You can use basic "
    "arithmetic operations (+, -, *, /) and each number can only be used once. Show your work "
    "in <think> </think> tags, and the final answer in <answer> </answer> tags, for example "
    "<answer> (1 + 2) / 3 </answer>.",
    '{"target": 23, "nums": [30, 100, 93]}',
])
def test_countdown_dataset_forms(text):
    assert C.parse_instance(text) == C.parse_instance("30 100 93 -> 23")
    exact = C.parse_instance("exactly-once: " + text)
    assert exact == C.parse_instance("exactly-once: 30 100 93 -> 23") and exact.exact


def test_countdown_rule_from_the_sentence_and_prefix():
    s = C.parse_instance("Using the numbers [44, 19, 35], create an equation that equals 98. "
                         "Use every number exactly once.")
    assert s.exact and C.instance_rules(s) == {"rule": "exactly-once"}
    assert not C.parse_instance("at-most-once: 44 19 35 -> 98").exact
    assert C.render(s) == "exactly-once: 19 35 44 -> 98" and C.parse_instance(C.render(s)) == s


@pytest.mark.parametrize("text,words", [
    ("Numbers: [1, 2]\nNumbers: [3]\nTarget: 3", "given twice"),
    ("Numbers: [1, 2]", "no 'Target:'"),
    ("Target: 3", "no 'Numbers:'"),
    ("Please: Numbers: [1, 2] Target: 3", "unexpected text before"),
    ("Using the numbers [1, 2], create an equation that equals 3. Using the numbers [1, 2], "
     "create an equation that equals 3.", "2 'Using the numbers"),
    ("at-most-once: Using the numbers [1, 2], create an equation that equals 3, each number "
     "exactly once.", "two rules"),
    ("[1, 2 -> 3", "unbalanced"),
    ("[1, 2] -> [3]", "not a whole number"),
    ('{"target": 3}', "needs 'target'"),
    ('{"target": 3, "nums": [1, 2.5]}', "whole numbers"),
    ('{"target": 3, "nums": [1, 2]', "not valid JSON"),
    ("Numbers: [1, 2]\nTarget: 3\nThanks", "not a whole number"),
])
def test_countdown_bad_forms(text, words):
    one_line_error(C, text, words)
    cli_exit_2("countdown", text, words)


def literals(answer: str) -> Counter:
    return Counter(int(x) for x in re.findall(r"\d+", answer.split("=")[0]))


def random_small(seed: int, n: int) -> list[tuple[list[int], int]]:
    rng = np.random.default_rng(seed)
    return [([int(x) for x in rng.integers(1, 12, size=int(rng.integers(2, 5)))],
             int(rng.integers(1, 60))) for _ in range(n)]


def test_exactly_once_agrees_with_brute_force_reference():
    """Solver, search and verifier under exactly-once against tests/reference.py's recursion."""
    kinds = Counter()
    for nums, target in random_small(5, 70):
        text = f"exactly-once: {' '.join(map(str, nums))} -> {target}"
        expr = countdown_exact(nums, target)
        kinds[expr is not None] += 1
        assert reachable(nums, target, exact=True) == (expr is not None), text
        if expr is not None:
            assert C.verify(text, f"{expr} = {target}")
        result = mcts_reason.solve(C, text, budget=Budget(simulations=2000), seed=0)
        assert result.solved == (expr is not None), text
        if result.solved:
            assert literals(result.answer) == Counter(nums), (text, result.answer)
            assert C.verify(text, result.answer)
        else:
            assert result.proved_unsolvable, text
        # the estimate's claims hold under the rule (and decide <= 4 numbers exactly)
        v = estimate(tuple(sorted(nums)), target, True, True)
        assert (v >= 0.8) == (expr is not None) and (v == 0.0) == (expr is None), text
    assert kinds[True] >= 10 and kinds[False] >= 10


def test_exactly_once_rejects_partial_answers_that_at_most_once_accepts():
    assert C.verify("5 69 79 -> 5", "5 = 5")
    assert not C.verify("exactly-once: 5 69 79 -> 5", "5 = 5")
    assert C.verify("exactly-once: 25 50 75 100 3 6 -> 952",
                    "((100 + 6) * 3 * 75 - 50) / 25 = 952")              # all six numbers
    assert C.verify("25 50 75 100 3 6 -> 150", "100 + 50 = 150")
    assert not C.verify("exactly-once: 25 50 75 100 3 6 -> 150", "100 + 50 = 150")
    result = mcts_reason.solve(C, "exactly-once: 5 69 79 -> 5", seed=0)
    assert result.solved and literals(result.answer) == Counter([5, 69, 79])
    assert mcts_reason.solve(C, "5 69 79 -> 5", seed=0).answer == "5 = 5"


def test_exactly_once_named_set_is_solvable_under_the_rule():
    names = C.named_sets()
    assert "exact3to4" in names
    insts = C.instance_set("exact3to4")
    assert len(insts) == 20 and insts == C.instance_set("exact3to4")
    for text in insts[:8]:
        s = C.parse_instance(text)
        assert s.exact and 3 <= len(s.numbers) <= 4
        assert countdown_exact(list(s.numbers), s.target) is not None


def test_countdown_rule_in_solve_output_json_and_bench_records(tmp_path):
    res = CliRunner().invoke(cli, ["solve", "countdown", "exactly-once: 5 69 79 -> 5"])
    assert res.exit_code == 0 and "rule: exactly-once" in res.output, res.output
    assert "answer: 5 = 5" not in res.output
    res = CliRunner().invoke(cli, ["solve", "countdown", "[5, 69, 79] -> 5", "--json"])
    assert json.loads(res.output)["rules"] == {"rule": "at-most-once"}
    spec = tmp_path / "c.txt"
    spec.write_text("exactly-once: 5 69 79 -> 5\n5 69 79 -> 5\n")
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(cli, ["bench", "countdown", "--set", str(spec), "--budgets", "50",
                                   "--workers", "1", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    rules = {r["instance"]: r["rules"]["rule"] for r in recs}
    assert rules == {"exactly-once: 5 69 79 -> 5": "exactly-once", "5 69 79 -> 5": "at-most-once"}
    answers = {r["instance"]: r["answer"] for r in recs}
    assert answers["5 69 79 -> 5"] == "5 = 5"
    assert literals(answers["exactly-once: 5 69 79 -> 5"]) == Counter([5, 69, 79])


# -- Blocksworld ----------------------------------------------------------------------------------------
CANON = ("initial: the red block is clear, the blue block is clear, the hand is empty, the red "
         "block is on top of the yellow block, the blue block is on top of the orange block, the "
         "yellow block is on the table, the orange block is on the table; goal: the orange block "
         "is on top of the red block, the yellow block is on top of the blue block")
PLANBENCH = ("As initial conditions I have that, the red block is clear, the blue block is clear, "
             "the hand is empty, the red block is on top of the yellow block, the blue block is on "
             "top of the orange block, the yellow block is on the table and the orange block is on "
             "the table.\nMy goal is to have that the orange block is on top of the red block and "
             "the yellow block is on top of the blue block.")
LETTERS = ("As initial conditions I have that, the a block is clear, block b is clear, the hand is "
           "empty, a is on top of c, the b block is on top of the d block, block c is on the table "
           "and d is on the table. My goal is to have that d is on a and c is on b.")


@pytest.mark.parametrize("text", [
    PLANBENCH,
    f"[STATEMENT]\n{PLANBENCH}\n\nMy plan is as follows:\n\n[PLAN]\n",
    f"I am playing with a set of blocks.\n\n[STATEMENT]\n{PLANBENCH}\n\nMy plan is as follows:"
    f"\n\n[PLAN]\nunstack the red block from on top of the yellow block\n[PLAN END]\n",
    PLANBENCH.replace("As initial conditions I have that,", "As initial conditions I have that:"),
])
def test_blocksworld_planbench_statements(text):
    assert B.parse_instance(text) == B.parse_instance(CANON)


def test_blocksworld_letter_names():
    s = B.parse_instance(LETTERS)
    assert s.where() == {"a": "c", "b": "d", "c": "table", "d": "table"}
    assert dict(s.goal.on) == {"d": "a", "c": "b"}
    same = ("initial: a is on c, b is on d, c is on the table, d is on the table, the hand is "
            "empty; goal: d is on a, c is on b")
    assert B.parse_instance(same) == s
    # "a" is a block here, so step texts keep it; elsewhere it stays an article
    a = B.parse_step(s, "unstack the a block from on top of the c block")
    assert a is not None and (a.verb, a.block, a.target) == ("unstack", "a", "c")
    assert B.parse_step(s, "unstack a from c") == a == B.parse_step(s, "(unstack a c)")
    colours = B.parse_instance("initial: the red block is on the table, the hand is empty; "
                               "goal: the red block is clear")
    assert B.parse_step(colours, "pick up a red block") is not None


@pytest.mark.parametrize("text,words", [
    (f"[STATEMENT]\n{PLANBENCH}\n[PLAN]\n[STATEMENT]\n{PLANBENCH}", "2 [STATEMENT] sections"),
    ("As initial conditions I have that, the red block is clear.", "expected 'initial:"),
    (PLANBENCH.replace("the yellow block is on the table and ", ""), "does not say where"),
    (LETTERS.replace("d is on the table", "d is on d"), "cannot be on itself"),
])
def test_blocksworld_bad_statements(text, words):
    one_line_error(B, text, words)
    cli_exit_2("blocksworld", text, words)


def simulate(text_plan: str, init: dict, goal: dict, pddl: bool) -> bool:
    """An independent Blocksworld simulator: replay PlanBench plan lines, check the rules and the
    goal. `init` maps block -> 'table' or block below; the hand starts empty."""
    where, hand = dict(init), None
    for line in text_plan.splitlines():
        if pddl:
            m = re.fullmatch(r"\((pick-up|put-down|stack|unstack) (\w+)(?: (\w+))?\)", line)
            verb, x, y = m.groups()
        else:
            m = re.fullmatch(r"(pick up|put down|stack|unstack) the (\w+) block"
                             r"(?: (?:on top of|from on top of) the (\w+) block)?", line)
            verb, x, y = m.groups()
            verb = verb.replace(" ", "-")
        covered = set(where.values())
        if verb in ("pick-up", "unstack"):
            assert hand is None and x in where and x not in covered, line
            assert (where[x] == "table") if verb == "pick-up" else (where[x] == y), line
            del where[x]
            hand = x
        else:
            assert hand == x, line
            if verb == "stack":
                assert y in where and y not in covered, line
            where[x] = "table" if verb == "put-down" else y
            hand = None
    return hand is None and all(where.get(b) == p for b, p in goal.items())


@pytest.mark.parametrize("fmt", ["pddl", "text"])
def test_planbench_plan_output_replays_to_the_goal(fmt):
    cases = [(CANON, {"red": "yellow", "blue": "orange", "yellow": "table", "orange": "table"},
              {"orange": "red", "yellow": "blue"}),
             (LETTERS, {"a": "c", "b": "d", "c": "table", "d": "table"}, {"d": "a", "c": "b"})]
    cases += [(t, None, None) for t in B.instance_set("medium")[:5]]
    for text, init, goal in cases:
        s = B.parse_instance(text)
        init = init or {b: p for b, p in s.pos}
        goal = goal or dict(s.goal.on)
        result = mcts_reason.solve(B, text, seed=0)
        assert result.solved
        plan = B.format_answer(text, result.answer, fmt)
        assert len(plan.splitlines()) == len(result.steps)
        assert simulate(plan, init, goal, fmt == "pddl"), plan
        assert B.verify(text, plan) and B.verify(text, f"[PLAN]\n{plan}\n[PLAN END]")
    with pytest.raises(ValueError, match="unknown answer format"):
        B.format_answer(CANON, "pick up the red block", "xml")
    with pytest.raises(ValueError, match="not a legal plan"):
        B.format_answer(CANON, "pick up the red block", "pddl")


def test_pddl_steps_parse_only_when_legal_and_well_formed():
    s = B.parse_instance(CANON)
    assert B.parse_step(s, "(unstack red yellow)") is not None
    assert B.parse_step(s, "(UNSTACK Red Yellow)") is not None
    for bad in ("(unstack red)", "(pick-up red yellow)", "(unstack red blue)", "(pick-up red)",
                "(stack red blue)", "(unstack red yellow", "(fly red)", "()"):
        assert B.parse_step(s, bad) is None, bad


def test_solve_answer_format_prints_only_the_plan_on_stdout():
    res = subprocess.run([sys.executable, "-m", "mcts_reason.cli", "solve", "blocksworld", LETTERS,
                          "--answer-format", "pddl"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines and all(re.fullmatch(r"\((pick-up|put-down|stack|unstack)( \w+){1,2}\)", x)
                         for x in lines), res.stdout
    assert "spent:" in res.stderr and "(verified)" in res.stderr
    assert simulate(res.stdout.strip(), {"a": "c", "b": "d", "c": "table", "d": "table"},
                    {"d": "a", "c": "b"}, True)
    res = CliRunner().invoke(cli, ["solve", "blocksworld", LETTERS, "--answer-format", "text",
                                   "--json"])
    out = json.loads(res.output)
    assert out["formatted_answer"].splitlines()[0].startswith(("unstack the", "pick up the"))
    for args, words in ((["blocksworld", LETTERS, "--answer-format", "xml"], "known: pddl, text"),
                        (["game24", "4 9 10 13", "--answer-format", "pddl"], "none for game24")):
        res = CliRunner().invoke(cli, ["solve", *args])
        assert res.exit_code == 2 and words in res.output and "Traceback" not in res.output


def test_the_capabilities_are_declared_in_types():
    from mcts_reason import types as T
    assert isinstance(C, T.InstanceRules)
    assert isinstance(Sliding(), T.InstanceRules) and not isinstance(G, T.InstanceRules)
    assert isinstance(B, T.AnswerFormats) and not isinstance(C, T.AnswerFormats)
