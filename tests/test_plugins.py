"""The plugin contract (mcts_reason/types.py, docs/plugins.md) from a third party's side.

tests/plugin_example/reach_puzzle is a puzzle package written only against the contract. Here it
is registered the way `pip install` registers one: a `*.dist-info` folder with an
`entry_points.txt` naming the `mcts_reason.puzzles` group, on the path of a fresh interpreter
(a subprocess, so no registry cache of this process can hide or fake it).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mcts_reason
from mcts_reason import types as T
from mcts_reason.registry import available, load

EXAMPLE = Path(__file__).parent / "plugin_example"


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    dist = site / "reach_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: reach-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[mcts_reason.puzzles]\nreach = reach_puzzle:Reach\n")
    return site


def _cli(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(EXAMPLE)]))
    return subprocess.run([sys.executable, "-m", "mcts_reason.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _replay(instance: str, steps: list[str]) -> int:
    """The test's own arithmetic, not the plugin's."""
    value = int(instance.split()[0])
    for op in steps:
        value = value + 1 if op == "+1" else value * 2
    return value


def test_an_entry_point_from_an_installed_distribution_is_a_puzzle(tmp_path):
    site = _site(tmp_path)
    listed = _cli(site, "puzzles")
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[0] == "reach" for line in listed.stdout.splitlines())
    for algo in ("mcts", "bfs", "dfs", "greedy"):
        res = _cli(site, "solve", "reach", "3 10", "--algo", algo, "--json")
        assert res.returncode == 0, (algo, res.stdout, res.stderr)
        out = json.loads(res.stdout)
        assert out["solved"] and _replay("3 10", out["steps"]) == 10, (algo, out)
    bad = _cli(site, "solve", "reach", "3 x")
    assert bad.returncode == 2 and "two whole numbers" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_without_the_distribution_the_puzzle_is_unknown(tmp_path):
    res = _cli(tmp_path, "solve", "reach", "3 10")      # the package, but no dist-info
    assert res.returncode == 2 and "unknown puzzle 'reach'" in res.stderr


def test_the_example_satisfies_the_protocols(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from reach_puzzle import Reach
    p = Reach()
    assert isinstance(p, T.Puzzle)
    assert isinstance(p.heuristic_policy(), T.Policy)
    assert isinstance(p.heuristic_value(), T.ValueFunction)
    # it brings no optional capability, and the engine does not need one
    for cap in (T.ProposePrompt, T.ValuePrompt, T.VerifyPrompt, T.ProposeGrammar,
                T.ExtraValues, T.Metrics, T.NamedSets, T.Generates):
        assert not isinstance(p, cap)
    r = mcts_reason.solve(p, "5 40", seed=1)
    assert r.solved and _replay("5 40", list(r.steps)) == 40


def test_builtin_puzzles_declare_what_they_bring():
    for name in sorted(available()):
        p = load(name)
        assert isinstance(p, T.Puzzle), name
        assert isinstance(p.heuristic_policy(), T.Policy), name
        assert isinstance(p.heuristic_value(), T.ValueFunction), name
    g = load("game24")
    assert isinstance(g, T.ProposePrompt) and isinstance(g, T.ProposeGrammar)
    assert isinstance(load("blocksworld"), T.Metrics)


def test_proposal_is_the_tuple_policies_return():
    pr = T.Proposal("+1", 0.5)
    assert pr.next_state is None and tuple(pr) == ("+1", 0.5, None)
    step, prior, nxt = T.Proposal("*2", 1.0, "s")
    assert (step, prior, nxt) == ("*2", 1.0, "s")


class _Counting:
    """A policy that needs the meter (MeterBound) and returns bare (step, prior) pairs."""

    exhaustive = True

    def __init__(self) -> None:
        self.meter = None

    def bind(self, meter) -> None:
        self.meter = meter

    def propose(self, puzzle, state, *, k, rng):
        return [(s, 1.0) for s in puzzle.legal_steps(state)]


def test_engine_binds_meter_and_fills_next_states(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from reach_puzzle import Reach
    from mcts_reason.budget import Budget
    from mcts_reason.search.common import Context
    pol = _Counting()
    assert isinstance(pol, T.MeterBound) and isinstance(pol, T.Policy)
    p = Reach()
    ctx = Context(p, "3 10", policy=pol, value=p.heuristic_value(), budget=Budget(),
                  rng=np.random.default_rng(0), algo="test")
    assert pol.meter is ctx.meter
    props = ctx.propose(ctx.initial)
    assert [type(x) for x in props] == [T.Proposal, T.Proposal]
    assert {(x.step, x.next_state.value) for x in props} == {("+1", 4), ("*2", 6)}
    assert sum(x.prior for x in props) == pytest.approx(1.0)
