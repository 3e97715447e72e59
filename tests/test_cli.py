"""The CLI through click's CliRunner: exit codes and messages."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mcts_reason.cli import cli
from mcts_reason_puzzles.game24 import Game24


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_solve_prints_steps_answer_and_spend():
    r = run("solve", "game24", "4 9 10 13")
    assert r.exit_code == 0, r.output
    assert "(left: " in r.output and "answer:" in r.output and "(verified)" in r.output
    assert "simulations=" in r.output and "policy_calls=" in r.output and "seconds=" in r.output
    answer = r.output.split("answer: ")[1].split("  (verified)")[0]
    assert Game24().verify("4 9 10 13", answer)


def test_solve_json():
    r = run("solve", "game24", "1 3 4 6", "--json", "--seed", "3")
    assert r.exit_code == 0
    d = json.loads(r.output)
    assert {"puzzle", "instance", "solved", "answer", "steps", "usage"} <= set(d)
    assert d["puzzle"] == "game24" and d["solved"] is True
    assert Game24().verify("1 3 4 6", d["answer"])
    assert d["usage"]["simulations"] >= 1 and "value_calls" in d["usage"]


def test_no_solution_within_budget_exit_1():
    r = run("solve", "game24", "1 3 4 6", "--budget", "1", "--policy", "uniform")
    assert r.exit_code == 1
    assert "no solution found within budget (" in r.output


def test_proved_unsolvable_exit_1():
    r = run("solve", "game24", "1 1 1 1")
    assert r.exit_code == 1
    assert "proved unsolvable" in r.output


@pytest.mark.parametrize("args,fragment", [
    (("solve", "game24", "4 9 x 13"), "'x' is not a whole number"),
    (("solve", "game24", "1 2 3"), "need 4 numbers"),
    (("solve", "game24", ""), "empty"),
    (("solve", "game25", "1 2 3 4"), "unknown puzzle 'game25'"),
    (("solve", "game24", "1 2 3 4", "--budget", "-3"), "--budget"),
    (("solve", "game24", "1 2 3 4", "--budget", "many"), "--budget"),
    (("solve", "game24", "1 2 3 4", "--value", "nonsense"), "--value"),
    (("solve", "game24", "1 2 3 4", "--algo", "nonsense"), "--algo"),
])
def test_bad_input_exit_2_with_message(args, fragment):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert fragment in r.output
    assert "Traceback" not in r.output


def test_puzzles_lists_registered_with_description():
    r = run("puzzles")
    assert r.exit_code == 0
    assert any(line.startswith("game24") and "24" in line[6:] for line in r.output.splitlines())
