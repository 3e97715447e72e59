"""Search algorithms, one module each, all with the same call signature and result type:
`search(puzzle, instance, *, policy, value, budget, rng, **options) -> SearchResult`.

`SPECS` says what each algorithm is, so callers never guess from its name: the unit its simple
budget counts, and which of the shared tuning options (the CLI's --c-puct, --pw-c, --expand-after,
--n-evaluate, the model concurrency) it takes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from . import beam, bfs, dfs, mcts_search, sample
from ..budget import Budget
from .common import Context, SearchResult


def mcts_uct(puzzle: Any, instance: str, **kwargs: Any) -> SearchResult:
    """MCTS with UCB1 selection (priors only order unvisited children); see `mcts_search`."""
    return mcts_search.search(puzzle, instance, selection="uct", **kwargs)


@dataclass(frozen=True, slots=True)
class AlgorithmSpec:
    """An algorithm and what it takes.

    `unit`: the Budget field that the one-number budget (`--budget N`) caps. `options`: which
    of the shared tuning options (c, pw_c, expand_after, concurrency and the parallel search's
    repeats, min_rounds; n_evaluate for the layered searches) its `search` accepts."""

    run: Callable[..., SearchResult]
    unit: str
    options: tuple[str, ...] = ()

    def pick(self, **options: Any) -> dict[str, Any]:
        """The given options this algorithm takes (None values dropped)."""
        return {k: v for k, v in options.items() if k in self.options and v is not None}


_MCTS_OPTIONS = ("c", "pw_c", "expand_after", "concurrency", "repeats", "min_rounds")
_LAYERED_OPTIONS = ("n_evaluate",)     # value samples per new state (a stochastic judge)
SPECS: dict[str, AlgorithmSpec] = {
    "mcts": AlgorithmSpec(mcts_search.search, "simulations", _MCTS_OPTIONS),
    "mcts-uct": AlgorithmSpec(mcts_uct, "simulations", _MCTS_OPTIONS),
    "bfs": AlgorithmSpec(bfs.search, "expansions", _LAYERED_OPTIONS),
    "dfs": AlgorithmSpec(dfs.search, "expansions", _LAYERED_OPTIONS),
    "beam": AlgorithmSpec(beam.search, "expansions", _LAYERED_OPTIONS),
    "best-of-n": AlgorithmSpec(sample.best_of_n, "expansions"),
    "greedy": AlgorithmSpec(sample.greedy, "expansions"),
}
ALGORITHMS: dict[str, Callable[..., SearchResult]] = {name: s.run for name, s in SPECS.items()}


def tuning_options(algos: Iterable[str], **given: Any) -> dict[str, dict[str, Any]]:
    """Each algorithm's share of the tuning options `given` (None: not given). The options
    only some algorithms take (expand_after, n_evaluate) are checked: given to a list where no
    algorithm takes them, or with a combination a search refuses (expand_after with the
    parallel MCTS, which expands every leaf it selects), they are a ValueError that names the
    option as the CLI spells it."""
    algos = list(algos)
    for name in ("expand_after", "n_evaluate"):
        if given.get(name) is None:
            continue
        flag = "--" + name.replace("_", "-")
        if not any(name in SPECS[a].options for a in algos):
            owners = ", ".join(a for a, s in SPECS.items() if name in s.options)
            raise ValueError(f"{flag} applies to {owners} only")
    if given.get("expand_after") and (given.get("concurrency") or 1) > 1:
        raise ValueError("--expand-after needs the sequential search (--concurrency 1)")
    return {a: SPECS[a].pick(**given) for a in algos}


def simple_budget(algo: str, n: int) -> Budget:
    """The one-number budget (`--budget N`): N simulations for MCTS, N node expansions (policy
    calls on a state) for every other algorithm. An MCTS simulation expands at most one node, so
    the two count the same unit of work; the other algorithms do not run simulations."""
    return Budget(**{SPECS[algo].unit: n})


def make_budget(kind: str, algo: str, amount: float, **caps: Any) -> Budget:
    """The caps of one run, for `solve` and `bench` alike: `amount` of the Budget field `kind`,
    or for `kind` "simple" the one-number budget of `algo` (`simple_budget`); plus any other
    `caps` given (None: not capped)."""
    main = simple_budget(algo, int(amount)).caps() if kind == "simple" else {kind: amount}
    return Budget(**main, **{k: v for k, v in caps.items() if v is not None})


__all__ = ["ALGORITHMS", "AlgorithmSpec", "Context", "SPECS", "SearchResult", "make_budget",
           "simple_budget", "tuning_options"]
