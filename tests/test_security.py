"""Security (issue 7): model text is never run as code; files a run writes are user-only.

1. A static scan of every module of the package (mcts_reason/ and puzzles/, found on disk, so a
   new module is scanned too): no eval/exec/compile/__import__ calls, no pickle/marshal/shelve/
   sympy imports, no shell=True / os.system, no yaml.load; the viewer's JavaScript builds no HTML
   from strings. The scanner is shown to catch each pattern on a sample first.
2. A proposal that is code (`__import__('os').system(...)`) is rejected by every puzzle's
   parse_step, verify and parse_instance -- and a canary file proves nothing ran.
3. Results and tree files are created 0600 under a permissive umask.
"""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import mcts_reason
import mcts_reason_puzzles as puzzles
from mcts_reason.cli import cli
from mcts_reason.registry import available, load

ROOTS = [Path(mcts_reason.__file__).parent, Path(puzzles.__file__).parent]
BANNED_CALLS = {"eval", "exec", "compile", "__import__", "execfile", "input"}
BANNED_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle",
                  "sympy", "jsonpickle"}
BANNED_ATTR_CALLS = {("os", "system"), ("os", "popen"), ("yaml", "load"), ("sympy", "sympify"),
                     ("pickle", "loads"), ("pickle", "load"), ("marshal", "loads"),
                     ("builtins", "eval"), ("builtins", "exec")}
BANNED_JS = re.compile(r"\binnerHTML\b|\bouterHTML\b|insertAdjacentHTML|document\.write|"
                       r"\beval\s*\(|new\s+Function\s*\(|setTimeout\s*\(\s*[\"'`]")


def findings(source: str, name: str = "<src>") -> list[str]:
    """Every banned construct in Python `source`, as 'name:line: what'."""
    out = []
    for node in ast.walk(ast.parse(source, name)):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in BANNED_CALLS:
                out.append(f"{where}: {f.id}()")
            if isinstance(f, ast.Attribute):
                base = f.value.id if isinstance(f.value, ast.Name) else None
                if (base, f.attr) in BANNED_ATTR_CALLS or f.attr == "sympify":
                    out.append(f"{where}: {base}.{f.attr}()")
            for kw in node.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant)
                                              and kw.value.value is False):
                    out.append(f"{where}: shell=True")
        elif isinstance(node, ast.Import):
            out.extend(f"{where}: import {a.name}" for a in node.names
                       if a.name.split(".")[0] in BANNED_MODULES)
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in BANNED_MODULES:
                out.append(f"{where}: from {node.module} import ...")
            out.extend(f"{where}: from {node.module} import {a.name}" for a in node.names
                       if a.name in BANNED_CALLS)
    return out


def package_files(suffix: str) -> list[Path]:
    return sorted(p for root in ROOTS for p in root.rglob(f"*{suffix}"))


@pytest.mark.parametrize("snippet", [
    "x = eval(text)", "exec(code)", "compile(s, 'f', 'eval')", "__import__('os')",
    "import pickle", "from pickle import loads", "import sympy", "sympy.sympify(t)",
    "from sympy import sympify\nsympify(t)", "os.system(cmd)", "yaml.load(f)",
    "subprocess.run(cmd, shell=True)", "import marshal", "from builtins import eval",
])
def test_the_scanner_catches_each_pattern(snippet):
    assert findings(snippet), snippet


def test_the_scanner_lets_ordinary_code_through():
    assert findings("import re\nre.compile('x')\nsubprocess.run(['ls'], shell=False)\n"
                    "model.evaluate(x)\nvalue.eval_states(s)") == []


def test_the_package_never_evaluates_text_as_code():
    files = package_files(".py")
    assert len(files) >= 20            # the scan really walks the package
    found = [f for p in files for f in findings(p.read_text(encoding="utf-8"), str(p))]
    assert found == [], "\n".join(found)


def test_the_viewer_builds_no_html_from_strings():
    files = package_files(".js") + package_files(".html")
    assert files
    found = [f"{p}: {m.group(0)}" for p in files for m in BANNED_JS.finditer(p.read_text())]
    assert found == [], found
    assert BANNED_JS.search("el.innerHTML = step") and BANNED_JS.search("eval (x)")


# -- code as a proposal ---------------------------------------------------------------------------
def _evil(canary: Path) -> list[str]:
    return [f"__import__('os').system('echo pwned > {canary}')",
            f"__import__('os').system('touch {canary}') or 24",
            f"eval(\"__import__('os').system('touch {canary}')\")",
            f"exec('open(\"{canary}\", \"w\")')",
            "(lambda: 24)()", "24 if __import__('os') else 0", "1+1; import os",
            "4 * 6 = 24 (left: __import__('os'))", f"{{{{ {canary} }}}}",
            "globals()['__builtins__']", "'' .join(['2', '4'])", "0x18", "24 # 4*6",
            "4*6=24; __import__('os').system('id')", "pick up the red block; import os",
            "move 1 left; __import__('os')", "r1c1=__import__('os')"]


@pytest.mark.parametrize("name", sorted(available()))
def test_code_in_a_proposal_is_just_rejected(name, tmp_path, capfd):
    canary = tmp_path / "PWNED"
    p = load(name)
    instances = []
    for set_name in getattr(p, "named_sets", dict)():
        if name == "sudoku" and set_name in ("medium", "hard"):
            continue
        if name == "game24":
            instances = p.instance_set("every")[::300]
            break
        instances.extend(p.instance_set(set_name)[:2])
    assert instances
    for inst in instances:
        state = p.parse_instance(inst)
        for text in _evil(canary):
            assert p.parse_step(state, text) is None, text
            assert p.verify(inst, text) is False, text
            with pytest.raises(ValueError):
                p.parse_instance(text)
    assert not canary.exists()
    assert "pwned" not in capfd.readouterr().out


def test_code_as_an_instance_on_the_command_line_is_a_usage_error(tmp_path):
    canary = tmp_path / "PWNED"
    for name in sorted(available()):
        res = CliRunner().invoke(cli, ["solve", name, f"__import__('os').system('touch {canary}')"])
        assert res.exit_code == 2 and "'INSTANCE'" in res.output, res.output
    assert not canary.exists()


# -- file permissions ----------------------------------------------------------------------------
@pytest.fixture
def permissive_umask():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_bench_results_and_trees_are_user_only(tmp_path, permissive_umask):
    sets = tmp_path / "s.txt"
    sets.write_text("1 1 4 6\n")
    out, trees = tmp_path / "r.jsonl", tmp_path / "trees"
    res = CliRunner().invoke(cli, ["bench", "game24", "--set", str(sets), "--out", str(out),
                                   "--budgets", "4", "--workers", "1", "--trees", str(trees),
                                   "--tree-format", "json", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert _mode(out) == 0o600
    written = list(trees.iterdir())
    assert written and all(_mode(t) == 0o600 for t in written), [oct(_mode(t)) for t in written]


@pytest.mark.parametrize("ext", ["json", "graphml", "html"])
def test_solve_tree_files_are_user_only_even_if_the_file_existed(tmp_path, permissive_umask, ext):
    tree = tmp_path / f"t.{ext}"
    tree.write_text("old")
    os.chmod(tree, 0o644)
    res = CliRunner().invoke(cli, ["solve", "game24", "1 1 4 6", "--budget", "5",
                                   "--tree", str(tree)])
    assert res.exit_code in (0, 1), res.output
    assert _mode(tree) == 0o600 and tree.read_text() != "old"
