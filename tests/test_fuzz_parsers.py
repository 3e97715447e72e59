"""Fuzzing every registered puzzle's parsers and the set readers (issue 7, "Bad input").

For each parser, hypothesis draws >= 10,000 examples in the `ci` profile (see conftest.py):
  * `parse_instance(text)` returns a state or raises ValueError with a one-line message, nothing
    else;
  * `parse_step(state, text)` never raises and returns None or a step that is legal, checked
    against an independent rule check written here (not the puzzle's own code) and against
    `legal_steps`;
  * `read_set(puzzle, file)` on arbitrary bytes returns instances that parse, or raises
    ValueError with a message, nothing else.
Texts come from three sources per parser: arbitrary Unicode, a small grammar of near-miss step
texts, and random character edits of real renderings (legal steps, real instances).
"""
from __future__ import annotations

import os
import random
import re
import tempfile
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mcts_reason.registry import available, load
from mcts_reason.sets import read_set

PROFILE = os.environ.get("MCTS_REASON_FUZZ_PROFILE", "ci")
FUZZ = settings(settings.get_profile(PROFILE),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])
PUZZLES = sorted(available())
_GAME24_SETS = frozenset(load("game24").named_sets())
BUILTIN = ("game24", "countdown", "sudoku", "sliding", "blocksworld")


def test_the_ci_profile_draws_at_least_10000_examples_per_parser():
    if PROFILE == "ci":
        assert FUZZ.max_examples >= 10_000


def test_every_builtin_puzzle_is_fuzzed():
    assert set(BUILTIN) <= set(PUZZLES)


# -- sample states and texts per puzzle ---------------------------------------------------------
def _instances(p) -> list[str]:
    if p.name == "game24":          # `every` is instant; `all` ranks 1820 instances first
        base = p.instance_set("every")[::37]
        return base + _dataset_forms(p, base[:8])
    out: list[str] = []
    for name in getattr(p, "named_sets", dict)():
        if p.name == "sudoku" and name in ("medium", "hard"):
            continue                # slow to generate, and `easy` / `4x4` have the same shapes
        out.extend(p.instance_set(name)[:6])
    return _dataset_forms(p, out[::3][:8]) + out


def _dataset_forms(p, instances: list[str]) -> list[str]:
    """The same instances written in the forms of public datasets (issue 11): the fuzz mutates
    these too, so the dataset readers meet near misses of their own forms."""
    out: list[str] = []
    for k, text in enumerate(instances):
        if p.name == "game24":
            nums = text.split()
            out.append(f"[{', '.join(nums)}]" if k % 2 else f"Input: {' '.join(nums)}")
        elif p.name == "countdown":
            prefix = "exactly-once: " if text.startswith("exactly-once: ") else ""
            nums, target = text.removeprefix(prefix).split(" -> ")
            lst = f"[{', '.join(nums.split())}]"
            out.append(prefix + [f"{lst} -> {target}", f"Numbers: {lst}\nTarget: {target}",
                                 f"Using the numbers {lst}, create an equation that equals "
                                 f"{target}.", f'{{"nums": {lst}, "target": {target}}}'][k % 4])
        elif p.name == "sudoku":
            n = 9 if len(text) == 81 else 4
            rows = [text[i:i + n] for i in range(0, n * n, n)]
            sep = ["|", ",", " "][k % 3]
            out.append("\n".join(("-" * (2 * n) + "\n" if i and i % int(n ** 0.5) == 0 else "")
                                 + sep.join(r) for i, r in enumerate(rows)))
        elif p.name == "sliding":
            state = p.parse_instance(text)
            tiles = " ".join(map(str, reversed(state.tiles)))   # another solvable board, read
            try:                                                # with the blank-first goal
                p.parse_instance("blank-first: " + tiles)
                out.append("blank-first: " + tiles)
            except ValueError:
                pass
        elif p.name == "blocksworld":
            if k % 2:                   # PDDL-style letter names: "the a block", ...
                for i, colour in enumerate(sorted(set(re.findall(r"the (\w+) block", text)))):
                    text = text.replace(f"the {colour} block", f"the {'abcdefgh'[i]} block")
            init, goal = text.removeprefix("initial: ").split("; goal: ")
            out.append(f"[STATEMENT]\nAs initial conditions I have that, {init}.\nMy goal is to "
                       f"have that {goal}.\n\nMy plan is as follows:\n\n[PLAN]")
    return out


