"""Delta tokens (what a step changed) and graded value labels (`--gamma`), each checked against a
reference worked out independently: by hand, with networkx shortest paths over the tree, or on a
synthetic task that the older features cannot fit."""
from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner

from mcts_reason.cli import cli
from mcts_reason.learn.dataset import Dataset, Splitter
from mcts_reason.learn.features import FEATURE_VERSION, Featurizer, delta_tokens
from mcts_reason.learn.fit import evaluate, fit
from mcts_reason.learn.loop import TrainConfig, _comparable
from mcts_reason.learn.traces import records, states_of
from mcts_reason.registry import load
from mcts_reason.values import RolloutValue

from learn_helpers import sliding_tree  # noqa: F401  (a fixture)


def test_delta_tokens_by_hand():
    assert delta_tokens(None, ["n=3"]) == []                  # the state's tokens unknown
    assert delta_tokens(["n=3", "a"], ["n=3", "a"]) == []      # nothing changed
    # a number up by 1 and one down by 7 (clamped to -4); a fraction up by 1/3 (counts +1);
    # a token that went away and one that appeared
    assert delta_tokens(["n=3", "m=9", "placed=1/3", "hand-empty"],
                        ["n=4", "m=2", "placed=2/3", "holding"]) == \
        ["m-", "m-4", "n+", "n+1", "placed+", "placed+1", "+holding", "-hand-empty"]
    # a text value kept (`~same`), one changed (it appears and goes away as tokens)
    assert delta_tokens(["last=t4", "k=x"], ["last=t4", "k=y"]) == \
        ["last~same", "+k=y", "-k=x"]
    # a number whose key is on one side only: nothing (no change to measure)
    assert delta_tokens(["a=1"], ["b=2"]) == []


def test_blocksworld_deltas_tell_the_goal_stack_from_a_put_down():
    """Holding pink while its goal support (blue) is clear and placed: stacking it there places
    one more block and lowers the remaining bound by 1 (one action done); putting it down
    places nothing and raises it by 1 (it must be picked up again)."""
    b = load("blocksworld")
    s = b.parse_instance("initial: the blue block is on the table, the pink block is on the "
                         "table, the red block is on the table, the blue block is clear, the "
                         "pink block is clear, the red block is clear, the hand is empty; goal: "
                         "the pink block is on top of the blue block")
    held = b.apply(s, b.parse_step(s, "pick up the pink block"))
    before = b.learn_tokens(held)
    assert "holding-ready" in before

    def delta(text):
        return delta_tokens(before, b.learn_tokens(b.apply(held, b.parse_step(held, text))))

    stack, down = delta("stack the pink block on the blue block"), delta("put down the pink block")
    assert {"placed+", "placed+1", "remaining-", "remaining-1", "-holding-ready",
            "+hand-empty", "+goal-holds"} <= set(stack)
    assert not any(t.startswith("placed") for t in down)
    assert {"remaining+", "remaining+1", "-holding-ready", "+hand-empty"} <= set(down)
    # and the featurizer puts them in the step block: the two rows differ there
    feat = Featurizer(10)
    steps = [b.parse_step(held, t) for t in ("stack the pink block on the blue block",
                                             "put down the pink block")]
    rows = feat.pairs(b, held, steps, [b.apply(held, st) for st in steps])
    assert rows.shape == (2, 2 * 1024) and FEATURE_VERSION == 3


def _counter_records(rng, n, with_state_tokens):
    """A synthetic choice: from a state with count p, the right step leads to p + 1, the wrong
    ones to p + 2 and p - 1 (step and state texts say nothing). With the next state's count
    alone no linear score fits it (w[p+1] > w[p+2] and w[p+1] > w[p-1] for every p is a
    cycle: w[2] > w[3] > w[1] and w[3] > w[4] > w[2]); the delta `n+1` fits it exactly."""
    out = []
    for _ in range(n):
        p = int(rng.integers(3, 40))
        order = rng.permutation(3)
        kids = [{"step": "go", "next": "x", "tokens": [f"n={p + d}"],
                 "target": 1.0 if d == 1 else 0.0} for d in np.array([1, 2, -1])[order]]
        rec = {"kind": "policy", "state": f"s{p}", "children": kids, "visits": 10}
        if with_state_tokens:
            rec["tokens"] = [f"n={p}"]
        out.append(rec)
    return out


