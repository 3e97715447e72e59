"""The HTTP under the model client, with limits that hold whatever the server does.

httpx's timeouts bound each socket operation, not a request: a server that trickles one byte
of headers or body every half second never trips a 2 s read timeout. Here every connect, read
and write made inside `deadline(seconds)` gets at most the time left until that deadline, so a
whole request -- connect, send, headers, body -- ends within `seconds` (plus the scheduler's
slack), trickled or not. The same client:
  * caps the body at `max_body` bytes *after* decompression (a small gzip bomb cannot take
    hundreds of MB), and decodes gzip/deflate itself to do so;
  * follows no redirects (a redirect loop is one failed attempt, not 20 requests);
  * can be stopped: `abort_all()` (called from a SIGINT/SIGTERM handler) shuts down the socket of
    every request in flight in this process, at any concurrency, and marks every client
    stopped, so no retry starts after it.

Names resolve before the deadline applies (getaddrinfo cannot be interrupted); a numeric address
or a name in /etc/hosts resolves at once. Proxies from the environment (HTTPS_PROXY, ...) are not
used: httpx takes them only for its own transport.
"""
from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
import zlib
from typing import Any, Iterator

try:                       # the SDK's own HTTP library: httpx2 in current openai, httpx before
    import httpcore2 as httpcore
    import httpx2 as httpx
except ImportError:        # pragma: no cover - older openai
    import httpcore
    import httpx

MAX_BODY = 16 << 20
LAST_SIGNAL: list[int] = []      # the signals `interrupts_stop_requests` turned into a stop
_local = threading.local()
_BACKENDS: "weakref.WeakSet[_Backend]" = weakref.WeakSet()


class BodyTooLarge(httpx.ReadError):
    """The response body (decompressed) passed `max_body` bytes; the rest was not read."""


class BodyUndecodable(httpx.ReadError):
    """The response body's Content-Encoding is unknown here, or its bytes do not decode."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Requests made by this thread inside the block end within `seconds` from now."""
    before = getattr(_local, "deadline", None)
    _local.deadline = time.monotonic() + max(0.0, seconds)
    _local.sent = False
    try:
        yield
    finally:
        _local.deadline = before


def request_sent() -> bool:
    """Whether the last request of this thread under `deadline` began to send any bytes (a
    request whose time ran out before that reached no server: nothing to charge)."""
    return getattr(_local, "sent", True)


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    end = getattr(_local, "deadline", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A connection whose every operation is cut at the thread's deadline."""

    def __init__(self, inner: Any, backend: "_Backend") -> None:
        self._inner, self._backend = inner, backend
        backend.live.add(self)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._backend.check()
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._backend.check()
        left = _left(timeout, httpcore.WriteTimeout)
        _local.sent = True
        self._inner.write(buffer, left)

    def close(self) -> None:
        self._backend.live.discard(self)
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> "_Stream":
        self._backend.live.discard(self)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname,
                                             _left(timeout, httpcore.ConnectTimeout)),
                       self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def shutdown(self) -> None:
        sock = self._inner.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)    # wakes a thread blocked in recv at once


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self.live: "weakref.WeakSet[_Stream]" = weakref.WeakSet()
        self.stopped = threading.Event()
        _BACKENDS.add(self)

    def check(self) -> None:
        if self.stopped.is_set():
            raise httpcore.ReadError("stopped (interrupted)")

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> _Stream:
        self.check()
        return _Stream(self._inner.connect_tcp(host, port,
                                               _left(timeout, httpcore.ConnectTimeout),
                                               local_address, socket_options), self)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> _Stream:   # pragma: no cover
        self.check()
        return _Stream(self._inner.connect_unix_socket(
            path, _left(timeout, httpcore.ConnectTimeout), socket_options), self)

    def sleep(self, seconds: float) -> None:   # pragma: no cover - used by httpcore retries
        self.stopped.wait(seconds)

    def abort(self) -> None:
        self.stopped.set()
        for stream in list(self.live):
            stream.shutdown()


class _Decoded(httpx.SyncByteStream):
    """The body, decompressed here (gzip/deflate), cut at `limit` bytes of output."""

    def __init__(self, inner: Any, encoding: str, limit: int) -> None:
        self._inner, self._limit = inner, limit
        self._decoder = None if encoding in ("", "identity") else \
            zlib.decompressobj(zlib.MAX_WBITS | 32)     # zlib or gzip header, detected

    def __iter__(self) -> Iterator[bytes]:
        total = 0
        for chunk in self._inner:
            if self._decoder is not None:
                try:    # never more than one byte past the limit out of one chunk
                    chunk = self._decoder.decompress(chunk, self._limit - total + 1)
                except zlib.error as e:
                    raise BodyUndecodable(f"the body does not decode ({e})") from None
                if self._decoder.unconsumed_tail:
                    raise BodyTooLarge(f"the decompressed body passed {self._limit} bytes")
            total += len(chunk)
            if total > self._limit:
                raise BodyTooLarge(f"the body passed {self._limit} bytes")
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _Transport(httpx.HTTPTransport):
    def __init__(self, backend: _Backend, max_body: int) -> None:  # noqa: super() not called
        # httpx's HTTPTransport is its pool (`_pool`) plus request/response mapping; this is the
        # pool it would build, over the deadline-checking backend.
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=backend,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry)
        self._max_body = max_body

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            response.close()
            raise BodyUndecodable(f"unsupported Content-Encoding {encoding!r}",
                                  request=request)
        response.stream = _Decoded(response.stream, encoding, self._max_body)
        for name in ("content-encoding", "content-length"):   # decoded here, length unknown
            if name in response.headers:
                del response.headers[name]
        return response


def client(*, timeout: float, max_body: int = MAX_BODY) -> tuple[httpx.Client, _Backend]:
    """An httpx client for the openai SDK (`http_client=`) and its backend (for `abort`,
    `stopped`). Per-operation timeouts are `timeout`; wrap each request in `deadline` to bound
    it as a whole."""
    backend = _Backend()
    http = httpx.Client(transport=_Transport(backend, max_body), timeout=timeout,
                        follow_redirects=False, headers={"Accept-Encoding": "gzip, deflate"})
    return http, backend


def abort_all() -> None:
    """Stop every request in flight in this process and every later attempt of its clients.
    Safe to call from a signal handler (no locks taken)."""
    for backend in list(_BACKENDS):
        backend.abort()


@contextlib.contextmanager
def interrupts_stop_requests() -> Iterator[None]:
    """While inside: SIGINT and SIGTERM first `abort_all()`, then raise KeyboardInterrupt in the
    main thread as before, so one Ctrl-C ends a run at any concurrency within moments (without
    it, threads blocked in hung requests keep the process alive). A signal ignored on entry
    stays ignored. Only from the main thread; elsewhere a no-op."""
    import signal
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        LAST_SIGNAL.append(signum)
        abort_all()
        raise KeyboardInterrupt

    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            old[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
