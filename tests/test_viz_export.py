"""Tree export: the graph against the Node tree it came from, and JSON/GraphML round trips."""
from __future__ import annotations

import json
import re

import networkx as nx
import pytest
from click.testing import CliRunner

from mcts_reason import Budget, solve
from mcts_reason.budget import Usage
from mcts_reason.cli import cli
from mcts_reason.components import make_value
from mcts_reason.search.common import SearchResult
from mcts_reason.tree import LOSS, WIN, Node
from mcts_reason.viz import TREE_FORMATS, read_tree, render_html, tree_format, tree_graph, write_tree
from mcts_reason_puzzles.game24 import Game24

STATUS = {WIN: "win", LOSS: "loss", 0: "unknown"}
ATTRS = {"step", "state", "visits", "value", "prior", "status", "depth", "order", "solution",
         "principal"}


@pytest.fixture(scope="module")
def game24():
    return Game24()


@pytest.fixture(scope="module")
def solved(game24):
    r = solve(game24, "3 3 8 8", value=make_value(game24, "constant"), budget=Budget(simulations=3000))
    assert r.solved and r.root is not None
    return r


@pytest.fixture(scope="module")
def unsolved(game24):
    r = solve(game24, "4 9 10 13", value=make_value(game24, "constant"), budget=Budget(simulations=4))
    assert not r.solved
    return r


def test_graph_matches_the_node_tree(game24, solved):
    g = tree_graph(solved, game24)
    nodes = list(solved.root.iter())
    assert g.number_of_nodes() == len(nodes) and g.number_of_edges() == len(nodes) - 1
    assert nx.is_arborescence(g)
    for n in nodes:
        a = g.nodes[n.order]
        assert set(a) == ATTRS
        assert a["visits"] == n.visits and a["depth"] == n.depth and a["order"] == n.order
        assert a["value"] == pytest.approx(n.value_sum / n.visits if n.visits else 0.0, abs=1e-6)
        assert a["prior"] == pytest.approx(n.prior, abs=1e-6)
        assert a["status"] == STATUS[n.status]
        assert a["state"] == game24.render(n.state)
        if n.parent is not None:
            assert list(g.predecessors(n.order)) == [n.parent.order]
            assert a["step"] == game24.render_step(n.parent.state, n.step)
    # The flagged solution is exactly the verified answer's steps, root first, ending solved.
    sol = sorted((v for v, a in g.nodes(data=True) if a["solution"]), key=lambda v: g.nodes[v]["depth"])
    assert tuple(g.nodes[v]["step"] for v in sol[1:]) == solved.steps
    assert g.nodes[sol[-1]]["state"] == "24" and g.nodes[sol[-1]]["status"] == "win"
    assert [a["principal"] for _, a in g.nodes(data=True)] == [a["solution"] for _, a in g.nodes(data=True)]
    assert g.graph == {"puzzle": "game24", "instance": "3 3 8 8", "algo": "mcts", "solved": True,
                       "answer": solved.answer, "stop_reason": "solved", "proved_unsolvable": False}


def test_unsolved_tree_has_no_solution_but_a_principal_line(game24, unsolved):
    g = tree_graph(unsolved, game24)
    assert not any(a["solution"] for _, a in g.nodes(data=True))
    line = [v for v, a in g.nodes(data=True) if a["principal"]]
    # The principal line is a root-to-leaf chain following the most visited child.
    assert line[0] == 0 and g.out_degree(line[-1]) == 0
    for parent, child in zip(line, line[1:]):
        assert child in g.successors(parent)
        assert g.nodes[child]["visits"] == max(g.nodes[c]["visits"] for c in g.successors(parent))
    assert g.graph["solved"] is False and g.graph["answer"] == ""


def _same(a: nx.DiGraph, b: nx.DiGraph) -> None:
    assert sorted(a.nodes) == sorted(b.nodes)
    assert sorted(a.edges) == sorted(b.edges)
    for v in a.nodes:
        assert b.nodes[v] == a.nodes[v], v
        for key, value in a.nodes[v].items():
            assert type(b.nodes[v][key]) is type(value), (v, key)
    assert b.graph == a.graph
    assert b.is_directed()


@pytest.mark.parametrize("which", ["solved", "unsolved"])
def test_json_round_trip_preserves_every_attribute(game24, which, request, tmp_path):
    result = request.getfixturevalue(which)
    path = write_tree(result, game24, tmp_path / "tree.json")
    original = tree_graph(result, game24)
    _same(original, read_tree(path))
    # Plain networkx node-link data, readable without this package.
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {"nodes", "links", "graph", "directed"} <= set(data) and data["directed"] is True
    _same(original, nx.node_link_graph(data, directed=True, edges="links"))


