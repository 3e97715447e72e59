"""`--value llm-rollout`: the model's own playouts as the value, against a scripted server on
127.0.0.1. The scripted "model" proposes by an independent brute-force reference
(tests/game24_oracle.py), so a playout's outcome is known in advance: it solves exactly the
states the reference calls solvable, one charged call per step it takes."""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from game24_oracle import solvable
from mcts_reason.llm.scripted import Reply, ScriptedServer
from test_llm_search import client_for, oracle_script

from mcts_reason import Budget, solve
from mcts_reason.budget import Meter
from mcts_reason.cli import cli
from mcts_reason.records import read_records
from mcts_reason.tree import WIN
from mcts_reason.llm import LLMPolicy, LLMRolloutValue
from mcts_reason_puzzles.game24 import Game24

G = Game24()


def _states() -> list[tuple[object, bool]]:
    """Three- and two-number states (the puzzle's own), solvable and not, by the reference."""
    out = []
    for inst in ("4 9 10 13", "1 1 4 6", "1 1 1 1", "3 3 8 8"):
        start = G.parse_instance(inst)
        for step in G.legal_steps(start)[::5]:
            three = G.apply(start, step)
            for state in [three] + [G.apply(three, st) for st in G.legal_steps(three)[::7]]:
                out.append((state, solvable(tuple(sorted(Fraction(x) for x in state)))))
    return out


def test_playouts_solve_exactly_the_solvable_states_and_charge_each_step():
    cases = _states()
    assert {truth for _, truth in cases} == {True, False}
    with ScriptedServer(oracle_script()) as srv:
        value = LLMRolloutValue(LLMPolicy(client_for(srv, concurrency=1)), pick="first")
        for state, truth in cases:
            meter = Meter(Budget())
            value.bind(meter)
            [v] = value.evaluate(G, [state], rng=np.random.default_rng(0))
            assert v == (1.0 if truth else 0.0), state
            calls = meter.usage.model_calls
            if truth:   # one call a step down to the 24, none once solved
                assert calls == len(state) - 1, state
            else:       # ends at a dead end at the latest one step before the last number
                assert 0 <= calls <= len(state) - 1, state
            assert meter.usage.invalid_proposals == 2 * calls   # the script's two junk lines


def test_a_model_naming_no_legal_step_scores_zero_and_is_counted():
    with ScriptedServer(lambda body, n: Reply("I would add them\n99 + 1 = 100")) as srv:
        value = LLMRolloutValue(LLMPolicy(client_for(srv, concurrency=1)), n=2)
        meter = Meter(Budget())
        value.bind(meter)
        start = G.parse_instance("1 4 6 8")
        three = G.apply(start, G.legal_steps(start)[0])
        states = [three, G.apply(three, G.legal_steps(three)[0])]
        assert value.evaluate(G, states, rng=np.random.default_rng(0)) == [0.0, 0.0]
        # two playouts per state, each ended by its first answer
        assert meter.usage.model_calls == 4 and meter.usage.invalid_proposals == 8


def test_max_depth_ends_a_playout_before_it_solves():
    with ScriptedServer(oracle_script()) as srv:
        value = LLMRolloutValue(LLMPolicy(client_for(srv, concurrency=1)), max_depth=1)
        meter = Meter(Budget())
        value.bind(meter)
        # 4 * 6 = 24 (left: 1 1 24): solvable in two steps; one step allowed: 0.0 after
        # exactly one call
        start = G.parse_instance("1 1 4 6")
        three = G.apply(start, G.parse_step(start, "4 * 6 = 24"))
        assert value.evaluate(G, [three], rng=np.random.default_rng(0)) == [0.0]
        assert meter.usage.model_calls == 1
    for bad in ({"n": 0}, {"max_depth": 0}, {"n": True}, {"max_depth": 2.5}, {"pick": "best"}):
        with pytest.raises(ValueError):
            LLMRolloutValue(None, **bad)


