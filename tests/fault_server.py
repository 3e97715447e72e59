"""A fault-injecting OpenAI-compatible chat-completions server for reliability tests (stdlib only).

Binds 127.0.0.1 on a random free port. For request number n (0-based, in arrival order) a seeded
schedule decides, independently of timing and threads, whether to answer normally or with one
fault, each a real HTTP behaviour on a real socket (no SDK mocks):

  delay          answer only after `delay` seconds (set it past the client's timeout)
  rate_limited   429 with a Retry-After header
  http_500/502/503   a server error with a JSON error body
  not_json       200 with a body that is not JSON
  truncated_json 200 with a completion body cut in half
  empty_content  200, a well-formed completion whose content is ""
  huge_content   200, a well-formed completion with `huge_chars` characters of junk
  wrong_format   200, a well-formed completion whose lines are not steps nor judgements
  close          read the request, then close the connection without a response
  unauthorized   401 (opt-in, not in FAULTS: no retry can fix it)

Opt-in modes (issue 12; `HOSTILE`, not in FAULTS, so the schedules of FAULTS stay as they were):
  trickle_body     headers at once, then the body one byte every `trickle` seconds, for ever
  trickle_headers  the status line, then header bytes one every `trickle` seconds, for ever
  hang             read the request, never answer (until the server stops)
  surrogate        a normal answer with a lone surrogate (\\ud800 in the JSON) appended
  nested_json      200 with a JSON body nested 100,000 deep
  gzip_bomb        200, Content-Encoding gzip: `bomb_bytes` of zeros compressed (~1000:1)
  redirect_loop    307 to the same URL
  context_length   400 "maximum context length exceeded" (OpenAI's error shape)

`answer(body, n)` gives the text of a normal answer. Every request is logged with the kind it
got (`log`) and the headers it came with (`headers`), so a test can compare what the client
counted with what the server did. Past `max_requests` the server closes every connection
(a runaway client loop is cut, and the test sees it in `over_limit`).
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

FAULTS = ("delay", "rate_limited", "http_500", "http_502", "http_503", "not_json",
          "truncated_json", "empty_content", "huge_content", "wrong_format", "close")
TRANSPORT = ("delay", "rate_limited", "http_500", "http_502", "http_503", "not_json",
             "truncated_json", "close")       # the client sees these as failed attempts
CONTENT = ("empty_content", "huge_content", "wrong_format")   # well-formed, useless answers
HOSTILE = ("trickle_body", "trickle_headers", "hang", "surrogate", "nested_json", "gzip_bomb",
           "redirect_loop", "context_length")
# what the client counts each as (in Usage.faults)
HOSTILE_COUNTED = {"trickle_body": "timeout", "trickle_headers": "timeout", "hang": "timeout",
                   "surrogate": "invalid_text", "nested_json": "malformed",
                   "gzip_bomb": "oversized_body", "redirect_loop": "redirect",
                   "context_length": "context_length"}
WRONG_FORMAT = ("Certainly! Here are some ideas:\n* add the numbers\n* then multiply\n"
                "```python\n__import__('os').system('echo pwned')\n```\n"
                "Step A -> B\nmaybe\n")


def completion_body(text: str, model: str, n: int) -> dict:
    words = max(1, len(text.split()))
    return {"id": f"chatcmpl-fault-{n}", "object": "chat.completion", "created": 0,
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 40, "completion_tokens": words,
                      "total_tokens": 40 + words}}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        import sys
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)   # a bug in the server: shown


class FaultServer:
    """Use as a context manager; `base_url` is http://127.0.0.1:PORT/v1."""

    def __init__(self, answer: Callable[[dict, int], str] | None = None, *,
                 fault_rate: float = 0.3, seed: int = 0, faults: tuple[str, ...] = FAULTS,
                 delay: float = 0.5, retry_after: str = "0", retry_after_5xx: str | None = None,
                 huge_chars: int = 200_000, max_requests: int = 5000, trickle: float = 0.2,
                 bomb_bytes: int = 32 << 20) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be in [0, 1]")
        unknown = set(faults) - set(FAULTS) - set(HOSTILE) - {"unauthorized"}
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}")
        self.answer = answer or (lambda body, n: "ok")
        self.fault_rate, self.seed, self.faults = fault_rate, seed, tuple(faults)
        self.delay, self.retry_after, self.huge_chars = delay, retry_after, huge_chars
        self.retry_after_5xx = retry_after_5xx
        self.max_requests = max_requests
        self.trickle, self.bomb_bytes = trickle, bomb_bytes
        self._stop = threading.Event()       # wakes handlers that hang or trickle
        self._bomb: bytes | None = None
        if "gzip_bomb" in faults:
            self.bomb()          # made before the first request, not during it
        self.log: list[tuple[int, str]] = []
        self.headers: list[dict] = []
        self.bodies: list[dict] = []
        self.over_limit = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True    # headers and body go out in separate writes

            def log_message(self, *args):   # quiet
                pass

            def do_GET(self):
                self._send(200, json.dumps({"object": "list",
                                            "data": [{"id": "fault"}]}).encode())

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                with outer._lock:
                    n = len(outer.log)
                    if n >= outer.max_requests:
                        outer.over_limit += 1
                        kind = "over_limit"
                    elif not isinstance(body, dict) or not body.get("messages"):
                        # e.g. a client killed while sending: not a request, answered 400
                        outer.log.append((n, "bad_request"))
                        outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                        outer.bodies.append(body)
                        kind = "bad_request"
                    else:
                        kind = outer.kind(n)
                        outer.log.append((n, kind))
                        outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                        outer.bodies.append(body)
                if kind in ("close", "over_limit"):
                    self.close_connection = True
                    self.connection.close()
                    return
                model = str(body.get("model", "fault"))
                try:
                    self._fault(kind, body, model, n)
                except (BrokenPipeError, ConnectionResetError):
                    pass                     # the client gave up (timed out) first

            def _fault(self, kind, body, model, n):
                if kind == "bad_request":
                    return self._error(400, {})
                if kind in HOSTILE:
                    return self._hostile(kind, body, model, n)
                if kind == "delay":
                    time.sleep(outer.delay)
                    kind = "ok"
                if kind == "rate_limited":
                    return self._error(429, {"Retry-After": outer.retry_after})
                if kind == "unauthorized":
                    return self._error(401, {})
                if kind.startswith("http_"):
                    extra = {} if outer.retry_after_5xx is None else \
                        {"Retry-After": outer.retry_after_5xx}
                    return self._error(int(kind[5:]), extra)
                if kind == "not_json":
                    return self._send(200, b"<html><body>502 Bad Gateway</body></html>",
                                      "text/html")
                text = {"empty_content": "", "wrong_format": WRONG_FORMAT,
                        "huge_content": ("x" * 79 + "\n") * (outer.huge_chars // 80)
                        }.get(kind)
                if text is None:
                    text = outer.answer(body, n)
                data = json.dumps(completion_body(text, model, n)).encode()
                if kind == "truncated_json":
                    data = data[: len(data) // 2]
                self._send(200, data)

            def _hostile(self, kind, body, model, n):
                stop = outer._stop
                if kind == "hang":
                    stop.wait()
                    return
                if kind == "trickle_headers":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    while not stop.wait(outer.trickle):
                        self.wfile.write(b"a")
                        self.wfile.flush()
                    return
                if kind == "trickle_body":
                    data = b" " * 10_000_000 + json.dumps(completion_body("ok", model, n)).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    for i in range(len(data)):
                        if stop.wait(outer.trickle):
                            return
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                    return
                if kind == "surrogate":
                    text = outer.answer(body, n) + "\ud800"
                    return self._send(200, json.dumps(completion_body(text, model, n)).encode())
                if kind == "nested_json":
                    depth = 100_000
                    return self._send(200, b'{"choices": ' + b"[" * depth + b"]" * depth + b"}")
                if kind == "gzip_bomb":
                    return self._send(200, outer.bomb(), headers={"Content-Encoding": "gzip"})
                if kind == "redirect_loop":
                    self.send_response(307)
                    self.send_header("Location", self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if kind == "context_length":
                    data = json.dumps({"error": {
                        "message": "This model's maximum context length is 2048 tokens. "
                                   "However, your messages resulted in 9000 tokens.",
                        "type": "invalid_request_error", "param": "messages",
                        "code": "context_length_exceeded"}}).encode()
                    return self._send(400, data)
                raise AssertionError(kind)

            def _error(self, status, headers):
                data = json.dumps({"error": {"message": f"injected {status}",
                                             "type": "fault"}}).encode()
                self._send(status, data, headers=headers)

            def _send(self, status, data, ctype="application/json", headers=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                        daemon=True, name="fault-server")

    def bomb(self) -> bytes:
        """`bomb_bytes` zeros, gzip-compressed (made once)."""
        if self._bomb is None:
            import gzip
            self._bomb = gzip.compress(b"\0" * self.bomb_bytes, compresslevel=9)
        return self._bomb

    def kind(self, n: int) -> str:
        """What request n gets: a pure function of (seed, n)."""
        rng = random.Random(self.seed * 1_000_003 + n)
        if rng.random() >= self.fault_rate:
            return "ok"
        return rng.choice(self.faults)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.log)

    def kinds(self) -> Counter:
        with self._lock:
            return Counter(k for _, k in self.log)

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __repr__(self) -> str:
        return (f"FaultServer({self.base_url}, fault_rate={self.fault_rate}, seed={self.seed}, "
                f"requests={self.count})")
