"""Expert iteration (Anthony et al. 2017; AlphaZero's training loop without self-play opponents).

Round 0 searches with no knowledge: the uniform policy and the random-rollout value. Each round r:
  1. MCTS with the current model on the training instances (a bench sweep; trees kept as JSON);
  2. the trees become a dataset (`traces`);
  3. the next model is fitted to the visit distributions and outcomes of the last `window`
     rounds' training records (the newest round wins where a state repeats);
  4. the new model is evaluated on the held-out instances at a fixed budget: MCTS with the
     learned policy and value, and the learned policy alone (greedy, no search).
Every stage writes its own file atomically and is skipped when the file is there, and the sweeps
resume themselves, so a run killed at any point continues where it was when started again with
the same command. `baselines/` holds, from the same run, MCTS with uniform + rollout and with the
puzzle's hand-written heuristics on the same held-out instances and budget.

Layout: OUT/config.json, OUT/baselines/eval.jsonl, OUT/round_NN/{search.jsonl, trees/, data/,
model.npz, eval.jsonl, round.json}, OUT/summary.md, OUT/solve_rate.png.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

from ..bench import SweepConfig, run_sweep
from ..records import scan_records
from ..search import SPECS
from ..sets import InstanceSet
from .choices import SFT_STEPS
from .collect import add_trees, sweep_trees
from .dataset import Dataset, Splitter, _atomic_write, read_jsonl
from .fit import EmptyTraces, fit
from .model import LinearModel

EVAL_ALGOS = ("mcts", "greedy")
BASELINES = (("uniform", "rollout"), ("heuristic", "heuristic"))


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's results; a run folder written under another
    configuration is refused (rounds may differ: more rounds extend a finished run)."""

    puzzle: str
    train_set: str
    train_sha256: str
    eval_set: str
    eval_sha256: str
    held_out_sha256: str
    budget: int
    eval_budget: int
    seeds: int = 1
    rollouts: int = 8
    window: int = 2
    bits: int = 15
    split_seed: int = 0
    c_puct: float = 1.5
    val_fraction: float = 0.1
    gamma: float | None = None        # graded value labels (traces.records); None: outcomes
    policy_states: str = "all"        # the policy records fitted (choices.POLICY_STATES)
    sft_steps: int = SFT_STEPS        # lines per propose SFT answer (traces.propose_answer)

    def to_dict(self) -> dict:
        return asdict(self)


class RunMismatch(ValueError):
    """The output folder holds a run with another configuration."""


def _comparable(d: dict) -> dict:
    """The fields that must match to resume; a field newer than the file counts as its default
    (a run written before the field existed was made with it)."""
    defaults = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}
    return {k: v for k, v in {**defaults, **d}.items() if k not in ("train_set", "eval_set")}


def model_name(out: Path, r: int) -> str:
    return f"learned:{out / f'round_{r:02d}' / 'model.npz'}"


def round_parts(out: Path, r: int) -> tuple[str, str]:
    """The (policy, value) that round r searches with: tabula rasa in round 0."""
    if r == 0:
        return "uniform", "rollout"
    name = model_name(out, r - 1)
    return name, name


def _sweep(puzzle: str, instances: InstanceSet, *, policy: str, value: str, algos: Sequence[str],
           budget: int, seeds: int, c_puct: float, budget_kind: str = "simple",
           **extra: Any) -> SweepConfig:
    """`extra`: more SweepConfig fields (a learner's model settings: `llm`, `llm_runtime`)."""
    return SweepConfig.for_set(puzzle, instances, algos=tuple(algos), budget_kind=budget_kind,
                               budgets=(budget,), seeds=tuple(range(seeds)), policy=policy,
                               value=value,
                               algo_options={a: SPECS[a].pick(c=c_puct) for a in algos
                                            if SPECS[a].pick(c=c_puct)}, **extra)


