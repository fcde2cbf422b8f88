"""A small Ollama-compatible server for tests, speaking the real HTTP protocol.

It answers /api/version, /api/tags, /api/show and a streaming /api/chat
(NDJSON chunks, then a final chunk with done_reason, durations in
nanoseconds, prompt_eval_count and eval_count), a 404 with Ollama's error
body for a model it does not have, and, for a model set up that way, an
error line in the middle of the stream, as Ollama does when a runner dies.
Tests drive it with the real `ollama` client through perfsup's backend.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeModel:
    """What one model answers: `chunks` streamed in order, then the final chunk."""

    chunks: list[str]
    prompt_eval_count: int | None = None  # None: about a quarter of the prompt's characters
    error_after: int | None = None  # send an error line after this many chunks
    parameter_size: str = "7.6B"
    parameter_count: int | None = 7_615_616_512


@dataclass
class ServerState:
    models: dict[str, FakeModel] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)  # every /api/chat body


def free_port() -> int:
    """A port nothing listens on right now (for a server that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OllamaTestServer:
    """Runs in a thread on 127.0.0.1; use as a context manager."""

    def __init__(self, port: int = 0) -> None:
        self.state = ServerState()
        state = self.state

        class Handler(_Handler):
            shared = state

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> OllamaTestServer:
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
        if self.path == "/api/version":
            self._json(200, {"version": "0.6.5"})
        elif self.path == "/api/tags":
            self._json(200, {"models": [_tag(name) for name in self.shared.models]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/api/show":
            model = self.shared.models.get(body.get("model", ""))
            if model is None:
                self._json(404, {"error": f"model '{body.get('model')}' not found"})
                return
            self._json(200, _show(model))
        elif self.path == "/api/chat":
            self._chat(body)
        else:
            self._json(404, {"error": "not found"})

    def _chat(self, body: dict[str, Any]) -> None:
        self.shared.requests.append(body)
        name = body.get("model", "")
        model = self.shared.models.get(name)
        if model is None:
            self._json(404, {"error": f"model '{name}' not found"})
            return
        if not body.get("messages"):  # an unload or load request
            reason = "unload" if body.get("keep_alive") in (0, "0") else "load"
            self._json(200, _final(name, reason, 0, 0))
            return
        if body.get("stream") is False:
            self._json(200, _final(name, "stop", 0, 0, "".join(model.chunks)))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, text in enumerate(model.chunks):
            if model.error_after is not None and index == model.error_after:
                self._line({"error": "an error was encountered while running the model"})
                break
            self._line(
                {
                    "model": name,
                    "created_at": "2025-01-01T00:00:00Z",
                    "message": {"role": "assistant", "content": text},
                    "done": False,
                }
            )
        else:
            chars = sum(len(m.get("content", "")) for m in body["messages"])
            prompt = model.prompt_eval_count if model.prompt_eval_count is not None else chars // 4
            self._line(_final(name, "stop", prompt, len(model.chunks)))
        self.wfile.write(b"0\r\n\r\n")

    def _line(self, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _final(name: str, reason: str, prompt: int, completion: int, text: str = "") -> dict[str, Any]:
    return {
        "model": name,
        "created_at": "2025-01-01T00:00:01Z",
        "message": {"role": "assistant", "content": text},
        "done_reason": reason,
        "done": True,
        "total_duration": 2_500_000_000,
        "load_duration": 100_000_000,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": 400_000_000,
        "eval_count": completion,
        "eval_duration": 2_000_000_000,
    }


def _tag(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-01-01T00:00:00Z",
        "size": 4_683_087_332,
        "digest": "sha256:" + "0" * 64,
        "details": {"format": "gguf", "family": "qwen2", "parameter_size": "7.6B"},
    }


def _show(model: FakeModel) -> dict[str, Any]:
    info: dict[str, Any] = {"general.architecture": "qwen2", "qwen2.context_length": 32768}
    if model.parameter_count is not None:
        info["general.parameter_count"] = model.parameter_count
    return {
        "modelfile": "FROM model.gguf",
        "parameters": 'stop "<|im_end|>"',
        "template": "{{ .Prompt }}",
        "details": {
            "format": "gguf",
            "family": "qwen2",
            "parameter_size": model.parameter_size,
            "quantization_level": "Q4_K_M",
        },
        "model_info": info,
        "capabilities": ["completion"],
    }
