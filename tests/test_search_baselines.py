"""Every registered algorithm: solves easy puzzles, never reports an unverified answer, is
reproducible from its seed, and sees the same priors from the same policy object."""
from __future__ import annotations

import numpy as np
import pytest

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.policies import NoisyPolicy, UniformPolicy
from mcts_reason.search import ALGORITHMS, simple_budget
from mcts_reason.values import RolloutValue
from mcts_reason_puzzles.game24 import Game24HeuristicPolicy, Game24HeuristicValue, solvable

from search_helpers import EASY, UNSOLVABLE, g24, independent_value  # noqa: F401 (fixture)

ALGOS = sorted(ALGORITHMS)
SEARCHERS = [a for a in ALGOS if a != "greedy"]   # greedy gets one chain, it may fail


def run(g24, inst, algo, *, seed=0, budget=None, policy=None, value=None, **options):
    return mcts_reason.solve(g24, inst, algo=algo, seed=seed,
                             budget=budget or simple_budget(algo, 1000),
                             policy=policy, value=value, **options)


def test_registry_has_every_algorithm():
    assert set(ALGORITHMS) == {"mcts", "mcts-uct", "bfs", "dfs", "beam", "best-of-n", "greedy"}


@pytest.mark.parametrize("algo", SEARCHERS)
def test_solves_easy_puzzles_with_verified_answers(g24, algo):
    for inst in EASY:
        assert solvable(g24.parse_instance(inst))
        r = run(g24, inst, algo)
        assert r.solved, (algo, inst, r.stop_reason)
        assert r.algo == algo and r.stop_reason == "solved"
        assert independent_value(inst, r.answer), (algo, inst, r.answer)
        assert len(r.steps) == 3


def test_greedy_follows_the_highest_prior_and_reports_only_verified_answers(g24):
    policy = Game24HeuristicPolicy()
    solved = 0
    for inst in EASY:
        r = run(g24, inst, "greedy")
        state = g24.parse_instance(inst)
        for text in r.steps:          # each step is an argmax-prior proposal (seeded on ties)
            props = policy.propose(g24, state, k=None, rng=np.random.default_rng(0))
            merged: dict = {}
            for item in props:       # (step, prior) or (step, prior, next_state)
                s, p = item[0], item[1]
                nxt = g24.apply(state, s)
                merged.setdefault(nxt, [s, 0.0])[1] += p
            top = max(p for _, p in merged.values())
            assert text in {g24.render_step(state, s) for s, p in merged.values() if p == top}
            state = g24.parse_step(state, text) and g24.apply(state, g24.parse_step(state, text))
        assert r.usage.policy_calls <= 3 and r.usage.value_calls == 0
        if r.solved:
            solved += 1
            assert independent_value(inst, r.answer)
    assert solved >= len(EASY) // 2


@pytest.mark.parametrize("algo", ALGOS)
def test_never_claims_unsolvable_puzzles_and_proofs_are_true(g24, algo):
    for inst in UNSOLVABLE + ["4 9 10 13", "1 6 11 13"]:
        r = run(g24, inst, algo, budget=Budget(calls=400))
        truth = solvable(g24.parse_instance(inst))
        if r.solved:
            assert truth and independent_value(inst, r.answer)
        else:
            assert r.answer is None and r.steps == ()
        if r.proved_unsolvable:
            assert not truth


def test_exhaustive_searches_prove_unsolvable(g24):
    for inst in UNSOLVABLE:
        assert run(g24, inst, "bfs", n_select=10_000).proved_unsolvable
        assert run(g24, inst, "beam", beam_width=10_000).proved_unsolvable
        assert run(g24, inst, "dfs", threshold=0.0).proved_unsolvable
        assert run(g24, inst, "mcts").proved_unsolvable
        # DFS sets low-valued states aside and searches them last: still a proof once exhausted
        assert run(g24, inst, "dfs").proved_unsolvable
        # cutting the frontier or the proposals is not a proof
        assert not run(g24, inst, "bfs").proved_unsolvable
        assert not run(g24, inst, "dfs", n_generate=2).proved_unsolvable
        assert not run(g24, inst, "best-of-n").proved_unsolvable


def _fingerprint(r):
    d = r.to_dict()
    d["usage"].pop("seconds")
    tree = [(n.order, n.state, n.visits, round(n.value_sum, 12), n.prior) for n in r.root.iter()] \
        if r.root is not None else []
    return d, tree


@pytest.mark.parametrize("algo", ALGOS)
def test_same_seed_same_result(g24, algo):
    policy = NoisyPolicy(Game24HeuristicPolicy(), 0.5)
    for inst in ["1 6 11 13", "3 5 7 13", "1 1 1 1"]:
        a = run(g24, inst, algo, seed=7, policy=policy, budget=Budget(calls=150))
        b = run(g24, inst, algo, seed=7, policy=policy, budget=Budget(calls=150))
        assert _fingerprint(a) == _fingerprint(b)


def test_the_seed_matters_for_sampling(g24):
    """Guards the test above against being vacuous: best-of-N's chains depend on the seed."""
    trees = {tuple(_fingerprint(run(g24, "1 6 11 13", "best-of-n", seed=s,
                                     budget=Budget(calls=60)))[1]) for s in range(4)}
    assert len(trees) > 1


class Recorder:
    """Wraps a policy and records what it returned for each state."""

    def __init__(self, inner):
        self.inner, self.exhaustive, self.seen = inner, inner.exhaustive, {}

    def propose(self, puzzle, state, *, k, rng):
        out = self.inner.propose(puzzle, state, k=k, rng=rng)
        self.seen.setdefault(state, []).append(list(out))
        return out


