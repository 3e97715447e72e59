"""Datasets that do not depend on the order trees are read in, and the value labels balanced
within a depth for fine-tuning (`finetune --value-balance`), with validation records of every
task. Real searches (heuristic MCTS, the round-0 data of issue 16) on Game of 24 puzzles that
share states; the counts are checked against a plain recount of the records."""
from __future__ import annotations

import collections
import json

import numpy as np
import pytest

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.components import make_policy, make_value
from mcts_reason.learn.collect import tree_seed
from mcts_reason.learn.dataset import Dataset, Splitter, read_jsonl
from mcts_reason.learn.finetune import FinetuneError, balance_values, label_counts, val_slice
from mcts_reason.learn.traces import records
from mcts_reason.registry import load
from mcts_reason.viz.export import tree_graph

# puzzles sharing numbers, so that states (and their answers) repeat across trees
INSTANCES = ["1 2 3 4", "1 2 3 5", "1 2 4 4", "2 2 3 4", "1 3 4 6", "2 3 4 6", "1 2 4 6",
             "2 3 3 4", "1 1 3 8", "2 4 6 8"]


@pytest.fixture(scope="module")
def game24():
    return load("game24")


@pytest.fixture(scope="module")
def tree_records(game24):
    """instance -> the records of its heuristic MCTS tree (30 simulations, 2 rollouts)."""
    out = {}
    for inst in INSTANCES:
        r = mcts_reason.solve(game24, inst, policy=make_policy(game24, "heuristic"),
                              value=make_value(game24, "heuristic"),
                              budget=Budget(simulations=30), seed=0)
        out[inst] = list(records(tree_graph(r, game24), game24, rollouts=2,
                                 rng=tree_seed(0, inst), sft_steps=4))
    return out


