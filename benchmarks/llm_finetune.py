"""SmolLM2-135M fine-tuned on its own search traces: the base model against each round's model.

    python benchmarks/llm_finetune.py [--train 60] [--test 10] [--rounds 1] [--steps 60] \
        [--budget 10] [--out runs/llm-finetune]

Everything is resumable: rerun the same command. Stages, each skipped when its file is there:
  1. `mcts-reason train game24 --policy llm`: round 0 searches the training instances (every
     third of ../shared/data/game24_4nums.csv outside ranks 901-1000, the first --train of
     them) with the heuristic expert, fine-tunes the bundled model on the traces, and evaluates
     MCTS and greedy (policy and value from the model, no grammar, --budget model calls) on the
     first --test instances of the Tree-of-Thoughts test set (ranks 901-1000, never trained on,
     also passed as --held-out); the untrained model (with the puzzle's own prompts) and the
     heuristic are the baselines. Later rounds search with the previous round's model.
  2. `mcts-reason bench` with ToT-BFS, DFS and best-of-N at the same model calls, for the base
     model and each round's model (`--model-file`, `--prompts`).
  3. The share of legal proposal lines: one greedy (temperature 0) propose call per test
     instance's start state, each answer line parsed by the puzzle.
  4. OUT/results.md: the table.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOT = Path("..") / "shared" / "data" / "game24_4nums.csv"      # relative to the repo root
EXTRA_ALGOS = "bfs,dfs,best-of-n"


def _mcts(*args: str) -> None:
    cmd = [sys.executable, "-m", "mcts_reason.cli", *args]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def write_sets(out: Path, n_train: int, n_test: int) -> tuple[Path, Path]:
    rows = list(csv.DictReader((ROOT / TOT).open(encoding="utf-8")))
    train = [r["Puzzles"] for r in rows if not 901 <= int(r["Rank"]) <= 1000][::3][:n_train]
    test = [r["Puzzles"] for r in rows if 901 <= int(r["Rank"]) <= 900 + n_test]
    paths = out / "train.txt", out / "test.txt"
    for p, items in zip(paths, (train, test)):
        if not p.exists():
            p.write_text("".join(f"{t}\n" for t in items), encoding="utf-8")
    return paths


def models(out: Path, rounds: int) -> list[tuple[str, Path | None, Path | None]]:
    """(label, GGUF file or None for the bundled one, prompt file or None)."""
    found = [("base", None, None)]
    for r in range(rounds):
        ft = out / "llm" / f"round_{r:02d}" / "finetune"
        if (ft / "model.gguf").is_file():
            found.append((f"round {r}", ft / "model.gguf", ft / "prompts.json"))
    return found


def legal_share(model: Path | None, prompts: Path | None, instances: list[str]) -> dict:
    from openai import OpenAI

    from mcts_reason.llm.local import LocalServer
    from mcts_reason.llm.prompt_file import load_prompts
    from mcts_reason.llm.prompts import propose_messages
    from mcts_reason.registry import load
    puzzle = load("game24")
    pf = load_prompts(str(prompts)) if prompts else None
    lines = legal = 0
    with LocalServer(model=model, n_ctx=1024) as server:
        client = OpenAI(base_url=server.base_url, api_key="none", max_retries=1, timeout=300)
        for t in instances:
            state = puzzle.parse_instance(t)
            r = client.chat.completions.create(model=server.model, temperature=0, seed=0,
                                               max_tokens=96, stop=["Input:"],
                                               messages=propose_messages(puzzle, state, pf))
            for line in (r.choices[0].message.content or "").splitlines():
                if line.strip():
                    lines += 1
                    legal += puzzle.parse_step(state, line) is not None
    return {"lines": lines, "legal": legal, "share": legal / lines if lines else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=60)
    ap.add_argument("--test", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--budget", type=int, default=10, help="model calls per puzzle")
    ap.add_argument("--out", default="runs/llm-finetune")
    args = ap.parse_args()
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    train, test = write_sets(out, args.train, args.test)
    _mcts("train", "game24", "--policy", "llm", "--set", str(train), "--eval-set", str(test),
          "--held-out", f"{TOT}:901-1000", "--rounds", str(args.rounds), "--budget", "30",
          "--eval-budget", str(args.budget), "--finetune-steps", str(args.steps),
          "--workers", "1", "--out", str(out / "llm"), "--no-progress")
    instances = [t for t in test.read_text().splitlines() if t.strip()]
    legal_path = out / "legal.json"
    legal = json.loads(legal_path.read_text()) if legal_path.exists() else {}
    for label, model, prompts in models(out, args.rounds):
        name = label.replace(" ", "_")
        extra = ["--model-file", str(model), "--prompts", str(prompts)] if model else []
        _mcts("bench", "game24", "--set", str(test), "--algos", EXTRA_ALGOS, "--policy", "llm",
              "--value", "llm", "--no-grammar", "--budget-kind", "model_calls", "--budgets",
              str(args.budget), "--workers", "1", "--no-progress", "--out",
              str(out / f"extra_{name}.jsonl"), *extra)
        if label not in legal:
            legal[label] = legal_share(model, prompts, instances)
            legal_path.write_text(json.dumps(legal, indent=2) + "\n")
    write_table(out, args, legal)


def write_table(out: Path, args, legal: dict) -> None:
    from mcts_reason.learn.loop import solve_rates
    rows = []
    base = out / "llm" / "baselines"
    for label, _, _ in models(out, args.rounds):
        name = label.replace(" ", "_")
        rates = {}
        if label == "base":
            rates.update(solve_rates(base / "llm_llm.jsonl"))
            secs = ""
        else:
            r = int(label.split()[1])
            rd = out / "llm" / f"round_{r:02d}"
            rates.update(solve_rates(rd / "eval.jsonl"))
            fm = json.loads((rd / "round.json").read_text())["metrics"]["finetune"]
            secs = f"{fm['train_seconds']:.0f}"
        extra = out / f"extra_{name}.jsonl"
        if extra.exists():
            rates.update(solve_rates(extra))
        lg = legal.get(label, {})
        rows.append(f"| {label} | " + " | ".join(
            f"{100 * rates[a]:.0f}%" if a in rates else "-"
            for a in ("greedy", "best-of-n", "bfs", "dfs", "mcts"))
            + f" | {lg.get('legal', '-')}/{lg.get('lines', '-')} | {secs} |")
    heur = solve_rates(base / "heuristic_heuristic.jsonl") if (
        base / "heuristic_heuristic.jsonl").exists() else {}
    text = "\n".join([
        f"# SmolLM2-135M fine-tuned on search traces (Game of 24, ToT ranks 901-{900 + args.test})",
        "", f"{args.train} training instances, {args.test} test instances, {args.budget} model "
        f"calls per puzzle, policy and value from the model, no grammar; {args.steps} LoRA steps "
        "per round at most.", "",
        "| model | greedy | best-of-N | ToT-BFS | DFS | MCTS | legal proposal lines | "
        "training s |", "|---|---|---|---|---|---|---|---|", *rows, "",
        f"Heuristic policy + value (ablation, same instances; budget in simulations): MCTS "
        f"{100 * heur.get('mcts', 0):.0f}%, greedy {100 * heur.get('greedy', 0):.0f}%.", ""])
    (out / "results.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
