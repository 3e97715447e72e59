"""The `traces` and `train` commands: thin wrappers over `collect` and `loop`.

Bad input (a missing or foreign model file, an empty trace set, a puzzle without the text parts
learning needs, a bad set, a run folder of another configuration) exits 2 with one `Error:` line
naming the option or argument at fault, as every other command does."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from ..cliutil import FiniteFloat
from .choices import POLICY_STATES, SFT_STEPS

EXIT_INTERRUPTED = 130


# Options two commands share, declared once (the same type, limits and default in both).
def gamma_option(command):
    """`--gamma` of `traces` and `train`."""
    return click.option(
        "--gamma", type=FiniteFloat(0, 1, min_open=True), default=None,
        help="Graded value labels: gamma ** (steps to a solved state the tree holds), the "
             "rollouts' discounted return elsewhere [default: outcome labels, 1/0].")(command)


def sft_steps_option(command):
    """`--sft-steps` of `traces` and `train`."""
    return click.option(
        "--sft-steps", type=click.IntRange(1, 32), default=SFT_STEPS, show_default=True,
        help="Lines per propose SFT answer: the solution's step, then the state's other "
             "children not proved lost (by proved win, visits, prior), so a fine-tuned model "
             "learns to write this many candidate steps per call.")(command)


def batch_option(*decls: str, help: str):
    """Records per LoRA step (`finetune --batch-size`, `train --finetune-batch`)."""
    return click.option(*decls, type=click.IntRange(1, 256), default=8, show_default=True,
                        help=help)


def lr_option(*decls: str, help: str):
    """The AdamW learning rate (`finetune --lr`, `train --finetune-lr`)."""
    return click.option(*decls, type=FiniteFloat(min=0, min_open=True, max=1), default=2e-4,
                        show_default=True, help=help)


def value_balance_option(*decls: str, help: str):
    """The label balance of the value records (`finetune --value-balance`,
    `train --finetune-value-balance`): a finite ratio >= 1, or unset for all records."""
    return click.option(*decls, type=FiniteFloat(min=1), default=None, help=help)


def threads_option(*decls: str, help: str):
    """torch CPU threads of the fine-tuning (`finetune --threads`, `train --finetune-threads`)."""
    return click.option(*decls, type=click.IntRange(1, 2), default=1, show_default=True,
                        help=help)


def _bad(msg: str, hint: str) -> click.BadParameter:
    return click.BadParameter(str(msg).splitlines()[0] if str(msg) else "bad value",
                              param_hint=hint)


def _one_line_errors(command):
    """A stray ValueError (and its kinds: ModelError, TraceError, EmptyTraces) -> click's one
    `Error:` line and exit 2; Ctrl-C -> one line, exit 130 (every finished stage is on disk:
    rerun to resume)."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from ..bench import Interrupted
        try:
            return command(*args, **kwargs)
        except (KeyboardInterrupt, Interrupted):
            click.echo(f"interrupted: rerun the same command to resume ({kwargs.get('out')})",
                       err=True)
            sys.exit(EXIT_INTERRUPTED)
        except ValueError as e:
            raise click.UsageError(str(e).splitlines()[0] if str(e) else type(e).__name__) \
                from None
    return wrapper


def _puzzle(name: str):
    from ..registry import load
    from .collect import check_puzzle
    try:
        p = load(name)
    except KeyError as e:
        raise _bad(e.args[0], "'PUZZLE'") from None
    try:
        check_puzzle(p)
    except ValueError as e:
        raise _bad(str(e), "'PUZZLE'") from None
    return p


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(t) for t in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or any(not 0 <= f < float("inf") for f in parts) or not sum(parts) > 0:
        raise _bad(f"expected three numbers >= 0 (train,val,test), got {text!r}", "'--split'")
    return parts


def _read(puzzle, spec: str, hint: str):
    """The set, each instance once (a generated named set may repeat one; a sweep must not)."""
    from ..sets import InstanceSet, read_set
    from .dataset import canonical
    try:
        s = read_set(puzzle, spec)
    except ValueError as e:
        raise _bad(str(e), hint) from None
    firsts = {}
    for t in s.instances:
        firsts.setdefault(canonical(puzzle, t), t)
    return s if len(firsts) == len(s) else InstanceSet(s.name, tuple(firsts.values()))


