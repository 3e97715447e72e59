"""Budget sweeps: every (instance, algorithm, budget, seed) of a sweep, run once, recorded durably.

`run_sweep` expands a `SweepConfig` into tasks, skips the ones already in the results file (so
rerunning the same command resumes), runs the rest inline, on a local process pool, or on a Ray
cluster, and appends one record per finished task (see `records.ResultsFile`). Each task builds
its own policy, value and search from the configuration and a seed, so the records do not depend
on the executor, the number of workers or the order tasks finish in; the search tree is dropped as
soon as its record is made, so memory stays flat however long the sweep.
"""
from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import platform
import resource
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from .budget import Budget
from .records import NotResultsFile, ResultsFile, record_key, scan_records
from .sets import InstanceSet
from .types import Metrics

# "simple" is solve's one-number budget: simulations for MCTS, node expansions for the others
# (`search.simple_budget`); every other kind caps that one field of `Budget` for all algorithms.
BUDGET_KINDS = ("simple",) + tuple(f for f in Budget.__dataclass_fields__)
INTEGER_KINDS = tuple(k for k in BUDGET_KINDS if k not in ("seconds", "cost"))
EXECUTORS = ("local", "ray")
RECORD_VERSION = 1


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


# -- one task (runs in a worker) -----------------------------------------------------------------
_PUZZLES: dict[str, Any] = {}
_VERSIONS: dict[str, str] = {}


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


def run_task(config: dict, task: Sequence, trees: tuple[str, str] | None = None) -> dict:
    """Run one (instance, algo, budget, seed) of the sweep `config` (a `SweepConfig.to_dict()`)
    and return its record. With `trees` = (folder, format) the search tree is written there by
    the tree viewer; either way it is dropped before returning."""
    from . import solve
    from .components import make_policy, make_value
    from .registry import instance_rules, load
    from .search import make_budget

    instance, algo, budget, seed = task
    name = config["puzzle"]
    if name not in _PUZZLES:
        _PUZZLES[name] = load(name)
    puzzle = _PUZZLES[name]
    popts, vopts = config.get("policy_options") or {}, config.get("value_options") or {}
    if config.get("llm"):
        client, settings = _llm_client(config)
        popts = {**popts, "client": client, "settings": settings}
        vopts = {**vopts, "client": client, "settings": settings}
    policy = make_policy(puzzle, config["policy"], **popts)
    value = make_value(puzzle, config["value"], **vopts)
    caps = make_budget(config["budget_kind"], algo, budget)
    start = time.perf_counter()
    result = solve(puzzle, instance, algo=algo, policy=policy, value=value, budget=caps, seed=seed,
                   **config.get("algo_options", {}).get(algo, {}))
    wall = time.perf_counter() - start
    if trees:
        from .viz import write_tree   # the tree viewer (optional module)
        write_tree(result, puzzle, os.path.join(trees[0], tree_file_name(task, trees[1])),
                   meta=tree_meta(config, budget, seed))
    # `solved` means verified: every algorithm's answer goes through Context.verified_answer.
    solved = bool(result.solved and result.answer is not None)
    record = {"v": RECORD_VERSION, "puzzle": name, "set": config["set"],
              "instance": instance, "algo": algo, "budget_kind": config["budget_kind"],
              "budget": budget, "caps": caps.caps(), "seed": seed, "solved": solved,
              "answer": result.answer if solved else None, "steps": list(result.steps),
              "stop_reason": result.stop_reason, "proved_unsolvable": result.proved_unsolvable,
              "usage": result.usage.to_dict(), "wall_seconds": round(wall, 6),
              "worker_max_rss_mib": round(max_rss_mib(), 1), "versions": versions(),
              "config": config}
    rules = instance_rules(puzzle, instance)
    if rules:                                   # e.g. Countdown's exactly-once rule
        record["rules"] = rules
    del result   # drop the tree now, not when the next task happens to overwrite it
    if solved and isinstance(puzzle, Metrics):   # e.g. plan length, optimal length, gap
        record["metrics"] = _metrics(puzzle, instance, record["answer"])
    return record