class LinearLearner:
    """What a round learns and how it is searched with (the `learner` hook of `train`): here the
    linear policy/value of model.py, fitted with scikit-learn. Another learner (the fine-tuned
    LLM of `finetune_loop`) brings the same methods; the stages, files and resume are the
    loop's."""

    artefact = "model.npz"

    def budget_kind(self, policy: str, value: str) -> str:
        """What a search's `budget` counts (simulations here; model calls for an LLM)."""
        return "simple"

    def baselines(self, puzzle: Any) -> list[tuple[str, str]]:
        return [(p, v) for p, v in BASELINES if p != "heuristic"
                or callable(getattr(puzzle, "heuristic_policy", None))]

    def search_parts(self, out: Path, r: int) -> tuple[str, str]:
        return round_parts(out, r)

    def eval_parts(self, out: Path, r: int) -> tuple[str, str]:
        return model_name(out, r), model_name(out, r)

    def serving(self, out: Path, model_round: int | None, parts: tuple[str, str]):
        """A context giving the extra sweep fields for a search with `parts` (policy, value)
        that uses round `model_round`'s model (None: a baseline; -1: round 0's search): none
        for code models."""
        return contextlib.nullcontext({})

    def fit(self, puzzle: Any, out: Path, r: int, config: "TrainConfig") -> None:
        _fit_window(puzzle, out, r, config).save(out / f"round_{r:02d}" / self.artefact)

    def metrics(self, out: Path, r: int) -> dict:
        return LinearModel.load(out / f"round_{r:02d}" / self.artefact).manifest.get("metrics",
                                                                                     {})


def solve_rates(path: Path) -> dict[str, float]:
    """algo -> share of runs solved in a results file."""
    runs: dict[str, list[bool]] = {}
    for _, rec in scan_records(path):
        runs.setdefault(rec["algo"], []).append(bool(rec["solved"]))
    return {a: sum(v) / len(v) for a, v in runs.items()}