def _held_out(puzzle, specs) -> list[str]:
    out: list[str] = []
    for spec in specs:
        out.extend(_read(puzzle, spec, "'--held-out'").instances)
    return out


def _parts(puzzle, policy_name: str, value_name: str) -> None:
    """Check --policy/--value now (a learned:PATH is loaded), not after a sweep."""
    from ..components import LLM_PARTS, make_policy, make_value
    for name, make, hint in ((policy_name, make_policy, "'--policy'"),
                             (value_name, make_value, "'--value'")):
        if name in LLM_PARTS:
            raise _bad(f"{name} is not offered here (learning runs on code policies/values)", hint)
        try:
            make(puzzle, name)
        except ValueError as e:
            raise _bad(str(e), hint) from None


@click.command("traces")
@click.argument("puzzle")
@click.argument("sources", nargs=-1, type=click.Path())
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Dataset folder: {train,val,test}/{policy,value,sft,preference}.jsonl and "
                   "manifest.json.")
@click.option("--set", "set_spec", default=None,
              help="Run a fresh MCTS sweep over this set first (trees into OUT/sweep/), instead "
                   "of (or as well as) reading SOURCES (tree files or folders of them, e.g. "
                   "from `solve --tree x.json` or `bench --trees DIR --tree-format json`).")
@click.option("--budget", type=click.IntRange(min=1), default=100, show_default=True,
              help="Simulations per search of the --set sweep.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Seeds per instance of the --set sweep.")
@click.option("--policy", "policy_name", default="uniform", show_default=True,
              help="Policy of the --set sweep (heuristic, uniform, learned:PATH).")
@click.option("--value", "value_name", default="rollout", show_default=True,
              help="Value of the --set sweep (heuristic, rollout, learned:PATH, ...).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the --set sweep (default: the cores; 1 runs inline).")
@click.option("--held-out", "held_out", multiple=True,
              help="Instances that must never reach training data (a set spec, as --set; "
                   "repeatable), e.g. data/24.csv:901-1000. They go to test only.")
@click.option("--split", "split", default="0.8,0.1,0.1", show_default=True,
              help="Shares of instances in train,val,test.")
@click.option("--split-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the instance split (and of the rollouts).")
@click.option("--rollouts", type=click.IntRange(min=0), default=8, show_default=True,
              help="k random rollouts per visited, unproved state for its value label "
                   "(0: proved states only).")
@gamma_option
@sft_steps_option
@click.option("--progress/--no-progress", default=None,
              help="Progress bars (default: only when stderr is a terminal).")
@_one_line_errors
def traces_cmd(puzzle, sources, out, set_spec, budget, seeds, policy_name, value_name, workers,
               held_out, split, split_seed, rollouts, gamma, sft_steps, progress):
    """Training data from search trees: policy and value targets, SFT chat records and
    preference pairs as JSONL, split by instance (see docs/learning.md)."""
    from tqdm import tqdm

    from .collect import add_trees, sweep_trees, tree_files
    from .dataset import Dataset, Splitter
    from .loop import _sweep

    p = _puzzle(puzzle)
    fractions = _fractions(split)
    _parts(p, policy_name, value_name)
    splitter = Splitter(p, seed=split_seed, fractions=fractions, held_out=_held_out(p, held_out))
    instances = _read(p, set_spec, "'--set'") if set_spec is not None else None
    try:
        paths = tree_files(sources)
    except ValueError as e:
        raise _bad(str(e), "'SOURCES'") from None
    if instances is not None:
        config = _sweep(p.name, instances, policy=policy_name, value=value_name,
                        algos=("mcts",), budget=budget, seeds=seeds, c_puct=1.5)
        paths += sweep_trees(config, instances.instances, Path(out) / "sweep", workers=workers,
                             progress=progress)
    if not paths:
        raise _bad("no trees to read (an empty trace set): name tree files or folders, or "
                   "--set for a sweep", "'SOURCES'")
    ds = Dataset(splitter)
    bar = tqdm(total=len(paths), disable=not sys.stderr.isatty() if progress is None
               else not progress, unit="tree", desc="traces")
    with bar:
        try:
            add_trees(ds, p, paths, rollouts=rollouts, seed=split_seed, progress=bar,
                      gamma=gamma, sft_steps=sft_steps)
        except ValueError as e:
            raise _bad(str(e), "'SOURCES'") from None
    counts = ds.counts()
    if not any(counts.values()):
        raise _bad("the trees gave no records (an empty trace set)", "'SOURCES'")
    manifest = ds.write(out, meta={"puzzle": p.name, "trees": len(paths), "rollouts": rollouts,
                                   "gamma": gamma, "sft_steps": sft_steps})
    for split_name in ("train", "val", "test"):
        c = counts[split_name]
        click.echo(f"{split_name}: {manifest['instances'][split_name]} instances, "
                   + ", ".join(f"{k} {c.get(k, 0)}" for k in ("policy", "value", "sft",
                                                              "preference")))
    click.echo(f"wrote {out}/ (manifest.json)")