_CACHE: dict[str, dict] = {}


def _world(name: str) -> dict:
    """Instances, states (initial and after random legal steps), and per-state legal texts."""
    if name in _CACHE:
        return _CACHE[name]
    p = load(name)
    rng = np.random.default_rng(7)
    instances = _instances(p)
    states = []
    for text in instances[:40]:
        s = p.parse_instance(text)
        states.append(s)
        for _ in range(int(rng.integers(1, 4))):
            steps = p.legal_steps(s)
            if not steps or p.is_solved(s):
                break
            s = p.apply(s, steps[int(rng.integers(len(steps)))])
            states.append(s)
    rendered = {}
    render = getattr(p, "render_step", None)
    for i, s in enumerate(states):
        steps = p.legal_steps(s)
        rendered[i] = [render(s, a) if render else str(a) for a in steps[:30]] or ["x"]
    _CACHE[name] = w = {"puzzle": p, "instances": instances, "states": states,
                        "rendered": rendered, "legal": {}}
    return w


# Hypothesis spends ~50 us per drawn choice, so the structured texts below are built by a seeded
# `random.Random` from one drawn seed (one choice instead of ~15): that is what keeps 10,000
# examples per parser affordable on 2 cores. Arbitrary Unicode still comes from `st.text`.
_EDIT_CHARS = "0123456789 +-*/=(),:x×÷−lrudcb\n\x00\u0663²½\U0001F600"


def _mutate(r: random.Random, base: str) -> str:
    """`base` with one to three random edits: insert, delete, replace or duplicate a character."""
    text = list(base)
    for _ in range(r.randint(1, 3)):
        pos = r.randrange(len(text) + 1)
        kind = r.randrange(4)
        if kind == 0 or pos >= len(text):
            text.insert(pos, r.choice(_EDIT_CHARS))
        elif kind == 1:
            del text[pos]
        elif kind == 2:
            text[pos] = r.choice(_EDIT_CHARS)
        else:
            text.insert(pos, text[pos])
    return "".join(text)


def _numbers_of(state) -> list:
    nums = getattr(state, "numbers", state)
    return list(nums) if isinstance(nums, tuple) else []


def _num(r: random.Random, state) -> str:
    own = _numbers_of(state)
    k = r.randrange(6)
    if k <= 1 and own:
        x = r.choice(own)
        return str(x.numerator) + ("" if x.denominator == 1 else f"/{x.denominator}") \
            if hasattr(x, "numerator") else str(x)
    if k == 2:
        return str(r.randint(0, 30))
    if k == 3:
        return str(r.randint(-5, 10**6))
    if k == 4:
        return f"{r.randint(0, 30)}/{r.randint(0, 9)}"
    return r.choice(["", "24", "1e3", "٣", "2.5", "00", "9" * 40, "-3", "½"])


def _arith_step(r: random.Random, state) -> str:
    """Game of 24 / Countdown near-miss steps: `a op b = c (left: ...)`."""
    sp = lambda: r.choice(["", " ", " ", "  ", "\t"])  # noqa: E731
    s = (r.choice(["", "", "- ", "1. ", "Step 2: ", "• "]) + _num(r, state) + sp()
         + r.choice(list("+-*/+-*/x×÷−%^") + ["**", "//", ""]) + sp() + _num(r, state) + sp()
         + r.choice(["=", "=", "=", "==", ""]) + sp() + _num(r, state))
    if r.random() < 0.5:
        left = " ".join(_num(r, state) for _ in range(r.randint(0, 5)))
        s += f" ({r.choice(['left', 'remaining', 'LEFT'])}: {left})"
    return s + r.choice(["", ".", " ", "\n"])


def _sudoku_step(r: random.Random, state) -> str:
    r_, c, d = (str(r.randint(-1, 12)) for _ in range(3))
    form = r.choice(["r{r}c{c}={d}", "R{r}C{c} = {d}", "({r},{c}) = {d}", "row {r} col {c}: {d}",
                     "r{r} c{c} -> {d}", "({r}, {c}) {d}", "- r{r}c{c}={d}.", "r{r}c{c}{d}"])
    return form.format(r=r_, c=c, d=d)


