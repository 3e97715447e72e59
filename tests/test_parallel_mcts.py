"""Parallel MCTS's rounds (search/parallel.py): which leaves one round puts in flight, checked
against a restatement of the rule written here (PUCT with virtual loss, the round closing at
the (repeats + 1)-th return to a leaf already in it), and no state valued twice in a search."""
from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import defaultdict

import numpy as np
import pytest
from click.testing import CliRunner
from game24_oracle import numbers_in_prompt, numbers_last_line, solvable

from mcts_reason import Budget, solve
from mcts_reason.cli import cli
from mcts_reason.llm import LLMClient, LLMPolicy, LLMValue
from mcts_reason.llm.scripted import Reply, ScriptedServer
from mcts_reason.policies import UniformPolicy
from mcts_reason.records import read_records
from mcts_reason.search.common import Context
from mcts_reason.search.parallel import ParallelMCTS
from mcts_reason.tree import LOSS, Node
from mcts_reason.values import ConstantValue
from mcts_reason_puzzles.game24 import Game24

G = Game24()
C = 1.5


def search_over(root: Node, k: int, repeats: int | None) -> ParallelMCTS:
    """A ParallelMCTS (exhaustive policy: no widening) whose tree is replaced by `root`."""
    ctx = Context(G, "4 9 10 13", policy=UniformPolicy(), value=ConstantValue(),
                  budget=Budget(simulations=10**6), rng=np.random.default_rng(0), algo="mcts")
    s = ParallelMCTS(ctx, concurrency=k, repeats=repeats, c=C, selection="puct", pw_c=2.0,
                     pw_alpha=0.5, samples=None)
    s.root = root
    return s


def random_tree(rng: random.Random) -> Node:
    """A tree of 1-40 nodes: random visits, values, priors (some equal), lost children."""
    root = Node(0)
    frontier, count = [root], 1
    while frontier and count < 40:
        node = frontier.pop(rng.randrange(len(frontier)))
        if node is not root and rng.random() < 0.3:
            continue
        node.expanded = True
        priors = [rng.choice([1, 1, 2, 3]) for _ in range(rng.randint(1, 5))]
        for p in priors:
            ch = Node(count, parent=node, prior=p / sum(priors), order=count)
            count += 1
            ch.visits = rng.choice([0, 0, 1, 2, 5])
            ch.value_sum = sum(rng.random() for _ in range(ch.visits))
            ch.status = LOSS if rng.random() < 0.15 else ch.status
            node.children.append(ch)
            if ch.status != LOSS:
                frontier.append(ch)
    root.visits = 1 + sum(ch.visits for ch in root.children)
    root.value_sum = root.visits * rng.random()
    return root


def reference_round(root: Node, k: int, repeats: int | None) -> list[Node]:
    """The round by its definition: descend by Q + c P sqrt(N_parent) / (1 + N), counting each
    pending selection through a node as a visit of value 0 (unvisited: Q is the parent's mean);
    a leaf chosen again adds its pending visits and selection goes on, until the
    (repeats + 1)-th time; at most K distinct leaves, at most 16 K descents."""
    pending: dict[int, int] = defaultdict(int)
    batch: list[Node] = []
    seen = 0
    for _ in range(16 * k):
        if len(batch) == k:
            break
        node, path = root, [root]
        while node.expanded:
            best, best_score = None, -math.inf
            parent_n = node.visits + pending[id(node)]
            fpu = node.value_sum / node.visits if node.visits else 0.0
            for ch in node.children:
                if ch.status == LOSS:
                    continue
                n = ch.visits + pending[id(ch)]
                q = ch.value_sum / n if n else fpu
                score = q + C * ch.prior * math.sqrt(max(1, parent_n)) / (1 + n)
                if score > best_score:
                    best, best_score = ch, score
            if best is None:
                break
            node = best
            path.append(node)
        if any(node is b for b in batch):
            if repeats is not None and seen >= repeats:
                break
            seen += 1
        else:
            batch.append(node)
        for n in path:
            pending[id(n)] += 1
    return batch


@pytest.mark.parametrize("repeats", [0, 1, 2, 5, None])
@pytest.mark.parametrize("k", [1, 4, 16])
def test_a_round_holds_the_leaves_the_rule_names(k, repeats):
    rng = random.Random(1000 * k + (repeats if repeats is not None else 99))
    sizes = set()
    for _ in range(150):
        root = random_tree(rng)
        want = [n.state for n in reference_round(root, k, repeats)]
        s = search_over(root, k, repeats)
        batch, extra = s._select_batch()
        assert [n.state for n in batch] == want
        sizes.add(len(batch))
        for leaf in batch + extra:     # what `run` clears: nothing may stay pending
            s._clear(leaf)
        assert all(n.virtual_loss == 0 for n in root.iter())
    if k > 1:
        assert len(sizes) > 1          # the trees are varied enough to make rounds differ


