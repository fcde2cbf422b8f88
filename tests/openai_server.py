"""A small OpenAI-compatible server speaking llama.cpp's llama-server dialect, for tests.

What llama-cpp-python's server (the real one the slow tests use) does not
send: `usage` and llama.cpp's `timings` in the last streamed chunk, `meta`
in `/v1/models`, and `/tokenize` at the root. It can also refuse a `grammar`
field (as a strict OpenAI server does), answer 503 while "loading", send an
error event in the middle of a stream, or have no tokenize route at all.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ServerState:
    model: str = "qwen2.5-coder-7b-instruct-q4_k_m.gguf"
    chunks: list[str] = field(default_factory=lambda: ["def ", "f():", "\n    pass"])
    refuse_grammar: bool = False  # 400 for any request carrying a grammar
    loading: bool = False  # 503 "Loading model" for chat requests
    error_after: int | None = None  # an error event after this many chunks
    tokenize: bool = True  # serve /tokenize
    usage: bool = True  # send usage and timings in the last chunk
    finish: str = "stop"  # the last chunk's finish_reason ("length": cut at max_tokens)
    usage_sent: Any = None  # instead of the usual usage: whatever a broken server sends
    raw_before: list[bytes] = field(default_factory=list)  # raw SSE text before the chunks
    requests: list[dict[str, Any]] = field(default_factory=list)  # every chat body


class OpenAITestServer:
    """Runs in a thread on 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        self.state = ServerState()
        state = self.state

        class Handler(_Handler):
            shared = state

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> OpenAITestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    shared: ServerState
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            meta = {"n_params": 7_615_616_512, "n_ctx_train": 32768}
            self._json(200, {"object": "list", "data": [{"id": self.shared.model, "meta": meta}]})
        else:
            self._json(404, {"error": {"code": 404, "message": "File Not Found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/tokenize" and self.shared.tokenize:
            # one token per word: enough to tell counts apart
            words = body.get("content", "").split()
            self._json(200, {"tokens": list(range(len(words)))})
        elif self.path == "/v1/chat/completions":
            self._chat(body)
        else:
            self._json(404, {"error": {"code": 404, "message": "File Not Found"}})

    def _chat(self, body: dict[str, Any]) -> None:
        self.shared.requests.append(body)
        if self.shared.loading:
            self._json(503, {"error": {"code": 503, "message": "Loading model"}})
            return
        if self.shared.refuse_grammar and "grammar" in body:
            self._json(400, {"error": {"message": "Unrecognized request argument: grammar"}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for raw in self.shared.raw_before:
            self._send(raw)
        for index, text in enumerate(self.shared.chunks):
            if index == self.shared.error_after:
                self._event({"error": {"code": 500, "message": "the runner died"}})
                break
            self._event({"choices": [{"index": 0, "delta": {"content": text}}]})
        else:
            end = {"index": 0, "delta": {}, "finish_reason": self.shared.finish}
            last: dict[str, Any] = {"choices": [end]}
            if self.shared.usage:
                last["usage"] = {"prompt_tokens": 812, "completion_tokens": 3, "total_tokens": 815}
                if self.shared.usage_sent is not None:
                    last["usage"] = self.shared.usage_sent
                last["timings"] = {"cache_n": 800, "prompt_n": 12, "prompt_ms": 250.0}
            self._event(last)
            self._send(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _event(self, obj: dict[str, Any]) -> None:
        self._send(b"data: " + json.dumps(obj).encode() + b"\n\n")

    def _send(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