def _sliding_step(r: random.Random, state) -> str:
    tile = r.choice([str(r.randint(-2, 30)), str(r.randint(0, 8)), "#3", "007", "1234"])
    d = r.choice(["left", "right", "up", "down", "l", "r", "u", "d", "L", "upwards", "north", "",
                  "to the left", "towards up", "(left)"])
    form = r.choice(["move {t} {d}", "slide tile {t} {d}", "{t} {d}", "Move the {t} {d}.",
                     "1. move {t} {d}", "push number {t} {d} (ok)", "move {t}"])
    return form.format(t=tile, d=d)


def _blocks_step(r: random.Random, state) -> str:
    from mcts_reason_puzzles.blocksworld import COLOURS
    names = [b for b, _ in state.pos] if hasattr(state, "pos") else []
    pool = names * 3 + list(COLOURS) + ["table", "hand", "", "Red", "the"]
    x, y = r.choice(pool), r.choice(pool)
    form = r.choice([
        "pick up the {x} block", "put down the {x} block", "stack the {x} block on top of the {y} block",
        "unstack the {x} block from on top of the {y} block", "unstack the {x} block",
        "stack {x} onto {y}", "pick-up {x}", "put the {x} block on the {y} block",
        "1. pick up the {x} block.", "unstack the {x} block off the {y} block", "stack {x} on {x}",
        "({v} {x} {y})", "({v} {x})", "(unstack {x} {y}", "- (stack {x} {y})", "({v})",
        "unstack a from {y}", "pick up a {x} block", "stack the a block on top of {y}"])
    verb = r.choice(["pick-up", "put-down", "stack", "unstack", "pickup", "putdown", "fly", ""])
    return form.format(x=x, y=y, v=verb)


_GRAMMAR = {"game24": _arith_step, "countdown": _arith_step, "sudoku": _sudoku_step,
            "sliding": _sliding_step, "blocksworld": _blocks_step}
_SEED = st.integers(0, 2**32 - 1)


@st.composite
def _step_case(draw, name: str, w: dict) -> tuple[int, str]:
    """(state index, text): arbitrary text, a legal rendering of that state as is or with a few
    edits, or a grammar near-miss."""
    i = draw(st.integers(0, len(w["states"]) - 1))
    kind = draw(st.integers(0, 4 if name in _GRAMMAR else 3))
    if kind == 0:
        return i, draw(st.text(max_size=40))
    r = random.Random(draw(_SEED))
    rendered = w["rendered"][i]
    if kind == 1:
        return i, r.choice(rendered)
    if kind in (2, 3):
        return i, _mutate(r, r.choice(rendered))
    return i, _GRAMMAR[name](r, w["states"][i])


# -- independent legality checks (the rules, written again here) --------------------------------
def _arith_legal(numbers, a, op, b, result, *, whole_positive: bool) -> bool:
    if Counter([a, b]) - Counter(numbers):
        return False                      # a and b are not both among the numbers
    fa, fb = Fraction(a), Fraction(b)
    if op == "+":
        exact = fa + fb
    elif op == "*":
        exact = fa * fb
    elif op == "-":
        exact = fa - fb
        if exact < 0 or (whole_positive and exact == 0):
            return False
    elif op == "/":
        if fb == 0:
            return False
        exact = fa / fb
    else:
        return False
    if whole_positive and (exact.denominator != 1 or exact <= 0):
        return False
    return exact == result


def _sudoku_legal(state, fill) -> bool:
    n = state.size
    box_h = {4: 2, 9: 3}[n]
    box_w = box_h
    r, c, d = fill.row - 1, fill.col - 1, fill.digit
    if not (0 <= r < n and 0 <= c < n and 1 <= d <= n) or state.cells[r * n + c]:
        return False
    row = {state.cells[r * n + j] for j in range(n)}
    col = {state.cells[i * n + c] for i in range(n)}
    r0, c0 = r - r % box_h, c - c % box_w
    box = {state.cells[i * n + j] for i in range(r0, r0 + box_h) for j in range(c0, c0 + box_w)}
    return d not in row | col | box


