"""The model options of `solve` and `bench` (click), kept out of the model package (llm/), which
knows nothing of the command line, and out of cli.py, which stays thin."""
from __future__ import annotations

import functools
import re
from typing import Any, Callable

import click

from .cliutil import FiniteFloat
from .llm.cache import ResponseCache
from .llm.client import ATTEMPT_FAULTS as _ATTEMPT_KINDS, Sampling, base_url_problem
from .llm.prompt_file import load_prompts
from .llm.session import LLMSettings, load_prices
from .search.parallel import MIN_ROUNDS, REPEATS

EXIT_MODEL_ERROR = 3
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_OPTIONS = [
    click.option("--base-url", envvar="OPENAI_BASE_URL", default=None, metavar="URL",
                 help="OpenAI-compatible server, e.g. https://api.openai.com/v1 or "
                      "http://127.0.0.1:8000/v1 (env OPENAI_BASE_URL). Unset: the embedded "
                      "llama.cpp server with SmolLM2-135M-Instruct."),
    click.option("--model", default=None, metavar="NAME",
                 help="Model name sent to the server (required with --base-url)."),
    click.option("--model-file", "model_file", default=None, metavar="PATH",
                 type=click.Path(dir_okay=False),
                 help="GGUF file for the embedded llama.cpp server instead of the bundled "
                      "SmolLM2, e.g. OUT/model.gguf of `mcts-reason finetune` (not with "
                      "--base-url); cached answers are keyed by the file's SHA-256."),
    click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True, metavar="VAR",
                 help="Environment variable that holds the API key (never logged or cached)."),
    click.option("--cache", "cache_path", default=None, metavar="PATH",
                 type=click.Path(dir_okay=False),
                 help="Response cache (sqlite) [default: ~/.cache/mcts-reason/responses.sqlite]."),
    click.option("--no-cache", is_flag=True, help="Do not read or write the response cache."),
    click.option("--concurrency", type=click.IntRange(1, 256), default=1, show_default=True,
                 help="Model requests in flight; MCTS keeps this many leaves in flight "
                      "(virtual loss)."),
    click.option("--round-repeats", "round_repeats", type=click.IntRange(0, 1000),
                 default=REPEATS, show_default=True,
                 help="With --concurrency > 1: an MCTS round of leaves closes when selection "
                      "comes back to a leaf already in it for the (N+1)-th time."),
    click.option("--min-rounds", "min_rounds", type=click.IntRange(0, 1000),
                 default=MIN_ROUNDS, show_default=True,
                 help="With --concurrency > 1: no MCTS round holds more than 1/N of the leaves "
                      "the budget pays for, so a small budget is spent in at least N rounds; "
                      "0: up to --concurrency leaves whatever the budget."),
    click.option("--samples", type=click.IntRange(1, 64), default=1, show_default=True,
                 help="Model samples per policy call (proposals)."),
    click.option("--value-samples", type=click.IntRange(1, 64), default=1, show_default=True,
                 help="Model samples per value judgement."),
    click.option("--value-scoring", "value_scoring", type=click.Choice(["word", "probs"]),
                 default="word", show_default=True,
                 help="How a value answer becomes a number: the judgement word it ends with, "
                      "or (probs) the judgements' probabilities at its first token, asked "
                      "for as logprobs (the word where the answer does not start with one)."),
    click.option("--temperature", type=FiniteFloat(0, 2), default=0.7, show_default=True,
                 help="Sampling temperature."),
    click.option("--completion-tokens", "completion_tokens", type=click.IntRange(1, 32768),
                 default=96, show_default=True,
                 help="Completion tokens per request (max_tokens sent to the server)."),
    click.option("--timeout", type=FiniteFloat(min=0.001), default=60.0,
                 show_default=True,
                 help="Seconds per request attempt, in all: connect, send and the whole answer, "
                      "however slowly the server sends it."),
    click.option("--retries", type=click.IntRange(0, 20), default=3, show_default=True,
                 help="Retries on 429/5xx/timeouts/malformed answers (with backoff)."),
    click.option("--max-model-calls", type=click.IntRange(min=1), default=None,
                 help="Cap on model calls (each attempt that reached the server counts). "
                      "Tokens and cost: --max-tokens, --max-cost."),
    click.option("--grammar/--no-grammar", "grammar", default=None,
                 help="Send a GBNF grammar with each proposal request, so every line is a step "
                      "over the state's numbers (llama.cpp servers only) [default: on for the "
                      "embedded server, off with --base-url]."),
    click.option("--prompts", "prompts_path", default=None, metavar="FILE",
                 type=click.Path(dir_okay=False),
                 help="JSON prompt templates {\"propose\"|\"value\"|\"verify\": TEXT} instead of "
                      "the puzzle's own (e.g. a paper's exact prompts); placeholders are checked "
                      "(docs/llm.md)."),
    click.option("--prices", "prices_path", default=None, metavar="FILE",
                 type=click.Path(exists=True, dir_okay=False),
                 help='JSON price table: {"model": {"prompt": USD/1M, "completion": USD/1M}}.'),
]


