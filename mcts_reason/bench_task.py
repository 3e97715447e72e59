"""One task of a sweep, as a worker runs it: (instance, algo, budget, seed) -> one record.

Each task builds its own policy, value and search from the sweep's `SweepConfig` and its seed,
so a record does not depend on the executor, the number of workers or the order tasks finish
in. A model client (and the puzzle) is built once per worker process and kept for its later
tasks; the search tree is dropped as soon as its record is made, so memory stays flat.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from typing import TYPE_CHECKING, Any, Sequence

from .types import Metrics

if TYPE_CHECKING:
    from .bench import SweepConfig

RECORD_VERSION = 1

_PUZZLES: dict[str, Any] = {}
_VERSIONS: dict[str, str] = {}
_METRICS: dict[tuple, dict] = {}
_CLIENTS: dict[str, tuple] = {}


def versions() -> dict[str, str]:
    if not _VERSIONS:
        import numpy
        from . import __version__
        _VERSIONS.update({"mcts_reason": __version__, "python": platform.python_version(),
                          "numpy": numpy.__version__,
                          "platform": f"{platform.system()}-{platform.machine()}"})
    return dict(_VERSIONS)


def max_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size so far (Linux reports KiB, macOS bytes)."""
    rss = resource.getrusage(who).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run_task(config: "SweepConfig", task: Sequence,
             trees: tuple[str, str] | None = None) -> dict:
    """Run one (instance, algo, budget, seed) of the sweep `config` and return its record. With
    `trees` = (folder, format) the search tree is written there by the tree viewer; either way
    it is dropped before returning."""
    from . import solve
    from .components import make_policy, make_value
    from .registry import instance_rules, load
    from .search import make_budget

    instance, algo, budget, seed = task
    name = config.puzzle
    if name not in _PUZZLES:
        _PUZZLES[name] = load(name)
    puzzle = _PUZZLES[name]
    popts, vopts = dict(config.policy_options), dict(config.value_options)
    if config.llm:
        client, settings = _llm_client(config)
        popts = {**popts, "client": client, "settings": settings}
        vopts = {**vopts, "client": client, "settings": settings}
    policy = make_policy(puzzle, config.policy, **popts)
    value = make_value(puzzle, config.value, **vopts)
    caps = make_budget(config.budget_kind, algo, budget)
    start = time.perf_counter()
    result = solve(puzzle, instance, algo=algo, policy=policy, value=value, budget=caps, seed=seed,
                   **config.algo_options.get(algo, {}))
    wall = time.perf_counter() - start
    if trees:
        from .viz import write_tree   # the tree viewer (optional module)
        write_tree(result, puzzle, os.path.join(trees[0], tree_file_name(task, trees[1])),
                   meta=tree_meta(config, budget, seed))
    # `solved` means verified: every algorithm's answer goes through Context.verified_answer.
    solved = bool(result.solved and result.answer is not None)
    record = {"v": RECORD_VERSION, "puzzle": name, "set": config.set_name,
              "instance": instance, "algo": algo, "budget_kind": config.budget_kind,
              "budget": budget, "caps": caps.caps(), "seed": seed, "solved": solved,
              "answer": result.answer if solved else None, "steps": list(result.steps),
              "stop_reason": result.stop_reason, "proved_unsolvable": result.proved_unsolvable,
              "usage": result.usage.to_dict(), "wall_seconds": round(wall, 6),
              "worker_max_rss_mib": round(max_rss_mib(), 1), "versions": versions(),
              "config": config.to_dict()}
    rules = instance_rules(puzzle, instance)
    if rules:                                   # e.g. Countdown's exactly-once rule
        record["rules"] = rules
    del result   # drop the tree now, not when the next task happens to overwrite it
    if solved and isinstance(puzzle, Metrics):   # e.g. plan length, optimal length, gap
        record["metrics"] = _metrics(puzzle, instance, record["answer"])
    return record


def run_chunk(config: "SweepConfig", tasks: Sequence[Sequence],
              trees: tuple[str, str] | None = None) -> list[dict]:
    return [run_task(config, t, trees) for t in tasks]


def tree_meta(config: "SweepConfig", budget: Any, seed: int) -> dict:
    """What a written tree says about its run (the provenance of training data made from it)."""
    from . import __version__
    return {"budget": f"{config.budget_kind}={budget}", "seed": seed,
            "policy": config.policy, "value": config.value, "version": __version__}


def tree_file_name(task: Sequence, fmt: str = "html") -> str:
    instance, algo, budget, seed = task
    slug = "".join(c if c.isalnum() else "_" for c in str(instance)).strip("_")[:60]
    return f"{slug}__{algo}__b{budget}__s{seed}.{fmt.lstrip('.')}"


def _llm_client(config: "SweepConfig") -> tuple:
    """(LLMClient, LLMSettings) for this worker process, built once and kept for its tasks.
    The key is read from the environment variable the settings name, here, in the worker."""
    from .llm.session import build_client, real_base_url, settings_from_dict

    ident = json.dumps([config.llm, config.llm_runtime], sort_keys=True)
    if ident not in _CLIENTS:
        from .llm.cache import ResponseCache
        settings = settings_from_dict(config.llm)
        runtime = config.llm_runtime or {}
        base_url = real_base_url(runtime.get("base_url") or settings.base_url)
        client = build_client(settings, base_url=base_url,
                              cache=ResponseCache(settings.cache) if settings.cache else None,
                              server_check=_server_check(runtime.get("server_pid")))
        _CLIENTS[ident] = (client, settings)
    return _CLIENTS[ident]


def _server_check(pid: int | None):
    """For the embedded server (started by the sweep's parent process, `server_pid`): a check
    that stops a worker at once when that process has died, before it records a run."""
    if pid is None:
        return None
    from .llm.local import process_gone
    return lambda _requests: process_gone(pid)


def _metrics(puzzle: Any, instance: str, answer: str) -> dict:
    """`puzzle.metrics`, memoised per worker: runs at other budgets and seeds often find the same
    answer, and the optimum inside it can cost a search of its own."""
    key = (puzzle.name, instance, answer)
    if key not in _METRICS:
        if len(_METRICS) > 4096:
            _METRICS.clear()
        _METRICS[key] = dict(puzzle.metrics(instance, answer))
    return dict(_METRICS[key])
