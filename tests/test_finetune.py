"""Fine-tuning the embedded model on search traces, the GGUF export, and serving it back.

Real parts throughout: trace datasets written by `mcts-reason traces` from real searches, LoRA
steps with torch/peft on the bundled SmolLM2 GGUF, the exported file read by the real llama.cpp
server. Needs the `train` extra and the local model (CI installs both); skips, saying which is
missing, without them. Sizes are tiny (a few steps of a few short records) to keep CI short.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcts_reason.cli import cli
from mcts_reason.learn.finetune import missing_extra
from mcts_reason.llm.local import MODEL_ALIAS, find_gguf, missing_reason, model_alias

TRAIN = missing_extra()
LOCAL = missing_reason()
needs_train = pytest.mark.skipif(TRAIN is not None, reason=TRAIN or "")
needs_local = pytest.mark.skipif(LOCAL is not None, reason=LOCAL or "")
INSTANCES = "4 9 10 13\n1 1 4 6\n2 3 4 12\n"
STEPS = ["--steps", "4", "--batch-size", "2", "--max-len", "160", "--eval-every", "2",
         "--checkpoint-every", "2", "--lr", "2e-3", "--threads", "1", "--no-progress",
         "--value-balance", "1"]


def _mcts(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcts_reason.cli", *args], capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> Path:
    """A tiny trace dataset: heuristic MCTS on three puzzles, every instance in train or val."""
    tmp = tmp_path_factory.mktemp("traces")
    (tmp / "set.txt").write_text(INSTANCES)
    r = CliRunner().invoke(cli, ["traces", "game24", "--set", str(tmp / "set.txt"),
                                 "--budget", "20", "--policy", "heuristic", "--value",
                                 "heuristic", "--workers", "1", "--split", "2,1,0",
                                 "--out", str(tmp / "ds"), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert (tmp / "ds" / "train" / "sft.jsonl").stat().st_size > 0
    return tmp / "ds"


@pytest.fixture(scope="module")
def tuned(traces, tmp_path_factory) -> Path:
    """An uninterrupted fine-tuning run of 4 steps on the tiny set."""
    if TRAIN or LOCAL:
        pytest.skip(TRAIN or LOCAL)
    out = tmp_path_factory.mktemp("tuned") / "ft"
    r = _mcts("finetune", str(traces), "--out", str(out), *STEPS)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "wrote" in r.stdout and (out / "model.gguf").is_file()
    return out


def _report(out: Path) -> dict:
    return json.loads((out / "finetune.json").read_text())


@needs_train
@needs_local
@pytest.mark.slow
def test_lora_steps_lower_the_training_loss(tuned):
    rep = _report(tuned)
    assert rep["steps_run"] == 4 and rep["train_records"] > 0
    probe = rep["train_probe_loss"]
    # the loss on a fixed slice of the training records, before any step and after the last
    assert probe["after_last_step"] < probe["before"]
    assert [h["step"] for h in rep["history"]] == [0, 1, 2, 3, 4]
    assert rep["history"][0]["val_loss"] is not None
    assert json.loads((tuned / "prompts.json").read_text())["propose"]
    # --value-balance 1: within a depth holding both labels, as many of each
    for depth, labels in rep["train_labels"]["value"].items():
        if len(labels) > 1:
            assert len(set(labels.values())) == 1, (depth, labels)
    # validation speaks for both tasks: each task's loss, and the overall one between them
    assert set(rep["val_tasks"]) == {"propose", "value"}
    for h in rep["history"]:
        if h.get("val_loss") is not None:
            parts = h["val_loss_by_task"]
            assert set(parts) == {"propose", "value"}
            assert min(parts.values()) - 1e-4 <= h["val_loss"] <= max(parts.values()) + 1e-4


def _tensors(path: Path) -> dict:
    import gguf
    r = gguf.GGUFReader(str(path))
    return {t.name: (t.tensor_type, bytes(t.data.tobytes())) for t in r.tensors}


def _complete(model: Path | None, messages: list[dict]) -> str:
    from openai import OpenAI

    from mcts_reason.llm.local import LocalServer
    with LocalServer(model=model, n_ctx=512) as server:
        # generous: the first request on a loaded machine took 52 s here (weights paged in)
        c = OpenAI(base_url=server.base_url, api_key="none", max_retries=0, timeout=900)
        r = c.chat.completions.create(model=server.model, messages=messages, temperature=0,
                                      max_tokens=24, seed=0)
        return r.choices[0].message.content


@needs_train
@needs_local
@pytest.mark.slow
def test_export_round_trip_serves_what_the_original_serves(tmp_path):
    """Exporting the untrained model keeps every tensor's bytes; written all as F16 (so the q/k
    permutation is exercised) it serves the same greedy answer as the bundled file."""
    from mcts_reason.learn.finetune import load_model
    from mcts_reason.learn.gguf_export import export_gguf
    base = find_gguf()
    model, _ = load_model(base)
    sd = model.state_dict()
    same = export_gguf(base, sd, tmp_path / "same.gguf")
    assert _tensors(same) == _tensors(base)
    f16 = export_gguf(base, sd, tmp_path / "f16.gguf", keep_unchanged=False)
    del model, sd
    kinds = {t for t, _ in _tensors(f16).values()}
    assert {k.name for k in kinds} == {"F16", "F32"}
    msgs = [{"role": "user", "content": "Name three colours, one per line."}]
    want = _complete(None, msgs)
    assert want.strip()
    assert _complete(f16, msgs) == want


@needs_train
@needs_local
@pytest.mark.slow
def test_the_trained_model_serves_and_answers_otherwise(tuned):
    from mcts_reason.learn.finetune import SHORT_PROMPTS
    propose = [{"role": "user", "content": SHORT_PROMPTS["propose"].format(
        description="Game of 24: make 24 from four numbers (1-13) with + - * /, each used once.",
        state="4 9 10 13")}]
    trained = _complete(tuned / "model.gguf", propose)
    assert trained.strip() and trained != _complete(None, propose)


@needs_train
@needs_local
@pytest.mark.slow
def test_a_killed_finetune_resumes_to_the_same_run(traces, tuned, tmp_path):
    out = tmp_path / "ft"
    cmd = [sys.executable, "-m", "mcts_reason.cli", "finetune", str(traces), "--out", str(out),
           *STEPS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not (out / "checkpoint.pt").exists() and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "model.gguf").exists()
    # cut short at the checkpoint (--steps 2): it validates and exports what it has ...
    short = [a if a != "4" else "2" for a in cmd[3:]]
    assert short != cmd[3:]
    r = _mcts(*short)
    assert r.returncode == 0 and "resuming at step 2" in r.stderr, r.stderr[-2000:]
    a, b = _report(tuned), _report(out)
    assert b["steps_run"] == 2 and (out / "model.gguf").is_file()
    assert [h["step"] for h in b["history"]] == [0, 1, 2]
    # ... and extended again to 4 steps it ends where the uninterrupted run did
    r = _mcts(*cmd[3:])
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resuming at step 2" in r.stderr
    b = _report(out)
    assert [h["step"] for h in b["history"]] == [0, 1, 2, 3, 4]
    for x, y in zip(a["history"], b["history"]):
        for k in ("train_loss", "val_loss"):
            if x.get(k) is not None:
                assert y[k] == pytest.approx(x[k], rel=1e-4)
    assert b["best_step"] == a["best_step"]


@pytest.mark.parametrize("content", [None, b"not a model at all\n", b"GGUF\x09\x00\x00\x00"])
def test_a_bad_model_file_is_exit_3_with_one_line(tmp_path, content):
    bad = tmp_path / "bad.gguf"
    if content is not None:
        bad.write_bytes(content)
    for argv in (["solve", "game24", "4 9 10 13", "--policy", "llm", "--value", "heuristic",
                  "--model-file", str(bad), "--no-cache"],
                 ["serve-local", "--model-file", str(bad)]):
        r = _mcts(*argv)
        assert r.returncode == 3, (argv, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in r.stderr


def test_model_file_with_a_base_url_is_a_bad_option(tmp_path):
    r = CliRunner().invoke(cli, ["solve", "game24", "4 9 10 13", "--policy", "llm",
                                 "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                                 "--model-file", str(tmp_path / "x.gguf")])
    assert r.exit_code == 2 and "--model-file" in r.output


@needs_local
def test_the_model_name_and_so_the_cache_key_follow_the_file(tmp_path):
    base = find_gguf()
    assert model_alias(base) == MODEL_ALIAS and model_alias(None) == MODEL_ALIAS
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    a.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 64)
    b.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 63 + b"\x01")
    assert len({model_alias(a), model_alias(b), MODEL_ALIAS}) == 3
    assert model_alias(a).startswith(MODEL_ALIAS + "-")


@needs_train
@needs_local
@pytest.mark.slow
def test_a_round_of_the_llm_loop_runs_and_a_killed_round_resumes(tmp_path):
    """`train --policy llm` on 3 training instances: killed (SIGKILL) once round 0's data is
    written, then the same command finishes the round: data, fine-tuned model, evaluation."""
    from mcts_reason.records import scan_records
    (tmp_path / "train.txt").write_text(INSTANCES)
    (tmp_path / "eval.txt").write_text("3 3 8 8\n")
    run = tmp_path / "run"
    argv = ["train", "game24", "--policy", "llm", "--set", str(tmp_path / "train.txt"),
            "--eval-set", str(tmp_path / "eval.txt"), "--rounds", "1", "--budget", "20",
            "--eval-budget", "3", "--finetune-steps", "2", "--finetune-batch", "3",
            "--finetune-lr", "1e-3", "--workers", "1", "--out", str(run), "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "mcts_reason.cli", *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    data = run / "round_00" / "data" / "manifest.json"
    deadline = time.monotonic() + 900
    while not data.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert data.exists() and not (run / "round_00" / "round.json").exists()
    r = _mcts(*argv)
    assert r.returncode == 0, r.stderr[-2000:]
    rd = run / "round_00"
    model = rd / "finetune" / "model.gguf"
    assert model.is_file() and (rd / "finetune" / "prompts.json").is_file()
    assert (rd / "data" / "train" / "sft.jsonl").stat().st_size > 0
    recs = [rec for _, rec in scan_records(rd / "eval.jsonl")]
    assert sorted(rec["algo"] for rec in recs) == ["greedy", "mcts"]
    for rec in recs:   # the round's own model served them, under its file's name
        assert rec["config"]["llm"]["model"] == model_alias(model) != MODEL_ALIAS
        assert rec["config"]["budget_kind"] == "model_calls"
    base = [rec for _, rec in scan_records(run / "baselines" / "llm_llm.jsonl")]
    assert {rec["config"]["llm"]["model"] for rec in base} == {MODEL_ALIAS}
    summary = json.loads((rd / "round.json").read_text())
    assert summary["metrics"]["finetune"]["steps_run"] == 2
    assert "round 0" in r.stdout and (run / "summary.md").is_file()
    # the summary names what each budget counted: round 0's search ran the heuristic expert
    # (simulations), its evaluation and the llm baseline the model (model calls)
    table = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[1:-1]]
             for line in (run / "summary.md").read_text().splitlines()
             if line.startswith("| ") and not line.startswith("| after")}
    sims = "simulations for MCTS, node expansions for greedy"
    assert table["0"][-2:] == [sims, "model calls"]
    assert table["llm+llm"][-1] == "model calls" and table["heuristic+heuristic"][-1] == sims
    # the learner options reached the fine-tuning, and are pinned: other ones are refused
    ft = json.loads((rd / "finetune" / "finetune.json").read_text())["identity"]["config"]
    assert (ft["batch_size"], ft["lr"], ft["steps"]) == (3, 1e-3, 2)
    other = _mcts(*[a if a != "1e-3" else "5e-4" for a in argv])
    assert other.returncode == 2 and "finetune" in other.stderr.strip().splitlines()[-1]
    assert "Traceback" not in other.stderr
