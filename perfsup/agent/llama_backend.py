"""A GGUF model run by llama.cpp (llama-cpp-python) in a child process.

llama.cpp writes to stderr behind the TUI's back and a native crash would
take the engine down with it, so the model lives in `llama_child.py`, in a
process of its own: its stderr goes to a log file, its answers come back as
JSON lines. When the child dies in the middle of a call, the call fails
(`CallFailed`, which the engine records) and the next call starts a new
child. A GGUF that does not load at all is `ModelUnavailable`: waiting will
not fix it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import perfsup
from perfsup.agent.backend import CallFailed, ChatMessage, ModelReply, ModelUnavailable
from perfsup.agent.unchanged import ForbidUnchanged

LOAD_TIMEOUT_S = 300.0
TOKEN_TIMEOUT_S = 300.0  # no output (token or reading progress) this long: stuck, kill it


def llama_missing() -> str | None:
    """Why llama-cpp-python cannot be used here, or None when it can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "the module llama_cpp cannot be imported"
    return None


class LlamaBackend:
    """Chat with a GGUF model in a child process; see the module docstring."""

    supports_grammar = True

    def __init__(
        self,
        *,
        gguf_path: Path,
        context_tokens: int,
        max_answer_tokens: int,
        temperature: float,
        threads: int | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.gguf_path = Path(gguf_path)
        self.name = f"llama:{self.gguf_path.name}"
        self.context_tokens = context_tokens
        self.max_answer_tokens = max_answer_tokens
        self.temperature = temperature
        self.threads = threads or 0
        folder = log_dir or Path(tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        self.stderr_path = folder / "llama-child.log"
        self.info: dict[str, Any] = {}
        self.starts = 0  # how many children were started (restarts after a crash count)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    # ---------------------------------------------------------------- child
    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _ensure_child(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._reap()
        env = dict(os.environ)
        root = str(Path(perfsup.__file__).resolve().parents[1])  # this perfsup, not another
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._stderr = self.stderr_path.open("ab")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "perfsup.agent.llama_child",
                str(self.gguf_path),
                str(self.context_tokens),
                str(self.threads),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            bufsize=0,  # unbuffered: select() must see every line the child wrote
        )
        self.starts += 1
        first = self._read(self._proc, LOAD_TIMEOUT_S)
        if first is None or "fatal" in first or not first.get("ready"):
            why = (first or {}).get("fatal") or f"it exited ({self._exit_text()})"
            self._reap()
            raise ModelUnavailable(
                f"llama.cpp cannot load {self.gguf_path}: {why} (see {self.stderr_path})"
            )
        self.info = first
        return self._proc

    def _read(self, proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any] | None:
        """The child's next JSON line; None when it ended or said nothing for `timeout` s."""
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return None
        line = proc.stdout.readline()
        if not line:
            return None
        try:
            parsed: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            return {"error": f"the child wrote something that is not JSON: {line[:200]!r}"}
        return parsed

    def _exit_text(self) -> str:
        if self._proc is None:
            return "not running"
        code = self._proc.poll()
        if code is None:
            return "still running"
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    def _reap(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(timeout=10)
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
        if self._stderr is not None:
            self._stderr.close()
        self._proc = None
        self._stderr = None

    # ---------------------------------------------------------------- chat
    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        on_token: Callable[[str], None] | None = None,
        seed: int | None = None,
        grammar: str | None = None,
        forbid_unchanged: ForbidUnchanged | None = None,
    ) -> ModelReply:
        """Stream one answer; `CallFailed` when the child fails or dies during the call."""
        proc = self._ensure_child()
        request = {
            "op": "chat",
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": self.max_answer_tokens,
            "temperature": self.temperature,
            "seed": seed,
            "grammar": grammar,
            "forbid_unchanged": forbid_unchanged.to_json() if forbid_unchanged else None,
        }
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            self._reap()
            raise CallFailed(
                f"the llama.cpp child process had died ({self._exit_text()})"
            ) from None
        parts: list[str] = []
        in_step = False
        try:
            reply = self._stream(proc, parts, on_token)
            in_step = True
            return reply
        finally:
            if not in_step and self._proc is proc:
                # interrupted between request and answer (an exception in on_token, a
                # timeout): the child may still be talking, so it cannot be trusted
                # to be in step with the next request; a fresh one will be
                self._reap()

    def _stream(
        self,
        proc: subprocess.Popen[bytes],
        parts: list[str],
        on_token: Callable[[str], None] | None,
    ) -> ModelReply:
        while True:
            message = self._read(proc, TOKEN_TIMEOUT_S)
            if message is None:
                # the pipe closes a moment before the process can be waited for
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=2)
                alive = proc.poll() is None
                exit_text = self._exit_text()
                self._reap()  # stuck or dead: the next call starts a fresh child
                why = f"no output for {TOKEN_TIMEOUT_S:g} s" if alive else exit_text
                raise CallFailed(
                    f"the llama.cpp child process failed during the call ({why}); "
                    "it is restarted for the next call",
                    "".join(parts),
                )
            if "reading" in message:  # still reading the prompt: alive, not stuck
                continue
            if "token" in message:
                parts.append(message["token"])
                if on_token is not None:
                    on_token(message["token"])
            elif "error" in message:  # a new child for the next call, to be safe
                raise CallFailed(f"llama.cpp: {message['error']}", "".join(parts))
            elif message.get("done"):
                return ModelReply(
                    text="".join(parts),
                    model=self.name,
                    prompt_tokens=int(message["prompt_tokens"]),
                    completion_tokens=int(message["completion_tokens"]),
                    cached_tokens=int(message["cached_tokens"]),
                    ttft_s=float(message["ttft_s"]),
                    total_s=float(message["total_s"]),
                    # the first token comes right after the prompt is read
                    prompt_eval_s=float(message["ttft_s"]),
                    answer_limit=message.get("answer_limit"),
                    truncated=bool(message.get("truncated")),
                )

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` by the model's own tokenizer."""
        proc = self._ensure_child()
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"op": "count", "text": text}).encode() + b"\n")
        proc.stdin.flush()
        message = self._read(proc, TOKEN_TIMEOUT_S)
        if message is None or "tokens" not in message:
            self._reap()
            raise CallFailed("the llama.cpp child process did not count the tokens")
        return int(message["tokens"])

    # --------------------------------------------------------------- extras
    def ready(self) -> str:
        """Load the GGUF in the child now (it stays loaded for the run)."""
        self._ensure_child()  # ModelUnavailable naming the file and the log
        count = self.info.get("n_params")
        size = f" ({float(count) / 1e9:.2g}B parameters)" if count else ""
        return f"llama.cpp loaded {self.gguf_path.name}{size}"

    def parameter_count(self) -> float | None:
        """The model's parameters, as llama.cpp counts them."""
        try:
            self._ensure_child()
        except ModelUnavailable:
            return None
        count = self.info.get("n_params")
        return float(count) if count else None

    def unload(self) -> None:
        """End the child (its memory goes with it); the next call starts a new one."""
        self.close()

    def close(self) -> None:
        """Ask the child to end (stdin closed), then make sure it did."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            deadline = time.monotonic() + 5
            while self._proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        self._reap()
