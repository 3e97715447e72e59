"""The `bench` and `report` commands: thin wrappers over `bench.run_sweep` and `report`."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import shlex
import signal
import sys
from pathlib import Path

import click

from .bench import (BUDGET_KINDS, EXECUTORS, INTEGER_KINDS, ExecutorUnavailable, Interrupted,
                    SweepConfig, run_sweep)
from .cliutil import MAX_SEED, FiniteFloat, brief, search_tuning_options
from .components import LLM_PARTS, POLICIES, VALUES, make_policy, make_value
from .llm.client import LLMError
from .llm_options import (EXIT_MODEL_ERROR, llm_options, model_health, parallel_options,
                          settings_from)
from .records import NotResultsFile, WriteFailed, check_regular
from .registry import load
from .report import (MEASURES, default_plot_path, load as load_records, markdown_table, plot,
                     plot_target_problem, summarize)
from .search import ALGORITHMS, tuning_options
from .sets import read_set

EXIT_INTERRUPTED = 130
EXIT_UNAVAILABLE = 3     # the executor (Ray cluster) cannot be reached


def _csv(text: str, param: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise click.BadParameter(f"expected a comma-separated list, got {text!r}",
                                 param_hint=param)
    return items


def _budgets(text: str, kind: str) -> tuple:
    out = []
    for t in _csv(text, "'--budgets'"):
        try:
            v = int(t) if kind in INTEGER_KINDS else float(t)
        except ValueError:
            need = "whole numbers" if kind in INTEGER_KINDS else "numbers"
            raise click.BadParameter(f"{t!r} is not valid: {kind} budgets are {need}",
                                     param_hint="'--budgets'") from None
        if not v > 0:
            raise click.BadParameter(f"budgets must be > 0, got {t}", param_hint="'--budgets'")
        out.append(v)
    return tuple(out)


def _seeds(text: str) -> tuple[int, ...]:
    """`3` -> seeds 0, 1, 2; `0,7,9` -> exactly those."""
    items = _csv(text, "'--seeds'")
    if not all(t.isascii() and t.isdigit() for t in items):
        raise click.BadParameter(f"expected a count or a list of seeds >= 0, got {text!r}",
                                 param_hint="'--seeds'")
    if any(int(t) > MAX_SEED for t in items):
        raise click.BadParameter(f"seeds are at most {MAX_SEED}", param_hint="'--seeds'")
    if len(items) == 1:
        n = int(items[0])
        if n > 1_000_000:
            raise click.BadParameter(f"{n} seeds is more than a sweep can hold (at most "
                                     f"1000000)", param_hint="'--seeds'")
        if n < 1:
            raise click.BadParameter("need at least one seed", param_hint="'--seeds'")
        return tuple(range(n))
    return tuple(int(t) for t in items)


_SIGNALLED: list[int] = []


def _raise_interrupt(signum, frame):
    _SIGNALLED.append(signum)
    http = sys.modules.get("mcts_reason.llm.bounded_http")   # loaded only if a model is used
    if http is not None:
        http.abort_all()     # requests in flight in this process end now, at any concurrency
    raise KeyboardInterrupt


def _ctrl_c_exits_130(command):
    """Ctrl-C outside the sweep (reading the set, making the report) also exits 130 with a
    one-line note instead of click's "Aborted!" and exit 1: the records are safe either way."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            click.echo(f"interrupted: the records written so far are safe in {kwargs.get('out')}; "
                       f"run the same command to resume (or `mcts-reason report` on it)", err=True)
            sys.exit(EXIT_INTERRUPTED)
    return wrapper


@click.command("bench")
@click.argument("puzzle")
@click.option("--set", "set_spec", required=True,
              help="A named set of the puzzle (game24: all, hard100, ...), or a file: text (one "
                   "instance per line), .jsonl ({\"instance\": ...}) or a Rank,Puzzles CSV with an "
                   "optional rank range, e.g. data/24.csv:901-1000.")