def test_delta_tokens_fit_a_choice_the_next_state_alone_cannot():
    rng = np.random.default_rng(0)
    train, test = _counter_records(rng, 120, True), _counter_records(rng, 60, True)
    strip = lambda recs: [{k: v for k, v in r.items() if k != "tokens"} for r in recs]  # noqa: E731
    with_delta = fit("synthetic", train, [], bits=10)
    without = fit("synthetic", strip(train), [], bits=10)
    a = evaluate(with_delta, test, [])["policy"]
    b = evaluate(without, strip(test), [])["policy"]
    assert a["top1"] == 1.0, a
    assert b["top1"] < 0.9, b           # measured 0.35; uniform picks the right one a third
    assert a["cross_entropy"] < b["cross_entropy"]


def test_graded_value_labels_field_by_field(sliding_tree):
    s, graph = sliding_tree
    gamma = 0.5
    recs = [r for r in records(graph, s, rollouts=4, rng=np.random.default_rng(0), gamma=gamma)
            if r["kind"] == "value"]
    states = states_of(graph, s)
    solved = {n for n in graph.nodes if s.is_solved(states[n])}
    assert solved
    by_state = {}
    for n in graph.nodes:
        by_state.setdefault(graph.nodes[n]["state"], []).append(n)
    graded = [r for r in recs if "steps" in r]
    assert graded and any(r["steps"] >= 3 for r in graded)
    def expected(n):
        """The reference label of node n: networkx shortest path lengths from it to any
        solved node below it."""
        reach = nx.single_source_shortest_path_length(graph, n)
        below = [d for m, d in reach.items() if m in solved]
        if below:
            return ("proved", min(below), gamma ** min(below))
        if graph.nodes[n]["status"] == "loss":
            return ("proved", None, 0.0)
        return ("rollouts", None, None)

    for rec in recs:
        # a board reached with another last move is another node with the same text
        refs = [expected(n) for n in by_state[rec["state"]]]
        if rec["source"] == "proved":
            assert rec["k"] == 0
            assert (rec["source"], rec.get("steps"), rec["value"]) in refs
        else:
            # discounted rollouts: each of the 4 scores 0 or gamma ** t with t >= 1
            assert ("rollouts", None, None) in refs and rec["k"] == 4
            assert 0.0 <= rec["value"] <= gamma
    # the solution path: its labels fall by gamma per step away from the solved end
    path = sorted((n for n, a in graph.nodes(data=True) if a.get("solution")),
                  key=lambda n: graph.nodes[n]["depth"])
    labels = {r["state"]: r["value"] for r in recs}
    for i, n in enumerate(path):
        assert labels[graph.nodes[n]["state"]] <= gamma ** (len(path) - 1 - i)
    # without gamma: the outcome labels as before (1 on the path, no `steps`)
    plain = [r for r in records(graph, s, rollouts=4, rng=np.random.default_rng(0))
             if r["kind"] == "value"]
    assert not any("steps" in r for r in plain)
    on_path = {graph.nodes[n]["state"] for n in path}
    proved = [r for r in plain if r["source"] == "proved" and r["state"] in on_path]
    assert len({r["state"] for r in proved}) == len(path)
    assert all(r["value"] == 1.0 for r in proved)


def test_discounted_rollouts_against_counting():
    """One move from the goal and one step of rollout: a rollout solves (after 1 step, worth
    gamma) or not; with gamma = 1 the same generator gives the old undiscounted share."""
    s = load("sliding")
    board = s.parse_instance("1 2 3 4 5 6 7 0 8")
    wins = RolloutValue(n=64, max_depth=2).evaluate(s, [board], rng=np.random.default_rng(5))[0]
    disc = RolloutValue(n=64, max_depth=2, gamma=0.5).evaluate(
        s, [board], rng=np.random.default_rng(5))[0]
    assert 0 < wins < 1
    assert disc == pytest.approx(0.5 * wins)
    with pytest.raises(ValueError, match="gamma"):
        RolloutValue(gamma=0.0)


