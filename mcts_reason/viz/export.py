"""A finished search's tree as a `networkx.DiGraph`, and the files it is written to.

Node ids are creation order (0 = root). Per node: `step` (text of the step from the parent, "" at
the root), `state` (rendered state), `visits` (N), `value` (mean backed-up value Q), `prior`,
`status` ("win" / "loss" / "unknown": proven results), `depth`, `order`, `solution` (on the
verified solution path) and `principal` (on the path a reader should look at: the solution if there
is one, else the most visited line). Graph attributes describe the run (puzzle, instance, algo,
solved, answer, stop_reason, proved_unsolvable). Every value is a str, int, float or bool, so the
same graph survives JSON and GraphML unchanged.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import networkx as nx

from ..tree import principal_path, to_networkx

TREE_FORMATS = (".json", ".graphml", ".html")


def tree_format(path: str | os.PathLike) -> str:
    """The format of `path` from its extension; ValueError naming the known ones otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in TREE_FORMATS:
        raise ValueError(f"unknown tree format {suffix or '(no extension)'!r} for {str(path)!r}; "
                         f"use one of {', '.join(TREE_FORMATS)}")
    return suffix


def tree_graph(result: Any, puzzle: Any, meta: dict | None = None) -> nx.DiGraph:
    """The search tree of `result` (a SearchResult with `.root`) with run metadata attached.
    `meta` adds graph attributes naming how the run was made (budget, seed, policy, value,
    version: the provenance `mcts-reason traces` copies into its records); str/int/float/bool
    values only."""
    if getattr(result, "root", None) is None:
        raise ValueError("this result carries no search tree (result.root is None)")
    if isinstance(puzzle, str):
        from ..registry import load
        puzzle = load(puzzle)
    principal = principal_path(result.root)
    graph = to_networkx(result.root, puzzle, solution=principal if result.solved else None)
    on_principal = {n.order for n in principal}
    for node_id, attrs in graph.nodes(data=True):
        attrs["principal"] = node_id in on_principal
    graph.graph.update(
        puzzle=str(result.puzzle), instance=str(result.instance), algo=str(result.algo),
        solved=bool(result.solved), answer=result.answer or "", stop_reason=str(result.stop_reason),
        proved_unsolvable=bool(result.proved_unsolvable))
    for key, value in (meta or {}).items():
        if value is not None:
            graph.graph[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return graph


def _node_link_data(graph: nx.DiGraph) -> dict:
    try:  # networkx >= 3.4 names the edge key explicitly (and warns when it is left implicit)
        return nx.node_link_data(graph, edges="links")
    except TypeError:
        return nx.node_link_data(graph)


def _node_link_graph(data: dict) -> nx.DiGraph:
    try:
        return nx.node_link_graph(data, directed=True, edges="links")
    except TypeError:
        return nx.node_link_graph(data, directed=True)


def write_tree(result: Any, puzzle: Any, path: str | os.PathLike,
               meta: dict | None = None) -> Path:
    """Write the tree of `result` to `path`; the extension picks the format (see TREE_FORMATS).

    Raises ValueError for an unknown extension or a result without a tree, OSError when the file
    cannot be written. Returns the path written.
    """
    path = Path(path)
    fmt = tree_format(path)
    graph = tree_graph(result, puzzle, meta)
    _create_user_only(path)          # trees hold model text: user-only, like results and caches
    if fmt == ".json":
        path.write_text(json.dumps(_node_link_data(graph), ensure_ascii=False) + "\n",
                        encoding="utf-8")
    elif fmt == ".graphml":
        nx.write_graphml(graph, path)
    else:
        from .html import render_html
        path.write_text(render_html(graph), encoding="utf-8")
    return path


def _create_user_only(path: Path) -> None:
    """Create `path` (or take an existing one) with mode 0600 before any text is written to it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def read_tree(path: str | os.PathLike) -> nx.DiGraph:
    """Read a tree written by `write_tree` as .json or .graphml back into a DiGraph."""
    fmt = tree_format(path)
    if fmt == ".json":
        return _node_link_graph(json.loads(Path(path).read_text(encoding="utf-8")))
    if fmt == ".graphml":
        graph = nx.read_graphml(path, node_type=int)
        for key in ("node_default", "edge_default"):   # added by the GraphML reader, not ours
            if not graph.graph.get(key):
                graph.graph.pop(key, None)
        return graph
    raise ValueError(f"cannot read a tree back from {fmt} (only .json and .graphml)")