@click.option("--algos", default="mcts", show_default=True,
              help=f"Comma-separated algorithms ({', '.join(sorted(ALGORITHMS))}).")
@click.option("--budgets", default="8,16,32,64,128", show_default=True,
              help="Comma-separated budgets: the caps of --budget-kind, one curve point each.")
@click.option("--budget-kind", type=click.Choice(BUDGET_KINDS), default="simple",
              show_default=True,
              help="Which capped quantity the budgets limit. simple: as solve's --budget "
                   "(simulations for mcts, node expansions for the others); a Budget field "
                   "(e.g. calls, tokens, seconds) caps that quantity for every algorithm.")
@click.option("--seeds", default="1", show_default=True,
              help="A count N (seeds 0..N-1) or a comma-separated list of seeds.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel worker processes (default: the number of cores; 1 runs inline).")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              help="local: a process pool on this machine; ray: an existing Ray cluster.")
@click.option("--ray-address", envvar="RAY_ADDRESS", default=None,
              help="Address of the Ray cluster for --executor ray (env RAY_ADDRESS).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True,
              help="Results file (JSONL). Rerunning the same command resumes it.")
@click.option("--policy", "policy_name", default="heuristic", show_default=True,
              help=f"Who proposes next steps: {', '.join(POLICIES)} (a model file written by "
                   f"`mcts-reason train`).")
@click.option("--value", "value_name", default="heuristic", show_default=True,
              help=f"Who scores partial states: {', '.join(VALUES)}.")
@click.option("--c-puct", type=FiniteFloat(min=0), default=1.5, show_default=True,
              help="Exploration constant of the selection rule (mcts algorithms).")
@click.option("--pw-c", type=FiniteFloat(min=0, min_open=True), default=None,
              help="Progressive widening for sampling policies (mcts algorithms): a node holds "
                   "at most ceil(PW_C * N ** 0.5) children after N visits [default: solve's, 2].")
@click.option("--trees", type=click.Path(file_okay=False), default=None,
              help="Write every search tree into this folder (one file per run).")
@click.option("--tree-format", type=click.Choice(["html", "json", "graphml"]), default="html",
              show_default=True, help="File format of --trees (html: the offline viewer).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Where the report's PNG goes (default: --out with .png).")
@click.option("--x", "measure", type=click.Choice(sorted(MEASURES)), default="calls",
              show_default=True, help="Compute measure on the plot's x axis.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: only when stderr is a terminal).")