@pytest.mark.parametrize("which", ["solved", "unsolved"])
def test_graphml_round_trip_preserves_every_attribute(game24, which, request, tmp_path):
    result = request.getfixturevalue(which)
    path = write_tree(result, game24, tmp_path / "tree.graphml")
    _same(tree_graph(result, game24), read_tree(path))
    plain = nx.read_graphml(path, node_type=int)   # what Gephi-style readers see
    assert plain.graph.pop("node_default") == {} and plain.graph.pop("edge_default") == {}
    _same(tree_graph(result, game24), plain)


class OddText:
    """A stand-in puzzle whose texts carry markup, quotes, non-ASCII and placeholder look-alikes."""
    name = "odd"

    def render(self, state):
        return f"<b>{state}</b> & 'x' \"y\" ü ∑"

    def render_step(self, state, step):
        return f"</script><script>alert({step})</script> __JS__ __DATA__ ←"


def _odd_result() -> SearchResult:
    root = Node(0)
    child = Node(1, step=7, parent=root, prior=1.0, order=1)
    root.children.append(child)
    root.visits, root.value_sum, child.visits, child.value_sum = 2, 1.0, 1, 0.25
    child.status = LOSS
    return SearchResult(puzzle="odd", instance="<i>1</i>", algo="mcts", solved=False, answer=None,
                        steps=(), usage=Usage(), stop_reason="budget: simulations", root=root)


def test_markup_in_texts_survives_every_format(tmp_path):
    result, puzzle = _odd_result(), OddText()
    original = tree_graph(result, puzzle)
    for suffix in (".json", ".graphml"):
        _same(original, read_tree(write_tree(result, puzzle, tmp_path / f"t{suffix}")))
    page = write_tree(result, puzzle, tmp_path / "t.html").read_text(encoding="utf-8")
    # The data cannot close the script element or inject one; placeholders are filled once.
    assert page.count("</script>") == 2 and "alert(" in page and "<script>alert" not in page
    assert "__JS__ __DATA__" in page.replace("\\u003c", "<")  # data kept verbatim (escaped)
    assert page.count('"use strict"') == 1
    assert "<title>odd &lt;i&gt;1&lt;/i&gt;" in page


def test_html_is_self_contained(game24, solved):
    page = render_html(tree_graph(solved, game24))
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", page, re.I)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}   # an XML namespace name, never fetched
    assert "default-src 'none'" in page              # and the page forbids fetching anything


def test_formats_and_errors(game24, tmp_path):
    assert TREE_FORMATS == (".json", ".graphml", ".html")
    assert tree_format("a/B.GraphML") == ".graphml"
    for bad in ("tree.txt", "tree", "tree.json.gz"):
        with pytest.raises(ValueError, match="use one of .json, .graphml, .html"):
            tree_format(bad)
    no_tree = SearchResult(puzzle="game24", instance="1 2 3 4", algo="x", solved=False, answer=None,
                           steps=(), usage=Usage(), stop_reason="x")
    with pytest.raises(ValueError, match="no search tree"):
        write_tree(no_tree, game24, tmp_path / "t.json")
    with pytest.raises(ValueError, match="only .json and .graphml"):
        read_tree(tmp_path / "t.html")


def test_cli_tree_option(tmp_path):
    runner = CliRunner()
    for suffix in TREE_FORMATS:
        out = tmp_path / f"t{suffix}"
        r = runner.invoke(cli, ["solve", "game24", "4 9 10 13", "--tree", str(out)])
        assert r.exit_code == 0, r.output
        assert out.stat().st_size > 0
    g = read_tree(tmp_path / "t.json")
    assert g.graph["instance"] == "4 9 10 13" and g.graph["solved"] is True
    assert nx.utils.graphs_equal(g, read_tree(tmp_path / "t.graphml"))
    # An unsolved search still writes its tree, and keeps exit code 1.
    r = runner.invoke(cli, ["solve", "game24", "1 1 1 1", "--tree", str(tmp_path / "u.json")])
    assert r.exit_code == 1 and read_tree(tmp_path / "u.json").graph["proved_unsolvable"] is True


@pytest.mark.parametrize("path, message", [
    ("t.txt", "unknown tree format '.txt'"),
    ("missing/t.json", "does not exist"),
])
def test_cli_bad_tree_path_exits_2(tmp_path, path, message):
    r = CliRunner().invoke(cli, ["solve", "game24", "4 9 10 13", "--tree", str(tmp_path / path)])
    assert r.exit_code == 2
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("Error: Invalid value for '--tree'") and message in last
    assert not list(tmp_path.iterdir())