def train(puzzle: Any, config: TrainConfig, train_instances: InstanceSet,
          eval_instances: InstanceSet, held_out: Sequence[str], out: str | os.PathLike, *,
          rounds: int, workers: int | None = None, executor: str = "local",
          ray_address: str | None = None, progress: bool | None = None,
          log: Any = print, learner: Any = None) -> list[dict]:
    """Run (or resume) `rounds` rounds into `out`; returns one summary dict per round.
    `learner`: what each round fits and searches with (default `LinearLearner`)."""
    learner = learner or LinearLearner()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.json"
    mine = config.to_dict()
    if cfg_path.exists():
        theirs = json.loads(cfg_path.read_text(encoding="utf-8"))
        if _comparable(theirs) != _comparable(mine):
            diffs = [k for k in sorted(set(theirs) | set(mine))
                     if _comparable(theirs).get(k) != _comparable(mine).get(k)]
            raise RunMismatch(f"{out} holds a training run with other options "
                              f"({', '.join(diffs)}); use those or another --out")
    else:
        _atomic_write(cfg_path, (json.dumps(mine, indent=2, sort_keys=True) + "\n").encode())
    if callable(getattr(learner, "pin", None)):      # a learner with options of its own
        learner.pin(out)
    kw = dict(workers=workers, executor=executor, ray_address=ray_address, progress=progress)
    # Baselines, once: the same held-out instances and budget as every round's evaluation.
    base = out / "baselines"
    base.mkdir(exist_ok=True)
    baseline_parts = learner.baselines(puzzle)
    for pol, val in baseline_parts:
        log(f"baseline: {pol} policy + {val} value on {len(eval_instances)} held-out instances")
        with learner.serving(out, None, (pol, val)) as extra:
            run_sweep(_sweep(puzzle.name, eval_instances, policy=pol, value=val,
                             algos=EVAL_ALGOS, budget=config.eval_budget, seeds=config.seeds,
                             c_puct=config.c_puct, budget_kind=learner.budget_kind(pol, val),
                             **extra),
                      eval_instances.instances, base / f"{pol}_{val}.jsonl", **kw)
    splitter = Splitter(puzzle, seed=config.split_seed,
                        fractions=(1 - config.val_fraction, config.val_fraction, 0.0),
                        held_out=list(held_out) + list(eval_instances.instances))
    summaries = []
    for r in range(rounds):
        rdir = out / f"round_{r:02d}"
        done = rdir / "round.json"
        if done.exists():
            summaries.append(json.loads(done.read_text(encoding="utf-8")))
            continue
        started = time.perf_counter()
        policy, value = learner.search_parts(out, r)
        log(f"round {r}: search with {policy} / {value} on {len(train_instances)} instances")
        with learner.serving(out, r - 1, (policy, value)) as extra:
            trees = sweep_trees(_sweep(puzzle.name, train_instances, policy=policy, value=value,
                                       algos=("mcts",), budget=config.budget,
                                       seeds=config.seeds, c_puct=config.c_puct,
                                       budget_kind=learner.budget_kind(policy, value),
                                       **extra),
                                train_instances.instances, rdir, **kw)
        data = rdir / "data"
        if not (data / "manifest.json").exists():
            log(f"round {r}: traces from {len(trees)} trees")
            ds = Dataset(splitter)
            add_trees(ds, puzzle, trees, rollouts=config.rollouts, seed=config.split_seed + r,
                      extra={"round": r}, gamma=config.gamma, sft_steps=config.sft_steps)
            ds.write(data, meta={"puzzle": puzzle.name, "round": r})
        if not (rdir / learner.artefact).exists():
            log(f"round {r}: fitting the next model")
            learner.fit(puzzle, out, r, config)
        log(f"round {r}: evaluating the new model on {len(eval_instances)} held-out instances")
        pol, val = learner.eval_parts(out, r)
        with learner.serving(out, r, (pol, val)) as extra:
            run_sweep(_sweep(puzzle.name, eval_instances, policy=pol, value=val,
                             algos=EVAL_ALGOS, budget=config.eval_budget, seeds=config.seeds,
                             c_puct=config.c_puct, budget_kind=learner.budget_kind(pol, val),
                             **extra),
                      eval_instances.instances, rdir / "eval.jsonl", **kw)
        summary = {"round": r, "search_solve_rate": solve_rates(rdir / "search.jsonl")["mcts"],
                   "eval": solve_rates(rdir / "eval.jsonl"),
                   "data": json.loads((data / "manifest.json").read_text())["files"],
                   "metrics": learner.metrics(out, r),
                   # this call's wall time on the round (less than the whole if it was resumed)
                   "seconds": round(time.perf_counter() - started, 1)}
        _atomic_write(done, (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode())
        summaries.append(summary)
    write_summary(out, config, summaries,
                  {f"{p}+{v}": base / f"{p}_{v}.jsonl" for p, v in baseline_parts})
    return summaries


def _fit_window(puzzle: Any, out: Path, r: int, config: TrainConfig) -> LinearModel:
    """Fit on the training records of rounds r-window+1 .. r (later rounds win on repeats)."""
    merged: dict[str, dict[tuple, dict]] = {"train": {}, "val": {}}
    for q in range(max(0, r - config.window + 1), r + 1):
        for split in merged:
            for kind in ("policy", "value"):
                for rec in read_jsonl(out / f"round_{q:02d}" / "data" / split / f"{kind}.jsonl"):
                    merged[split][(kind, rec["state"])] = rec
    recs = {s: list(m.values()) for s, m in merged.items()}
    by = {s: {k: [x for x in recs[s] if x["kind"] == k] for k in ("policy", "value")}
          for s in recs}
    if not by["train"]["policy"] and not by["train"]["value"]:
        raise EmptyTraces(f"round {r}: the search left no training records (empty trace set)")
    return fit(puzzle.name, by["train"]["policy"], by["train"]["value"], bits=config.bits,
               val_policy=by["val"]["policy"], val_value=by["val"]["value"],
               meta={"round": r, "rounds_fitted": list(range(max(0, r - config.window + 1), r + 1)),
                     "train_set_sha256": config.train_sha256},
               policy_states=config.policy_states)


# What a budget counts, by the `budget_kind` its records were run under (bench.BUDGET_KINDS).
_UNITS = {"simple": "simulations for MCTS, node expansions for greedy",
          "model_calls": "model calls", "policy_calls": "policy calls",
          "value_calls": "value calls"}


def budget_units(*paths: Path) -> str:
    """What the budgets of the records in `paths` count, read off the records themselves
    (each names the budget kind it ran under), so a summary cannot misname them."""
    kinds = sorted({rec.get("config", {}).get("budget_kind", "simple")
                    for p in paths if p.exists() for _, rec in scan_records(p)})
    return "; ".join(_UNITS.get(k, k.replace("_", " ")) for k in kinds) or "nothing run"


def write_summary(out: Path, config: TrainConfig, rounds: list[dict],
                  baseline_files: dict[str, Path]) -> None:
    """summary.md (a table per round, baselines beside) and solve_rate.png. `baseline_files`:
    baseline name -> its records."""
    baselines = {name: solve_rates(path) for name, path in baseline_files.items()}
    b = config.eval_budget
    lines = [f"# Expert iteration: {config.puzzle}", "",
             f"Train set `{config.train_set}`, held-out evaluation set `{config.eval_set}`; "
             f"search budget {config.budget}, evaluation budget {b}, seeds {config.seeds}. "
             "What the budgets count is read off each search's records, in the tables.", "",
             "Solve rate on the held-out instances:", "",
             "| after round | model fitted on | MCTS + learned | learned policy alone (greedy) "
             "| train search solve rate | seconds | search budget counts | evaluation budget "
             "counts |", "|---|---|---|---|---|---|---|---|"]
    for s in rounds:
        rdir = out / f"round_{s['round']:02d}"
        lines.append(f"| {s['round']} | rounds {max(0, s['round'] - config.window + 1)}-"
                     f"{s['round']} | {100 * s['eval'].get('mcts', 0):.1f}% | "
                     f"{100 * s['eval'].get('greedy', 0):.1f}% | "
                     f"{100 * s['search_solve_rate']:.1f}% | {s.get('seconds', '')} | "
                     f"{budget_units(rdir / 'search.jsonl')} | "
                     f"{budget_units(rdir / 'eval.jsonl')} |")
    lines += ["", "Baselines on the same instances and budget:", "",
              "| policy + value | MCTS | greedy | budget counts |", "|---|---|---|---|"]
    for name, rates in baselines.items():
        lines.append(f"| {name} | {100 * rates.get('mcts', 0):.1f}% | "
                     f"{100 * rates.get('greedy', 0):.1f}% | "
                     f"{budget_units(baseline_files[name])} |")
    _atomic_write(out / "summary.md", ("\n".join(lines) + "\n").encode())
    _plot(out / "solve_rate.png", config, rounds, baselines)


def _plot(path: Path, config: TrainConfig, rounds: list[dict], baselines: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    xs = [s["round"] for s in rounds]
    ax.plot(xs, [100 * s["eval"].get("mcts", 0) for s in rounds], "o-", label="MCTS + learned")
    ax.plot(xs, [100 * s["eval"].get("greedy", 0) for s in rounds], "s-",
            label="learned policy alone (greedy)")
    styles = iter(("--", ":"))
    for name, rates in baselines.items():
        ax.axhline(100 * rates.get("mcts", 0), linestyle=next(styles, "-."), color="gray",
                   label=f"MCTS {name}")
    ax.set_xlabel("round (model fitted after it)")
    ax.set_ylabel("held-out solve rate (%)")
    ax.set_ylim(0, 105)
    ax.set_title(f"{config.puzzle}: expert iteration at budget {config.eval_budget}")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