@click.command("train")
@click.argument("puzzle")
@click.option("--set", "set_spec", required=True,
              help="Training instances (a set spec as for bench); held-out ones are removed.")
@click.option("--eval-set", "eval_spec", default=None,
              help="Held-out evaluation instances (default: the --held-out instances; "
                   "one of the two is needed). Never trained on.")
@click.option("--held-out", "held_out", multiple=True,
              help="Instances never trained on (a set spec; repeatable).")
@click.option("--rounds", type=click.IntRange(min=1), default=5, show_default=True,
              help="Rounds of search -> traces -> fit -> evaluate. More rounds extend a "
                   "finished run.")
@click.option("--budget", type=click.IntRange(min=1), default=50, show_default=True,
              help="Simulations per training search.")
@click.option("--eval-budget", type=click.IntRange(min=1), default=None,
              help="The fixed evaluation budget (simulations; greedy: node expansions) "
                   "[default: --budget].")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Seeds per instance, in training searches and evaluation.")
@click.option("--rollouts", type=click.IntRange(min=0), default=8, show_default=True,
              help="k rollouts per visited, unproved state for its value label.")
@gamma_option
@sft_steps_option
@click.option("--policy-states", type=click.Choice(POLICY_STATES), default="all",
              show_default=True,
              help="The states the policy is fitted to: all expanded ones (visit shares), or "
                   "only those with a child proved won (on a path to a solution the search "
                   "found).")
@click.option("--window", type=click.IntRange(min=1), default=2, show_default=True,
              help="Fit each model on the records of this many latest rounds.")
@click.option("--bits", type=click.IntRange(8, 22), default=15, show_default=True,
              help="Feature hashing width: 2**BITS columns per block.")