def test_a_fresh_search_puts_only_the_root_in_its_first_round():
    s = search_over(Node(0), 16, 2)
    batch, extra = s._select_batch()
    assert batch == [s.root] and len(extra) == 2


def test_repeats_must_be_a_count():
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="repeats"):
            search_over(Node(0), 4, bad)


def in_flight_script(delay: float = 0.02):
    """Random legal steps (4, by the request seed) and the true value, `delay` seconds per
    answer; `peak` holds the most requests the server was answering at once."""
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def script(body, n):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        try:
            time.sleep(delay)
            content = body["messages"][-1]["content"]
            rnd = random.Random(body.get("seed", 0))
            if "Possible next steps:" in content:
                nums = tuple(sorted(numbers_in_prompt(content)))
                steps = G.legal_steps(nums)
                picks = rnd.sample(steps, min(4, len(steps)))
                return Reply("\n".join(G.render_step(nums, st) for st in picks))
            return Reply("sure" if solvable(numbers_last_line(content)) else "impossible")
        finally:
            with lock:
                state["now"] -= 1
    return script, state


def test_no_state_is_valued_twice_in_one_parallel_search():
    """Many transpositions in Game of 24 (a+b then c*d, or c*d then a+b) and 16 leaves in
    flight: the value requests the server sees still name each state once."""
    script, _ = in_flight_script(delay=0.0)
    valued = []
    for inst, seed in [("1 1 1 8", 0), ("2 3 4 5", 1), ("1 2 3 4", 2)]:
        with ScriptedServer(script) as srv:
            client = LLMClient(base_url=srv.base_url, model="m", api_key="k",
                               sleep=lambda s: None, concurrency=16)
            r = solve(G, inst, policy=LLMPolicy(client), value=LLMValue(client),
                      budget=Budget(model_calls=80), seed=seed, concurrency=16)
            client.close()
            states = [tuple(sorted(numbers_last_line(b["messages"][-1]["content"])))
                      for b in srv.requests
                      if "Possible next steps:" not in b["messages"][-1]["content"]]
            assert len(srv.requests) == r.usage.model_calls
            assert len(states) == len(set(states)), inst
            valued.append(len(states))
    assert sum(valued) > 20


class _CountedPolicy(UniformPolicy):
    calls_per_propose = 1     # as an LLM policy declares: one model call per expansion


class _CountedValue(ConstantValue):
    calls_per_state = 2


def share_of_budget(k: int, min_rounds: int, sims_left, model_left, calls_left) -> int:
    """A round's most leaves, restated: a leaf costs a simulation, a policy and a value call,
    and 1 + 2 model calls (the counted parts above); with min_rounds > 0 no round takes more
    than 1/min_rounds of the leaves the tightest of those caps pays for when the search
    starts, and never fewer than one."""
    if min_rounds == 0:
        return k
    afford = [x for x in (sims_left, None if model_left is None else model_left / 3,
                          None if calls_left is None else calls_left / 2) if x is not None]
    return k if not afford else max(1, min(k, math.floor(min(afford) / min_rounds)))


