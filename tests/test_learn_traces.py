"""Traces from search trees, checked field by field against the live tree they came from."""
from __future__ import annotations

import json

import numpy as np
import pytest

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.components import make_policy, make_value
from mcts_reason.learn.dataset import Dataset, Splitter, read_jsonl
from mcts_reason.learn.traces import TraceError, records
from mcts_reason.policies import UniformPolicy
from mcts_reason.registry import load
from mcts_reason.tree import LOSS, WIN
from mcts_reason.values import RolloutValue
from mcts_reason.viz.export import read_tree, write_tree

INSTANCE = "1 2 3 4"


@pytest.fixture(scope="module")
def game24():
    return load("game24")


@pytest.fixture(scope="module")
def solved(game24, tmp_path_factory):
    """A small solved uniform+rollout tree, written to JSON and read back."""
    result = mcts_reason.solve(game24, INSTANCE, policy=UniformPolicy(), value=RolloutValue(),
                               budget=Budget(simulations=40), seed=0)
    assert result.solved
    path = tmp_path_factory.mktemp("tree") / "t.json"
    write_tree(result, game24, path, meta={"budget": "simple=40", "seed": 0,
                                           "policy": "uniform", "value": "rollout"})
    recs = list(records(read_tree(path), game24, rollouts=4, rng=np.random.default_rng(0)))
    return result, recs


def _nodes_by_state(game24, root):
    out = {}
    for n in root.iter():
        out.setdefault(game24.render(n.state), n)
    return out


def test_policy_records_match_the_tree(game24, solved):
    result, recs = solved
    by_state = _nodes_by_state(game24, result.root)
    policy = [r for r in recs if r["kind"] == "policy"]
    assert policy
    for rec in policy:
        node = by_state[rec["state"]]
        kids = node.children
        assert [c["step"] for c in rec["children"]] == \
            [game24.render_step(node.state, k.step) for k in kids]
        assert [c["visits"] for c in rec["children"]] == [k.visits for k in kids]
        assert [c["status"] for c in rec["children"]] == \
            [{WIN: "win", LOSS: "loss"}.get(k.status, "unknown") for k in kids]
        total = sum(k.visits for k in kids)
        if total:
            assert sum(c["pi"] for c in rec["children"]) == pytest.approx(1.0)
            for c, k in zip(rec["children"], kids):
                assert c["pi"] == pytest.approx(k.visits / total)
        assert sum(c["target"] for c in rec["children"]) == pytest.approx(1.0)
        for c, k in zip(rec["children"], kids):
            assert game24.parse_step(node.state, c["step"]) == k.step   # re-parses to the step
            if k.status == LOSS:
                assert c["target"] == 0.0
        assert rec["provenance"] == {"puzzle": "game24", "instance": INSTANCE, "algo": "mcts",
                                     "budget": "simple=40", "seed": 0, "policy": "uniform",
                                     "value": "rollout", "version": mcts_reason.__version__}


def test_value_labels_match_node_statuses(game24, solved):
    result, recs = solved
    by_state = _nodes_by_state(game24, result.root)
    values = [r for r in recs if r["kind"] == "value"]
    assert any(r["source"] == "rollouts" for r in values)
    for rec in values:
        node = by_state[rec["state"]]
        if rec["source"] == "proved":
            assert rec["k"] == 0
            assert node.status in (WIN, LOSS)
            assert rec["value"] == (1.0 if node.status == WIN else 0.0)
        else:
            assert node.status not in (WIN, LOSS) and node.visits > 0
            assert rec["k"] == 4 and rec["value"] in (0, 0.25, 0.5, 0.75, 1.0)


def test_sft_and_preference_records_replay_a_verified_solution(game24, solved):
    result, recs = solved
    by_state = _nodes_by_state(game24, result.root)
    propose = [r for r in recs if r["kind"] == "sft" and r["task"] == "propose"]
    state, steps = game24.parse_instance(INSTANCE), []
    for rec in propose:            # in path order: each answer's first line is the solution's step
        assert rec["state"] == game24.render(state)
        assert rec["messages"][-1]["role"] == "assistant"
        lines = rec["messages"][-1]["content"].splitlines()
        for line in lines:
            assert game24.parse_step(state, line) is not None
        step = game24.parse_step(state, lines[0])
        steps.append(step)
        state = game24.apply(state, step)
    assert game24.is_solved(state)
    assert game24.verify(INSTANCE, game24.answer(game24.parse_instance(INSTANCE), steps))
    for rec in recs:
        if rec["kind"] == "preference":
            node = by_state[rec["state"]]
            chosen = game24.parse_step(node.state, rec["chosen"][0]["content"])
            rejected = game24.parse_step(node.state, rec["rejected"][0]["content"])
            assert chosen in steps
            lost = {k.step for k in node.children if k.status == LOSS}
            assert rejected in lost
        if rec["kind"] == "sft" and rec["task"] == "value":
            node = by_state[rec["state"]]
            want = {WIN: "sure", LOSS: "impossible"}[node.status]
            assert rec["messages"][-1]["content"] == want