def _files(ds: Dataset, folder) -> dict[str, bytes]:
    ds.write(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*.jsonl"))}


def test_a_dataset_is_the_same_whatever_order_its_trees_are_read_in(tree_records, game24,
                                                                   tmp_path):
    # the test means something only if some key has different candidate records
    by_key = collections.defaultdict(set)
    for recs in tree_records.values():
        for rec in recs:
            if rec["kind"] == "sft":
                by_key[(rec["task"], rec["state"])].add(json.dumps(rec, sort_keys=True))
    assert any(len(v) > 1 for v in by_key.values())
    orders = [INSTANCES, INSTANCES[::-1],
              [INSTANCES[i] for i in np.random.default_rng(3).permutation(len(INSTANCES))]]
    written = []
    for i, order in enumerate(orders):
        ds = Dataset(Splitter(game24, seed=0, fractions=(0.5, 0.5, 0)))
        for inst in order:
            for rec in tree_records[inst]:
                ds.add(rec)
        written.append(_files(ds, tmp_path / f"ds{i}"))
    assert written[0] == written[1] == written[2]
    # and the winner of a repeated SFT state is the candidate whose JSON sorts first
    sft = [json.loads(x) for x in written[0]["train/sft.jsonl"].decode().splitlines()]
    sft += [json.loads(x) for x in written[0]["val/sft.jsonl"].decode().splitlines()]
    split = Splitter(game24, seed=0, fractions=(0.5, 0.5, 0))
    for rec in sft:
        same_split = {c for c in by_key[(rec["task"], rec["state"])]
                      if split(json.loads(c)["provenance"]["instance"])
                      == split(rec["provenance"]["instance"])}
        assert json.dumps(rec, sort_keys=True) == min(same_split)


def _value(state: str, depth, label: str) -> dict:
    return {"kind": "sft", "task": "value", "state": state, "depth": depth,
            "messages": [{"role": "user", "content": state},
                         {"role": "assistant", "content": label}]}


def _propose(state: str) -> dict:
    return {"kind": "sft", "task": "propose", "state": state,
            "messages": [{"role": "user", "content": state},
                         {"role": "assistant", "content": "x"}]}


def _synthetic() -> list[dict]:
    # depth 0: 50 sure only; depth 1: 12 sure, 9 impossible; depth 2: 4 sure, 40 impossible;
    # records without a depth (an older dataset): 3 sure, 5 impossible; and 7 propose records
    recs = [_value(f"a{i}", 0, "sure") for i in range(50)]
    recs += [_value(f"b{i}", 1, "sure" if i % 7 < 4 else "impossible") for i in range(21)]
    recs += [_value(f"c{i}", 2, "sure" if i % 11 == 0 else "impossible") for i in range(44)]
    recs += [_value(f"d{i}", None, "sure" if i < 3 else "impossible") for i in range(8)]
    recs += [_propose(f"p{i}") for i in range(7)]
    order = np.random.default_rng(0).permutation(len(recs))
    return [recs[i] for i in order]


@pytest.mark.parametrize("ratio", [1.0, 2.0, 2.5, 100.0])
def test_value_labels_are_balanced_within_each_depth(ratio):
    recs = _synthetic()
    out = balance_values(recs, ratio, seed=0)
    # an independent recount: per depth, label -> records before and after
    before = collections.Counter((r.get("depth"), r["messages"][-1]["content"])
                                 for r in recs if r["task"] == "value")
    after = collections.Counter((r.get("depth"), r["messages"][-1]["content"])
                                for r in out if r["task"] == "value")
    rarest = {0: None, 1: 9, 2: 4, None: 3}
    smallest_mixed = min(v for v in rarest.values() if v is not None)
    for (depth, label), n in before.items():
        base = rarest[depth] if rarest[depth] is not None else smallest_mixed
        assert after[(depth, label)] == min(n, max(1, int(ratio * base)))
    # the propose records all stay; what stays keeps its order; nothing is invented
    assert [r for r in out if r["task"] == "propose"] == [r for r in recs
                                                         if r["task"] == "propose"]
    pos = {id(r): i for i, r in enumerate(recs)}
    assert all(pos[id(a)] < pos[id(b)] for a, b in zip(out, out[1:]))
    # seeded: the same seed keeps the same records, another seed others
    assert balance_values(recs, ratio, seed=0) == out
    if ratio < 10:
        assert balance_values(recs, ratio, seed=1) != out
    assert label_counts(out)["value"]["2"] == {k: v for (d, k), v in after.items() if d == 2}


def test_value_balance_off_and_bad_ratio():
    recs = _synthetic()
    assert balance_values(recs, None, seed=0) == recs
    with pytest.raises(FinetuneError, match=">= 1"):
        balance_values(recs, 0.5, seed=0)


def test_balance_on_real_traces_levels_the_two_number_states(tree_records):
    sft = [r for recs in tree_records.values() for r in recs if r["kind"] == "sft"]
    values = [r for r in sft if r["task"] == "value"]
    assert values and all(isinstance(r["depth"], int) for r in values)
    for r in values:          # the depth is the count of numbers taken away
        assert r["depth"] == 4 - len(r["state"].split())
    counts = label_counts(balance_values(sft, 1.0, seed=0))["value"]
    for depth, labels in counts.items():
        if len(labels) > 1:
            assert len(set(labels.values())) == 1, (depth, labels)


@pytest.mark.parametrize("n", [0, 1, 5, 8, 13, 100])
def test_validation_records_speak_for_every_task(n):
    recs = [_propose(f"p{i}") for i in range(5)] + [_value(f"v{i}", 1, "sure")
                                                    for i in range(30)]
    out = val_slice(recs, n, ("propose", "value"))
    tasks = collections.Counter(r["task"] for r in out)
    assert len(out) == min(n, len(recs))
    assert tasks["propose"] == min(5, -(-n // 2))        # its share, or all it has
    assert tasks["value"] == min(n, len(recs)) - tasks["propose"]
    assert len({r["state"] for r in out}) == len(out)
    values = [int(r["state"][1:]) for r in out if r["task"] == "value"]
    if len(values) > 1:       # spread over the task's records, from the first to the last
        assert values[0] == 0 and values[-1] == 29
    # one task only: its records alone, spread the same way
    only = val_slice(recs, n, ("propose",))
    assert all(r["task"] == "propose" for r in only) and len(only) == min(n, 5)
