"""Opening a model for a run: a remote OpenAI-compatible server, or the embedded local one."""
from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .cache import ResponseCache, default_cache_path
from .client import LLMClient, LLMError, Price, Sampling
from .prompt_file import PromptFile
from .redact import redact_url

# The real base URL when the stored one had credentials redacted (`settings_to_dict`): set by
# the command in its own environment, passed to its workers like the API key, never written.
SECRET_URL_ENV = "MCTS_REASON_SECRET_BASE_URL"


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """Everything a run needs to reach a model. `base_url` None: the embedded local model.

    `api_key_env` names the environment variable holding the key; the key itself is read only
    when the client is built and is never stored here (so it never reaches a repr or a log).
    `grammar`: whether the server honours GBNF grammars in requests (constrained proposals);
    None: yes for the embedded llama.cpp server, no for a remote one (say True for a remote
    llama.cpp server). `prompts`: a user's prompt file (`--prompts`), or None for the
    puzzle's own prompts. `model_file`: a GGUF file the embedded server serves instead of the
    bundled one (`--model-file`; only without a base URL). `value_scoring`: how the model's
    value answers become numbers (`llm.value.SCORINGS`: the judgement word, or its first
    token's probabilities; `--value-scoring`).
    """

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    cache: str | None = field(default_factory=lambda: str(default_cache_path()))
    concurrency: int = 1
    samples: int = 1
    value_samples: int = 1
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.7, max_tokens=96,
                                                                stop=("Input:",)))
    value_sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.7,
                                                                      max_tokens=96))
    timeout: float = 60.0
    max_retries: int = 3
    prices: tuple[tuple[str, Price], ...] = ()
    grammar: bool | None = None
    prompts: PromptFile | None = None
    model_file: str | None = None
    value_scoring: str = "word"

    def __repr__(self) -> str:
        url = redact_url(self.base_url) if self.base_url else None
        return (f"LLMSettings(base_url={url!r}, model={self.model!r}, "
                f"api_key_env={self.api_key_env!r}, cache={self.cache!r}, "
                f"concurrency={self.concurrency}, samples={self.samples}, "
                f"timeout={self.timeout}, max_retries={self.max_retries})")


def settings_to_dict(settings: LLMSettings) -> dict:
    """JSON-able form (for a bench configuration); holds the key's variable name, never a key,
    and the base URL with any credentials in it redacted (see `real_base_url`). A prompt file
    is included only when one is used (older configurations stay equal)."""
    d = {"base_url": redact_url(settings.base_url) if settings.base_url else None,
         "model": settings.model,
         "api_key_env": settings.api_key_env, "cache": settings.cache,
         "concurrency": settings.concurrency, "samples": settings.samples,
         "value_samples": settings.value_samples,
         "sampling": _sampling_dict(settings.sampling),
         "value_sampling": _sampling_dict(settings.value_sampling),
         "timeout": settings.timeout, "max_retries": settings.max_retries,
         "prices": {m: [p.prompt, p.completion] for m, p in settings.prices},
         "grammar": settings.grammar}
    if settings.prompts is not None:
        d["prompts"] = settings.prompts.to_dict()
    if settings.model_file is not None:
        d["model_file"] = settings.model_file
    if settings.value_scoring != "word":
        d["value_scoring"] = settings.value_scoring
    return d


def settings_from_dict(d: dict) -> LLMSettings:
    return LLMSettings(base_url=d["base_url"], model=d["model"], api_key_env=d["api_key_env"],
                       cache=d["cache"], concurrency=d["concurrency"], samples=d["samples"],
                       value_samples=d["value_samples"],
                       sampling=_sampling(d["sampling"]), value_sampling=_sampling(d["value_sampling"]),
                       timeout=d["timeout"], max_retries=d["max_retries"],
                       prices=tuple((m, Price(*p)) for m, p in d["prices"].items()),
                       grammar=d.get("grammar"),
                       prompts=PromptFile.from_dict(d["prompts"]) if d.get("prompts") else None,
                       model_file=d.get("model_file"),
                       value_scoring=d.get("value_scoring", "word"))


def real_base_url(stored: str | None) -> str | None:
    """The URL to connect to for a stored (maybe redacted) base URL: the secret one this
    process was given, when it redacts to `stored`."""
    real = os.environ.get(SECRET_URL_ENV)
    if stored and real and redact_url(real) == stored:
        return real
    return stored


def _sampling_dict(s: Sampling) -> dict:
    return {"temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens,
            "stop": list(s.stop)}


def _sampling(d: dict) -> Sampling:
    return Sampling(temperature=d["temperature"], top_p=d["top_p"], max_tokens=d["max_tokens"],
                    stop=tuple(d["stop"]))


def load_prices(path: str | os.PathLike) -> tuple[tuple[str, Price], ...]:
    """A JSON price table: {"model": {"prompt": USD per 1M tokens, "completion": ...}, ...}."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return tuple((str(m), Price(float(p["prompt"]), float(p["completion"])))
                     for m, p in raw.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"price table {path}: expected "
                         '{"model": {"prompt": X, "completion": Y}}, '
                         f"got an error: {type(e).__name__}") from None


def build_client(settings: LLMSettings, *, base_url: str | None = None,
                 model: str | None = None, cache: ResponseCache | None = None,
                 server_check: Callable[[int], str | None] | None = None) -> LLMClient:
    """The one place where a model client is built from settings: for `solve` (`open_client`),
    for each bench worker and for the benchmarks.

    `base_url`/`model`: where the model really is when the settings leave it to the embedded
    server, whose address is known only once it runs. The key is read here, from the variable
    the settings name. Grammars (constrained proposals) default to on for the embedded
    llama.cpp server (settings without a base URL) and off for a remote server.
    `server_check`: for the embedded server, how the client learns that it died (LLMClient)."""
    grammar = settings.grammar if settings.grammar is not None else not settings.base_url
    return LLMClient(base_url=base_url or settings.base_url, model=model or settings.model,
                     api_key=os.environ.get(settings.api_key_env) or None,
                     timeout=settings.timeout, max_retries=settings.max_retries, cache=cache,
                     prices=dict(settings.prices), concurrency=settings.concurrency,
                     grammar=grammar, server_check=server_check)


@contextlib.contextmanager
def open_client(settings: LLMSettings, *, local: dict | None = None) -> Iterator[LLMClient]:
    """An LLMClient for `settings` (`build_client`), with its response cache; with no base
    URL, starts the embedded llama.cpp server for the duration (`local`: its LocalServer
    options, e.g. n_ctx) and stops it afterwards. Raises LLMError when that is impossible."""
    server = None
    base_url, model = settings.base_url, settings.model
    if not base_url:
        from .local import LocalServer
        server = LocalServer(**{"model": settings.model_file, **(local or {})}).start()
        base_url, model = server.base_url, model or server.model
    elif not model:
        raise LLMError("a model name is needed with a base URL (--model)")
    cache = ResponseCache(settings.cache) if settings.cache else None
    client = None
    try:
        client = build_client(settings, base_url=base_url, model=model, cache=cache,
                              server_check=server.check if server is not None else None)
        yield client
    finally:
        if client is not None:
            client.close()
        if cache is not None:
            cache.close()
        if server is not None:
            server.stop()
