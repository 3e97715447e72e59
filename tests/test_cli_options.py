"""Every option of every command, given a wrong value: exit code 2 and a message naming it.

The options are enumerated from the click objects themselves, so a new option cannot be added
without a wrong value here: `test_every_option_has_a_wrong_value` fails until one is listed (or
derived from its click type). Each case runs the real command (CliRunner, in process) with
otherwise valid arguments; a wrong value that slipped through would run the command, which the
small set file and budgets below keep quick, and the test would fail on the exit code.
"""
from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from mcts_reason.cli import cli

# Wrong values for options whose click type cannot say what is wrong (free strings checked by
# the command itself). Keyed by (command, parameter name).
STRING_WRONG: dict[tuple[str, str], list[str]] = {
    ("solve", "value_name"): ["psychic", ""],
    ("solve", "puzzle"): ["chess", ""],
    ("solve", "instance"): ["1 2", "", "4 9 10 99", "__import__('os').system('echo pwned')"],
    ("bench", "puzzle"): ["chess"],
    ("bench", "set_spec"): ["no-such-set", "", "x.csv:5-1", "a" * 300],
    ("bench", "algos"): ["mcts,nope", "", ",", "mcts,,dfs"],
    ("bench", "budgets"): ["0", "8,x", "", "-3", "nan"],
    ("bench", "seeds"): ["0", "a", "-1", "1,,2", "", "100000000000000000000", "\u00b2"],
    ("bench", "trees"): ["/dev/full"],
    ("bench", "plot_path"): ["/nonexistent/dir/p.png", "@tmp/set.txt"],
    ("bench", "value_name"): ["psychic", ""],
    ("bench", "ray_address"): [""],          # with --executor ray: an address is needed
    ("solve", "tree_path"): ["@tmp/tree.txt", "@tmp/no-such-folder/tree.html"],
    ("solve", "answer_format"): ["pddl", "", "no-such-format"],   # game24 offers none
    ("bench", "out"): ["@tmp/garbage.jsonl",    # an existing file that is not a results file
                       "/dev/null", "/dev/zero"],
    ("report", "results"): ["@tmp/garbage.jsonl", "/dev/zero"],
    # model options (with --policy llm and a server address, see _argv)
    ("solve", "policy_name"): ["psychic", "learned:", "learned:no-such-model.npz"],
    ("bench", "policy_name"): ["psychic", "learned:no-such-model.npz"],
    ("traces", "puzzle"): ["chess"],
    ("traces", "sources"): ["@tmp/garbage.jsonl", "@tmp/no-such-tree.json"],
    ("traces", "set_spec"): ["no-such-set"],
    ("traces", "policy_name"): ["psychic", "llm", "learned:no-such-model.npz"],
    ("traces", "value_name"): ["psychic", "llm"],
    ("traces", "held_out"): ["no-such-set"],
    ("traces", "split"): ["1,2", "a,b,c", "-1,1,1", "0,0,0", "inf,1,1"],
    ("train", "puzzle"): ["chess"],
    ("train", "set_spec"): ["no-such-set", "@tmp/held.txt"],    # all of it held out
    ("train", "eval_spec"): ["no-such-set"],
    ("train", "held_out"): ["no-such-set"],
    ("train", "ray_address"): ["", "no-port"],
}
for _cmd in ("solve", "bench"):
    STRING_WRONG.update({
        (_cmd, "base_url"): ["not-a-url", "ftp://host/v1", "http://", "http://127.0.0.1:99999/v1"],
        (_cmd, "model"): [""],
        (_cmd, "api_key_env"): ["", "NOT A NAME", "1ABC", "KEY=sk-x"],
        (_cmd, "cache_path"): ["@tmp/garbage.jsonl"],      # exists, but is not a sqlite cache
        (_cmd, "prices_path"): ["@tmp/garbage.jsonl"],
    })
STRING_WRONG[("bench", "max_model_calls")] = ["5"]      # bench caps with --budget-kind
# Options that need a model in use to be checked at all.
_MODEL_OPTIONS = {"base_url", "model", "api_key_env", "cache_path", "prices_path", "no_cache"}
# Options that take no value: the wrong value is giving one (`--json=yes`).
# Per-command valid arguments; the option under test replaces its entry.


def _base(cmd: str, tmp) -> tuple[list[str], dict[str, list[str]]]:
    """(positional arguments, {param name: valid option argv}) for a quick, valid run."""
    setfile = tmp / "set.txt"
    setfile.write_text("1 1 4 6\n")
    results = tmp / "r.jsonl"
    if cmd == "solve":
        return ["game24", "1 1 4 6"], {"budget": ["--budget", "5"]}
    if cmd == "bench":
        return ["game24"], {"set_spec": ["--set", str(setfile)],
                            "out": ["--out", str(tmp / "o.jsonl")],
                            "budgets": ["--budgets", "2"], "workers": ["--workers", "1"],
                            "progress": ["--no-progress"]}
    if cmd == "report":
        results.write_text("")
        return [str(results)], {"no_plot": ["--no-plot"]}
    if cmd == "traces":
        (tmp / "no-trees").mkdir(exist_ok=True)
        return ["game24", str(tmp / "no-trees")], {"out": ["--out", str(tmp / "ds")],
                                                    "progress": ["--no-progress"]}
    if cmd == "train":
        (tmp / "held.txt").write_text("4 9 10 13\n")
        return ["game24"], {"set_spec": ["--set", str(setfile)],
                            "held_out": ["--held-out", str(tmp / "held.txt")],
                            "out": ["--out", str(tmp / "run")], "rounds": ["--rounds", "1"],
                            "budget": ["--budget", "2"], "workers": ["--workers", "1"],
                            "bits": ["--bits", "8"], "progress": ["--no-progress"]}
    return [], {}


