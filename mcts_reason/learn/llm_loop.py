"""Expert iteration with the embedded LLM as the learned model (`mcts-reason train --policy llm`).

The stages, files and resume are loop.py's (`train(..., learner=LLMLearner(...))`); this learner
says what a round searches with and what it fits:
  - round 0 searches with an expert (default: the puzzle's hand-written heuristic policy and
    value, at `budget` simulations), so the first fine-tuning set holds solutions;
  - round r >= 1 searches with round r-1's fine-tuned model as policy and value (`llm`), at
    `budget` model calls, served by the embedded llama.cpp server;
  - each round fine-tunes the bundled model (LoRA, finetune.py) on the SFT records of the last
    `window` rounds' training data and exports OUT/round_NN/finetune/model.gguf (+ prompts.json);
  - each round's model is evaluated on the held-out instances (MCTS and greedy, policy and value
    from the model, no grammar, `eval_budget` model calls); the baselines are the untrained
    model (with the puzzle's own prompts) and the heuristic.
Every stage is a file: a run killed at any point continues with the same command (a killed
fine-tuning resumes from its checkpoint). OUT/learner.json pins this learner's options.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from typing import Any

from .dataset import _atomic_write
from .finetune import FinetuneConfig, finetune

ARTEFACT = "finetune/model.gguf"


class LLMLearner:
    """The `learner` hook of `loop.train` for the fine-tuned embedded model.

    `settings`: the model settings of every LLM search (llm.session.LLMSettings: sampling,
    cache, concurrency; grammar off by default here); `finetune_config`: each round's
    fine-tuning; `expert`: round 0's (policy, value)."""

    artefact = ARTEFACT

    def __init__(self, settings: Any, finetune_config: FinetuneConfig = FinetuneConfig(), *,
                 expert: tuple[str, str] = ("heuristic", "heuristic"), window: int = 2,
                 threads: int = 2, log: Any = print) -> None:
        self.settings, self.ft, self.expert = settings, finetune_config, tuple(expert)
        self.window, self.threads, self.log = window, threads, log

    def identity(self) -> dict:
        from ..llm.session import settings_to_dict
        s = settings_to_dict(self.settings)
        s.pop("cache", None)
        return {"learner": "llm", "expert": list(self.expert), "window": self.window,
                "finetune": self.ft.to_dict(), "llm": s}

    def pin(self, out: Path) -> None:
        """Write OUT/learner.json, or refuse a folder written with other learner options."""
        from .loop import RunMismatch
        path = Path(out) / "learner.json"
        mine = self.identity()
        if path.exists():
            theirs = json.loads(path.read_text(encoding="utf-8"))
            if theirs != mine:
                diffs = sorted(k for k in set(theirs) | set(mine) if theirs.get(k) != mine.get(k))
                raise RunMismatch(f"{out} holds a training run with other options "
                                  f"({', '.join(diffs)}); use those or another --out")
        else:
            Path(out).mkdir(parents=True, exist_ok=True)
            _atomic_write(path, (json.dumps(mine, indent=2, sort_keys=True) + "\n").encode())

    def budget_kind(self, policy: str, value: str) -> str:
        return "model_calls" if "llm" in (policy, value) else "simple"

    def baselines(self, puzzle: Any) -> list[tuple[str, str]]:
        out = [("llm", "llm")]
        if callable(getattr(puzzle, "heuristic_policy", None)):
            out.append(("heuristic", "heuristic"))
        return out

    def search_parts(self, out: Path, r: int) -> tuple[str, str]:
        return self.expert if r == 0 else ("llm", "llm")

    def eval_parts(self, out: Path, r: int) -> tuple[str, str]:
        return "llm", "llm"

    @contextlib.contextmanager
    def serving(self, out: Path, model_round: int | None, parts: tuple[str, str]):
        """The embedded server with round `model_round`'s model (None or -1: the bundled
        model with the puzzle's prompts) while a search with an `llm` part runs."""
        if "llm" not in parts:
            yield {}
            return
        from ..llm.local import LocalServer
        from ..llm.prompt_file import load_prompts
        from ..llm.session import settings_to_dict
        settings = self.settings
        model = None
        if model_round is not None and model_round >= 0:
            model = Path(out) / f"round_{model_round:02d}" / self.artefact
            prompts = model.with_name("prompts.json")
            settings = dataclasses.replace(
                settings, model_file=str(model),
                prompts=load_prompts(str(prompts)) if prompts.is_file() else None)
        with LocalServer(model=model) as server:
            settings = dataclasses.replace(settings, model=server.model)
            yield {"llm": settings_to_dict(settings),
                   "llm_runtime": {"base_url": server.base_url, "server_pid": server.proc.pid}}

    def fit(self, puzzle: Any, out: Path, r: int, config: Any) -> None:
        data = [Path(out) / f"round_{q:02d}" / "data"
                for q in range(max(0, r - self.window + 1), r + 1)]
        self.log(f"round {r}: fine-tuning on the SFT records of rounds "
                 f"{max(0, r - self.window + 1)}-{r}")
        finetune(data, Path(out) / f"round_{r:02d}" / "finetune", config=self.ft,
                 threads=self.threads, log=self.log, meta={"round": r})

    def metrics(self, out: Path, r: int) -> dict:
        rep = json.loads((Path(out) / f"round_{r:02d}" / "finetune" / "finetune.json")
                         .read_text(encoding="utf-8"))
        hist = rep["history"]
        return {"finetune": {"train_records": rep["train_records"],
                             "val_records": rep["val_records"], "steps_run": rep["steps_run"],
                             "best_step": rep["best_step"],
                             "val_loss_before": hist[0].get("val_loss"),
                             "best_val_loss": rep["best_val_loss"],
                             "train_seconds": rep["train_seconds"],
                             "model_sha256": rep["model_sha256"]}}

    def __repr__(self) -> str:
        return f"LLMLearner(expert={self.expert}, window={self.window}, {self.ft})"
