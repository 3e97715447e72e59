"""The MCTS options added for the baseline comparison: UCT registered, expand_after, nodes cap."""
from __future__ import annotations

import numpy as np
import pytest

from mcts_reason.budget import Budget
from mcts_reason.search import ALGORITHMS, mcts_search
from mcts_reason.values import ConstantValue
from mcts_reason_puzzles.game24 import solvable

from search_helpers import EASY, g24, independent_value  # noqa: F401 (fixture)


def run(g24, inst, budget, **options):
    return mcts_search.search(g24, inst, policy=g24.heuristic_policy(), value=g24.heuristic_value(),
                       budget=budget, rng=np.random.default_rng(0), **options)


def test_expand_after_values_a_leaf_before_paying_for_its_expansion(g24):
    eager = run(g24, "1 6 11 13", Budget(simulations=2))
    lazy = run(g24, "1 6 11 13", Budget(simulations=2), expand_after=1)
    # eager: two expansions (root, then the chosen child) and their two values
    assert (eager.usage.policy_calls, eager.usage.value_calls) == (2, 2)
    # lazy: the root is expanded; the chosen child is only valued on its first visit
    assert (lazy.usage.policy_calls, lazy.usage.value_calls) == (1, 2)
    child = max(lazy.root.children, key=lambda ch: ch.visits)
    assert child.visits == 1 and not child.expanded and child.value is not None


def test_expand_after_solves_easy_puzzles(g24):
    for inst in EASY:
        r = run(g24, inst, Budget(simulations=1000), expand_after=1, c=0.5)
        assert r.solved and independent_value(inst, r.answer)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_expand_after_rejects_bad_values(g24, bad):
    with pytest.raises(ValueError, match="expand_after"):
        run(g24, "4 9 10 13", Budget(simulations=5), expand_after=bad)


def test_uct_variant_is_registered_and_differs_from_puct(g24):
    # A value without exact values: with the heuristic's (exact on two numbers) both rules walk
    # straight down the first solution they list (`Node.sure`) and may make the same 3 visits.
    a, b = (ALGORITHMS[algo](g24, "1 6 11 13", policy=g24.heuristic_policy(),
                             value=ConstantValue(0.5), budget=Budget(simulations=500),
                             rng=np.random.default_rng(0)) for algo in ("mcts-uct", "mcts"))
    assert a.algo == "mcts-uct" and b.algo == "mcts"
    assert a.usage.simulations != b.usage.simulations


class Toy:
    """Three moves from the start: two dead ends listed first, then the win."""

    name, description = "toy", "two dead ends and a win"

    def parse_instance(self, text):
        return "start"

    def legal_steps(self, state):
        return ["a", "b", "win"] if state == "start" else []

    def apply(self, state, step):
        return step

    def is_solved(self, state):
        return state == "win"

    def is_dead_end(self, state):
        return state in ("a", "b")

    def render(self, state):
        return state

    def render_step(self, state, step):
        return step

    def answer(self, initial, steps):
        return "win" if list(steps) == ["win"] else "no"

    def verify(self, instance, answer):
        return answer == "win"


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_nodes_cap_never_fakes_a_proof(algo):
    """Regression: a child list cut short by the nodes cap used to mark an MCTS node saturated,
    so two listed dead ends 'proved' a solvable start lost."""
    from mcts_reason.values import ConstantValue

    class Ranked:      # every legal step, in the toy's order, distinct priors (no ties to break)
        exhaustive = True

        def propose(self, puzzle, state, *, k, rng):
            steps = puzzle.legal_steps(state)
            return [(s, float(len(steps) - i)) for i, s in enumerate(steps)]

    toy = Toy()
    kw = dict(policy=Ranked(), value=ConstantValue(), rng=np.random.default_rng(0))
    extra = {"n": 5} if algo == "best-of-n" else {}
    cut = ALGORITHMS[algo](toy, "x", budget=Budget(nodes=3), **kw, **extra)
    assert not cut.proved_unsolvable and cut.usage.nodes <= 3
    assert not cut.solved or (algo == "best-of-n" and cut.answer == "win")   # it samples
    if algo != "greedy":
        full = ALGORITHMS[algo](toy, "x", budget=Budget(nodes=4), **kw, **extra)
        assert full.solved and full.answer == "win"


