"""Parallel MCTS against a loopback OpenAI-compatible server that answers after a fixed latency.

The server is a simulated weak model (mcts_reason.llm.scripted): for a propose prompt it names
3 legal steps drawn at random plus a junk line; for a value prompt it answers the true
sure/impossible with probability 0.8 and the opposite otherwise (both drawn from a generator
seeded by the request's seed and its prompt). Each
instance is searched with MCTS (LLM policy + LLM value) under the same model-call budget at
concurrency K=1 and K=16; reported: model calls per second of one search, and solve rate.

    python benchmarks/llm_concurrency.py --n 100 --calls 120 --latency 0.2

`--seeds S` searches each instance with seeds 0..S-1; for every K after the first, the paired
difference in solve rate (same instance, same seed) is printed with its 95% interval. The trees
do not depend on the latency (every random draw is made in the search's thread and the
simulated model answers by the request's seed), so `--latency 0` measures the same solve rates
much faster, and `--inproc` (the same simulated model called in this process, no server)
faster still; only the calls/second need the real latency and the server. `--repeats N`
(default 2) is ParallelMCTS's round-closing rule; `--repeats none` gives the search before
issue 14, whose rounds always filled to K. `--min-rounds N` caps every round at 1/N of the
leaves the budget pays for (default 0: no cap).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import numpy as np

from mcts_reason import Budget, solve
from mcts_reason.llm import LLMClient, LLMPolicy, LLMValue
from mcts_reason.llm.scripted import Reply, ScriptedServer, completion
from mcts_reason.llm.wire import Completion
from mcts_reason.search.common import Context
from mcts_reason.search.parallel import ParallelMCTS
from mcts_reason_puzzles.game24 import Game24, solvable

G = Game24()


def _nums(line: str) -> tuple:
    return tuple(sorted(Fraction(t) for t in line.split()))


def script_for(latency: float):
    def script(body, n):
        time.sleep(latency)
        content = body["messages"][-1]["content"]
        # Seeded by the request's seed and its prompt: the i-th call of every search draws the
        # same seed from a search seed's generator, so a seed alone would make all instances
        # share one sequence of value errors (one coin per call index, not per call).
        rnd = random.Random(f"{body.get('seed', 0)}|{content}")
        lines = [ln for ln in content.strip().splitlines() if ln.strip()]
        if "Possible next steps:" in content:
            state = _nums([ln for ln in lines if ln.startswith("Input:")][-1][6:])
            steps = G.legal_steps(state)
            picks = rnd.sample(steps, min(3, len(steps)))
            return Reply("\n".join(["let me think"] + [G.render_step(state, s) for s in picks]))
        truth = solvable(_nums(lines[-1]))
        if rnd.random() < 0.2:
            truth = not truth
        return Reply("sure" if truth else "impossible")
    return script


class InProcessModel:
    """The same simulated model called in the search's own process (`types.Transport`), for
    `--inproc`: no HTTP, so the solve rates cost a fraction of the time. Its answers and
    token counts are those the server sends, so the trees are the server's trees; its timing
    is not a server's (it shares the search's GIL), so use it for solve rates only."""

    model, label = "sim", "in-process:sim"

    def __init__(self) -> None:
        self._script = script_for(0.0)

    def send(self, req, seconds: float):
        body = {"messages": [{"role": r, "content": c} for r, c in req.messages]}
        if req.seed is not None:
            body["seed"] = int(req.seed)
        text = self._script(body, 0).text
        usage = completion(text)["usage"]
        return Completion(text, usage["prompt_tokens"], usage["completion_tokens"])

    def close(self) -> None:
        pass


def _serve(latency: float, queue) -> None:
    """The server in its own process (as a real one would be): it must not share the GIL with
    the searches it is timing."""
    with ScriptedServer(script_for(latency)) as srv:
        queue.put(srv.base_url)
        threading.Event().wait()


def instances(n: int, seed: int) -> list[str]:
    pool = [i for i in G.instances() if solvable(G.parse_instance(i))]
    return random.Random(seed).sample(pool, n)


def run(k: int, insts: list[str], url: str | None, calls: int, parallel_searches: int,
        speculate: bool = True, seeds: int = 1, repeats: int | None = 2,
        min_rounds: int = 0) -> dict:
    """Searches `insts` at concurrency k; K=1 searches (latency-bound) run `parallel_searches`
    side by side to save wall time, K>1 searches (CPU-bound on a small machine) one at a time;
    either way each search's own calls/second is measured."""
    parallel_searches = parallel_searches if k == 1 else 1
    def one(job: tuple[str, int]):
        inst, seed = job
        client = (LLMClient(transport=InProcessModel(), concurrency=max(k, 1)) if url is None
                  else LLMClient(base_url=url, model="sim", api_key="x", concurrency=max(k, 1)))
        try:
            if k == 1:
                r = solve(G, inst, policy=LLMPolicy(client), value=LLMValue(client),
                          budget=Budget(model_calls=calls), seed=seed)
            else:   # what solve(..., concurrency=k) runs, with this script's options
                ctx = Context(G, inst, policy=LLMPolicy(client), value=LLMValue(client),
                              budget=Budget(model_calls=calls), rng=np.random.default_rng(seed),
                              algo="mcts")
                r = ParallelMCTS(ctx, concurrency=k, speculate=speculate, repeats=repeats,
                                 min_rounds=min_rounds, c=1.5, selection="puct", pw_c=2.0,
                                 pw_alpha=0.5, samples=None).run()
        finally:
            client.close()
        return r
    with ThreadPoolExecutor(parallel_searches) as pool:
        results = list(pool.map(one, [(i, s) for s in range(seeds) for i in insts]))
    rates = [r.usage.model_calls / r.usage.seconds for r in results if r.usage.seconds > 0]
    return {"k": k, "solved": sum(r.solved for r in results) / len(results),
            "each": [r.solved for r in results],
            "calls": sum(r.usage.model_calls for r in results) / len(results),
            "calls_per_s": sum(rates) / len(rates),
            "verified": all(G.verify(r.instance, r.answer) for r in results if r.solved)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--calls", type=int, default=24)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--ks", default="1,16")
    ap.add_argument("--parallel-searches", type=int, default=16,
                    help="independent searches run side by side (each is measured alone)")
    ap.add_argument("--seed", type=int, default=0, help="instance sample seed")
    ap.add_argument("--seeds", type=int, default=1, help="search seeds 0..N-1 per instance")
    ap.add_argument("--no-speculate", action="store_true",
                    help="K>1: ask for leaf values after expanding (two latencies per round)")
    ap.add_argument("--repeats", default="2",
                    help="K>1: a round closes at the (N+1)-th return to a leaf already in it "
                         "(search/parallel.py); 'none' fills every round (the search before "
                         "issue 14)")
    ap.add_argument("--min-rounds", type=int, default=0,
                    help="K>1: no round holds more than 1/N of the leaves the budget pays for "
                         "(search/parallel.py); 0: off")
    ap.add_argument("--inproc", action="store_true",
                    help="the simulated model in this process, no server and no latency: the "
                         "same trees and solve rates, much sooner; calls/s are meaningless")
    a = ap.parse_args()
    repeats = None if a.repeats.lower() == "none" else int(a.repeats)
    insts = instances(a.n, a.seed)
    if a.inproc:
        rows = [run(int(k), insts, None, a.calls, 1, not a.no_speculate, a.seeds, repeats,
                    a.min_rounds) for k in a.ks.split(",")]
    else:
        queue = mp.Queue()
        server = mp.Process(target=_serve, args=(a.latency, queue), daemon=True)
        server.start()
        try:
            url = queue.get(timeout=30)
            rows = [run(int(k), insts, url, a.calls, a.parallel_searches, not a.no_speculate,
                        a.seeds, repeats, a.min_rounds) for k in a.ks.split(",")]
        finally:
            server.terminate()
    base = rows[0]["calls_per_s"]
    print(f"| K | solved | mean model calls | model calls/s per search | speed-up |")
    print(f"|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['k']} | {100 * r['solved']:.1f}% | {r['calls']:.1f} | {r['calls_per_s']:.1f} "
              f"| {r['calls_per_s'] / base:.1f}x |")
    for r in rows[1:]:
        # Paired by (instance, seed): the difference in solve rate and its normal 95% interval.
        d = [int(x) - int(y) for x, y in zip(r["each"], rows[0]["each"])]
        n = len(d)
        mean = sum(d) / n
        sd = (sum((x - mean) ** 2 for x in d) / (n - 1)) ** 0.5 if n > 1 else 0.0
        print(f"K={r['k']} minus K={rows[0]['k']}: {100 * mean:+.1f} points solved, 95% interval "
              f"+/- {100 * 1.96 * sd / n ** 0.5:.1f} (paired, {n} searches)")
    assert all(r["verified"] for r in rows)


if __name__ == "__main__":
    main()
