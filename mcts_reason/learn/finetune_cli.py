"""The `finetune` command: LoRA SFT of the embedded model on trace datasets, exported as GGUF."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli import _one_line_errors, batch_option, lr_option, threads_option, value_balance_option

EXIT_MODEL_ERROR = 3


@click.command("finetune")
@click.argument("data", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Run folder: model.gguf, finetune.json, checkpoint.pt. The same command "
                   "resumes a killed run.")
@click.option("--model-file", "base", default=None, type=click.Path(dir_okay=False),
              help="GGUF file to start from [default: the bundled SmolLM2-135M-Instruct].")
@click.option("--tasks", type=click.Choice(["propose", "value", "both"]), default="both",
              show_default=True, help="Which SFT records to train on.")
@click.option("--prompt-style", type=click.Choice(["short", "puzzle"]), default="short",
              show_default=True,
              help="short: train on short prompts without few-shot examples (about 4x cheaper; "
                   "serve with --prompts OUT/prompts.json); puzzle: the prompts the search "
                   "sent, as recorded.")
@click.option("--steps", type=click.IntRange(min=1), default=200, show_default=True,
              help="Optimizer steps (at most; early stop may end sooner). The one option a "
                   "run in OUT may be resumed with changed: cut short at its checkpoint, or "
                   "extended.")
@batch_option("--batch-size", help="Records per step.")
@lr_option("--lr", help="AdamW learning rate.")
@click.option("--lora-r", type=click.IntRange(1, 256), default=16, show_default=True,
              help="LoRA rank (adapters on every linear layer).")
@click.option("--lora-alpha", type=click.IntRange(1, 1024), default=32, show_default=True,
              help="LoRA scale numerator (scale = alpha / r).")
@click.option("--max-len", type=click.IntRange(16, 4096), default=320, show_default=True,
              help="Tokens per record (prompt + answer); longer records are left out.")
@value_balance_option("--value-balance",
                      help="Balance the value records' labels within each tree depth: a label "
                           "keeps at most this many times the rarest label's records there "
                           "(seeded sample; default: all records).")
@click.option("--eval-every", type=click.IntRange(min=1), default=25, show_default=True,
              help="Steps between validation losses.")
@click.option("--patience", type=click.IntRange(min=1), default=3, show_default=True,
              help="Stop after this many validations without a better loss.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=25, show_default=True,
              help="Steps between checkpoints (a killed run resumes from the last).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the adapters' initial weights and the order of records.")
@threads_option("--threads", help="torch CPU threads (at most 2). On a shared 2-core machine one "
                                  "thread ran a step 2.5x faster than two.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: only when stderr is a terminal).")
@_one_line_errors
def finetune_cmd(data, out, base, tasks, prompt_style, steps, batch_size, lr, lora_r, lora_alpha, max_len,
                 value_balance, eval_every, patience, checkpoint_every, seed, threads, progress):
    """LoRA fine-tuning of the embedded model on the SFT records of trace DATA folders
    (`traces`/`train` output): propose prompt -> the search's best steps, value prompt -> the
    outcome it established. Writes OUT/model.gguf for `--model-file` (see docs/learning.md)."""
    from .finetune import FinetuneConfig, FinetuneError, finetune, missing_extra
    problem = missing_extra()
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_MODEL_ERROR)
    for d in data:
        if not Path(d).is_dir():
            raise click.BadParameter(f"{d}: no such dataset folder", param_hint="'DATA'")
    if base is not None:
        from ..llm.local import model_file_problem
        bad = model_file_problem(base)
        if bad:
            click.echo(f"error: {bad}", err=True)
            sys.exit(EXIT_MODEL_ERROR)
    config = FinetuneConfig(steps=steps, batch_size=batch_size, lr=lr, lora_r=lora_r,
                            lora_alpha=lora_alpha, max_len=max_len, eval_every=eval_every,
                            patience=patience, checkpoint_every=checkpoint_every, seed=seed,
                            tasks=("propose", "value") if tasks == "both" else (tasks,),
                            prompt_style=prompt_style, value_balance=value_balance)
    if progress is None:
        progress = sys.stderr.isatty()
    try:
        report = finetune(data, out, config=config, base=base, threads=threads,
                          progress=progress, log=lambda m: click.echo(m, err=True))
    except FinetuneError as e:
        if str(e).startswith(("model file", "base model file")):
            click.echo(f"error: {str(e).splitlines()[0]}", err=True)
            sys.exit(EXIT_MODEL_ERROR)
        raise
    first = report["history"][0].get("val_loss")
    click.echo(f"trained {report['steps_run']} steps on {report['train_records']} records "
               f"({report['train_seconds']} s); val loss {_f(first)} -> "
               f"{_f(report['best_val_loss'])} (best step {report['best_step']})"
               + (f"; {report['stopped']}" if report["stopped"] else ""))
    serve = f"--model-file {Path(out) / report['model']}"
    if report.get("prompts"):
        serve += f" --prompts {Path(out) / report['prompts']}"
    click.echo(f"wrote {Path(out) / report['model']}  (serve it: {serve})")


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


COMMANDS = (finetune_cmd,)
