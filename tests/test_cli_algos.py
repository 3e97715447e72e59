"""`mcts-reason solve --algo ...` and the budget caps on the command line."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mcts_reason.cli import cli
from mcts_reason.search import ALGORITHMS

from search_helpers import independent_value


def solve(*args):
    return CliRunner().invoke(cli, ["solve", "game24", *args])


def test_help_lists_every_algorithm_and_cap():
    out = solve("--help").output
    for name in ALGORITHMS:
        assert name in out
    for flag in ("--max-calls", "--max-tokens", "--max-cost", "--max-seconds", "--max-nodes"):
        assert flag in out


@pytest.mark.parametrize("algo", ["bfs", "dfs", "beam", "best-of-n", "mcts-uct", "mcts"])
def test_solve_with_each_algorithm(algo):
    r = solve("4 9 10 13", "--algo", algo, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["algo"] == algo and d["solved"] and independent_value("4 9 10 13", d["answer"])


def test_greedy_text_output_and_exit_code():
    r = solve("4 9 10 13", "--algo", "greedy")
    assert r.exit_code in (0, 1)
    if r.exit_code == 0:
        assert "(verified)" in r.output
    else:
        assert "no solution found" in r.output


def test_budget_maps_to_expansions_for_baselines_and_simulations_for_mcts():
    d = json.loads(solve("1 1 1 1", "--algo", "best-of-n", "--budget", "7",
                         "--json").output.splitlines()[0])
    assert d["usage"]["expansions"] == 7 and d["stop_reason"] == "budget: expansions"
    d = json.loads(solve("1 6 11 13", "--algo", "mcts", "--budget", "3",
                         "--json").output.splitlines()[0])
    assert d["usage"]["simulations"] <= 3


@pytest.mark.parametrize("flag,value,kind", [("--max-calls", "20", "calls"),
                                             ("--max-nodes", "15", "nodes")])
@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_caps_are_respected_and_named(flag, value, kind, algo):
    r = solve("1 1 1 1", "--algo", algo, flag, value, "--json")
    assert r.exit_code == 1
    d = json.loads(r.output.splitlines()[0])
    assert d["usage"][kind] <= int(value)
    assert not d["solved"]


def test_max_seconds_zero_spends_nothing():
    r = solve("4 9 10 13", "--algo", "bfs", "--max-seconds", "0", "--json")
    assert r.exit_code == 1
    d = json.loads(r.output.splitlines()[0])
    assert d["usage"]["policy_calls"] == 0 and d["stop_reason"] == "budget: seconds"


def test_model_caps_accepted_without_a_model():
    r = solve("4 9 10 13", "--algo", "dfs", "--max-tokens", "1000", "--max-cost", "0.5")
    assert r.exit_code == 0 and "(verified)" in r.output


@pytest.mark.parametrize("args,option", [
    (["--algo", "astar"], "--algo"), (["--max-calls", "-1"], "--max-calls"),
    (["--max-tokens", "x"], "--max-tokens"), (["--max-cost", "-0.1"], "--max-cost"),
    (["--max-seconds", "abc"], "--max-seconds"), (["--max-nodes", "1.5"], "--max-nodes")])
def test_bad_input_exits_2_naming_the_option(args, option):
    r = solve("4 9 10 13", *args)
    assert r.exit_code == 2
    assert option in r.output.splitlines()[-1]