@search_tuning_options
@llm_options
@_ctrl_c_exits_130
def bench_cmd(puzzle, set_spec, algos, budgets, budget_kind, seeds, workers, executor,
              ray_address, out, policy_name, value_name, c_puct, pw_c, trees, tree_format,
              plot_path, measure, progress, expand_after, n_evaluate, **llm_kw):
    """Run a puzzle set through algorithms x budgets x seeds; one JSONL record per run.

    e.g.  mcts-reason bench game24 --set hard100 --algos mcts --budgets 8,16,32 --seeds 3
    --out runs/game24.jsonl
    """
    try:
        p = load(puzzle)
    except KeyError as e:
        raise click.BadParameter(e.args[0], param_hint="'PUZZLE'") from None
    try:
        check_regular(out)
    except NotResultsFile as e:
        raise click.BadParameter(str(e), param_hint="'--out'") from None
    plot_path = str(plot_path or default_plot_path(out))
    problem = plot_target_problem(plot_path, [out])
    if problem:
        raise click.BadParameter(problem, param_hint="'--plot'")
    if trees:
        _check_trees_folder(trees)
    algo_list = _csv(algos, "'--algos'")
    unknown = [a for a in algo_list if a not in ALGORITHMS]
    if unknown:
        raise click.BadParameter(f"unknown algorithm {unknown[0]!r}; choose from "
                                 f"{', '.join(sorted(ALGORITHMS))}", param_hint="'--algos'")
    budget_values = _budgets(budgets, budget_kind)
    seed_values = _seeds(seeds)
    uses_model = policy_name == "llm" or value_name in LLM_PARTS
    settings, model_caps = settings_from(llm_kw, uses_model=uses_model, puzzle=p)
    if model_caps:
        raise click.BadParameter("bench caps one quantity per run: use --budget-kind "
                                 "model_calls instead", param_hint="'--max-model-calls'")
    if policy_name != "llm":
        try:
            make_policy(p, policy_name)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--policy'") from None
    if value_name not in LLM_PARTS:
        try:
            make_value(p, value_name)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--value'") from None
    if executor == "ray" and not ray_address:
        raise click.BadParameter("--executor ray needs the address of a running Ray cluster",
                                 param_hint="'--ray-address'")
    if trees:
        try:
            from .viz import write_tree  # noqa: F401
        except ImportError:
            raise click.BadParameter("writing trees needs the tree viewer (mcts_reason.viz), "
                                     "which this installation lacks", param_hint="'--trees'") \
                from None
    try:
        instances = read_set(p, set_spec)
    except (ValueError, OSError) as e:
        raise click.BadParameter(brief(str(e)), param_hint="'--set'") from None
    parallel = parallel_options(llm_kw, settings.concurrency if uses_model else 1)
    try:
        algo_options = tuning_options(algo_list, c=c_puct, pw_c=pw_c,
                                      expand_after=expand_after or None,
                                      n_evaluate=n_evaluate, **parallel)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    algo_options = {a: o for a, o in algo_options.items() if o}
    with contextlib.ExitStack() as stack:
        runtime, server = {}, None
        if uses_model:
            import os

            from .llm.redact import redact_url
            from .llm.session import SECRET_URL_ENV, settings_to_dict
            runtime = {"base_url": redact_url(settings.base_url) if settings.base_url else None}
            if settings.base_url and runtime["base_url"] != settings.base_url:
                os.environ[SECRET_URL_ENV] = settings.base_url   # for the workers, not files
            if not settings.base_url:     # the embedded model: one server for the whole sweep
                from .llm.client import LLMError
                from .llm.local import LocalServer
                try:
                    server = stack.enter_context(LocalServer(model=settings.model_file))
                except LLMError as e:
                    click.echo(f"error: {e}", err=True)
                    sys.exit(EXIT_MODEL_ERROR)
                runtime = {"base_url": server.base_url, "server_pid": server.proc.pid}
                settings = dataclasses.replace(settings, model=settings.model or server.model)
        try:
            config = SweepConfig.for_set(
                p.name, instances, algos=tuple(algo_list), budget_kind=budget_kind,
                budgets=budget_values, seeds=seed_values, policy=policy_name, value=value_name,
                algo_options=algo_options,
                llm=settings_to_dict(settings) if uses_model else {}, llm_runtime=runtime)
        except ValueError as e:
            raise click.UsageError(str(e)) from None
        none_answered = _sweep(config, instances, out, workers=workers, executor=executor,
                               ray_address=ray_address, trees=trees, tree_format=tree_format,
                               progress=progress, model_server=server)
    _report([out], plot_path, measure)
    if none_answered and uses_model:
        sys.exit(EXIT_MODEL_ERROR)


def _check_trees_folder(trees: str) -> None:
    """--trees must be a folder, or creatable as one, before the sweep starts."""
    path = Path(trees)
    if path.exists() and not path.is_dir():
        raise click.BadParameter(f"{trees} exists and is not a folder", param_hint="'--trees'")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise click.BadParameter(f"cannot create folder {trees} "
                                 f"({e.strerror or type(e).__name__})",
                                 param_hint="'--trees'") from None