def _sliding_legal(state, move) -> bool:
    w, tiles = state.width, state.tiles
    if move.tile == 0 or move.tile not in tiles:
        return False
    t, b = tiles.index(move.tile), tiles.index(0)
    delta = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}.get(move.direction)
    if delta is None:
        return False
    return (t // w + delta[0], t % w + delta[1]) == (b // w, b % w)   # the tile slides into the blank


def _blocks_legal(state, a) -> bool:
    where = dict(state.pos)
    holding = [b for b, p in where.items() if p == "hand"]
    covered = set(where.values())
    clear = lambda b: b in where and b not in covered and where[b] != "hand"  # noqa: E731
    if a.verb == "pick-up":
        return not holding and a.target is None and where.get(a.block) == "table" and clear(a.block)
    if a.verb == "put-down":
        return holding == [a.block] and a.target is None
    if a.verb == "stack":
        return holding == [a.block] and a.target != a.block and clear(a.target)
    if a.verb == "unstack":
        return not holding and where.get(a.block) == a.target and a.target not in ("table", "hand") \
            and clear(a.block)
    return False


def _independently_legal(name: str, state, step) -> bool:
    if name == "game24":
        return _arith_legal(state, step.a, step.op, step.b, step.result, whole_positive=False)
    if name == "countdown":
        return _arith_legal(state.numbers, step.a, step.op, step.b, step.result,
                            whole_positive=True)
    if name == "sudoku":
        return _sudoku_legal(state, step)
    if name == "sliding":
        return _sliding_legal(state, step)
    if name == "blocksworld":
        return _blocks_legal(state, step)
    return True                           # a third-party puzzle: `legal_steps` is the check


def _legal_successors(w: dict, i: int) -> set:
    if i not in w["legal"]:
        p, s = w["puzzle"], w["states"][i]
        w["legal"][i] = {p.apply(s, a) for a in p.legal_steps(s)}
    return w["legal"][i]


# -- the fuzz tests -----------------------------------------------------------------------------
def _check_step(name: str, i: int, text: str):
    w = _world(name)
    p, state = w["puzzle"], w["states"][i]
    step = p.parse_step(state, text)          # must not raise, whatever the text
    if step is None:
        return None
    assert _independently_legal(name, state, step), f"illegal step {step!r} accepted from {text!r}"
    assert p.apply(state, step) in _legal_successors(w, i), \
        f"{step!r} from {text!r} leads to a state no legal step reaches"
    return step


@pytest.mark.parametrize("name", PUZZLES)
def test_parse_step_never_raises_and_never_accepts_an_illegal_step(name):
    w = _world(name)
    counter = {"accepted": 0}

    @FUZZ
    @given(_step_case(name, w))
    def run(case):
        counter["accepted"] += _check_step(name, *case) is not None

    run()
    # the generators reach the accepting branch too, or the legality check would test nothing
    if name in BUILTIN and FUZZ.max_examples >= 1000:
        assert counter["accepted"] >= FUZZ.max_examples // 20


@st.composite
def _instance_text(draw, name: str, w: dict) -> str:
    """Arbitrary text, a real instance with a few edits, or a near-miss of the format."""
    real = w["instances"] or ["1 2 3 4"]
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.text(max_size=40))
    r = random.Random(draw(_SEED))
    if kind in (1, 2):
        return _mutate(r, r.choice(real))
    if name in ("game24", "sliding"):
        xs = [r.randint(-3, 30) for _ in range(r.choice([4, 9, 16, r.randint(0, 17)]))]
        body = r.choice([" ", ",", ", ", "\t", ";"]).join(map(str, xs))
        label = r.choice(["", "", "Input: ", "input:", "[", "blank-first: ", "blank-last:",
                          "blank-first: blank-first: ", "Blank-First:"])
        return label + body + ("]" if label == "[" and r.random() < 0.7 else "")
    if name == "countdown":
        xs = [r.choice([r.randint(-3, 12), r.randint(1, 2 * 10**6)]) for _ in range(r.randint(0, 11))]
        arrow = r.choice(["->", "=>", ">", "→", "=", ""])
        t = r.randint(-5, 2 * 10**6)
        lst = r.choice(["[", ""]) + ", ".join(map(str, xs)) + r.choice(["]", ""])
        rule = r.choice(["", "", "exactly-once: ", "at-most-once:", "exactly-once: exactly-once:"])
        return rule + r.choice([
            f"{' '.join(map(str, xs))} {arrow} {t}", f"{lst} {arrow} {t}",
            f"Numbers: {lst}\nTarget: {t}", f"Target: {t}, Numbers: {lst}", f"Numbers: {lst}",
            f"Using the numbers {lst}, create an equation that equals {t}.",
            f"Using the numbers {lst}, create an equation that equals {t}, each exactly once.",
            f'{{"nums": {lst}, "target": {t}}}', f'{{"numbers": {lst}, "target": "{t}"}}'])
    if name == "sudoku":     # a real grid with some cells changed: clashes, bad digits, lengths
        grid = list(r.choice(real))
        for _ in range(r.randint(1, 3)):
            grid[r.randrange(len(grid))] = r.choice(".0123456789x _|,-+\n")
        return "".join(grid)
    return "".join(r.choice(_EDIT_CHARS) for _ in range(r.randint(0, 30)))