def test_dataset_keeps_the_higher_of_two_proved_labels():
    g = load("game24")
    ds = Dataset(Splitter(g, fractions=(1, 0, 0)))
    base = {"kind": "value", "state": "2 3 4", "source": "proved", "k": 0,
            "provenance": {"instance": "1 2 3 4"}}
    for v in (0.25, 0.5, 0.125):
        ds.add({**base, "value": v})
    assert ds.records["train"][("value", "", "2 3 4")]["value"] == 0.5


def test_a_run_from_before_gamma_still_resumes():
    cfg = TrainConfig(puzzle="sliding", train_set="t", train_sha256="a", eval_set="e",
                      eval_sha256="b", held_out_sha256="c", budget=5, eval_budget=5)
    old = {k: v for k, v in cfg.to_dict().items() if k != "gamma"}
    assert _comparable(old) == _comparable(cfg.to_dict())
    assert _comparable(old) != _comparable({**cfg.to_dict(), "gamma": 0.9})


def test_a_model_of_the_previous_feature_version_is_refused_with_one_line(tmp_path):
    from mcts_reason.learn.model import LinearModel
    model = LinearModel(puzzle="game24", bits=8, policy_w=np.zeros(512), policy_b=0.0,
                        value_w=np.zeros(256), value_b=0.0)
    path = model.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    manifest = json.loads(arrays["manifest"].tobytes().decode())
    manifest["feature_version"] = FEATURE_VERSION - 1
    arrays["manifest"] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    np.savez(tmp_path / "v2.npz", **arrays)
    res = CliRunner().invoke(cli, ["solve", "game24", "4 9 10 13", "--policy",
                                   f"learned:{tmp_path / 'v2.npz'}"])
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and f"feature version {FEATURE_VERSION - 1}" in errors[0]
    assert "retrain" in errors[0] and "Traceback" not in res.output


def test_sliding_undo_shows_as_the_last_tile_kept():
    """After a move of tile 8, moving 8 back keeps `last=t8` (an undo: `last~same`); moving
    another tile does not, and the distance deltas follow the Manhattan distance by hand."""
    s = load("sliding")
    start = s.parse_instance("1 2 3 4 5 6 7 0 8")        # blank left of 8: Manhattan 1
    assert not any(t.startswith("last=") for t in s.learn_tokens(start))
    moved = s.apply(start, s.parse_step(start, "move 8 left"))
    assert s.is_solved(moved)                            # 8 slid into its goal cell
    before = s.learn_tokens(moved)
    assert "last=t8" in before
    back = delta_tokens(before, s.learn_tokens(s.apply(moved, s.parse_step(moved, "move 8 right"))))
    assert "last~same" in back and "manhattan+1" in back
    other = [st for st in s.legal_steps(moved) if st.tile != 8]
    for st in other:
        d = delta_tokens(before, s.learn_tokens(s.apply(moved, st)))
        assert "last~same" not in d and "manhattan+1" in d      # from the goal every move is +1


@pytest.mark.parametrize("name", ["blocksworld", "sliding", "game24", "countdown"])
def test_fast_text_hashing_equals_the_token_list(name):
    """`_hash_text` (byte slices, C loops) gives the columns, counts and order of hashing the
    token list of `text_tokens` one by one, for ASCII texts and (the fallback) others."""
    from mcts_reason.learn.features import _hash_text, _hash_tokens, text_tokens
    p = load(name)
    texts = [p.render(p.parse_instance(i)) for i in p.instance_set(sorted(p.named_sets())[0])[:5]]
    for text in texts + ["", "a", "ünï côdé  two  spaces"]:
        ref = _hash_tokens(text_tokens(text), 12)
        got = _hash_text(text, 12)
        assert dict(got) == ref and list(got) == list(ref)