# --- the same options from the command line (solve and bench) ---------------------------------

def _cli(*args):
    from click.testing import CliRunner

    from mcts_reason.cli import cli
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_solve_expand_after_gives_the_api_search(g24):
    """--expand-after reaches the search: the CLI's run is the API's run with the option (same
    seed, same usage), not the default one, and its answer checks out independently."""
    import json

    from mcts_reason import solve
    from mcts_reason.values import RolloutValue
    for inst in ("1 1 4 6", "3 3 8 8"):
        r = _cli("solve", "game24", inst, "--value", "rollout", "--budget", "200",
                 "--expand-after", "1", "--json")
        assert r.exit_code == 0, r.output
        got = json.loads(r.output)
        lazy, eager = (solve(g24, inst, value=RolloutValue(), budget=Budget(simulations=200),
                             expand_after=e) for e in (1, 0))
        assert got["usage"]["simulations"] == lazy.usage.simulations
        assert got["usage"]["policy_calls"] == lazy.usage.policy_calls
        assert got["steps"] == list(lazy.steps)
        assert (lazy.usage.simulations, lazy.usage.policy_calls) != \
               (eager.usage.simulations, eager.usage.policy_calls)
        assert got["solved"] and independent_value(inst, got["answer"])


def test_solve_n_evaluate_sets_the_samples_of_a_stochastic_value():
    """bfs with playouts: each new state is valued n_evaluate times (the value calls scale with
    it); the search is otherwise the same (same expansions and nodes)."""
    import json
    runs = {}
    for n in (1, 3):
        r = _cli("solve", "game24", "4 9 10 13", "--algo", "bfs", "--value", "rollout",
                 "--n-evaluate", str(n), "--json")
        assert r.exit_code == 0, r.output
        runs[n] = json.loads(r.output)["usage"]
    assert runs[1]["expansions"] == runs[3]["expansions"]
    assert runs[1]["nodes"] == runs[3]["nodes"]
    assert runs[3]["value_calls"] == 3 * runs[1]["value_calls"] > 0


@pytest.mark.parametrize("args, named", [
    (["--algo", "bfs", "--expand-after", "1"], "--expand-after applies to mcts, mcts-uct only"),
    (["--n-evaluate", "2"], "--n-evaluate applies to bfs, dfs, beam only"),
    (["--expand-after", "1", "--concurrency", "4", "--policy", "llm", "--base-url",
      "http://127.0.0.1:9/v1", "--model", "m"], "--expand-after needs the sequential search"),
])
def test_solve_refuses_an_option_the_algorithm_does_not_take(args, named):
    r = _cli("solve", "game24", "4 9 10 13", *args)
    assert r.exit_code == 2
    assert named in r.output and "Traceback" not in r.output


def test_bench_keeps_the_options_in_its_config_and_refuses_to_mix(tmp_path):
    """bench passes each algorithm its share (mcts expand_after, bfs n_evaluate), writes them in
    every record's config, and a rerun without them is refused instead of mixing sweeps."""
    import json
    s = tmp_path / "set.txt"
    s.write_text("4 9 10 13\n1 1 4 6\n")
    out = tmp_path / "r.jsonl"
    base = ["bench", "game24", "--set", str(s), "--algos", "mcts,bfs", "--budgets", "30",
            "--value", "rollout", "--workers", "1", "--out", str(out)]
    r = _cli(*base, "--expand-after", "1", "--n-evaluate", "1")
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 4
    assert recs[0]["config"]["algo_options"] == {"bfs": {"n_evaluate": 1},
                                                "mcts": {"c": 1.5, "expand_after": 1}}
    bfs = [x for x in recs if x["algo"] == "bfs"]
    assert all(x["usage"]["value_calls"] <= x["usage"]["nodes"] for x in bfs)  # one per state
    r = _cli(*base)
    assert r.exit_code == 2 and "different sweep configuration" in r.output
    assert len(out.read_text().splitlines()) == 4
    r = _cli(*base[:5], "bfs", *base[6:], "--expand-after", "1")
    assert r.exit_code == 2 and "--expand-after applies to" in r.output
