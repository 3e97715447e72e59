"""The learned policy/value: fit on a synthetic task, file safety, and the one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mcts_reason.cli import cli
from mcts_reason.learn.fit import EmptyTraces, evaluate, fit
from mcts_reason.learn.model import LearnedPolicy, LearnedValue, LinearModel, ModelError
from mcts_reason.registry import load

ALPHABET = list("abcdefghijklmnop")


def _word(rng, n=5, plant=None):
    w = "".join(rng.choice(ALPHABET, size=n))
    if plant:
        i = int(rng.integers(0, n - 1))
        w = w[:i] + plant + w[i + len(plant):]
    return w


def _synthetic(rng, n):
    """States with 4 children; the search favoured the child whose step contains "zz" (visit
    share 0.7, the others 0.1). Values: 1 for states containing "q", else 0."""
    policy, value = [], []
    for _ in range(n):
        good = int(rng.integers(4))
        kids = [{"step": _word(rng, plant="zz" if j == good else None), "next": _word(rng),
                 "target": 0.7 if j == good else 0.1} for j in range(4)]
        policy.append({"kind": "policy", "state": _word(rng), "children": kids, "visits": 10})
        v = float(rng.random() < 0.5)
        value.append({"kind": "value", "state": _word(rng, plant="q" if v else None),
                      "value": v})
    return policy, value


def test_model_trained_on_a_synthetic_task_beats_uniform_on_a_held_out_slice():
    rng = np.random.default_rng(0)
    policy, value = _synthetic(rng, 300)
    model = fit("synthetic", policy[:240], value[:240], bits=12)
    m = evaluate(model, policy[240:], value[240:])
    assert m["policy"]["top1"] > m["policy"]["uniform_top1"] + 0.4
    assert m["policy"]["cross_entropy"] < m["policy"]["uniform_cross_entropy"]
    assert m["value"]["brier"] < 0.5 * m["value"]["constant_brier"]


def test_priors_are_a_distribution_values_in_unit_interval_and_the_file_round_trips(tmp_path):
    game24 = load("game24")
    rng = np.random.default_rng(1)
    model = LinearModel(puzzle="game24", bits=10, policy_w=rng.normal(size=2048) * 5,
                        policy_b=0.3, value_w=rng.normal(size=1024) * 50, value_b=-1.0,
                        manifest={"note": "random weights"})
    path = model.save(tmp_path / "m.npz")
    back = LinearModel.load(path, puzzle="game24")
    assert back.manifest["note"] == "random weights" and back.manifest["puzzle"] == "game24"
    state = game24.parse_instance("4 9 10 13")
    out = LearnedPolicy(back).propose(game24, state, k=None, rng=rng)
    assert len(out) == len(game24.legal_steps(state))
    assert sum(p for _, p, _ in out) == pytest.approx(1.0)
    assert all(p >= 0 for _, p, _ in out)
    assert all(nxt == game24.apply(state, s) for s, _, nxt in out)
    kids = [nxt for _, _, nxt in out]
    vals = LearnedValue(back).evaluate(game24, kids, rng=rng)
    assert all(0.0 <= v <= 1.0 for v in vals)
    np.testing.assert_allclose(vals, LearnedValue(model).evaluate(game24, kids, rng=rng),
                               rtol=1e-5)


def test_incompatible_files_are_refused(tmp_path):
    model = LinearModel(puzzle="game24", bits=8, policy_w=np.zeros(512), policy_b=0.0,
                        value_w=np.zeros(256), value_b=0.0)
    path = model.save(tmp_path / "m.npz")
    with pytest.raises(ModelError, match="for puzzle 'game24', not 'countdown'"):
        LinearModel.load(path, puzzle="countdown")
    with pytest.raises(ModelError, match="does not exist"):
        LinearModel.load(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a readable model file"):
        LinearModel.load(tmp_path / "junk.npz")
    # an old feature version, and a pickled object where the manifest should be: both refused
    manifest = json.dumps({"format": "mcts-reason-learned", "format_version": 1,
                           "feature_version": 0, "puzzle": "game24", "bits": 8}).encode()
    np.savez(tmp_path / "old.npz", policy_w=np.zeros(512), value_w=np.zeros(256),
             biases=np.zeros(2), manifest=np.frombuffer(manifest, np.uint8))
    with pytest.raises(ModelError, match="feature version 0"):
        LinearModel.load(tmp_path / "old.npz")
    np.savez(tmp_path / "pickled.npz", policy_w=np.zeros(512), value_w=np.zeros(256),
             biases=np.zeros(2), manifest=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(ModelError, match="not a readable model file"):
        LinearModel.load(tmp_path / "pickled.npz")


def test_fit_refuses_an_empty_trace_set():
    with pytest.raises(EmptyTraces, match="empty trace set"):
        fit("game24", [], [])


def _errors(res):
    """The `Error:` lines of a CLI run (click prints usage lines above the one error line)."""
    return [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]


def test_cli_bad_model_files_exit_2(tmp_path):
    model = LinearModel(puzzle="countdown", bits=8, policy_w=np.zeros(512), policy_b=0.0,
                        value_w=np.zeros(256), value_b=0.0)
    path = model.save(tmp_path / "cd.npz")
    runner = CliRunner()
    for args in (["--policy", f"learned:{tmp_path / 'missing.npz'}"],
                 ["--value", f"learned:{path}"]):
        res = runner.invoke(cli, ["solve", "game24", "4 9 10 13", *args])
        assert res.exit_code == 2, res.output
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1 and ("does not exist" in errors[0]
                                     or "for puzzle 'countdown'" in errors[0])
        assert "Traceback" not in res.output


def test_cli_traces_bad_inputs_exit_2_with_one_line(tmp_path, monkeypatch):
    runner = CliRunner()
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(cli, ["traces", "game24", str(empty), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and len(_errors(res)) == 1, res.output
    assert "empty trace set" in _errors(res)[0] and "Traceback" not in res.output

    class RulesOnly:          # a puzzle without render_step
        name, description = "rules-only", "no step text"

        def render(self, s): return str(s)
        def parse_step(self, s, t): return None
        def legal_steps(self, s): return []

    import mcts_reason.registry as registry
    monkeypatch.setattr(registry, "load", lambda name: RulesOnly())
    for cmd in (["traces", "rules-only", str(empty), "--out", str(tmp_path / "o")],
                ["train", "rules-only", "--set", "x", "--held-out", "y",
                 "--out", str(tmp_path / "r")]):
        res = runner.invoke(cli, cmd)
        assert res.exit_code == 2, res.output
        assert _errors(res) == ["Error: Invalid value for 'PUZZLE': puzzle 'rules-only' has no "
                                "render_step: learning from search needs it"]


def test_learned_parts_implement_the_contract_and_the_feature_hook_is_used():
    from mcts_reason.learn.features import Featurizer
    from mcts_reason.types import LearnTokens, Policy, Proposal, ValueFunction
    game24 = load("game24")
    model = LinearModel(puzzle="game24", bits=8, policy_w=np.ones(512), policy_b=0.0,
                        value_w=np.ones(256), value_b=0.0)
    assert isinstance(LearnedPolicy(model), Policy)
    assert isinstance(LearnedValue(model), ValueFunction)
    state = game24.parse_instance("4 9 10 13")
    out = LearnedPolicy(model).propose(game24, state, k=3, rng=np.random.default_rng(0))
    assert len(out) == 3 and all(isinstance(p, Proposal) for p in out)

    class Hooked(type(game24)):
        def learn_tokens(self, state):
            return [f"count={len(state)}"]

    class Plain(type(game24)):
        learn_tokens = None          # the hook switched off: text features only

    hooked, plain_puzzle = Hooked(), Plain()
    assert isinstance(hooked, LearnTokens) and isinstance(game24, LearnTokens)
    assert not isinstance(plain_puzzle, LearnTokens)
    f = Featurizer(8)
    plain, extra = f.states(plain_puzzle, [state]), f.states(hooked, [state])
    assert (plain != extra).nnz > 0
    # the hook's tokens are normalised apart from the n-grams: one token adds a unit vector
    from mcts_reason.learn.features import _hash_tokens
    j = next(iter(_hash_tokens(["h:count=4"], 8)))
    assert abs((extra - plain).toarray()[0, j] - 1.0) < 1e-12
    assert abs(float(plain.multiply(plain).sum()) - 1.0) < 1e-12
