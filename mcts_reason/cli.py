"""The `mcts-reason` command: thin wrappers over the library."""
from __future__ import annotations

import contextlib
import json
import sys

import click

from . import __version__, solve as run_search
from .cliutil import MAX_SEED, FiniteFloat, brief, search_tuning_options
from .components import LLM_PARTS, POLICIES, VALUES, make_policy, make_value
from .llm_options import (EXIT_MODEL_ERROR, llm_options, model_health, parallel_options,
                          settings_from)
from .registry import answer_formats, available, instance_rules, load
from .search import ALGORITHMS, make_budget, tuning_options

EXIT_NO_SOLUTION = 1


def _load_puzzle(name: str):
    try:
        return load(name)
    except KeyError as e:
        raise click.BadParameter(e.args[0], param_hint="'PUZZLE'") from None


def _spent(usage) -> str:
    d = usage.to_dict()
    keys = ("simulations", "expansions", "nodes", "policy_calls", "value_calls", "calls",
            "model_calls", "prompt_tokens", "completion_tokens", "cached_calls",
            "invalid_proposals")
    parts = [f"{k}={d[k]}" for k in keys if d[k] or k in ("simulations", "policy_calls",
                                                        "value_calls", "nodes")]
    parts.append(f"seconds={usage.seconds:.3f}")
    return " ".join(parts)


def _check_tree_path(path: str) -> None:
    """Fail before the search, not after it: a known extension and an existing folder."""
    from pathlib import Path

    from .viz import tree_format
    try:
        tree_format(path)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="'--tree'") from None
    folder = Path(path).parent
    if not folder.is_dir():
        raise click.BadParameter(f"folder {str(folder)!r} does not exist", param_hint="'--tree'")


def _write_tree(result, puzzle, path: str, meta: dict | None = None) -> None:
    from .viz import write_tree
    try:
        write_tree(result, puzzle, path, meta)
    except OSError as e:
        raise click.BadParameter(f"cannot write {path!r}: {e.strerror or e}",
                                 param_hint="'--tree'") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mcts-reason")
def cli() -> None:
    """Tree search over text reasoning steps for puzzles."""


@cli.command("puzzles")
def puzzles_cmd() -> None:
    """List the registered puzzles."""
    for name, ep in sorted(available().items()):
        try:
            desc = ep.load().description
        except Exception as e:  # a broken third-party plugin must not hide the others
            desc = f"(failed to load: {type(e).__name__}: {e})"
        click.echo(f"{name:12s} {desc}")


@cli.command("solve")
@click.argument("puzzle")
@click.argument("instance")
@click.option("--algo", type=click.Choice(sorted(ALGORITHMS)), default="mcts", show_default=True,
              help="Search algorithm.")
@click.option("--policy", "policy_name", default="heuristic", show_default=True,
              help=f"Who proposes next steps: {', '.join(POLICIES)} (a model file written by "
                   f"`mcts-reason train`).")
@click.option("--value", "value_name", default="heuristic", show_default=True,
              help=f"Who scores partial states: {', '.join(VALUES)}.")
@click.option("--budget", type=click.IntRange(min=1), default=1000, show_default=True,
              help="The simple budget: simulations for mcts/mcts-uct, node expansions (policy "
                   "calls on a state) for the other algorithms.")
@click.option("--max-calls", type=click.IntRange(min=0), default=None,
              help="Cap on policy + value calls together (matched compute across algorithms).")
@click.option("--max-tokens", type=click.IntRange(min=0), default=None,
              help="Cap on prompt + completion tokens (model-backed policies/values).")
@click.option("--max-cost", type=FiniteFloat(min=0), default=None,
              help="Cap on model cost in dollars (model-backed policies/values).")
@click.option("--max-seconds", type=FiniteFloat(min=0), default=None,
              help="Cap on wall-clock seconds for the search (hard: a hung or trickling model "
                   "request is cut when it runs out).")
@click.option("--max-nodes", type=click.IntRange(min=0), default=None,
              help="Cap on search-tree nodes created.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
              help="Seed of the numpy Generator; the same seed gives the same tree.")
@click.option("--c-puct", type=FiniteFloat(min=0), default=1.5, show_default=True,
              help="Exploration constant of the selection rule.")
