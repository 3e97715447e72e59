"""Seeing a search: the tree as a networkx graph, written as JSON, GraphML or an offline HTML viewer."""
from __future__ import annotations

from .export import TREE_FORMATS, read_tree, tree_format, tree_graph, write_tree
from .html import render_html

__all__ = ["TREE_FORMATS", "read_tree", "render_html", "tree_format", "tree_graph", "write_tree"]