def _spend_some(rng: random.Random, usage, caps) -> None:
    """Spend part of each cap (never more than the cap)."""
    usage.simulations += rng.randint(0, max(0, (caps["simulations"] or 50) - usage.simulations))
    usage.model_calls += rng.randint(0, max(0, (caps["model_calls"] or 50) - usage.model_calls))
    room = max(0, (caps["calls"] or 50) - usage.policy_calls - usage.value_calls)
    usage.policy_calls += rng.randint(0, room // 2)
    usage.value_calls += rng.randint(0, room // 2)


@pytest.mark.parametrize("min_rounds", [0, 1, 3, 5])
def test_no_round_takes_more_than_its_share_of_the_budget(min_rounds):
    rng = random.Random(min_rounds)
    widths = set()
    for _ in range(150):
        root = random_tree(rng)
        k, repeats = rng.choice([4, 16]), rng.choice([0, 2, None])
        caps = {"simulations": rng.choice([None, rng.randint(1, 200)]),
                "model_calls": rng.choice([None, rng.randint(3, 300)]),
                "calls": rng.choice([None, rng.randint(2, 200)])}
        ctx = Context(G, "4 9 10 13", policy=_CountedPolicy(), value=_CountedValue(),
                      budget=Budget(**caps), rng=np.random.default_rng(0), algo="mcts")
        u = ctx.meter.usage
        _spend_some(rng, u, caps)           # what the budget pays for when the search starts
        left = [None if caps[kind] is None else caps[kind] - spent
                for kind, spent in (("simulations", u.simulations),
                                    ("model_calls", u.model_calls),
                                    ("calls", u.policy_calls + u.value_calls))]
        width = share_of_budget(k, min_rounds, *left)
        widths.add(width)
        s = ParallelMCTS(ctx, concurrency=k, repeats=repeats, min_rounds=min_rounds, c=C,
                         selection="puct", pw_c=2.0, pw_alpha=0.5, samples=None)
        s.root = root
        if rng.random() < 0.5:              # later rounds: the share stays that of the start
            _spend_some(rng, u, caps)
        left_now = [None if caps[kind] is None else caps[kind] - spent
                    for kind, spent in (("simulations", u.simulations),
                                        ("model_calls", u.model_calls))]
        want = [n.state for n in reference_round(root, width, repeats)]
        batch, extra = s._select_batch()
        got = [n.state for n in batch]
        # the round also stops where the budget cannot pay for one more leaf
        assert got == want[:len(got)] and len(got) <= width
        if all(x is None or x >= 3 * width for x in left_now):
            assert got == want
    if min_rounds > 1:
        assert len(widths) > 3


def test_min_rounds_must_be_a_count():
    for bad in (-1, 1.5, True, None):
        with pytest.raises(ValueError, match="min_rounds"):
            ParallelMCTS(Context(G, "4 9 10 13", policy=UniformPolicy(), value=ConstantValue(),
                                 budget=Budget(), rng=np.random.default_rng(0), algo="mcts"),
                         concurrency=4, min_rounds=bad)


def _cli_solve(url: str, *extra: str):
    return CliRunner().invoke(cli, ["solve", "game24", "4 9 10 13", "--policy", "llm",
                                    "--value", "llm", "--base-url", url, "--model", "m",
                                    "--no-cache", "--budget", "500", "--max-model-calls", "40",
                                    "--concurrency", "16", "--json", *extra])


def test_solve_takes_the_round_options_to_the_parallel_search():
    """Through `mcts-reason solve` and a real server: with --min-rounds 20 and 40 model calls
    (20 leaves, 20 // 20 = 1 per round) a round holds one leaf, so at most its two calls are
    ever in flight; with --min-rounds 0 and rounds that fill (a large --round-repeats) more
    are."""
    peaks = {}
    for min_rounds, repeats in (("20", "2"), ("0", "1000")):
        script, state = in_flight_script()
        with ScriptedServer(script) as srv:
            res = _cli_solve(srv.base_url, "--min-rounds", min_rounds, "--round-repeats", repeats)
            assert res.exit_code in (0, 1), res.output      # 1: not solved in 40 calls
            usage = json.loads(res.output.splitlines()[0])["usage"]
            assert usage["model_calls"] == len(srv.requests) > 4
        peaks[min_rounds] = state["peak"]
    assert peaks["20"] <= 2 < peaks["0"]


def test_bench_records_the_round_options_with_concurrency(tmp_path):
    sets = tmp_path / "set.txt"
    sets.write_text("4 9 10 13\n")
    script, state = in_flight_script()
    with ScriptedServer(script) as srv:
        res = CliRunner().invoke(cli, [
            "bench", "game24", "--set", str(sets), "--algos", "mcts", "--budgets", "40",
            "--budget-kind", "model_calls", "--seeds", "1", "--workers", "1", "--policy", "llm",
            "--value", "llm", "--base-url", srv.base_url, "--model", "m", "--no-cache",
            "--concurrency", "8", "--round-repeats", "1", "--min-rounds", "20",
            "--out", str(tmp_path / "o.jsonl"), "--plot", str(tmp_path / "p.png"),
            "--no-progress"])
        assert res.exit_code == 0, res.output
    (record,) = read_records(tmp_path / "o.jsonl").records
    options = record["config"]["algo_options"]["mcts"]
    assert {k: options.get(k) for k in ("concurrency", "repeats", "min_rounds")} == {
        "concurrency": 8, "repeats": 1, "min_rounds": 20}
    assert 0 < state["peak"] <= 2 and record["usage"]["model_calls"] > 4
