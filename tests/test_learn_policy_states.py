"""`--policy-states solved`: the policy fitted only to the states on a path to a found solution.

The states kept are checked against a reference computed apart from the proof statuses (networkx
reachability of a solved board below each child), and the effect on the fit against a synthetic
task where the two choices teach opposite steps."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner

from mcts_reason.cli import cli
from mcts_reason.learn.fit import fit, solved_states
from mcts_reason.learn.loop import TrainConfig, _comparable
from mcts_reason.learn.model import softmax
from mcts_reason.learn.traces import records, states_of
from mcts_reason.registry import load

from learn_helpers import sliding_tree  # noqa: F401  (a fixture)


def test_the_solved_states_are_those_with_a_solved_board_below_a_child(sliding_tree):
    s, graph = sliding_tree
    states = states_of(graph, s)
    solved = {n for n in graph.nodes if s.is_solved(states[n])}

    def leads_to_a_solution(c):
        return bool(({c} | nx.descendants(graph, c)) & solved)

    # the reference: expanded nodes (two or more children, a choice to learn) with a child from
    # which the tree reaches a solved board; the target is all on those children, evenly
    want = {}
    for n in graph.nodes:
        kids = sorted(graph.successors(n), key=lambda c: graph.nodes[c]["order"])
        good = [leads_to_a_solution(c) for c in kids]
        if len(kids) > 1 and any(good):
            want[graph.nodes[n]["state"]] = [1.0 / sum(good) if g else 0.0 for g in good]
    assert 2 <= len(want) < sum(1 for n in graph.nodes if graph.out_degree(n) > 1)
    policy = [r for r in records(graph, s, rollouts=0, rng=np.random.default_rng(0))
              if r["kind"] == "policy" and len(r["children"]) > 1]
    kept = solved_states(policy)
    assert {r["state"] for r in kept} == set(want)
    for r in kept:
        assert [c["target"] for c in r["children"]] == pytest.approx(want[r["state"]])
    # and fit counts exactly these policy records
    model = fit("sliding", policy, [], bits=10, policy_states="solved")
    assert model.manifest["train_records"]["policy"] == len(want)
    assert "of the solved states" in model.manifest["fit"]["policy"]
    assert fit("sliding", policy, [], bits=10).manifest["train_records"]["policy"] == len(policy)


def _opposed(rng, n_solved, n_other):
    """States with a 'keep' and a 'swap' step. Where a child was proved won it is 'keep' (the
    target all on it); elsewhere the visit shares favour 'swap' (0.6 against 0.4)."""
    out = []
    for i in range(n_solved + n_other):
        won = i < n_solved
        kids = [{"step": "keep", "next": f"k{rng.integers(1000)}", "visits": 3,
                 "status": "win" if won else "unknown", "target": 1.0 if won else 0.4},
                {"step": "swap", "next": f"s{rng.integers(1000)}", "visits": 2,
                 "status": "unknown", "target": 0.0 if won else 0.6}]
        out.append({"kind": "policy", "state": f"x{i}", "children": kids, "visits": 5})
    return out


def test_fitting_only_the_solved_states_follows_their_steps():
    recs = _opposed(np.random.default_rng(0), 20, 200)

    def p_keep(model):
        rows = model.featurizer.pair_text_rows(["keep", "swap"], ["k1", "s1"], [(), ()],
                                               [[], []])
        return softmax(rows @ model.policy_w + model.policy_b)[0]

    assert p_keep(fit("toy", recs, [], bits=10)) < 0.5                       # the many win
    assert p_keep(fit("toy", recs, [], bits=10, policy_states="solved")) > 0.9


def test_bad_policy_states_and_old_runs():
    with pytest.raises(ValueError, match="policy states"):
        fit("toy", _opposed(np.random.default_rng(0), 1, 1), [], policy_states="won")
    res = CliRunner().invoke(cli, ["train", "sliding", "--set", "easy8", "--out", "x",
                                   "--policy-states", "won"])
    assert res.exit_code == 2
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "--policy-states" in errors[0] and "Traceback" not in res.output
    # a run folder written before the option resumes as `all`, and refuses `solved`
    cfg = TrainConfig(puzzle="sliding", train_set="t", train_sha256="a", eval_set="e",
                      eval_sha256="b", held_out_sha256="c", budget=5, eval_budget=5)
    old = {k: v for k, v in cfg.to_dict().items() if k != "policy_states"}
    assert _comparable(old) == _comparable(cfg.to_dict())
    assert _comparable(old) != _comparable({**cfg.to_dict(), "policy_states": "solved"})


def test_the_option_lists_the_fit_choices_and_help_stays_light():
    """One tuple: the option's choices are what `fit` accepts (each fits; anything else is
    refused by both), and building the command line (`--help`) does not import `fit`'s scipy."""
    import subprocess
    import sys

    from mcts_reason.learn import fit as fit_module
    train = cli.commands["train"]
    option = next(p for p in train.params if p.name == "policy_states")
    assert tuple(option.type.choices) == fit_module.POLICY_STATES
    recs = _opposed(np.random.default_rng(0), 4, 4)
    for choice in option.type.choices:
        fit("toy", recs, [], bits=10, policy_states=choice)
    code = ("import sys; from click.testing import CliRunner; from mcts_reason.cli import cli; "
            "r = CliRunner().invoke(cli, ['train', '--help']); "
            "print(r.exit_code, '--policy-states' in r.output, "
            "any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "True", "False"]
