"""The Tree-of-Thoughts Game of 24 test set (4nums.com ranks 901-1000) with SmolLM2-135M-Instruct
through the embedded llama.cpp server: greedy chain vs MCTS at matched model calls.

Reads ../shared/data/game24_4nums.csv (never copied into the project). Responses are cached
(--cache), so a rerun with the same seed costs nothing.

    python benchmarks/llm_tot.py --limit 10 --cache /tmp/tot.sqlite
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from mcts_reason import Budget, solve
from mcts_reason.llm import LLMPolicy, LLMValue, Sampling
from mcts_reason.llm.prompt_file import load_prompts
from mcts_reason.llm.session import LLMSettings, open_client
from mcts_reason.search.common import Context
from mcts_reason_puzzles.game24 import Game24

G = Game24()
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "game24_4nums.csv"


def tot_set(path: Path, lo: int = 901, hi: int = 1000) -> list[str]:
    with open(path, newline="") as f:
        return [row["Puzzles"] for row in csv.DictReader(f) if lo <= int(row["Rank"]) <= hi]


def greedy(instance: str, policy, budget: Budget, seed: int):
    """Chain of thought, one step at a time: the model's first legal step, never revisited."""
    ctx = Context(G, instance, policy=policy, value=None, budget=budget,
                  rng=np.random.default_rng(seed), algo="greedy")
    state, steps = ctx.initial, []
    while not G.is_solved(state) and not G.is_dead_end(state):
        props = ctx.propose(state)
        if not props:
            return ctx.result(None, stop_reason="no legal step" if props == [] else "budget")
        step, _, state = max(props, key=lambda pr: pr.prior)
        steps.append(step)
    return ctx.result(steps if G.is_solved(state) else None, stop_reason="done")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--calls", default="3,12", help="MCTS model-call budgets")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--base-url", default=None, help="an OpenAI-compatible server instead of "
                    "the embedded SmolLM2 (key from OPENAI_API_KEY)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--grammar", action="store_true",
                    help="constrain proposals with the puzzle's GBNF grammar (llama.cpp only)")
    ap.add_argument("--pw-c", type=float, default=2.0, help="MCTS progressive widening constant")
    ap.add_argument("--prompts", default=None, help="a prompt file (docs/llm.md) instead of the "
                    "puzzle's own prompts, e.g. the paper's exact texts")
    a = ap.parse_args()
    prompts = None
    if a.prompts:
        try:
            prompts = load_prompts(a.prompts)
            prompts.check(G)
        except ValueError as e:
            ap.error(str(e))
    insts = tot_set(Path(a.data))[: a.limit]
    rows = []
    settings = LLMSettings(base_url=a.base_url, model=a.model, cache=a.cache, concurrency=1,
                           grammar=a.grammar)      # the key from OPENAI_API_KEY
    with open_client(settings, local={"n_ctx": 1024}) as client:
        temp0 = LLMPolicy(client, sampling=Sampling(temperature=0.0, max_tokens=64,
                                                    stop=("Input:",)), prompts=prompts)
        hot = LLMPolicy(client, sampling=Sampling(temperature=0.7, max_tokens=64,
                                                  stop=("Input:",)), prompts=prompts)
        value = LLMValue(client, sampling=Sampling(temperature=0.7, max_tokens=64),
                         prompts=prompts)
        configs = [("greedy (T=0)", lambda i: greedy(i, temp0, Budget(model_calls=3), a.seed))]
        for c in (int(x) for x in a.calls.split(",")):
            configs.append((f"MCTS, LLM policy + heuristic value, {c} calls",
                            lambda i, c=c: solve(G, i, policy=hot, value=G.heuristic_value(),
                                                 budget=Budget(model_calls=c), seed=a.seed,
                                                 pw_c=a.pw_c)))
            configs.append((f"MCTS, LLM policy + LLM value, {c} calls",
                            lambda i, c=c: solve(G, i, policy=hot, value=value,
                                                 budget=Budget(model_calls=c), seed=a.seed,
                                                 pw_c=a.pw_c)))
        for name, run in configs:
            t0, res = time.perf_counter(), []
            for inst in insts:
                r = run(inst)
                assert not r.solved or G.verify(inst, r.answer)
                res.append(r)
            n = len(res)
            rows.append((name, sum(r.solved for r in res) / n,
                         sum(r.usage.model_calls for r in res) / n,
                         sum(r.usage.prompt_tokens + r.usage.completion_tokens for r in res) / n,
                         sum(r.usage.invalid_proposals for r in res) / n,
                         (time.perf_counter() - t0) / n))
            print(f"done: {name}", flush=True)
    print(f"\nToT test set ranks 901-1000, first {len(insts)} puzzles, seed {a.seed}, "
          f"grammar {'on' if a.grammar else 'off'}, pw_c {a.pw_c}, "
          f"prompts {a.prompts or 'own'}\n")
    print("| method | solved | model calls / puzzle | tokens / puzzle | invalid lines / puzzle "
          "| seconds / puzzle |")
    print("|---|---|---|---|---|---|")
    for name, s, c, t, inv, sec in rows:
        print(f"| {name} | {100 * s:.0f}% | {c:.1f} | {t:.0f} | {inv:.1f} | {sec:.1f} |")


if __name__ == "__main__":
    main()
