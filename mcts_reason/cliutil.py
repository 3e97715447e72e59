"""Small pieces the commands share: finite-number option types, seed limits, short messages."""
from __future__ import annotations

import math
import re

import click

MAX_SEED = 2**63 - 1          # what numpy and every server's int64 `seed` field can hold
MESSAGE_CHARS = 300


class FiniteFloat(click.FloatRange):
    """A FloatRange that refuses nan and +-inf (which compare false with every bound, so a plain
    range lets them through)."""

    name = "finite float"

    def convert(self, value, param, ctx):
        v = super().convert(value, param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return v


def brief(text: str, limit: int = MESSAGE_CHARS) -> str:
    """`text` on one line, cut to about `limit` characters (an error that quotes a 1 MB
    instance must stay readable)."""
    one = re.sub(r"\s*\n\s*", " | ", str(text).strip())
    return one if len(one) <= limit else one[:limit] + f"... ({len(one)} characters)"


def search_tuning_options(f):
    """--expand-after and --n-evaluate, the tuning options of solve and bench that only some
    algorithms take (`search.tuning_options` says which and checks them)."""
    f = click.option(
        "--n-evaluate", type=click.IntRange(min=1), default=None,
        help="Value samples per new state for bfs, dfs and beam when the value is stochastic "
             "(a model judge or playouts) [default: 3, as ToT]; deterministic values are "
             "asked once whatever this says.")(f)
    return click.option(
        "--expand-after", type=click.IntRange(min=0), default=None,
        help="mcts, mcts-uct: expand a leaf (a policy call) only once it has been visited this "
             "many times; before that a visit only scores it [default: 0, expand at once]. 1 "
             "spends no policy call on a leaf the value rates low (suits a model value such as "
             "llm-rollout).")(f)
