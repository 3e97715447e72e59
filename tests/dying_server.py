"""A stand-in for the embedded llama.cpp server that dies the way llama.cpp did on AMX (stdlib).

Run as a process: `python tests/dying_server.py --port P --signal SIGSEGV --die-on N`. It answers
GET /v1/models and well-formed chat completions ("1 + 1 = 2"), writes one log line per request
to stderr, and on the N-th completion request (1-based) kills itself with the signal before
answering, as a crash inside llama.cpp would; `--die-on 0`: at start-up, before it listens.
`--die-after-ready S`: instead, die S seconds
after it first answered /v1/models (for `serve-local`, which sends no requests itself).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_server import completion_body  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--signal", default="SIGSEGV")
    ap.add_argument("--die-on", type=int, default=1)
    ap.add_argument("--die-after-ready", type=float, default=None)
    args = ap.parse_args()
    sig = signal.Signals[args.signal]
    lock = threading.Lock()
    state = {"requests": 0, "timer": None}

    def die() -> None:
        sys.stderr.write(f"dying_server: killing itself with {sig.name}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), sig)
        # The signal is delivered to the process, not necessarily before kill() returns to this
        # thread: on a loaded machine the handler went on and answered the request it was meant
        # to die on (seen 4 times in 12 runs at load ~5). Never get past this point.
        while True:
            time.sleep(60)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self._send({"object": "list", "data": [{"id": "smollm2-135m-instruct",
                                                    "object": "model"}]})
            with lock:
                if args.die_after_ready is not None and state["timer"] is None:
                    state["timer"] = threading.Timer(args.die_after_ready, die)
                    state["timer"].start()

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with lock:
                state["requests"] += 1
                n = state["requests"]
            sys.stderr.write(f"dying_server: completion request {n}\n")
            sys.stderr.flush()
            if args.die_after_ready is None and n >= args.die_on:
                die()
            self._send(completion_body("1 + 1 = 2", body.get("model", "m"), n))

        def _send(self, data):
            raw = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    if args.die_on == 0:
        die()
    sys.stderr.write(f"dying_server: listening on 127.0.0.1:{args.port}\n")
    sys.stderr.flush()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
