"""`mcts-reason train`: a real run killed with SIGKILL resumes to the same rounds, nothing redone
or lost, and held-out instances never reach the training data."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mcts_reason.learn.dataset import read_jsonl
from mcts_reason.learn.model import LinearModel

TRAIN = ["1 2 3 4", "1 1 4 6", "2 2 6 6", "1 3 4 6", "3 3 8 8", "4 4 6 8"]
HELD = ["1 1 3 8", "2 3 4 4"]
EXE = str(Path(sys.executable).with_name("mcts-reason"))


def _cmd(tmp: Path, out: str) -> list[str]:
    (tmp / "train.txt").write_text("\n".join(TRAIN + HELD[:1]) + "\n")   # one held-out inside
    (tmp / "held.txt").write_text("\n".join(HELD) + "\n")
    return [EXE, "train", "game24", "--set", str(tmp / "train.txt"), "--held-out",
            str(tmp / "held.txt"), "--rounds", "2", "--budget", "12", "--rollouts", "2",
            "--bits", "10", "--split-seed", "1", "--workers", "1", "--no-progress",
            "--out", str(tmp / out)]


def _round(out: Path, r: int) -> dict:
    d = out / f"round_{r:02d}"
    m = LinearModel.load(d / "model.npz")
    summary = json.loads((d / "round.json").read_text())
    # the data's hashes differ only by the model paths in the provenance (learned:OUT/...)
    summary["data"] = {k: v["records"] for k, v in summary["data"].items()}
    summary.pop("seconds")                       # wall time: differs from run to run
    recs = [{**r, "provenance": {**r["provenance"], "policy": None, "value": None}}
            for r in read_jsonl(d / "data" / "train" / "policy.jsonl")]
    return {"summary": summary, "policy_records": recs,
            "search": (d / "search.jsonl").read_text().count("\n"),
            "eval": (d / "eval.jsonl").read_text().count("\n"),
            "policy_w": m.policy_w, "value_w": m.value_w}


@pytest.mark.slow
def test_train_resumes_after_sigkill_with_the_same_rounds(tmp_path):
    ref = subprocess.run(_cmd(tmp_path, "ref"), capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr
    assert "round 1: held-out solve rate" in ref.stdout
    # the same run, killed as soon as round 0's model is on disk, then started again
    proc = subprocess.Popen(_cmd(tmp_path, "killed"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    model0 = tmp_path / "killed" / "round_00" / "model.npz"
    deadline = time.time() + 600
    while not model0.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert model0.exists()
    before = model0.stat().st_mtime_ns
    res = subprocess.run(_cmd(tmp_path, "killed"), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "round 0: fitting" not in res.stderr          # not redone
    assert model0.stat().st_mtime_ns == before
    for r in (0, 1):
        a, b = _round(tmp_path / "ref", r), _round(tmp_path / "killed", r)
        assert a["summary"] == b["summary"]
        assert a["search"] == b["search"] == len(TRAIN)    # one record per task: none lost, none twice
        assert a["eval"] == b["eval"] == 2 * len(HELD)     # mcts + greedy per held-out instance
        np.testing.assert_array_equal(a["policy_w"], b["policy_w"])
        np.testing.assert_array_equal(a["value_w"], b["value_w"])
    # held-out instances never searched for training, never in training data
    for r in (0, 1):
        d = tmp_path / "killed" / f"round_{r:02d}"
        searched = {json.loads(line)["instance"] for line in (d / "search.jsonl").open()}
        assert not searched & set(HELD)
        for kind in ("policy", "value", "sft", "preference"):
            for rec in read_jsonl(d / "data" / "train" / f"{kind}.jsonl"):
                assert rec["provenance"]["instance"] not in HELD
    # --split-seed reaches the run's configuration (the split and the rollout labels' seed)
    assert json.loads((tmp_path / "killed" / "config.json").read_text())["split_seed"] == 1
    summary = (tmp_path / "killed" / "summary.md").read_text()
    assert "| 1 |" in summary and "uniform+rollout" in summary
    # what the budgets count comes from the records: simulations here, never model calls
    rows = [line for line in summary.splitlines() if line.startswith(("| 0 |", "| 1 |"))]
    assert len(rows) == 2
    assert all(line.count("simulations for MCTS, node expansions for greedy") == 2
               for line in rows)
    assert "model calls" not in summary
    assert (tmp_path / "killed" / "solve_rate.png").stat().st_size > 1000
