"""SmolLM2-135M fine-tuned on search traces (issue 16): the base model against the trained one.

    python benchmarks/llm_finetune.py [--train 300] [--stride 3] [--test 10] [--tasks propose] \
        [--steps 80] [--batch 8] [--lr 1e-3] [--sft-steps 4] [--budgets 10,20] \
        [--values llm,heuristic] [--value-balance R] \
        [--out runs/llm-finetune-r0]

Everything is resumable: rerun the same command. Stages, each skipped when its file is there
(or, for fine-tuning and bench, continued from where it stopped):
  1. The sets: training instances are every --stride-th (default third) puzzle of
     ../shared/data/game24_4nums.csv outside ranks 901-1000, the first --train of them; the
     test instances are the first --test of the Tree-of-Thoughts test set (ranks 901-1000,
     never trained on).
  2. `mcts-reason traces`: heuristic MCTS (policy and value hand-written, 30 simulations) on
     the training instances, with ranks 901-1000 passed as --held-out -- the round-0 data of
     the expert-iteration loop (`mcts-reason train --policy llm` runs later rounds).
  3. `mcts-reason finetune`: LoRA on the SFT records of --tasks (propose -> the search's best
     step; value -> sure/impossible; --value-balance R: the value labels balanced within
     each depth), short prompts, --steps steps of --batch records. The
     default is propose only: on the shared 2-core sandbox a step of 8 records took about 25 s,
     so the few hundred records a run can see go to the policy (value records are 3.4x as many).
  4. The share of legal proposal lines, per model: for every test instance's start state one
     greedy propose call (temperature 0) and two sampled ones (0.7, seeds 1 and 2), with the
     prompts the search sends that model; every answer line is parsed by the puzzle
     (`parse_step`, strict), and as the search reads it (`parse_proposals`, lenient: a wrong
     "(left: ...)" annotation is dropped and the step tried bare); also the distinct legal
     steps per call (the children a state would get). The same at the states 0, 1 and 2
     steps along each test instance's heuristic solution (--depths), with how many of the
     legal steps lead to a still-solvable state (`game24.solvable`): OUT/legal_depth.json.
  4b. With the model as a bench value (--values llm): its value judgement (one call,
     temperature 0) on every state one step from each test start and one step from the
     solution's first state, against the exhaustive `game24.solvable`: OUT/value_judged.json.
  5. `mcts-reason bench`: greedy, best-of-N, ToT-BFS, DFS and MCTS at --budgets model calls,
     policy and value from the model, no grammar, for the base model (the puzzle's prompts)
     and the trained one (its short prompts); and the ablation with the hand-written heuristic
     value (policy still from the model), and the one with uniform random rollouts as the
     value (rollout: neither the model nor a heuristic), and two that bracket what a value
     adds: constant (no signal) and oracle (the exhaustive solver's 0/1 word); and
     llm-rollout, the model's own playouts as its value (steps drawn by its priors; no
     judgement asked; a playout that solves hands the search its answer; model calls capped,
     playout steps included).
     --values picks which of them.
     One bench file per model, value and budget (OUT/bench_LABEL_VALUE_bN.jsonl), so rerunning
     with more --budgets adds cells.
  6. OUT/results.md: the tables (solve rate, mean model calls, tokens and wall seconds per
     puzzle, training time).
The base model runs at --base-budgets only (default 10: its every proposal line is illegal,
and each of its calls writes the full 96 tokens), and its heuristic-value ablation only with
--base-heuristic (with no legal proposal the value has nothing to rank).
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

from mcts_reason.learn.choices import SFT_STEPS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOT = Path("..") / "shared" / "data" / "game24_4nums.csv"      # relative to the repo root
ALGOS = ("greedy", "best-of-n", "bfs", "dfs", "mcts")
# Budgets in model calls. best-of-N takes no model_calls cap (its chains are cut by a cap they
# spend), so the cap is the search's own calls: policy + value calls with the model as both,
# policy calls with the heuristic value -- model calls either way (no retries happened).
KIND = {"llm": "calls", "llm-probs": "calls", "heuristic": "policy_calls",
        "rollout": "policy_calls", "constant": "policy_calls", "oracle": "policy_calls",
        "llm-rollout": "model_calls"}
# llm-rollout: the model's own playouts as the value (each playout step a model call, so the cap
# is on model calls). Greedy and best-of-N never ask a value (their cells are those of every
# other table; best-of-N also needs a cap its chains spend), so only the three searches run.
ALGOS_OF = {"llm-rollout": ("bfs", "dfs", "mcts")}
# llm-probs: the model as value, scored by its first token's probabilities (--value-scoring probs)
VALUE_ARGS = {"llm": ["--value", "llm"],
              "llm-probs": ["--value", "llm", "--value-scoring", "probs"],
              "heuristic": ["--value", "heuristic"],
              # neither the model nor a hand-written heuristic: 8 uniform random rollouts per
              # state, each checked by the puzzle (RolloutValue; no model calls)
              "rollout": ["--value", "rollout"],
              # ablations that bracket the value's share: no signal at all (every state 0.5,
              # the search led by the model's priors alone) and a right one (the exhaustive
              # solver's 1 or 0 on each state; it declares nothing exact, so unlike the
              # heuristic it marks no state won or lost and prunes nothing)
              "constant": ["--value", "constant"],
              "oracle": ["--value", "oracle"],
              "llm-rollout": ["--value", "llm-rollout"]}
HEADS = {"greedy": "greedy", "best-of-n": "best-of-N", "bfs": "ToT-BFS", "dfs": "DFS",
         "mcts": "MCTS"}


def _mcts(*args: str) -> None:
    cmd = [sys.executable, "-m", "mcts_reason.cli", *args]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    if rc:
        sys.exit(f"mcts-reason {args[0]} failed (exit {rc}); fix the cause and rerun to resume")


def write_sets(out: Path, n_train: int, n_test: int, stride: int = 3) -> tuple[Path, Path]:
    rows = list(csv.DictReader((ROOT / TOT).open(encoding="utf-8")))
    train = [r["Puzzles"] for r in rows
             if not 901 <= int(r["Rank"]) <= 1000][::stride][:n_train]
    test = [r["Puzzles"] for r in rows if 901 <= int(r["Rank"]) <= 900 + n_test]
    paths = out / "train.txt", out / "test.txt"
    for p, items in zip(paths, (train, test)):
        text = "".join(f"{t}\n" for t in items)
        if p.exists() and p.read_text(encoding="utf-8") != text:
            sys.exit(f"{p} holds another set (other --train/--test); use another --out")
        p.write_text(text, encoding="utf-8")
    return paths


def solution_states(instances: list[str], depth: int) -> list:
    """For each instance, the state `depth` steps along the solution the hand-written heuristic
    MCTS finds (its steps parsed back by the puzzle): where a search that is on track stands."""
    import mcts_reason
    from mcts_reason.registry import load
    puzzle = load("game24")
    out = []
    for t in instances:
        r = mcts_reason.solve(puzzle, t, seed=0)
        if not r.solved:
            sys.exit(f"the heuristic search did not solve test instance {t!r}")
        state = puzzle.parse_instance(t)
        for text in r.steps[:depth]:
            state = puzzle.apply(state, puzzle.parse_step(state, text))
        out.append(state)
    return out


def legal_share(model: Path | None, prompts: Path | None, instances: list[str],
                states: list | None = None) -> dict:
    """Proposal lines of greedy and sampled propose calls at each instance's start state (or
    at `states`). Also how many of the legal steps lead to a state that can still make 24
    (`game24.solvable`, the exhaustive check): the steps a search can succeed with."""
    from openai import OpenAI

    from mcts_reason.llm.local import LocalServer
    from mcts_reason.llm.policy import parse_proposals
    from mcts_reason.llm.prompt_file import load_prompts
    from mcts_reason.llm.prompts import propose_messages
    from mcts_reason.registry import load
    from mcts_reason_puzzles.game24 import solvable
    puzzle = load("game24")
    pf = load_prompts(str(prompts)) if prompts else None
    n = {"calls": 0, "lines": 0, "legal_strict": 0, "legal_lenient": 0,
         "calls_with_a_legal_step": 0, "distinct_legal_steps": 0,
         "distinct_solvable_steps": 0, "calls_with_a_solvable_step": 0}
    if states is None:
        states = [puzzle.parse_instance(t) for t in instances]
    with LocalServer(model=model, n_ctx=1024) as server:
        client = OpenAI(base_url=server.base_url, api_key="none", max_retries=1, timeout=300)
        for state in states:
            for temperature, seed in ((0.0, 0), (0.7, 1), (0.7, 2)):
                r = client.chat.completions.create(
                    model=server.model, temperature=temperature, seed=seed, max_tokens=96,
                    stop=["Input:"], messages=propose_messages(puzzle, state, pf))
                text = r.choices[0].message.content or ""
                lines = [ln for ln in text.splitlines() if ln.strip()]
                steps, invalid = parse_proposals(puzzle, state, text)
                n["calls"] += 1
                n["lines"] += len(lines)
                n["legal_strict"] += sum(puzzle.parse_step(state, ln) is not None
                                         for ln in lines)
                n["legal_lenient"] += len(lines) - invalid
                n["calls_with_a_legal_step"] += bool(steps)
                n["distinct_legal_steps"] += len(set(steps))
                good = {st for st in set(steps) if solvable(puzzle.apply(state, st))}
                n["distinct_solvable_steps"] += len(good)
                n["calls_with_a_solvable_step"] += bool(good)
    n["share_strict"] = n["legal_strict"] / n["lines"] if n["lines"] else 0.0
    n["share_lenient"] = n["legal_lenient"] / n["lines"] if n["lines"] else 0.0
    return n


def value_share(model: Path | None, prompts: Path | None, instances: list[str]) -> dict:
    """The model's value judgement (one call, temperature 0, the prompts the search sends) on
    every distinct state one step from the start (three numbers) and one step from the state
    one step along the heuristic solution (two numbers), against the exhaustive
    `game24.solvable`: per count of numbers and truth, how many it called sure / likely /
    impossible (or none)."""
    from openai import OpenAI

    from mcts_reason.llm.local import LocalServer
    from mcts_reason.llm.prompt_file import load_prompts
    from mcts_reason.llm.prompts import parse_judgement, value_messages
    from mcts_reason.llm.value import DEFAULT_SCORES, expected_score
    from mcts_reason.llm.wire import valid_top_logprobs
    from mcts_reason.registry import load
    from mcts_reason_puzzles.game24 import solvable
    puzzle = load("game24")
    pf = load_prompts(str(prompts)) if prompts else None
    states: dict[str, object] = {}
    for depth in (0, 1):
        for parent in solution_states(instances, depth):
            for step in puzzle.legal_steps(parent):
                child = puzzle.apply(parent, step)
                states.setdefault(puzzle.render(child), child)
    out: dict[str, dict[str, int]] = {}
    with LocalServer(model=model, n_ctx=1024) as server:
        client = OpenAI(base_url=server.base_url, api_key="none", max_retries=1, timeout=300)
        for text in sorted(states):
            state = states[text]
            r = client.chat.completions.create(
                model=server.model, temperature=0.0, seed=0, max_tokens=96,
                messages=value_messages(puzzle, state, pf), logprobs=True, top_logprobs=10)
            word = parse_judgement(r.choices[0].message.content or "") or "none"
            key = f"{len(text.split())} numbers, {'solvable' if solvable(state) else 'unsolvable'}"
            cell = out.setdefault(key, {"sure": 0, "likely": 0, "impossible": 0, "none": 0,
                                        "probs_scored": 0, "probs_score_sum": 0.0})
            cell[word] += 1
            try:
                top = valid_top_logprobs(r.choices[0].logprobs.content[0].top_logprobs)
            except (AttributeError, IndexError, TypeError):
                top = None
            score = expected_score(top, DEFAULT_SCORES)
            if score is not None:
                cell["probs_scored"] += 1
                cell["probs_score_sum"] += score
    return dict(sorted(out.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=300)
    ap.add_argument("--test", type=int, default=10)
    ap.add_argument("--stride", type=int, default=3,
                    help="training instances: every STRIDE-th puzzle outside ranks 901-1000 "
                         "(1: all 1262 of them)")
    ap.add_argument("--tasks", default="propose", choices=("propose", "value", "both"))
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", default="1e-3")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sft-steps", type=int, default=4,
                    help="candidate lines per propose SFT answer")
    ap.add_argument("--values", default="llm,heuristic",
                    help="bench values: llm (the model's judgement word), llm-probs (its "
                         "first token's probabilities), heuristic (the ablation), rollout (uniform "
                         "random rollouts: neither model nor heuristic), constant (no value "
                         "signal), oracle (the exhaustive solver's 0/1 word) and/or "
                         "llm-rollout (the model's own playouts)")
    ap.add_argument("--budgets", default="10,20", help="model calls per puzzle")
    ap.add_argument("--base-budgets", default="10", help="model calls, base model")
    ap.add_argument("--base-heuristic", action="store_true")
    ap.add_argument("--depths", type=int, default=3,
                    help="measure proposals at 0..DEPTHS-1 steps along a solution (0: none)")
    ap.add_argument("--value-balance", default=None,
                    help="finetune --value-balance (the value labels balanced within a depth)")
    ap.add_argument("--out", default="runs/llm-finetune-r0")
    args = ap.parse_args()
    values = [v for v in args.values.split(",") if v]
    if not values or any(v not in KIND for v in values):
        sys.exit(f"--values: expected some of {', '.join(KIND)}, got {args.values!r}")
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.stride < 1:
        sys.exit("--stride must be at least 1")
    train, test = write_sets(out, args.train, args.test, args.stride)
    data, ft = out / "data", out / "finetune"
    if (data / "manifest.json").is_file():
        made = json.loads((data / "manifest.json").read_text()).get("sft_steps", SFT_STEPS)
        if made != args.sft_steps:
            sys.exit(f"{data} was made with --sft-steps {made}; use another --out")
    else:
        _mcts("traces", "game24", "--set", str(train), "--policy", "heuristic", "--value",
              "heuristic", "--budget", "30", "--held-out", f"{TOT}:901-1000", "--workers", "1",
              "--sft-steps", str(args.sft_steps), "--no-progress", "--out", str(data))
    _mcts("finetune", str(data), "--out", str(ft), "--tasks", args.tasks, "--steps",
          str(args.steps), "--batch-size", str(args.batch), "--lr", args.lr, "--eval-every",
          "20", "--patience", "4", "--checkpoint-every", "10", "--threads", str(args.threads),
          "--no-progress",
          *(["--value-balance", args.value_balance] if args.value_balance else []))
    instances = [t for t in test.read_text().splitlines() if t.strip()]
    legal_path = out / "legal.json"
    legal = json.loads(legal_path.read_text()) if legal_path.exists() else {}
    models = {"trained": (ft / "model.gguf", ft / "prompts.json"), "base": None}
    for label, files in models.items():
        if label not in legal:
            legal[label] = legal_share(*(files or (None, None)), instances)
            legal_path.write_text(json.dumps(legal, indent=2) + "\n")
    depth_path = out / "legal_depth.json"
    by_depth = json.loads(depth_path.read_text()) if depth_path.exists() else {}
    for depth in range(args.depths):
        states = solution_states(instances, depth)
        for label, files in models.items():
            key = f"{label} depth {depth}"
            if key in by_depth:
                continue
            if depth == 0 and "distinct_solvable_steps" in legal[label]:
                by_depth[key] = legal[label]   # the start states: measured above, the same calls
            else:
                by_depth[key] = legal_share(*(files or (None, None)), instances, states)
            depth_path.write_text(json.dumps(by_depth, indent=2) + "\n")
    judged_path = out / "value_judged.json"
    judged = json.loads(judged_path.read_text()) if judged_path.exists() else {}
    if {"llm", "llm-probs"} & set(values):
        for label, files in models.items():
            if label not in judged:
                judged[label] = value_share(*(files or (None, None)), instances)
                judged_path.write_text(json.dumps(judged, indent=2) + "\n")
    for label, files in models.items():
        for value in values:
            if value != "llm" and label == "base" and not args.base_heuristic:
                continue
            extra = ["--model-file", str(files[0]), "--prompts", str(files[1])] if files else []
            budgets = args.base_budgets if label == "base" else args.budgets
            for b in (int(x) for x in budgets.split(",") if x.strip()):
                # one file per budget: a bench file refuses another budget list, so a later
                # run with more --budgets adds files instead of being refused
                _mcts("bench", "game24", "--set", str(test), "--algos",
                      ",".join(ALGOS_OF.get(value, ALGOS)),
                      "--policy", "llm", *VALUE_ARGS[value], "--no-grammar", "--budget-kind",
                      KIND[value], "--budgets", str(b), "--workers", "1", "--no-progress",
                      "--out", str(out / f"bench_{label}_{value}_b{b}.jsonl"), *extra)
    write_table(out, args, legal, by_depth, judged)


def _runs(out: Path, label: str, value: str) -> list[dict]:
    """The bench records of (label, value): the per-budget files (and the one file of all
    budgets that folders written before them hold)."""
    paths = [out / f"bench_{label}_{value}.jsonl",
             *sorted(out.glob(f"bench_{label}_{value}_b*.jsonl"))]
    return [json.loads(line) for path in paths if path.is_file()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip().startswith("{")]


def write_table(out: Path, args, legal: dict, by_depth: dict, judged: dict) -> None:
    budgets = sorted({int(b) for b in f"{args.budgets},{args.base_budgets}".split(",")})
    lines = []
    names = {"llm": "the model (its judgement word)",
             "llm-probs": "the model (its first token's probabilities)",
             "llm-rollout": "the model's own playouts (each step drawn by its priors, "
                            "checked by the puzzle; a solving playout's steps are the answer; "
                            "every step a model call; greedy and best-of-N ask no value: see "
                            "the other tables)",
             "heuristic": "hand-written heuristic",
             "rollout": "random rollouts (8 per state, checked by the puzzle; no model calls)",
             "constant": "none (every state 0.5: the model's priors alone lead)",
             "oracle": "the exhaustive solver's 0/1 word (not a method; not declared exact, so "
                       "it marks no state won or lost)"}
    for value, name in names.items():
        if not _runs(out, "trained", value) and not _runs(out, "base", value):
            continue
        lines += [f"### value: {name}", "",
                  "| model | model calls | " + " | ".join(HEADS[a] for a in ALGOS) + " |",
                  "|---|---|" + "---|" * len(ALGOS)]
        for label in ("base", "trained"):
            runs = _runs(out, label, value)
            for b in budgets:
                if not any(r.get("budget") == b for r in runs):
                    continue
                cells = []
                for a in ALGOS:
                    rs = [r for r in runs if r.get("algo") == a and r.get("budget") == b]
                    if not rs:
                        cells.append("-")
                        continue
                    k = len(rs)
                    u = [r["usage"] for r in rs]
                    cells.append(f"{sum(r['solved'] for r in rs)}/{k} "
                                 f"({sum(x['model_calls'] for x in u) / k:.1f} calls, "
                                 f"{sum(x['prompt_tokens'] + x['completion_tokens'] for x in u) / k:.0f} tok, "
                                 f"{sum(r['wall_seconds'] for r in rs) / k:.1f} s)")
                lines.append(f"| {label} | {b} | " + " | ".join(cells) + " |")
        lines.append("")
    lg = ["| model | calls | lines (per call) | legal (parse_step) | legal as the search reads "
          "them | distinct legal steps per call | calls with a legal step |",
          "|---|---|---|---|---|---|---|"]
    for label, n in legal.items():
        c = n["calls"] or 1
        d = n.get("distinct_legal_steps")
        lg.append(f"| {label} | {n['calls']} | {n['lines']} ({n['lines'] / c:.2f}) | "
                  f"{n['legal_strict']} ({100 * n['share_strict']:.0f}%) | {n['legal_lenient']} "
                  f"({100 * n['share_lenient']:.0f}%) | "
                  f"{'-' if d is None else f'{d / c:.2f}'} | {n['calls_with_a_legal_step']} |")
    dp = ["| model, steps along the solution | calls | lines per call | legal as the search "
          "reads them | distinct legal steps per call | of them to a solvable state | calls "
          "with a step to a solvable state |", "|---|---|---|---|---|---|---|"]
    for key, n in by_depth.items():
        c = n["calls"] or 1
        dp.append(f"| {key} | {n['calls']} | {n['lines'] / c:.2f} | {n['legal_lenient']} "
                  f"({100 * n['share_lenient']:.0f}%) | {n['distinct_legal_steps'] / c:.2f} | "
                  f"{n['distinct_solvable_steps'] / c:.2f} | {n['calls_with_a_solvable_step']} |")
    vj = ["| model | states | judged sure | likely | impossible | no judgement | mean "
          "first-token score (states scored) |", "|---|---|---|---|---|---|---|"]
    for label, cells in judged.items():
        for key, c in cells.items():
            n = sum(c[w] for w in ("sure", "likely", "impossible", "none"))
            k = c.get("probs_scored", 0)
            mean = f"{c['probs_score_sum'] / k:.2f} ({k})" if k else "- (0)"
            vj.append(f"| {label} | {key}: {n} | {c['sure']} | {c['likely']} | "
                      f"{c['impossible']} | {c['none']} | {mean} |")
    rep = json.loads((out / "finetune" / "finetune.json").read_text(encoding="utf-8"))
    hist = rep["history"]
    text = "\n".join([
        f"# SmolLM2-135M fine-tuned on search traces (Game of 24, ToT ranks "
        f"901-{900 + args.test})", "",
        f"Training: {rep['train_records']} SFT records ({args.tasks}, propose answers of up to "
        f"{args.sft_steps} lines) of heuristic MCTS on "
        f"{args.train} training instances; {rep['steps_run']} LoRA steps of {args.batch} records, "
        f"{rep['train_seconds']:.0f} s of training; validation loss "
        f"{hist[0].get('val_loss'):.3f} -> {rep['best_val_loss']:.3f} (best step "
        f"{rep['best_step']}).", "",
        "Cells: solved/puzzles (mean model calls, prompt+completion tokens, wall seconds per "
        "puzzle). Policy from the model, no grammar; base: the puzzle's prompts; trained: its "
        "short prompts.", "", *lines,
        "Proposal lines at the test instances' start states (one greedy, two sampled calls "
        "each):", "", *lg, "",
        "The same calls at the state 0, 1 and 2 steps along the heuristic search's solution of "
        "each test instance; a step to a solvable state is one a search can still win with "
        "(checked by the exhaustive `game24.solvable`):", "", *dp, "",
        *(["The value prompt (one call, temperature 0) on every state one step from the "
           "start and one step from the solution's first state, against `game24.solvable`:",
           "", *vj, ""] if judged else [])])
    (out / "results.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