@pytest.mark.parametrize("name", PUZZLES)
def test_parse_instance_raises_only_value_error_with_a_one_line_message(name):
    w = _world(name)
    p = w["puzzle"]
    counter = {"accepted": 0}

    @FUZZ
    @given(_instance_text(name, w))
    def run(text):
        try:
            state = p.parse_instance(text)
        except ValueError as e:
            msg = str(e)
            assert msg.strip() and "\n" not in msg, f"unhelpful message {msg!r} for {text!r}"
            return
        counter["accepted"] += 1
        hash(state)                       # states are hashable (transposition tables need it)
        p.legal_steps(state)              # and usable

    run()
    assert counter["accepted"] > 0


# -- set readers --------------------------------------------------------------------------------
_TMP = Path(tempfile.mkdtemp(prefix="fuzz-sets-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))


@st.composite
def _set_file(draw, suffix: str, w: dict) -> tuple[bytes, str]:
    """(file content, rank-range suffix): random bytes, a valid file of this format, or a
    valid file with a few edits (bad lines, duplicates, wrong fields, broken encodings)."""
    real = w["instances"][:8]
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=60)), ""
    r = random.Random(draw(_SEED))
    ranks = r.choice(["", ":1-5", ":3-2", ":0-99999"]) if suffix == ".csv" else ""
    picks = [r.choice(real) for _ in range(r.randint(1, 3))]
    if suffix == ".csv":
        text = "Rank,Puzzles\n" + "".join(f"{r.randint(-1, 9)},{t}\n" for t in picks)
    elif suffix == ".jsonl":
        text = "".join('{"instance": "%s"}\n' % t for t in picks)
    else:
        text = "# a set\n" + "".join(f"{t}\n" for t in picks)
    if kind >= 2:
        text = _mutate(r, text)
    data = text.encode()
    if kind == 3 and r.random() < 0.5:
        data += r.choice([b"\xff\xfe", b"\x00", b'"', b"\n1,a,b", b"\r\n\r"])
    return data, ranks


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".csv"])
def test_set_readers_raise_only_value_error(suffix):
    w = _world("game24")
    p = w["puzzle"]
    path = _TMP / f"set{suffix}"
    counter = {"accepted": 0}

    @FUZZ
    @given(_set_file(suffix, w))
    def run(case):
        data, ranks = case
        path.write_bytes(data)
        try:
            got = read_set(p, str(path) + (ranks if suffix == ".csv" else ""))
        except ValueError as e:
            assert str(e).strip()
            return
        counter["accepted"] += 1
        assert len(got) >= 1
        for text in got.instances:
            p.parse_instance(text)

    run()
    assert counter["accepted"] > 0


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 2000))   # the spec, not a parser
@given(st.one_of(st.text(max_size=40), st.integers(200, 5000).map(lambda n: "a" * n),
                 st.text(max_size=20).map(lambda t: f"{t}.csv:1-{len(t)}"))
       .filter(lambda s: s.strip() not in _GAME24_SETS))
def test_set_spec_itself_raises_only_value_error(spec):
    p = _world("game24")["puzzle"]
    try:
        read_set(p, spec)
    except ValueError as e:
        assert str(e).strip()


def test_regression_a_set_name_too_long_for_the_file_system_is_a_value_error():
    # found by the fuzzer: Path.exists() raised OSError(ENAMETOOLONG) out of read_set
    p = _world("game24")["puzzle"]
    with pytest.raises(ValueError, match="cannot read it"):
        read_set(p, "a" * 256)