def _sweep(config, instances, out, *, model_server=None, **kw) -> bool:
    """Run the sweep; interruption and executor trouble become exit codes with a message.
    True when the runs of this call asked a model and not one model call succeeded (said in a
    line; the records are kept, they are honest). `model_server`: the embedded LocalServer, if
    any, whose death explains a model error."""
    _SIGNALLED.clear()
    old_term = signal.signal(signal.SIGTERM, _raise_interrupt)   # stop like Ctrl-C, exit 143
    old_int = signal.getsignal(signal.SIGINT)
    if old_int is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _raise_interrupt)
    health = {"model_calls": 0, "faults": {}}

    def tally(rec: dict) -> None:
        u = rec.get("usage") or {}
        health["model_calls"] += u.get("model_calls", 0)
        for k, n in (u.get("faults") or {}).items():
            health["faults"][k] = health["faults"].get(k, 0) + n
    try:
        summary = run_sweep(config, instances.instances, out, on_record=tally, **kw)
    except Interrupted as e:
        s = e.summary
        from .llm.redact import redact_argv
        cmd = " ".join(shlex.quote(a) for a in ["mcts-reason", *redact_argv(sys.argv[1:])])
        click.echo(f"interrupted: {s.done} of {s.total} records are safely in {out}; "
                   f"run the same command to resume:\n  {cmd}", err=True)
        sys.exit(128 + _SIGNALLED[-1] if _SIGNALLED else EXIT_INTERRUPTED)
    except ExecutorUnavailable as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    except LLMError as e:     # no model server at --base-url, key refused, unknown model
        died = model_server.death(wait=1.0) if model_server is not None else None
        click.echo(f"Error: {died or e}", err=True)
        sys.exit(EXIT_MODEL_ERROR)
    except NotResultsFile as e:
        raise click.BadParameter(str(e), param_hint="'--out'") from None
    except WriteFailed as e:     # disk full: what was written stays, one line, exit 3
        click.echo(f"Error: {e.strerror}; rerun the same command to resume once there is room",
                   err=True)
        sys.exit(EXIT_UNAVAILABLE)
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
    note = "; a half-written last line was dropped" if summary.dropped_partial else ""
    click.echo(f"{summary.done} records in {out} (ran {summary.ran}, already there "
               f"{summary.skipped}{note}) in {summary.seconds:.1f}s; peak RSS main "
               f"{summary.peak_rss_main_mib:.0f} MiB, worker {summary.peak_rss_worker_mib:.0f} MiB",
               err=True)
    line, none_answered = model_health(health["model_calls"], health["faults"])
    if line:
        click.echo(f"{'error' if none_answered else 'warning'}: {line} (in this run's "
                   f"{summary.ran} records)", err=True)
    return none_answered


def _report(paths, plot_path, measure) -> None:
    try:
        rows = summarize(load_records(paths))
    except (ValueError, OSError) as e:
        raise click.BadParameter(str(e), param_hint="'RESULTS'") from None
    click.echo(markdown_table(rows), nl=False)
    if plot_path and rows:
        try:
            plot(rows, plot_path, x=measure)
        except OSError as e:
            click.echo(f"Error: cannot write the plot {plot_path} "
                       f"({e.strerror or type(e).__name__}); the records are untouched",
                       err=True)
            sys.exit(EXIT_UNAVAILABLE)
        click.echo(f"plot: {plot_path}", err=True)


@click.command("report")
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Where the PNG goes (default: the first RESULTS file with .png).")
@click.option("--no-plot", is_flag=True, help="Print the table only.")
@click.option("--x", "measure", type=click.Choice(sorted(MEASURES)), default="calls",
              show_default=True, help="Compute measure on the plot's x axis.")
def report_cmd(results, plot_path, no_plot, measure):
    """Solve rate per algorithm x budget (95% Wilson intervals, mean spend) as Markdown, and a
    PNG of solve rate against compute spent.  e.g.  mcts-reason report runs/game24.jsonl"""
    for r in results:
        try:
            check_regular(r)
        except NotResultsFile as e:
            raise click.BadParameter(str(e), param_hint="'RESULTS'") from None
    if no_plot:
        plot_path = None
    else:
        plot_path = str(plot_path or default_plot_path(results[0]))
        problem = plot_target_problem(plot_path, results)
        if problem:
            raise click.BadParameter(problem, param_hint="'--plot'")
    _report(list(results), plot_path, measure)


COMMANDS = (bench_cmd, report_cmd)