@click.option("--pw-c", type=FiniteFloat(min=0, min_open=True), default=2.0,
              show_default=True,
              help="Progressive widening for sampling policies (an LLM): a node holds at most "
                   "ceil(PW_C * N ** 0.5) children after N visits; smaller searches deeper.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--tree", "tree_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write the search tree to PATH: .json (networkx node-link), .graphml, "
                   "or .html (a self-contained offline viewer).")
@click.option("--answer-format", "answer_format", default=None, metavar="FORMAT",
              help="Print only the verified answer on stdout, in a form the puzzle offers "
                   "(blocksworld: 'pddl' = '(unstack red blue)' or 'text' = PlanBench's "
                   "'unstack the red block from on top of the blue block', one action per "
                   "line); the report goes to stderr. With --json: adds 'formatted_answer'.")
@search_tuning_options
@llm_options
def solve_cmd(puzzle, instance, algo, policy_name, value_name, budget, max_calls, max_tokens,
              max_cost, max_seconds, max_nodes, seed, c_puct, pw_c, as_json, tree_path,
              answer_format, expand_after, n_evaluate, **llm_kw):
    """Solve one INSTANCE of PUZZLE, e.g.  mcts-reason solve game24 "4 9 10 13".

    With --policy llm or --value llm/llm-verify/llm-rollout a model is asked: the server at
    --base-url, or with none the embedded llama.cpp server (the `local` extra), started and
    stopped here."""
    p = _load_puzzle(puzzle)
    try:
        p.parse_instance(instance)
        rules = instance_rules(p, instance)
    except ValueError as e:
        raise click.BadParameter(brief(str(e)), param_hint="'INSTANCE'") from None
    if answer_format is not None and answer_format not in answer_formats(p):
        known = ", ".join(answer_formats(p)) or f"none for {p.name}"
        raise click.BadParameter(f"unknown answer format {answer_format!r} (known: {known})",
                                 param_hint="'--answer-format'")
    uses_model = policy_name == "llm" or value_name in LLM_PARTS
    settings, caps = settings_from(llm_kw, max_cost=max_cost, uses_model=uses_model, puzzle=p)
    if policy_name != "llm":
        try:
            make_policy(p, policy_name)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--policy'") from None
    if value_name not in LLM_PARTS:
        try:
            value = make_value(p, value_name)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--value'") from None
    try:
        options = tuning_options([algo], c=c_puct, pw_c=pw_c, expand_after=expand_after or None,
                                 n_evaluate=n_evaluate,
                                 **parallel_options(llm_kw, settings.concurrency))[algo]
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    if tree_path is not None:
        _check_tree_path(tree_path)
    budget_ = make_budget("simple", algo, budget, calls=max_calls, tokens=max_tokens,
                          cost=max_cost, seconds=max_seconds, nodes=max_nodes, **caps)
    from .llm.client import LLMError
    with contextlib.ExitStack() as stack:
        client = None
        try:
            if uses_model:   # Ctrl-C also cuts requests in flight (other threads' included)
                from .llm.bounded_http import interrupts_stop_requests
                stack.enter_context(interrupts_stop_requests())
                from .llm.session import open_client
                client = stack.enter_context(open_client(settings))
            if value_name in LLM_PARTS:
                value = make_value(p, value_name, client=client, settings=settings)
            policy = make_policy(p, policy_name, client=client, settings=settings)
            result = run_search(p, instance, algo=algo, policy=policy, value=value,
                                budget=budget_, seed=seed, **options)
        except LLMError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_MODEL_ERROR)
        except KeyboardInterrupt:
            stack.close()      # stop the model server, if one was started, before the message
            click.echo("interrupted: the search was stopped before it finished", err=True)
            signalled = getattr(sys.modules.get("mcts_reason.llm.bounded_http"),
                                "LAST_SIGNAL", None)
            sys.exit(128 + signalled[-1] if signalled else 130)
    if tree_path is not None:
        _write_tree(result, p, tree_path, {"budget": f"simple={budget}", "seed": seed,
                                           "policy": policy_name, "value": value_name,
                                           "version": __version__})
    formatted = None
    if answer_format is not None and result.solved:
        formatted = p.format_answer(instance, result.answer, answer_format)
    if as_json:
        out = result.to_dict()
        if rules:
            out["rules"] = rules
        if answer_format is not None:
            out["formatted_answer"] = formatted
        click.echo(json.dumps(out))
    else:
        report = answer_format is None                  # else stdout holds only the answer
        click.echo(f"{p.name} {instance}", err=not report)
        for key, val in rules.items():
            click.echo(f"{key}: {val}", err=not report)
        for i, step in enumerate(result.steps, 1):
            click.echo(f"  step {i}: {step}", err=not report)
        if result.solved:
            click.echo(f"answer: {result.answer}  (verified)", err=not report)
        if formatted is not None:
            click.echo(formatted)
        click.echo(f"spent: {_spent(result.usage)}", err=not report)
    health, none_answered = model_health(result.usage.model_calls, result.usage.faults) \
        if uses_model else (None, False)
    if none_answered and not result.solved:
        click.echo(f"error: {health}", err=True)
        sys.exit(EXIT_MODEL_ERROR)
    if health:
        click.echo(f"warning: {health}", err=True)
    if not result.solved:
        if result.proved_unsolvable:
            msg = "no solution: proved unsolvable (the whole search tree was exhausted)"
        elif result.stop_reason == "exhausted":
            msg = "no solution found: the search had nothing more to try"
        elif result.stop_reason.startswith("budget"):
            msg = f"no solution found within budget ({result.stop_reason}; {_spent(result.usage)})"
        else:
            msg = f"no solution found ({result.stop_reason}; {_spent(result.usage)})"
        click.echo(msg, err=True)
        sys.exit(EXIT_NO_SOLUTION)