@click.option("--split-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the train/validation split of each round's records and of their "
                   "rollout labels (as for traces).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the cores; 1 runs inline).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="local: a process pool; ray: an existing Ray cluster.")
@click.option("--ray-address", envvar="RAY_ADDRESS", default=None,
              help="Ray cluster address for --executor ray (env RAY_ADDRESS).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Run folder; the same command resumes an interrupted run.")
@click.option("--policy", "learner_kind", type=click.Choice(["learned", "llm"]),
              default="learned", show_default=True,
              help="learned: the linear policy/value (model.npz); llm: fine-tune the embedded "
                   "model each round and search with it as policy and value (budgets in model "
                   "calls; round 0 searches with the heuristic expert; docs/learning.md).")
@click.option("--finetune-steps", type=click.IntRange(min=1), default=200, show_default=True,
              help="With --policy llm: LoRA steps per round (at most; early stop).")
@batch_option("--finetune-batch", help="With --policy llm: records per LoRA step.")
@lr_option("--finetune-lr", help="With --policy llm: AdamW learning rate.")
@threads_option("--finetune-threads",
                help="With --policy llm: torch CPU threads of the fine-tuning (at most 2).")
@value_balance_option("--finetune-value-balance",
                      help="With --policy llm: balance the value records' labels within each "
                           "depth (as `finetune --value-balance`).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bars (default: only when stderr is a terminal).")
@_one_line_errors
def train_cmd(puzzle, set_spec, eval_spec, held_out, rounds, budget, eval_budget, seeds,
              rollouts, gamma, sft_steps, policy_states, window, bits, split_seed, workers,
              executor, ray_address, out, learner_kind, finetune_steps, finetune_batch, finetune_lr,
              finetune_threads, finetune_value_balance, progress):
    """Expert iteration for PUZZLE from tabula rasa: MCTS -> traces -> fit a learned policy and
    value -> evaluate on held-out instances, ROUNDS times (see docs/learning.md)."""
    import hashlib

    from ..sets import InstanceSet, read_set
    from .dataset import canonical
    from .loop import TrainConfig, train

    p = _puzzle(puzzle)
    if ray_address is not None and not _address_ok(ray_address):
        raise _bad(f"expected host:port, ray://host:port or auto, got {ray_address!r}",
                   "'--ray-address'")
    if executor == "ray" and not ray_address:
        raise _bad("--executor ray needs the address of a running Ray cluster", "'--ray-address'")
    held = _held_out(p, held_out)
    if eval_spec is not None:
        evals = _read(p, eval_spec, "'--eval-set'")
    elif held:
        evals = InstanceSet("held-out", tuple(held))
    else:
        raise _bad("train needs held-out instances to evaluate on: --eval-set or --held-out",
                   "'--eval-set'")
    never = {canonical(p, t) for t in list(held) + list(evals.instances)}
    full = _read(p, set_spec, "'--set'")
    kept = tuple(t for t in full.instances if canonical(p, t) not in never)
    if not kept:
        raise _bad(f"set {set_spec!r}: no instances left once the held-out ones are removed",
                   "'--set'")
    train_set = InstanceSet(f"{set_spec} minus held-out", kept)
    h = hashlib.sha256("\0".join(sorted(never)).encode()).hexdigest()
    config = TrainConfig(puzzle=p.name, train_set=train_set.name, train_sha256=train_set.sha256,
                         eval_set=evals.name, eval_sha256=evals.sha256, held_out_sha256=h,
                         budget=budget, eval_budget=eval_budget or budget, seeds=seeds,
                         rollouts=rollouts, window=window, bits=bits, split_seed=split_seed,
                         gamma=gamma, policy_states=policy_states, sft_steps=sft_steps)
    from ..bench import ExecutorUnavailable
    from ..llm.client import LLMError
    from .loop import RunMismatch
    log = (lambda m: click.echo(m, err=True))
    learner = (_llm_learner(dict(steps=finetune_steps, batch_size=finetune_batch,
                                 lr=finetune_lr, value_balance=finetune_value_balance),
                            finetune_threads, window, log)
               if learner_kind == "llm" else None)
    try:
        summaries = train(p, config, train_set, evals, held, out, rounds=rounds, workers=workers,
                          executor=executor, ray_address=ray_address, progress=progress, log=log,
                          learner=learner)
    except RunMismatch as e:
        raise _bad(str(e), "'--out'") from None
    except (ExecutorUnavailable, LLMError) as e:
        click.echo(f"error: {str(e).splitlines()[0]}", err=True)
        sys.exit(3)
    for s in summaries:
        click.echo(f"round {s['round']}: held-out solve rate MCTS+learned "
                   f"{100 * s['eval'].get('mcts', 0):.1f}%, learned policy alone "
                   f"{100 * s['eval'].get('greedy', 0):.1f}%")
    click.echo(f"summary: {Path(out) / 'summary.md'}")


def _llm_learner(finetune: dict, threads: int, window: int, log):
    """The fine-tuned-LLM learner with this command's defaults: no grammar, the default
    response cache, the embedded server; `finetune`: FinetuneConfig fields; exit 3 without the
    train extra or the local model."""
    from ..llm.local import missing_reason
    from ..llm.session import LLMSettings
    from .finetune import FinetuneConfig, missing_extra
    from .llm_loop import LLMLearner
    problem = missing_extra() or missing_reason()
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(3)
    return LLMLearner(LLMSettings(grammar=False), FinetuneConfig(**finetune), window=window,
                      threads=threads, log=log)


def _address_ok(address: str) -> bool:
    if address in ("auto", "local"):
        return True
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    return bool(host) and port.isdigit()


COMMANDS = (traces_cmd, train_cmd)
