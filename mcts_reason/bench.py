"""Budget sweeps: every (instance, algorithm, budget, seed) of a sweep, run once, recorded durably.

This module is the sweep itself: its configuration (`SweepConfig`, one object from the command
line to every worker) and resuming. `run_sweep` expands the configuration into tasks, skips the
ones already in the results file (so rerunning the same command resumes), hands the rest to an
executor (`executors`: inline, a local process pool, or a Ray cluster), and appends one record
per finished task (see `records.ResultsFile`). What a worker does with one task -- build its
policy, value and search, run it, make the record -- is `bench_task`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from . import executors
from .bench_task import (RECORD_VERSION, max_rss_mib, run_chunk, run_task, tree_file_name,
                         tree_meta, versions)
from .budget import Budget
from .executors import EXECUTORS, ExecutorUnavailable, check_ray, default_workers
from .records import NotResultsFile, ResultsFile, record_key, scan_records
from .search.sample import CHAIN_CAPS
from .sets import InstanceSet

__all__ = ["BUDGET_KINDS", "EXECUTORS", "INTEGER_KINDS", "RECORD_VERSION", "ExecutorUnavailable",
           "Interrupted", "SweepConfig", "SweepSummary", "check_ray", "default_workers",
           "max_rss_mib", "run_chunk", "run_sweep", "run_task", "tree_file_name", "tree_meta",
           "versions"]

# "simple" is solve's one-number budget: simulations for MCTS, node expansions for the others
# (`search.simple_budget`); every other kind caps that one field of `Budget` for all algorithms.
BUDGET_KINDS = ("simple",) + tuple(f for f in Budget.__dataclass_fields__)
INTEGER_KINDS = tuple(k for k in BUDGET_KINDS if k not in ("seconds", "cost"))


@dataclass(frozen=True, slots=True)
class SweepConfig:
    """Everything that decides a sweep's records. Stored in every record; a results file written
    under a different configuration is refused rather than mixed."""

    puzzle: str
    set_name: str
    set_sha256: str
    set_size: int
    algos: tuple[str, ...]
    budget_kind: str
    budgets: tuple[float, ...]
    seeds: tuple[int, ...]
    policy: str = "heuristic"
    value: str = "heuristic"
    policy_options: dict = field(default_factory=dict)
    value_options: dict = field(default_factory=dict)
    algo_options: dict = field(default_factory=dict)   # algo -> keyword options for the search
    # Model settings when the policy or value is an LLM (`llm.session.settings_to_dict`, no key).
    # `base_url` None means the embedded server, whose port changes from run to run.
    llm: dict = field(default_factory=dict)
    # Where the model is reached *this* run (not compared on resume): {"base_url": ...}.
    llm_runtime: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.budget_kind not in BUDGET_KINDS:
            raise ValueError(f"unknown budget kind {self.budget_kind!r}; choose from "
                             f"{', '.join(BUDGET_KINDS)}")
        for name, seq in (("algos", self.algos), ("budgets", self.budgets), ("seeds", self.seeds)):
            if not seq:
                raise ValueError(f"a sweep needs at least one of {name}")
            if len(set(seq)) != len(seq):
                raise ValueError(f"{name} repeat a value: {list(seq)}")
        for b in self.budgets:
            if isinstance(b, bool) or not isinstance(b, (int, float)) or not b > 0 \
                    or not math.isfinite(b):
                raise ValueError(f"budgets must be positive numbers, got {b!r}")
            if self.budget_kind in INTEGER_KINDS and not isinstance(b, int):
                raise ValueError(f"{self.budget_kind} budgets must be whole numbers, got {b!r}")
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be whole numbers >= 0, got {list(self.seeds)}")
        if "best-of-n" in self.algos and self.budget_kind not in ("simple",) + CHAIN_CAPS \
                and "n" not in self.algo_options.get("best-of-n", {}):
            raise ValueError(f"best-of-n samples chains until its budget runs out, and a "
                             f"{self.budget_kind} budget may never run out (heuristic or cached "
                             f"steps spend none); use --budget-kind "
                             f"{', '.join(CHAIN_CAPS)} or simple for best-of-n")

    @classmethod
    def for_set(cls, puzzle: str, instances: InstanceSet, **kw: Any) -> "SweepConfig":
        return cls(puzzle=puzzle, set_name=instances.name, set_sha256=instances.sha256,
                   set_size=len(instances), **kw)

    def to_dict(self) -> dict:
        return {"puzzle": self.puzzle, "set": self.set_name, "set_sha256": self.set_sha256,
                "set_size": self.set_size, "algos": list(self.algos),
                "budget_kind": self.budget_kind, "budgets": list(self.budgets),
                "seeds": list(self.seeds), "policy": self.policy, "value": self.value,
                "policy_options": dict(self.policy_options),
                "value_options": dict(self.value_options),
                "algo_options": {a: dict(o) for a, o in sorted(self.algo_options.items())},
                "llm": dict(self.llm), "llm_runtime": dict(self.llm_runtime)}

    def tasks(self, instances: Sequence[str]) -> list[tuple]:
        """(instance, algo, budget, seed) for every run, instance-major: an interrupted sweep
        holds whole curves for the instances it reached."""
        return [(i, a, b, s) for i in instances for a in self.algos for b in self.budgets
                for s in self.seeds]

    def __repr__(self) -> str:
        return (f"SweepConfig({self.puzzle} {self.set_name} x{self.set_size}, "
                f"algos={','.join(self.algos)}, {self.budget_kind}={list(self.budgets)}, "
                f"seeds={list(self.seeds)}, policy={self.policy}, value={self.value})")


# Fields of the stored configuration that must match for a results file to be resumed.
# ("set", the spelling of the set, may differ: the content hash decides.)
def _comparable(config: dict) -> dict:
    out = {k: v for k, v in config.items() if k not in ("set", "llm_runtime")}
    if out.get("llm"):   # the response cache's location does not change what a run does
        out["llm"] = {k: v for k, v in out["llm"].items() if k != "cache"}
    return out


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """What one call of `run_sweep` did."""

    out: str
    total: int
    skipped: int          # found finished in the results file
    ran: int              # run and recorded by this call
    dropped_partial: bool # a half-written last line was found and cut off
    seconds: float
    peak_rss_main_mib: float
    peak_rss_worker_mib: float
    interrupted: bool = False

    @property
    def done(self) -> int:
        return self.skipped + self.ran

    def __repr__(self) -> str:
        return (f"SweepSummary({self.done}/{self.total} records in {self.out}: skipped "
                f"{self.skipped}, ran {self.ran}, {self.seconds:.1f}s, peak RSS main "
                f"{self.peak_rss_main_mib:.0f} MiB / worker {self.peak_rss_worker_mib:.0f} MiB)")


class Interrupted(Exception):
    """The sweep was stopped (Ctrl-C); every record finished before it is safely on disk."""

    def __init__(self, summary: SweepSummary) -> None:
        super().__init__(f"interrupted after {summary.done} of {summary.total} records")
        self.summary = summary


# -- the sweep ------------------------------------------------------------------------------------
def run_sweep(config: SweepConfig, instances: Sequence[str], out: str | os.PathLike, *,
              workers: int | None = None, executor: str = "local",
              ray_address: str | None = None, trees: str | None = None,
              tree_format: str = "html", progress: bool | None = None, chunk_size: int | None = None,
              on_record: Callable[[dict], None] | None = None) -> SweepSummary:
    """Run every task of `config` over `instances` not yet in `out`, appending one record each.

    `workers`=1 with the local executor runs inline (no subprocesses). `progress` None shows a
    tqdm bar only when stderr is a terminal. Raises ValueError when `out` was written by another
    configuration (naming the line), `Interrupted` on Ctrl-C (after which rerunning resumes).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    if executor == "ray":
        check_ray(ray_address)    # before the results file is touched
    if len(instances) != config.set_size:
        raise ValueError(f"config says {config.set_size} instances, got {len(instances)}")
    workers = workers or default_workers()
    if workers < 1:
        raise ValueError("workers must be >= 1")
    tasks = config.tasks(instances)
    start = time.perf_counter()
    with ResultsFile(out) as results:
        config, finished = _resume(config, out, tasks)
        pending = [t for t in tasks if tuple(t) not in finished]
        skipped = len(tasks) - len(pending)
        inline = executor == "local" and workers == 1
        if chunk_size is None:
            chunk_size = 1 if inline else max(1, min(16 if executor == "local" else 64,
                                                      len(pending) // (workers * 8)))
        chunks = [pending[i:i + chunk_size] for i in range(0, len(pending), chunk_size)]
        if trees:
            os.makedirs(trees, exist_ok=True)
        work = functools.partial(run_chunk, config,
                                 trees=(str(trees), tree_format) if trees else None)
        bar = _progress_bar(len(tasks), skipped, config, progress)
        stream = executors.run(executor, work, chunks, workers=workers, ray_address=ray_address,
                               env=_worker_env(config))
        ran, worker_rss, interrupted = 0, 0.0, False
        try:
            with contextlib.closing(stream):
                for batch in stream:
                    for rec in batch:
                        results.append(rec)
                        ran += 1
                        worker_rss = max(worker_rss, rec.get("worker_max_rss_mib", 0.0))
                        if on_record is not None:
                            on_record(rec)
                    bar.update(len(batch))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
        summary = SweepSummary(
            out=str(out), total=len(tasks), skipped=skipped, ran=ran,
            dropped_partial=results.dropped_partial, seconds=time.perf_counter() - start,
            peak_rss_main_mib=max_rss_mib(),
            peak_rss_worker_mib=max(worker_rss, max_rss_mib(resource.RUSAGE_CHILDREN)),
            interrupted=interrupted)
    if interrupted:
        raise Interrupted(summary)
    return summary


def _resume(config: SweepConfig, out: str | os.PathLike, tasks: list[tuple]
            ) -> tuple[SweepConfig, set[tuple]]:
    """The tasks already recorded in `out`, and the configuration to record the rest under
    (the file's spelling of the set name, when it names the same content otherwise). Raises
    NotResultsFile, naming the line, for a record of another configuration or another task."""
    wanted = {tuple(t) for t in tasks}
    mine = _comparable(config.to_dict())
    finished: set[tuple] = set()
    for line, rec in scan_records(out):
        theirs = _comparable(rec.get("config") or {})
        if theirs != mine:
            diffs = [f"{k}: file {theirs.get(k)!r} vs now {mine.get(k)!r}"
                     for k in sorted(set(theirs) | set(mine)) if theirs.get(k) != mine.get(k)]
            raise NotResultsFile(f"{out}:{line}: written by a different sweep configuration "
                                 f"({'; '.join(diffs)[:400]}); rerun with the original options "
                                 f"or choose another --out")
        if rec["config"].get("set") != config.set_name:   # same content, spelled otherwise:
            config = dataclasses.replace(config, set_name=rec["config"]["set"])   # keep the file's
        key = record_key(rec)
        if key not in wanted:
            raise NotResultsFile(f"{out}:{line}: record {key} is not part of this sweep")
        finished.add(key)
    return config, finished


def _worker_env(config: SweepConfig) -> dict | None:
    """What the workers' environment needs from ours: the model key's variable and the secret
    base URL (`llm.session.SECRET_URL_ENV`), when set. Never written to a file."""
    if not config.llm:
        return None
    from .llm.session import SECRET_URL_ENV
    key_var = config.llm.get("api_key_env")
    return {v: os.environ[v] for v in (key_var, SECRET_URL_ENV) if v and v in os.environ} or None


def _progress_bar(total: int, initial: int, config: SweepConfig, progress: bool | None):
    from tqdm import tqdm
    disable = not sys.stderr.isatty() if progress is None else not progress
    return tqdm(total=total, initial=initial, disable=disable, unit="run", dynamic_ncols=True,
                desc=f"{config.puzzle} {config.set_name}", smoothing=0.05)
