"""A scripted OpenAI-compatible chat-completions server for tests and benchmarks (stdlib only,
127.0.0.1).

`ScriptedServer(script)` answers each POST /v1/chat/completions with `script(body, n)`, where
`body` is the parsed request JSON and `n` the 0-based request number; the script returns a
`Reply`. Every request (body and headers) is recorded in `requests`. Faults are just replies: a
status with headers (429 + Retry-After, 500...), a raw body that is not JSON, a delay past the
client's timeout, or a dropped connection -- so a seeded fault schedule is a script.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    headers: dict = field(default_factory=dict)
    raw: bytes | None = None          # sent as the body instead of a completion
    delay: float = 0.0                # seconds before answering
    close: bool = False               # drop the connection without an answer
    usage: dict | None = None         # None: computed from the text (1 token per word)
    # the first answer token's alternatives, [(token, logprob), ...], sent as the choice's
    # `logprobs.content[0].top_logprobs` (OpenAI's layout); any JSON value is sent as it is
    top_logprobs: object = None


def completion(text: str, usage: dict | None = None, model: str = "scripted",
               top_logprobs: object = None) -> dict:
    if usage is None:
        usage = {"prompt_tokens": 50, "completion_tokens": max(1, len(text.split())),
                 "total_tokens": 50 + max(1, len(text.split()))}
    choice = {"index": 0, "finish_reason": "stop",
              "message": {"role": "assistant", "content": text}}
    if top_logprobs is not None:
        alts = ([{"token": t, "logprob": lp, "bytes": None} for t, lp in top_logprobs]
                if isinstance(top_logprobs, list) and all(isinstance(x, tuple)
                                                          for x in top_logprobs)
                else top_logprobs)
        first = alts[0] if isinstance(alts, list) and alts and isinstance(alts[0], dict) else {}
        choice["logprobs"] = {"content": [{"token": first.get("token", ""),
                                           "logprob": first.get("logprob", 0.0),
                                           "bytes": None, "top_logprobs": alts}]}
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
            "choices": [choice], "usage": usage}


class ScriptedServer:
    def __init__(self, script: Callable[[dict, int], Reply]) -> None:
        self.script = script
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                body = json.dumps({"object": "list", "data": [{"id": "scripted"}]}).encode()
                self._send(200, body, {})

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                data = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    n = len(outer.requests)
                    outer.requests.append(data)
                    outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = outer.script(data, n)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.close:
                    self.close_connection = True
                    self.connection.close()
                    return
                if reply.raw is not None:
                    body = reply.raw
                elif reply.status == 200:
                    body = json.dumps(completion(reply.text, reply.usage,
                                                 data.get("model", "scripted"),
                                                 reply.top_logprobs)).encode()
                else:
                    body = json.dumps({"error": {"message": f"scripted {reply.status}",
                                                 "type": "scripted"}}).encode()
                try:
                    self._send(reply.status, body, reply.headers)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, status, body, headers):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
