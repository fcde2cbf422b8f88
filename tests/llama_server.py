"""llama-cpp-python's own OpenAI-compatible server with the small real model, for tests.

`python -m llama_cpp.server` on a free port of 127.0.0.1, asked for an API
key (so the tests cover one), ready once `/v1/models` answers. Skips the test
when llama-cpp-python, its server extra or the model package is missing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.helpers import wait_until
from tests.llama_model import small_gguf
from tests.ollama_server import free_port

API_KEY = "perfsup-test-key-7f3a9c"  # what the server wants; tests pass it by a variable
SERVER_EXTRA = ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
START_TIMEOUT_S = 180.0  # loading the model on two shared cores


def _answers(base_url: str, api_key: str | None) -> bool:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        return httpx.get(f"{base_url}/models", headers=headers, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-1500:]
    except OSError:
        return "(no log)"


@contextmanager
def llama_cpp_server(log_dir: Path, *, api_key: str | None = API_KEY) -> Iterator[str]:
    """The server's API root (`http://127.0.0.1:PORT/v1`) while it runs."""
    gguf = small_gguf()
    missing = [m for m in SERVER_EXTRA if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"llama-cpp-python's server extra is missing ({', '.join(missing)})")
    port = free_port()
    argv = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "2", "--chat_format", "gemma",
    ]  # fmt: skip
    if api_key:
        argv += ["--api_key", api_key]
    log_path = log_dir / "llama-server.log"
    base_url = f"http://127.0.0.1:{port}/v1"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until(
                lambda: proc.poll() is not None or _answers(base_url, api_key),
                what="llama-cpp-python's server to answer /v1/models",
                timeout=START_TIMEOUT_S,
                detail=lambda: _tail(log_path),
            )
            if proc.poll() is not None:
                pytest.fail(f"llama-cpp-python's server exited: {_tail(log_path)}")
            yield base_url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