@pytest.fixture(scope="module")
def heuristic_tree(game24):
    """A solved heuristic-policy tree (the benchmark's round-0 kind): unequal priors, one child
    of the root visited out of 30, so the answer's order past the first line is the prior's."""
    result = mcts_reason.solve(game24, "4 9 10 13", policy=make_policy(game24, "heuristic"),
                               value=make_value(game24, "heuristic"),
                               budget=Budget(simulations=30), seed=0)
    assert result.solved
    return result, None


def _path_answers(game24, result, recs):
    """(live node, its solution child, answer lines) per propose record, found by walking the
    live tree from the root along each answer's first line."""
    node, out = result.root, []
    for rec in (r for r in recs if r["kind"] == "sft" and r["task"] == "propose"):
        assert rec["state"] == game24.render(node.state)
        lines = rec["messages"][-1]["content"].splitlines()
        first = game24.parse_step(node.state, lines[0])
        child = next(k for k in node.children if k.step == first)
        out.append((node, child, lines))
        node = child
    assert game24.is_solved(node.state)
    return out


@pytest.mark.parametrize("tree", ["solved", "heuristic_tree"])
@pytest.mark.parametrize("k", [1, 3, 8, 40])
def test_propose_answers_list_k_legal_steps_best_first(game24, request, tmp_path, k, tree):
    """The answer is the solution's step, then the other children not proved lost -- visited or
    not -- by (proved win, visits, prior, creation order), then the proved-lost children (prior,
    creation order), then the puzzle's other legal steps in its order: k distinct lines, fewer
    only where the state has fewer legal steps."""
    result, _ = request.getfixturevalue(tree)
    path = tmp_path / "t.json"
    write_tree(result, game24, path)
    recs = list(records(read_tree(path), game24, rollouts=0, rng=np.random.default_rng(0),
                        sft_steps=k))
    answers = _path_answers(game24, result, recs)
    assert answers
    unvisited_listed = lost_listed = outside_listed = 0
    for node, child, lines in answers:
        others = [c for c in node.children if c is not child]
        # the file rounds priors to 6 digits; rank as the file does
        live = sorted((c for c in others if c.status != LOSS),
                      key=lambda c: (c.status != WIN, -c.visits, -round(c.prior, 6), c.order))
        lost = sorted((c for c in others if c.status == LOSS),
                      key=lambda c: (-round(c.prior, 6), c.order))
        legal = [game24.render_step(node.state, s) for s in game24.legal_steps(node.state)]
        want = [game24.render_step(node.state, child.step)]
        for text in [game24.render_step(node.state, c.step) for c in live + lost] + legal:
            if len(want) < k and text not in want:
                want.append(text)
        assert lines == want
        assert len(lines) == min(k, len(set(legal)))      # k lines where the state has them
        steps = [game24.parse_step(node.state, ln) for ln in lines]
        assert all(s is not None for s in steps)            # every line re-parses ...
        assert len(set(steps)) == len(steps)                # ... to distinct legal steps
        kids = {c.step: c for c in node.children}
        live_steps = {c.step for c in live} | {child.step}
        # a proved-lost or unexpanded step comes only once the live children are all listed
        first_other = next((i for i, s in enumerate(steps) if s not in live_steps), len(steps))
        assert all(s not in live_steps for s in steps[first_other:])
        unvisited_listed += sum(s in kids and kids[s].visits == 0 for s in steps)
        lost_listed += sum(s in kids and kids[s].status == LOSS for s in steps)
        outside_listed += sum(s not in kids for s in steps)
    if k >= 8:
        assert unvisited_listed > 0        # the expansion's unvisited children are listed too
    if k == 8:
        assert len(answers[0][2]) == 8     # both roots have more than 8 legal steps
    if k == 40:
        assert lost_listed + outside_listed > 0   # the fill past the live children happened


def test_sft_steps_below_one_is_an_error(game24, solved, tmp_path):
    result, _ = solved
    path = tmp_path / "t.json"
    write_tree(result, game24, path)
    with pytest.raises(TraceError, match="sft_steps"):
        list(records(read_tree(path), game24, rng=np.random.default_rng(0), sft_steps=0))


def test_a_step_that_does_not_reparse_is_an_error(game24, solved, tmp_path):
    result, _ = solved
    path = tmp_path / "t.json"
    write_tree(result, game24, path)
    data = json.loads(path.read_text())
    child = next(n for n in data["nodes"] if n["step"])
    child["step"] = "13 * 13 = 7 (left: 7)"
    path.write_text(json.dumps(data))
    with pytest.raises(TraceError, match="does not re-parse"):
        list(records(read_tree(path), game24, rng=np.random.default_rng(0)))