def test_same_policy_object_gives_the_same_priors_to_every_algorithm(g24):
    inst = "1 6 11 13"
    rec = Recorder(Game24HeuristicPolicy())
    trees = {}
    for algo in ALGOS:
        rec.seen = {}
        r = run(g24, inst, algo, policy=rec, budget=Budget(calls=300))
        trees[algo] = (dict(rec.seen), r.root)
    root_state = g24.parse_instance(inst)
    # the policy answered every algorithm's question about the root identically ...
    outputs = {algo: seen[root_state][0] for algo, (seen, _) in trees.items()}
    first = next(iter(outputs.values()))
    assert all(o == first for o in outputs.values())
    # ... and each algorithm's tree holds exactly the normalised, state-merged priors
    merged: dict = {}
    for item in first:               # (step, prior) or (step, prior, next_state)
        nxt = g24.apply(root_state, item[0])
        merged[nxt] = merged.get(nxt, 0.0) + item[1]
    total = sum(merged.values())
    for algo, (seen, root) in trees.items():
        for state, outs in seen.items():    # any state two algorithms asked about: same answer
            for other, (seen2, _) in trees.items():
                if state in seen2:
                    assert seen2[state][0] == outs[0], (algo, other)
        kids = {ch.state: ch.prior for ch in root.children}
        for state, prior in kids.items():
            assert prior == pytest.approx(merged[state] / total), algo


class CountingValue:
    """A stochastic-looking value: alternates 0.2 / 0.6 so the mean of 2 samples is 0.4."""

    def __init__(self):
        self.asked = 0

    def evaluate(self, puzzle, states, *, rng):
        out = []
        for _ in states:
            out.append(0.2 if self.asked % 2 == 0 else 0.6)
            self.asked += 1
        return out


@pytest.mark.parametrize("algo", ["bfs", "dfs", "beam"])
def test_n_evaluate_samples_are_charged_and_averaged(g24, algo):
    v = CountingValue()
    r = run(g24, "1 6 11 13", algo, value=v, n_evaluate=2, budget=Budget(expansions=2))
    assert r.usage.value_calls == v.asked and v.asked % 2 == 0 and v.asked > 0
    values = [n.value for n in r.root.iter() if n.value is not None]
    assert values and all(x == pytest.approx(0.4) for x in values)
    # a deterministic value is asked once per state whatever n_evaluate says
    det = run(g24, "1 6 11 13", algo, value=Game24HeuristicValue(), n_evaluate=3,
              budget=Budget(expansions=2))
    assert det.usage.value_calls == len({n.state for n in det.root.iter()
                                         if n.value is not None})
    # stochastic values default to 3 samples (the ToT setting)
    rv = run(g24, "1 6 11 13", algo, value=RolloutValue(n=1), budget=Budget(expansions=1))
    assert rv.usage.value_calls == 3 * sum(1 for n in rv.root.iter() if n.value is not None)


def test_value_free_algorithms_never_call_the_value(g24):
    class Boom:
        def evaluate(self, *a, **k):
            raise AssertionError("called")
    for algo in ("best-of-n", "greedy"):
        r = run(g24, "4 9 10 13", algo, value=Boom())
        assert r.usage.value_calls == 0


def test_best_of_n_counts_chains_and_needs_a_bound(g24):
    r = run(g24, "1 1 1 1", "best-of-n", n=5, budget=Budget())
    assert r.usage.simulations == 5 and r.usage.policy_calls == 15
    with pytest.raises(ValueError, match="best-of-n"):
        run(g24, "1 1 1 1", "best-of-n", budget=Budget(nodes=10))


@pytest.mark.parametrize("algo,bad", [("bfs", {"n_select": 0}), ("beam", {"beam_width": -1}),
                                      ("dfs", {"threshold": 1.5}), ("best-of-n", {"n": 0}),
                                      ("bfs", {"n_evaluate": 0}), ("greedy", {"max_depth": 0})])
def test_bad_parameters_raise(g24, algo, bad):
    with pytest.raises(ValueError):
        run(g24, "4 9 10 13", algo, **bad)


def test_uniform_policy_works_with_every_algorithm(g24):
    for algo in SEARCHERS:
        r = run(g24, "2 2 2 12", algo, policy=UniformPolicy())
        assert r.solved and independent_value("2 2 2 12", r.answer)


def test_noisy_policy_keeps_steps_and_next_states_and_flattens_priors(g24):
    class Triples:
        exhaustive = True

        def propose(self, puzzle, state, *, k, rng):
            return [(s, float(i + 1), puzzle.apply(state, s))
                    for i, s in enumerate(puzzle.legal_steps(state))]
    state = g24.parse_instance("4 9 10 13")
    inner = Triples().propose(g24, state, k=None, rng=np.random.default_rng(0))
    always = NoisyPolicy(Triples(), 1.0).propose(g24, state, k=None, rng=np.random.default_rng(0))
    assert [(s, n) for s, _, n in always] == [(s, n) for s, _, n in inner]
    assert {p for _, p, _ in always} == {1.0}
    never = NoisyPolicy(Triples(), 0.0).propose(g24, state, k=None, rng=np.random.default_rng(0))
    assert never == inner
    pairs = NoisyPolicy(Game24HeuristicPolicy(), 1.0).propose(g24, state, k=None,
                                                              rng=np.random.default_rng(0))
    assert all(p == 1.0 for _, p, *rest in pairs)