def model_health(model_calls: int, faults: dict[str, int]) -> tuple[str | None, bool]:
    """(a line about the model calls when most of them failed, whether none succeeded).

    A search through a server that fails every request ends "unsolved" like one that found
    nothing; this line is what tells them apart. `model_calls` and `faults` are a Usage's (or
    their sums over several runs)."""
    from .llm.client import failed_attempts
    failed = failed_attempts(faults)
    unreached = faults.get("unreachable", 0) + faults.get("timeout_unsent", 0)
    tried = model_calls + unreached
    if tried == 0 or failed + unreached <= tried - failed - unreached:
        return None, False
    answered = model_calls - failed
    kinds = ", ".join(f"{k}: {n}" for k, n in sorted(faults.items())
                      if k in _ATTEMPT_KINDS or k.startswith("http_"))
    line = (f"no model call succeeded: all {tried} attempts failed ({kinds})" if answered <= 0
            else f"{failed + unreached} of {tried} model calls failed ({kinds})")
    if faults.get("context_length"):
        line += ("; the prompt exceeds the model's context length (HTTP 400): use a model with "
                 "a longer context, or fewer --completion-tokens")
    return line, answered <= 0


def llm_options(f: Callable) -> Callable:
    """Decorate a click command with the model options (passed on in **kwargs)."""
    for opt in reversed(_OPTIONS):
        f = opt(f)
    return f


def parallel_options(kw: dict[str, Any], concurrency: int) -> dict[str, Any]:
    """The parallel MCTS options from the model options: concurrency, repeats and min_rounds
    when more than one request may be in flight, else none (the sequential search takes none)."""
    if concurrency <= 1:
        return {}
    return {"concurrency": concurrency, "repeats": kw.get("round_repeats", REPEATS),
            "min_rounds": kw.get("min_rounds", MIN_ROUNDS)}


def settings_from(kw: dict[str, Any], *, max_cost: float | None = None,
                  uses_model: bool = True, puzzle: Any = None
                  ) -> tuple[LLMSettings, dict[str, Any]]:
    """(LLMSettings, extra Budget caps) from the options; click.BadParameter on bad values.

    `max_cost` is the command's --max-cost: with a model in use it needs a price table (without
    one no call has a price, so the cap could never bind). `puzzle`: a prompt file's
    placeholders are checked against it."""
    prices = ()
    if kw.get("prices_path"):
        try:
            prices = load_prices(kw["prices_path"])
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--prices'") from None
    prompts = None
    if kw.get("prompts_path"):
        try:
            prompts = load_prompts(kw["prompts_path"])
            if puzzle is not None:
                prompts.check(puzzle)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--prompts'") from None
    if uses_model and max_cost is not None and not prices:
        raise click.BadParameter("a cost cap needs a price table", param_hint="'--max-cost'")
    if kw.get("base_url") and not kw.get("model"):
        raise click.UsageError("--model is required with --base-url")
    if kw.get("base_url") and kw.get("model_file"):
        raise click.BadParameter("a model file is served by the embedded server; it cannot "
                                 "be used with --base-url", param_hint="'--model-file'")
    if kw.get("base_url"):
        problem = base_url_problem(kw["base_url"])
        if problem:
            raise click.BadParameter(problem, param_hint="'--base-url'")
    env_name = kw.get("api_key_env")
    if env_name is not None and not _ENV_NAME.match(env_name):
        raise click.BadParameter(f"{env_name!r} is not an environment variable name",
                                 param_hint="'--api-key-env'")
    cache = None if kw.get("no_cache") else kw.get("cache_path")
    if cache is None and not kw.get("no_cache"):
        cache = LLMSettings().cache
    if cache is not None and kw.get("cache_path") and uses_model:
        try:     # a file that is not a cache is a bad option now, not a traceback later
            ResponseCache(cache).close()
        except (ValueError, OSError) as e:
            raise click.BadParameter(str(e), param_hint="'--cache'") from None
    base = functools.partial(Sampling, temperature=kw.get("temperature", 0.7),
                             max_tokens=kw.get("completion_tokens", 96))
    settings = LLMSettings(base_url=kw.get("base_url") or None, model=kw.get("model"),
                           api_key_env=kw.get("api_key_env") or "OPENAI_API_KEY", cache=cache,
                           concurrency=kw.get("concurrency", 1), samples=kw.get("samples", 1),
                           value_samples=kw.get("value_samples", 1),
                           sampling=base(stop=("Input:",)), value_sampling=base(),
                           timeout=kw.get("timeout", 60.0), max_retries=kw.get("retries", 3),
                           prices=prices, grammar=kw.get("grammar"), prompts=prompts,
                           model_file=kw.get("model_file"),
                           value_scoring=kw.get("value_scoring") or "word")
    caps = {"model_calls": kw["max_model_calls"]} if kw.get("max_model_calls") else {}
    return settings, caps
