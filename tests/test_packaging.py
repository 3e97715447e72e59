"""How the project installs: two import packages, `mcts_reason` and `mcts_reason_puzzles` (the
folder puzzles/), and no top-level `puzzles` that could clash with another distribution.

Checked from pyproject.toml and the installed metadata. A built wheel was checked by hand with
`pip wheel . --no-deps && unzip -l mcts_reason-*.whl` (top level: mcts_reason/,
mcts_reason_puzzles/, mcts_reason-*.dist-info/ only)."""
from __future__ import annotations

import importlib
import pytest

tomllib = pytest.importorskip("tomllib")   # Python 3.11+
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_wheel_installs_two_uniquely_named_packages():
    packages = _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert [Path(p).name for p in packages] == ["mcts_reason", "mcts_reason_puzzles"]
    assert "puzzles/mcts_reason_puzzles" in packages
    for p in packages:
        assert (ROOT / p / "__init__.py").is_file(), p


def test_entry_points_name_the_installed_package():
    declared = _pyproject()["project"]["entry-points"]["mcts_reason.puzzles"]
    assert declared and all(v.startswith("mcts_reason_puzzles.") for v in declared.values())
    installed = {ep.name: ep.value for ep in entry_points(group="mcts_reason.puzzles")}
    for name, target in declared.items():
        assert installed.get(name) == target, "reinstall: pip install -e ."
        module, _, attr = target.partition(":")
        assert hasattr(importlib.import_module(module), attr)
