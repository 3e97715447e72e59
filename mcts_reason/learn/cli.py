"""The `traces` and `train` commands: thin wrappers over `collect` and `loop`.

Bad input (a missing or foreign model file, an empty trace set, a puzzle without the text parts
learning needs, a bad set) is one line on stderr and exit 2."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _fail(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _one_line_errors(command):
    """ValueError (and its kinds: ModelError, TraceError, EmptyTraces) -> one line, exit 2;
    Ctrl-C -> one line, exit 130 (every finished stage is on disk: rerun to resume)."""
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
            _fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
    return wrapper


def _puzzle(name: str):
    from ..registry import load
    from .collect import check_puzzle
    try:
        p = load(name)
    except KeyError as e:
        _fail(e.args[0])
    check_puzzle(p)
    return p


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(t) for t in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or any(f < 0 for f in parts) or not sum(parts) > 0:
        raise ValueError(f"--split wants three numbers >= 0 (train,val,test), got {text!r}")
    return parts


def _held_out(puzzle, specs) -> list[str]:
    from ..sets import read_set
    out: list[str] = []
    for spec in specs:
        out.extend(read_set(puzzle, spec).instances)
    return out


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
@click.option("--progress/--no-progress", default=None,
              help="Progress bars (default: only when stderr is a terminal).")
@_one_line_errors
def traces_cmd(puzzle, sources, out, set_spec, budget, seeds, policy_name, value_name, workers,
               held_out, split, split_seed, rollouts, progress):
    """Training data from search trees: policy and value targets, SFT chat records and
    preference pairs as JSONL, split by instance (see docs/learning.md)."""
    from tqdm import tqdm

    from ..components import make_policy, make_value
    from ..sets import read_set
    from .collect import add_trees, sweep_trees, tree_files
    from .dataset import Dataset, Splitter
    from .loop import _sweep

    p = _puzzle(puzzle)
    splitter = Splitter(p, seed=split_seed, fractions=_fractions(split),
                        held_out=_held_out(p, held_out))
    paths = tree_files(sources)
    if set_spec is not None:
        make_policy(p, policy_name)
        make_value(p, value_name)
        instances = read_set(p, set_spec)
        config = _sweep(p.name, instances, policy=policy_name, value=value_name,
                        algos=("mcts",), budget=budget, seeds=seeds, c_puct=1.5)
        paths += sweep_trees(config, instances.instances, Path(out) / "sweep", workers=workers,
                             progress=progress)
    if not paths:
        raise ValueError("no trees to read: name tree files or folders, or --set for a sweep "
                         "(an empty trace set)")
    ds = Dataset(splitter)
    bar = tqdm(total=len(paths), disable=not sys.stderr.isatty() if progress is None
               else not progress, unit="tree", desc="traces")
    with bar:
        add_trees(ds, p, paths, rollouts=rollouts, seed=split_seed, progress=bar)
    counts = ds.counts()
    if not any(counts.values()):
        raise ValueError("the trees gave no records (an empty trace set)")
    manifest = ds.write(out, meta={"puzzle": p.name, "trees": len(paths), "rollouts": rollouts})
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
@click.option("--window", type=click.IntRange(min=1), default=2, show_default=True,
              help="Fit each model on the records of this many latest rounds.")
@click.option("--bits", type=click.IntRange(8, 22), default=15, show_default=True,
              help="Feature hashing width: 2**BITS columns per block.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the cores; 1 runs inline).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="local: a process pool; ray: an existing Ray cluster.")
@click.option("--ray-address", envvar="RAY_ADDRESS", default=None,
              help="Ray cluster address for --executor ray (env RAY_ADDRESS).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Run folder; the same command resumes an interrupted run.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bars (default: only when stderr is a terminal).")
@_one_line_errors
def train_cmd(puzzle, set_spec, eval_spec, held_out, rounds, budget, eval_budget, seeds,
              rollouts, window, bits, workers, executor, ray_address, out, progress):
    """Expert iteration for PUZZLE from tabula rasa: MCTS -> traces -> fit a learned policy and
    value -> evaluate on held-out instances, ROUNDS times (see docs/learning.md)."""
    import hashlib

    from ..sets import InstanceSet, read_set
    from .dataset import canonical
    from .loop import TrainConfig, train

    p = _puzzle(puzzle)
    held = _held_out(p, held_out)
    if eval_spec is not None:
        evals = read_set(p, eval_spec)
    elif held:
        evals = InstanceSet("held-out", tuple(held))
    else:
        raise ValueError("train needs held-out instances to evaluate on: --eval-set or --held-out")
    never = {canonical(p, t) for t in list(held) + list(evals.instances)}
    full = read_set(p, set_spec)
    kept = tuple(t for t in full.instances if canonical(p, t) not in never)
    if not kept:
        raise ValueError(f"set {set_spec!r}: no instances left once the held-out ones are removed")
    train_set = InstanceSet(f"{set_spec} minus held-out", kept)
    h = hashlib.sha256("\0".join(sorted(never)).encode()).hexdigest()
    config = TrainConfig(puzzle=p.name, train_set=train_set.name, train_sha256=train_set.sha256,
                         eval_set=evals.name, eval_sha256=evals.sha256, held_out_sha256=h,
                         budget=budget, eval_budget=eval_budget or budget, seeds=seeds,
                         rollouts=rollouts, window=window, bits=bits)
    log = (lambda m: click.echo(m, err=True))
    summaries = train(p, config, train_set, evals, held, out, rounds=rounds, workers=workers,
                      executor=executor, ray_address=ray_address, progress=progress, log=log)
    for s in summaries:
        click.echo(f"round {s['round']}: held-out solve rate MCTS+learned "
                   f"{100 * s['eval'].get('mcts', 0):.1f}%, learned policy alone "
                   f"{100 * s['eval'].get('greedy', 0):.1f}%")
    click.echo(f"summary: {Path(out) / 'summary.md'}")


COMMANDS = (traces_cmd, train_cmd)