@cli.command("serve-local")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port on 127.0.0.1 [default: a free one].")
@click.option("--model-file", "model_file", default=None, type=click.Path(dir_okay=False),
              help="GGUF file to serve instead of the bundled SmolLM2 (e.g. OUT/model.gguf of "
                   "`mcts-reason finetune`).")
def serve_local_cmd(port, model_file):
    """Run the embedded llama.cpp server (SmolLM2-135M-Instruct) in the foreground on loopback,
    for reuse across commands:  mcts-reason solve ... --base-url URL --model NAME."""
    from .llm.client import LLMError
    from .llm.local import LocalServer
    try:
        from .llm.local import model_file_problem
        problem = model_file_problem(model_file) if model_file is not None else None
        if problem:
            raise LLMError(problem)
        server = LocalServer(port=port, model=model_file)
        click.echo(f"starting llama.cpp on {server.base_url} (model {server.model}); Ctrl-C stops it",
                   err=True)
        server.start(foreground=True)
    except LLMError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_MODEL_ERROR)
    click.echo(f"ready: --base-url {server.base_url} --model {server.model}", err=True)
    try:
        code = server.wait()
    except KeyboardInterrupt:
        server.stop()
        sys.exit(130)
    if code != 0:      # it was not stopped by us: it died (a signal) or gave up (an exit status)
        click.echo(f"error: {server.death()}", err=True)
        sys.exit(EXIT_MODEL_ERROR)
    sys.exit(0)


from .bench_cli import COMMANDS as _BENCH_COMMANDS  # noqa: E402  bench, report
for _cmd in _BENCH_COMMANDS: cli.add_command(_cmd)
from .learn.cli import COMMANDS as _LEARN_COMMANDS  # noqa: E402  traces, train
for _cmd in _LEARN_COMMANDS: cli.add_command(_cmd)
from .learn.finetune_cli import COMMANDS as _FT_COMMANDS  # noqa: E402  finetune
for _cmd in _FT_COMMANDS: cli.add_command(_cmd)


def main() -> None:
    """The console script: an error nothing else caught is still one line and exit 3 (set
    MCTS_REASON_DEBUG=1 for the traceback)."""
    import os
    try:
        cli(prog_name="mcts-reason")
    except Exception as e:
        if os.environ.get("MCTS_REASON_DEBUG"):
            raise
        from .llm.redact import redact_text
        click.echo(f"error: unexpected {type(e).__name__}: {brief(redact_text(str(e)))} "
                   f"(MCTS_REASON_DEBUG=1 shows where)", err=True)
        sys.exit(EXIT_MODEL_ERROR)


if __name__ == "__main__":
    main()
