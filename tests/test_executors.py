"""The executors on their own (mcts_reason.executors): real worker processes, stdlib work
functions, no sweep around them."""
from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from mcts_reason import executors


def test_a_local_pool_returns_every_chunks_result():
    out = executors.run("local", abs, [-1, -2, -3, -4, -5], workers=2)
    assert sorted(out) == [1, 2, 3, 4, 5]
    assert list(executors.run("local", abs, [-7], workers=1)) == [7]      # inline
    with pytest.raises(ValueError, match="unknown executor"):
        executors.run("cloud", abs, [1], workers=1)


def test_the_workers_get_the_environment_they_are_given(monkeypatch):
    monkeypatch.delenv("MCTS_REASON_EXECUTOR_TEST", raising=False)
    out = list(executors.local_pool(os.getenv, ["MCTS_REASON_EXECUTOR_TEST"], workers=2,
                                    env={"MCTS_REASON_EXECUTOR_TEST": "from-the-parent"}))
    assert out == ["from-the-parent"]


def test_closing_early_kills_the_pools_workers_and_nothing_else():
    bystander = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(60,))
    bystander.start()
    try:
        stream = executors.local_pool(time.sleep, [0.01, 60, 60], workers=2)
        assert next(stream) is None                   # the short chunk; two long ones running
        workers = set(multiprocessing.active_children()) - {bystander}
        assert len(workers) == 2
        t0 = time.monotonic()
        stream.close()                                # as Ctrl-C does
        for proc in workers:
            proc.join(timeout=10)
        assert all(not p.is_alive() for p in workers)
        assert time.monotonic() - t0 < 10             # not the 60 s the tasks would take
        assert bystander.is_alive()                   # another child of ours is left alone
    finally:
        bystander.kill()
        bystander.join()