def test_mcts_with_model_playouts_solves_within_a_hard_model_call_cap():
    with ScriptedServer(oracle_script()) as srv:
        client = client_for(srv, concurrency=1)
        for inst in ("4 9 10 13", "1 1 4 6", "3 3 8 8"):
            policy = LLMPolicy(client)
            r = solve(G, inst, policy=policy, value=LLMRolloutValue(LLMPolicy(client)),
                      budget=Budget(model_calls=30), seed=1)
            assert r.solved and G.verify(inst, r.answer)
            assert 0 < r.usage.model_calls <= 30 and r.usage.value_calls > 0
        # a cap smaller than one expansion and one playout: stopped by the cap, never over it
        for cap in (1, 2, 3):
            r = solve(G, "4 9 10 13", policy=LLMPolicy(client),
                      value=LLMRolloutValue(LLMPolicy(client)),
                      budget=Budget(model_calls=cap), seed=1)
            assert r.usage.model_calls <= cap
            assert r.solved or r.stop_reason.startswith("budget")


def test_cli_solve_and_bench_with_the_rollout_value(tmp_path):
    sets = tmp_path / "set.txt"
    sets.write_text("1 1 4 6\n4 9 10 13\n")
    with ScriptedServer(oracle_script()) as srv:
        base = ["--policy", "llm", "--value", "llm-rollout", "--base-url", srv.base_url,
                "--model", "oracle", "--cache", str(tmp_path / "c.sqlite")]
        res = CliRunner().invoke(cli, ["solve", "game24", "4 9 10 13", *base,
                                       "--max-model-calls", "30", "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        assert out["solved"] and G.verify("4 9 10 13", out["answer"])
        u = out["usage"]
        # the playouts' calls are model calls beyond the search's own policy calls
        assert u["value_calls"] > 0 and u["policy_calls"] < u["model_calls"] <= 30
        res = CliRunner().invoke(cli, ["bench", "game24", "--set", str(sets), "--algos",
                                       "mcts,bfs", "--budget-kind", "model_calls", "--budgets",
                                       "12", "--no-progress", "--workers", "1", "--out",
                                       str(tmp_path / "b.jsonl"), *base])
        assert res.exit_code == 0, res.output
        records = read_records(tmp_path / "b.jsonl").records
        assert len(records) == 4
        assert all(r["usage"]["model_calls"] <= 12 and r["config"]["value"] == "llm-rollout"
                   for r in records)
        assert all(not r["solved"] or G.verify(r["instance"], r["answer"]) for r in records)


def _two_numbers() -> object:
    """4 6, reached from 1 1 4 6 by the puzzle's own steps."""
    state = G.parse_instance("1 1 4 6")
    for text in ("1 * 1 = 1", "1 * 4 = 4"):
        state = G.apply(state, G.parse_step(state, text))
    assert sorted(Fraction(x) for x in state) == [4, 6]
    return state


def test_prior_pick_draws_by_the_priors_and_first_pick_never_leaves_the_first_line():
    # The model names a wrong step first and the 24 second: priors 1 and 1/2 (LLMPolicy's
    # rank scores), so the 24 has a third of the mass. One call a playout, one step each.
    state = _two_numbers()
    reply = lambda body, n: Reply("4 + 6 = 10 (left: 10)\n4 * 6 = 24 (left: 24)")  # noqa: E731
    with ScriptedServer(reply) as srv:
        client = client_for(srv, concurrency=1)
        value = LLMRolloutValue(LLMPolicy(client), n=300)
        meter = Meter(Budget())
        value.bind(meter)
        [v] = value.evaluate(G, [state], rng=np.random.default_rng(3))
        assert 0.25 < v < 0.42 and meter.usage.model_calls == 300   # 1/3 +/- 3 sd
        steps = value.solution_from(state)
        assert steps is not None and G.is_solved(G.apply(state, steps[0]))
        assert value.solution_from(state) is None      # handed over once
        # the same seed, the same playouts
        again = LLMRolloutValue(LLMPolicy(client), n=300)
        again.bind(Meter(Budget()))
        assert again.evaluate(G, [state], rng=np.random.default_rng(3)) == [v]
        first = LLMRolloutValue(LLMPolicy(client), n=60, pick="first")
        first.bind(Meter(Budget()))
        assert first.evaluate(G, [state], rng=np.random.default_rng(3)) == [0.0]
        assert first.solution_from(state) is None


def _tree_has_chain(root, steps) -> bool:
    """Whether the tree holds the answer's steps as a path from the root, every node won."""
    node = root
    for step in steps:
        nxt = [ch for ch in node.children if ch.step == step]
        if not nxt or nxt[0].status != WIN:
            return False
        node = nxt[0]
    return G.is_solved(node.state)


@pytest.mark.parametrize("algo,options", [("mcts", {}), ("mcts", {"concurrency": 4}),
                                          ("mcts", {"expand_after": 1}),
                                          ("bfs", {}), ("dfs", {}), ("beam", {})])
def test_a_solving_playout_ends_the_search_with_its_steps_in_the_tree(algo, options):
    # One good step per answer (and the junk lines): every playout from a solvable state
    # solves it, so the search stops on the first state it scores, after one policy call.
    with ScriptedServer(oracle_script(per_sample=1)) as srv:
        client = client_for(srv, concurrency=1)
        for inst in ("4 9 10 13", "1 1 4 6", "3 3 8 8"):
            r = solve(G, inst, algo=algo, policy=LLMPolicy(client),
                      value=LLMRolloutValue(LLMPolicy(client)), budget=Budget(model_calls=60),
                      seed=2, **options)
            assert r.solved and G.verify(inst, r.answer), (algo, inst)
            assert r.usage.policy_calls == 1, (algo, inst, r.usage)
            if algo == "mcts":   # the root's expansion, then the root's playout: three steps
                assert r.usage.model_calls == 4 and r.usage.simulations == 1
            start, steps = G.parse_instance(inst), []
            state = start
            for text in r.steps:
                steps.append(G.parse_step(state, text))
                state = G.apply(state, steps[-1])
            assert _tree_has_chain(r.root, steps), (algo, inst)


class _Claims:
    """A value that claims every state it scores is solved by two legal steps that do not
    solve it: a wrong claim must cost the search nothing but the rejected answers."""

    def __init__(self) -> None:
        self.asked = 0

    def evaluate(self, puzzle, states, *, rng):
        return [0.5 for _ in states]

    def solution_from(self, state):
        self.asked += 1
        if len(state) < 3:
            return [G.legal_steps(state)[0]] if len(state) == 2 else None
        first = G.legal_steps(state)[0]
        return [first, G.legal_steps(G.apply(state, first))[0]]


@pytest.mark.parametrize("algo", ["mcts", "bfs", "dfs", "beam"])
def test_a_false_claim_of_a_solution_never_wins(algo):
    value = _Claims()
    r = solve(G, "1 1 1 1", algo=algo, value=value, budget=Budget(nodes=200), seed=0)
    assert not r.solved and r.answer is None
    assert value.asked > 0 and r.usage.rejected_answers > 0
    assert r.usage.nodes <= 200


def test_parallel_mcts_without_speculation_stops_on_a_solving_playout_too():
    # speculate=False values the leaves after their expansions: the other place parallel MCTS
    # scores states (`ParallelMCTS._evaluate`)
    from mcts_reason.search.common import Context
    from mcts_reason.search.parallel import ParallelMCTS
    with ScriptedServer(oracle_script(per_sample=1)) as srv:
        client = client_for(srv, concurrency=4)
        ctx = Context(G, "4 9 10 13", policy=LLMPolicy(client),
                      value=LLMRolloutValue(LLMPolicy(client)), budget=Budget(model_calls=60),
                      rng=np.random.default_rng(2), algo="mcts")
        r = ParallelMCTS(ctx, concurrency=4, speculate=False, c=1.5, selection="puct",
                         pw_c=2.0, pw_alpha=0.5, samples=None).run()
        assert r.solved and G.verify("4 9 10 13", r.answer)
        assert r.usage.policy_calls == 1 and r.usage.model_calls == 4
        assert r.stop_reason == "solved"