def test_split_by_instance_keeps_held_out_out_of_train(game24, tmp_path):
    insts = [t for _, t in zip(range(40), game24.instances())]
    held = insts[:5]
    split = Splitter(game24, seed=1, held_out=held)
    assert all(split(t) == "test" for t in held)
    assert split(" ".join(reversed(held[0].split()))) == "test"      # canonical form
    assert Splitter(game24, seed=1)(insts[7]) == split(insts[7])     # stable per instance
    ds = Dataset(split)
    rng = np.random.default_rng(0)
    for inst in insts[:12]:
        r = mcts_reason.solve(game24, inst, policy=UniformPolicy(), value=RolloutValue(n=2),
                              budget=Budget(simulations=8), seed=0)
        from mcts_reason.viz.export import tree_graph
        for rec in records(tree_graph(r, game24), game24, rollouts=2, rng=rng):
            ds.add(rec)
    manifest = ds.write(tmp_path / "ds")
    train_instances = {rec["provenance"]["instance"]
                       for kind in ("policy", "value", "sft", "preference")
                       for rec in read_jsonl(tmp_path / "ds" / "train" / f"{kind}.jsonl")}
    assert train_instances and not train_instances & set(held)
    test_instances = {rec["provenance"]["instance"]
                      for rec in read_jsonl(tmp_path / "ds" / "test" / "value.jsonl")}
    assert set(held) <= test_instances
    states = [rec["state"] for rec in read_jsonl(tmp_path / "ds" / "train" / "policy.jsonl")]
    assert len(states) == len(set(states))                          # deduplicated by state
    assert manifest["files"]["train/policy.jsonl"]["records"] == len(states)


def test_cli_solve_tree_then_traces(tmp_path):
    from click.testing import CliRunner

    from mcts_reason.cli import cli
    runner = CliRunner()
    tree = tmp_path / "t.json"
    res = runner.invoke(cli, ["solve", "game24", INSTANCE, "--policy", "uniform", "--value",
                              "rollout", "--budget", "40", "--tree", str(tree)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["traces", "game24", str(tree), "--out", str(tmp_path / "d"),
                              "--split", "1,0,0", "--rollouts", "2"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert manifest["instances"] == {"train": 1, "val": 0, "test": 0}
    recs = read_jsonl(tmp_path / "d" / "train" / "policy.jsonl")
    assert recs and manifest["files"]["train/policy.jsonl"]["records"] == len(recs)
    assert recs[0]["provenance"]["budget"] == "simple=40"
    assert recs[0]["provenance"]["policy"] == "uniform"
    assert manifest["sft_steps"] == 3
    answers = [r["messages"][-1]["content"].splitlines()
               for r in read_jsonl(tmp_path / "d" / "train" / "sft.jsonl") if r["task"] == "propose"]
    res = runner.invoke(cli, ["traces", "game24", str(tree), "--out", str(tmp_path / "d6"),
                              "--split", "1,0,0", "--rollouts", "0", "--sft-steps", "6"])
    assert res.exit_code == 0, res.output
    six = [r["messages"][-1]["content"].splitlines()
           for r in read_jsonl(tmp_path / "d6" / "train" / "sft.jsonl") if r["task"] == "propose"]
    assert [a[0] for a in six] == [a[0] for a in answers] and all(len(a) <= 3 for a in answers)
    assert all(len(a) <= 6 for a in six) and sum(map(len, six)) > sum(map(len, answers))
    res = runner.invoke(cli, ["traces", "game24", str(tree), "--out", str(tmp_path / "d0"),
                              "--sft-steps", "0"])
    assert res.exit_code == 2 and "--sft-steps" in res.output
    # held out: the same tree's records go to test only
    res = runner.invoke(cli, ["traces", "game24", str(tree), "--out", str(tmp_path / "h"),
                              "--split", "1,0,0", "--held-out", str(_held(tmp_path))])
    assert res.exit_code == 0, res.output
    assert read_jsonl(tmp_path / "h" / "train" / "policy.jsonl") == []
    assert read_jsonl(tmp_path / "h" / "test" / "policy.jsonl")


def _held(tmp_path):
    p = tmp_path / "held.txt"
    p.write_text("4 3 2 1\n")          # the same instance, spelled otherwise
    return p


def test_sets_are_read_with_each_instance_once():
    """A sweep must not run an instance twice (its records would repeat): a named set that
    lists one twice (sliding's generated easy8 did) is read with each instance once, in order."""
    from mcts_reason.learn.cli import _read
    sliding = load("sliding")
    raw = sliding.instance_set("easy8")
    s = _read(sliding, "easy8", "'--set'")
    assert s.instances == tuple(dict.fromkeys(raw))