def tree_meta(config: dict, budget: Any, seed: int) -> dict:
    """What a written tree says about its run (the provenance of training data made from it)."""
    from . import __version__
    return {"budget": f"{config['budget_kind']}={budget}", "seed": seed,
            "policy": config["policy"], "value": config["value"], "version": __version__}


_METRICS: dict[tuple, dict] = {}
_CLIENTS: dict[str, tuple] = {}


def _llm_client(config: dict) -> tuple:
    """(LLMClient, LLMSettings) for this worker process, built once and kept for its tasks.
    The key is read from the environment variable the settings name, here, in the worker."""
    import json as _json

    from .llm.session import build_client, real_base_url, settings_from_dict

    ident = _json.dumps([config["llm"], config.get("llm_runtime")], sort_keys=True)
    if ident not in _CLIENTS:
        from .llm.cache import ResponseCache
        settings = settings_from_dict(config["llm"])
        runtime = config.get("llm_runtime") or {}
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


def run_chunk(config: dict, tasks: Sequence[Sequence],
              trees: tuple[str, str] | None = None) -> list[dict]:
    return [run_task(config, t, trees) for t in tasks]


def tree_file_name(task: Sequence, fmt: str = "html") -> str:
    instance, algo, budget, seed = task
    slug = "".join(c if c.isalnum() else "_" for c in str(instance)).strip("_")[:60]
    return f"{slug}__{algo}__b{budget}__s{seed}.{fmt.lstrip('.')}"


# -- executors: each yields lists of records as chunks finish ------------------------------------
def _worker_init(parent: int, env: dict | None = None) -> None:
    """Pool workers leave Ctrl-C / SIGTERM to the parent (it stops the sweep, keeps what is
    written and kills them), and exit by themselves once the parent is gone (kill -9): a
    ProcessPoolExecutor worker would otherwise wait on its task queue for ever.

    `env`: the parent's current value of the model key's variable. A forkserver keeps the
    environment of the moment it started, so a key set later would not reach the workers; the
    value travels over the pool's pipe, never to a file."""
    if env:
        os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:   # the pid was reused by someone else's process
                os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _inline(config: dict, chunks: list, trees: tuple | None, **_: Any) -> Iterator[list[dict]]:
    for chunk in chunks:
        yield run_chunk(config, chunk, trees)


def _local_pool(config: dict, chunks: list, trees: tuple | None, *, workers: int,
                **_: Any) -> Iterator[list[dict]]:
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    from .llm.session import SECRET_URL_ENV
    key_var = (config.get("llm") or {}).get("api_key_env")
    env = {v: os.environ[v] for v in (key_var, SECRET_URL_ENV) if v and v in os.environ} or None
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                               initargs=(os.getpid(), env),
                               mp_context=multiprocessing.get_context(method))
    window = 4 * workers
    todo = iter(chunks)
    inflight: set = set()
    finished = False
    try:
        while True:
            while len(inflight) < window:
                chunk = next(todo, None)
                if chunk is None:
                    break
                inflight.add(pool.submit(run_chunk, config, chunk, trees))
            if not inflight:
                break
            done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:   # interrupted or failed: stop at once, finished records are already on disk
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:   # running tasks would otherwise finish first
                with contextlib.suppress(Exception):
                    proc.kill()


class ExecutorUnavailable(RuntimeError):
    """The executor cannot be used (Ray not installed, or its cluster cannot be reached)."""


def check_ray(address: str | None, *, timeout: float = 5.0) -> None:
    """Fail fast, in one line, when Ray is missing or `address` (host:port or ray://host:port)
    does not answer: ray.init itself retries for minutes, printing warnings."""
    import importlib.util
    import socket
    if importlib.util.find_spec("ray") is None:
        raise ExecutorUnavailable("--executor ray needs Ray: pip install 'mcts-reason[ray]'")
    if not address or address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorUnavailable(f"Ray address {address!r} is not host:port")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise ExecutorUnavailable(f"cannot reach the Ray cluster at {address} "
                                  f"({e.strerror or type(e).__name__})") from None