def _type_wrong(p: click.Parameter, tmp) -> list[str]:
    """Wrong values that follow from the click type alone."""
    t = p.type
    if isinstance(t, click.Choice):
        return ["no-such-choice"]
    if isinstance(t, (click.IntRange, click.FloatRange)):
        out = ["abc"]
        if isinstance(t, click.FloatRange):   # compare false with every bound: refused by name
            out += ["nan", "inf", "-inf"]
        if t.min is not None:
            out.append(str(t.min - 1))
        if t.max is not None:
            out.append(str(t.max + 1))
        return out
    if isinstance(t, click.types.IntParamType) or isinstance(t, click.types.FloatParamType):
        return ["abc"]
    if isinstance(t, click.Path):
        a_dir, a_file = tmp / "a-folder", tmp / "a-file"
        a_dir.mkdir(exist_ok=True)
        a_file.write_text("x")
        out = []
        if not t.dir_okay:
            out.append(str(a_dir))
        if not t.file_okay:
            out.append(str(a_file))
        if t.exists:
            out.append(str(tmp / "does-not-exist"))
        return out
    return []


def _commands() -> dict[str, click.Command]:
    return dict(cli.commands)


def _cases(tmp) -> list[tuple[str, click.Parameter, str | None]]:
    """(command, parameter, wrong value); None as the value: a flag given a value."""
    out = []
    for name, cmd in sorted(_commands().items()):
        for p in cmd.params:
            if isinstance(p, click.Option) and (p.is_flag or p.count):
                out.append((name, p, None))
                continue
            values = _type_wrong(p, tmp) + STRING_WRONG.get((name, p.name), [])
            out.extend((name, p, v) for v in values)
    return out


def test_every_option_has_a_wrong_value(tmp_path):
    covered = {(c, p.name) for c, p, _ in _cases(tmp_path)}
    every = {(c, p.name) for c, cmd in _commands().items() for p in cmd.params}
    assert every - covered == set(), "options with no wrong value in test_cli_options.py"
    assert {"solve", "bench", "report", "puzzles"} <= set(_commands())


def _argv(cmd: str, p: click.Parameter, value: str | None, tmp) -> list[str]:
    positional, options = _base(cmd, tmp)
    if value is not None and value.startswith("@tmp/"):
        (tmp / "garbage.jsonl").write_bytes(b"not json\x00\n{\"half\": \n")
        value = str(tmp / value[len("@tmp/"):])
    options = dict(options)
    if isinstance(p, click.Argument):
        idx = [q.name for q in _commands()[cmd].params if isinstance(q, click.Argument)].index(p.name)
        positional = list(positional)
        if p.nargs == -1:          # the variadic argument comes last: it replaces the rest
            positional = positional[:idx] + [value]
        else:
            positional[idx] = value
        return [cmd, *positional, *(a for v in options.values() for a in v)]
    flag = max(p.opts, key=len)          # the long spelling
    options.pop(p.name, None)
    if p.name == "progress":             # --progress/--no-progress: both spellings are flags
        options.pop("progress", None)
    if value is None:
        options[p.name] = [f"{flag}=yes"]
    else:
        options[p.name] = [flag, value]
    if (cmd, p.name) == ("bench", "ray_address"):
        options["executor"] = ["--executor", "ray"]
    if cmd in ("solve", "bench") and (p.name in _MODEL_OPTIONS or (cmd, p.name) == (
            "bench", "max_model_calls")):
        # a closed port: a wrong value that slipped through ends in exit 3, not 2
        options.setdefault("base_url", ["--base-url", "http://127.0.0.1:9/v1"])
        options.setdefault("model", ["--model", "m"])
        options["policy_name"] = ["--policy", "llm"]
        options["retries"] = ["--retries", "0"]
    return [cmd, *positional, *(a for v in options.values() for a in v)]


def _named(p: click.Parameter, output: str) -> bool:
    if isinstance(p, click.Argument):
        return f"'{p.human_readable_name}" in output
    return any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", output)
               for o in p.opts + p.secondary_opts)


def test_each_wrong_value_exits_2_naming_the_option(tmp_path):
    runner = CliRunner(env={"RAY_ADDRESS": None, "OPENAI_BASE_URL": None})
    failures = []
    cases = _cases(tmp_path)
    assert len(cases) >= 40
    for cmd, p, value in cases:
        argv = _argv(cmd, p, value, tmp_path)
        res = runner.invoke(cli, argv)
        out = res.output
        if res.exit_code != 2 or not _named(p, out) or "Traceback" in out:
            failures.append(f"{argv!r}: exit {res.exit_code}, output {out[-300:]!r}")
        elif len([ln for ln in out.splitlines() if ln.startswith("Error:")]) != 1:
            failures.append(f"{argv!r}: not one error line: {out!r}")
    assert not failures, "\n".join(failures)


def test_unknown_option_and_unknown_command_exit_2():
    runner = CliRunner()
    res = runner.invoke(cli, ["solve", "game24", "1 1 4 6", "--no-such-option"])
    assert res.exit_code == 2 and "'--no-such-option'" in res.output
    res = runner.invoke(cli, ["no-such-command"])
    assert res.exit_code == 2 and "no-such-command" in res.output
