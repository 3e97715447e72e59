"""Search algorithms, one module each, all with the same call signature and result type."""
from __future__ import annotations

from . import mcts
from .common import Context, SearchResult

ALGORITHMS = {
    "mcts": mcts.search,
}

__all__ = ["ALGORITHMS", "Context", "SearchResult"]