def _ray(config: dict, chunks: list, trees: tuple | None, *, workers: int,
         ray_address: str | None, **_: Any) -> Iterator[list[dict]]:
    check_ray(ray_address)
    import logging

    import ray
    from .cliutil import brief
    try:
        ray.init(address=ray_address, logging_level=logging.WARNING, log_to_driver=False)
    except Exception as e:     # e.g. token authentication on and no token: one line, not a trace
        raise ExecutorUnavailable(f"the Ray cluster at {ray_address} refused this driver "
                                  f"({type(e).__name__}: {brief(str(e), 200)})") from None
    inflight: list = []
    try:
        remote = ray.remote(num_cpus=1, max_retries=3)(run_chunk)
        cfg = ray.put(config)
        window = 4 * max(workers, int(ray.cluster_resources().get("CPU", 1)))
        todo = iter(chunks)
        while True:
            while len(inflight) < window:
                chunk = next(todo, None)
                if chunk is None:
                    break
                inflight.append(remote.remote(cfg, chunk, trees))
            if not inflight:
                break
            done, inflight = ray.wait(inflight, num_returns=1)
            for ref in done:
                try:
                    batch = ray.get(ref)
                except ray.exceptions.RayError as e:   # a task that failed past its retries
                    raise ExecutorUnavailable(
                        f"a Ray task failed past its retries ({type(e).__name__}); the records "
                        f"before it are safe, run the same command to resume") from None
                yield batch
    finally:
        for ref in inflight:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        ray.shutdown()   # disconnects this driver; the cluster itself keeps running


_EXECUTORS: dict[str, Callable[..., Iterator[list[dict]]]] = {"local": _local_pool, "ray": _ray}


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


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
    if executor not in _EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    if executor == "ray":
        check_ray(ray_address)    # before the results file is touched
    if len(instances) != config.set_size:
        raise ValueError(f"config says {config.set_size} instances, got {len(instances)}")
    workers = workers or default_workers()
    if workers < 1:
        raise ValueError("workers must be >= 1")
    cfg = config.to_dict()
    tasks = config.tasks(instances)
    start = time.perf_counter()
    with ResultsFile(out) as results:
        wanted = {tuple(t) for t in tasks}
        mine = _comparable(cfg)
        finished = set()
        for line, rec in scan_records(out):
            theirs = _comparable(rec.get("config") or {})
            if theirs != mine:
                diffs = [f"{k}: file {theirs.get(k)!r} vs now {mine.get(k)!r}"
                         for k in sorted(set(theirs) | set(mine)) if theirs.get(k) != mine.get(k)]
                raise NotResultsFile(f"{out}:{line}: written by a different sweep configuration "
                                 f"({'; '.join(diffs)[:400]}); rerun with the original options "
                                 f"or choose another --out")
            if rec["config"].get("set") != cfg["set"]:   # same content, spelled otherwise:
                cfg["set"] = rec["config"]["set"]         # keep the file's spelling throughout
            key = record_key(rec)
            if key not in wanted:
                raise NotResultsFile(f"{out}:{line}: record {key} is not part of this sweep")
            finished.add(key)
        pending = [t for t in tasks if tuple(t) not in finished]
        skipped = len(tasks) - len(pending)
        inline = executor == "local" and workers == 1
        if chunk_size is None:
            chunk_size = 1 if inline else max(1, min(16 if executor == "local" else 64,
                                                      len(pending) // (workers * 8)))
        chunks = [pending[i:i + chunk_size] for i in range(0, len(pending), chunk_size)]
        run = _inline if inline else _EXECUTORS[executor]
        if trees:
            os.makedirs(trees, exist_ok=True)
        ran, worker_rss, interrupted = 0, 0.0, False
        bar = _progress_bar(len(tasks), skipped, config, progress)
        stream = run(cfg, chunks, (str(trees), tree_format) if trees else None,
                     workers=workers, ray_address=ray_address)
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


def _progress_bar(total: int, initial: int, config: SweepConfig, progress: bool | None):
    from tqdm import tqdm
    disable = not sys.stderr.isatty() if progress is None else not progress
    return tqdm(total=total, initial=initial, disable=disable, unit="run", dynamic_ncols=True,
                desc=f"{config.puzzle} {config.set_name}", smoothing=0.05)
