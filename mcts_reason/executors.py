"""Where a sweep's chunks of tasks run: inline, on a local process pool, or on a Ray cluster.

Every executor takes `work` -- a picklable callable mapping one chunk (a list of tasks) to its
list of records, e.g. `functools.partial(bench_task.run_chunk, config)` -- and the chunks, and
yields each chunk's records as it finishes (in any order), keeping a bounded window of chunks in
flight. Closing the generator early (Ctrl-C, an error) stops the workers at once: records
already yielded are on disk, the rest will be run by a resumed sweep.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Iterator, Sequence

Work = Callable[[Sequence], list]
EXECUTORS = ("local", "ray")


class ExecutorUnavailable(RuntimeError):
    """The executor cannot be used (Ray not installed, or its cluster cannot be reached)."""


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def inline(work: Work, chunks: Sequence[Sequence]) -> Iterator[list]:
    """In this process, one chunk after the other."""
    for chunk in chunks:
        yield work(chunk)


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


def local_pool(work: Work, chunks: Sequence[Sequence], *, workers: int,
               env: dict | None = None) -> Iterator[list]:
    """On `workers` local processes (forkserver where available, else spawn), with `env` set in
    each worker (see `_worker_init`).

    The pool's worker processes are told apart from any other child of this process by the
    `multiprocessing.active_children()` that appear after the pool starts; those are the ones
    killed when the generator is closed early, so a task running for minutes does not hold up
    a Ctrl-C."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    before = set(multiprocessing.active_children())
    threads_before = set(threading.enumerate())
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
                inflight.add(pool.submit(work, chunk))
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
            mine = set(multiprocessing.active_children()) - before
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in mine:   # running tasks would otherwise finish first
                with contextlib.suppress(Exception):
                    proc.kill()
            for proc in mine:
                with contextlib.suppress(Exception):
                    proc.join(timeout=5)
            # With its workers gone the pool's manager thread ends at once. Join it here,
            # bounded: left running, it can close its wake-up pipe while the interpreter's exit
            # writes to it (a "Bad file descriptor" traceback after the interrupted message,
            # about once in 70 interrupts under load). Not through pool.shutdown(wait=True): the
            # first shutdown already dropped the pool's reference to the thread, and an unbounded
            # join can hang (seen once in 70 when the workers were killed before the shutdown).
            deadline = time.monotonic() + 5
            for thread in set(threading.enumerate()) - threads_before:
                if not type(thread).__module__.startswith("concurrent.futures"):
                    continue     # e.g. a progress bar's monitor, which never ends
                with contextlib.suppress(Exception):
                    thread.join(timeout=max(0.0, deadline - time.monotonic()))


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


def _call(work: Work, chunk: Sequence) -> list:
    """A Ray task: `work` arrives once in the object store, each chunk with its task."""
    return work(chunk)


def ray_cluster(work: Work, chunks: Sequence[Sequence], *, workers: int,
                address: str | None) -> Iterator[list]:
    """On a Ray cluster (`address`; None or "auto": the one Ray finds or starts), one CPU per
    task, each task retried 3 times by Ray; the window grows with the cluster's CPUs."""
    check_ray(address)
    import logging

    import ray
    from .cliutil import brief
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except Exception as e:     # e.g. token authentication on and no token: one line, not a trace
        raise ExecutorUnavailable(f"the Ray cluster at {address} refused this driver "
                                  f"({type(e).__name__}: {brief(str(e), 200)})") from None
    inflight: list = []
    try:
        remote = ray.remote(num_cpus=1, max_retries=3)(_call)
        shared = ray.put(work)
        window = 4 * max(workers, int(ray.cluster_resources().get("CPU", 1)))
        todo = iter(chunks)
        while True:
            while len(inflight) < window:
                chunk = next(todo, None)
                if chunk is None:
                    break
                inflight.append(remote.remote(shared, chunk))
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


def run(executor: str, work: Work, chunks: Sequence[Sequence], *, workers: int,
        ray_address: str | None = None, env: dict | None = None) -> Iterator[list]:
    """The executor named `executor` ("local" with one worker runs inline)."""
    if executor == "ray":
        return ray_cluster(work, chunks, workers=workers, address=ray_address)
    if executor != "local":
        raise ValueError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    if workers == 1:
        return inline(work, chunks)
    return local_pool(work, chunks, workers=workers, env=env)
