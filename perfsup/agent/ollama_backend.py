"""A model served by Ollama, through the official `ollama` client.

Every call streams (`on_token` sees the answer as it is written) and reads
its token use from the final chunk: `prompt_eval_count`, `eval_count` and the
durations in nanoseconds. The context size (`num_ctx`) is the same for every
call of a run, because a change reloads the model; the seed changes per
attempt so a retry is not the same answer again.

Failures, and what the engine makes of them:
- the model is not pulled (HTTP 404): `ModelWaiting`, naming `ollama pull NAME`;
  the engine waits and calls again, so a person can pull it while the run waits;
- the server does not answer (connection refused): `ModelWaiting` too;
- an error line in the middle of a stream, a read timeout, another HTTP error:
  `CallFailed` with the text that had arrived; the engine records the call.

Ollama cuts a prompt longer than `num_ctx` without saying so. When the prompt
tokens it reports are far below our estimate, or fill the whole window, the
reply carries a warning and the engine records it as an event.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import ollama

from perfsup.agent.backend import (
    CallFailed,
    ChatMessage,
    ModelReply,
    ModelUnavailable,
    ModelWaiting,
)
from perfsup.agent.tokens import LearnedRatio, estimate_tokens
from perfsup.agent.unchanged import ForbidUnchanged

NS = 1e-9
# A prompt is "cut" when Ollama counted less than this share of our estimate...
TRUNCATION_RATIO = 0.6
# ...for prompts big enough that the estimate means something,
TRUNCATION_MIN_ESTIMATE = 200
# or when it counted (nearly) the whole window: the prompt did not fit.
FULL_WINDOW_MARGIN = 8
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 300.0  # no token for this long ends the call


class OllamaBackend:
    """Chat with one Ollama model; see the module docstring for failures."""

    def __init__(
        self,
        *,
        model: str,
        host: str,
        context_tokens: int,
        max_answer_tokens: int,
        temperature: float,
        keep_alive: str | float = "30m",
    ) -> None:
        self.model = model
        self.host = host
        self.name = f"ollama:{model}"
        self.context_tokens = context_tokens
        self.max_answer_tokens = max_answer_tokens
        self.temperature = temperature
        self.keep_alive = keep_alive
        self.client = ollama.Client(
            host=host, timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        )
        self.ratio = LearnedRatio()  # taught by the first calls' prompt_eval_count

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` by the ratio the server's counts taught, with a margin."""
        return self.ratio.count(text)

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
        """Stream one answer; `ModelWaiting` or `CallFailed` when Ollama cannot give one.

        Ollama takes JSON schemas, not GBNF grammars: `grammar` and
        `forbid_unchanged` are ignored.
        """
        options: dict[str, Any] = {
            "num_ctx": self.context_tokens,
            "num_predict": self.max_answer_tokens,
            "temperature": self.temperature,
        }
        if seed is not None:
            options["seed"] = seed
        started = time.monotonic()
        first: float | None = None
        parts: list[str] = []
        final: Any = None
        try:
            stream = self.client.chat(
                model=self.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=True,
                options=options,
                keep_alive=self.keep_alive,
            )
            for chunk in stream:
                text = chunk.message.content or ""
                if text:
                    if first is None:
                        first = time.monotonic() - started
                    parts.append(text)
                    if on_token is not None:
                        on_token(text)
                if chunk.done:
                    final = chunk
        except ollama.ResponseError as exc:
            raise self._response_error(exc, "".join(parts)) from None
        except (ConnectionError, httpx.ConnectError) as exc:
            raise ModelWaiting(
                f"the Ollama server at {self.host} does not answer ({_short(exc)}); "
                "start it with `ollama serve`"
            ) from None
        except httpx.HTTPError as exc:  # read timeout, connection dropped mid-stream
            raise CallFailed(
                f"the call to {self.name} broke off: {_short(exc)}", "".join(parts)
            ) from None
        total = time.monotonic() - started
        text = "".join(parts)
        if final is None:
            raise CallFailed(f"the stream from {self.name} ended without its final chunk", text)
        estimate = sum(estimate_tokens(m.content) for m in messages)
        prompt_tokens = int(final.prompt_eval_count or 0)
        reply = ModelReply(
            text=text,
            model=self.name,
            prompt_tokens=prompt_tokens,
            completion_tokens=int(final.eval_count or 0),
            cached_tokens=None,  # Ollama does not say how much came from its cache
            ttft_s=first if first is not None else total,
            total_s=total,
            prompt_eval_s=(final.prompt_eval_duration or 0) * NS or None,
        )
        warning = truncation_warning(prompt_tokens, estimate, self.context_tokens)
        if warning:
            reply.warnings.append(warning)
        else:  # a cut prompt's count says nothing about the ratio
            self.ratio.learn(sum(len(m.content) for m in messages), prompt_tokens)
        reply.answer_limit = min(self.max_answer_tokens, self.context_tokens - prompt_tokens)
        reply.truncated = getattr(final, "done_reason", None) == "length"
        return reply

    def _response_error(self, exc: ollama.ResponseError, partial: str) -> Exception:
        if exc.status_code == 404:
            installed = self.installed_models()
            have = f"; installed: {', '.join(installed)}" if installed else ""
            return ModelWaiting(
                f"Ollama at {self.host} has no model {self.model!r}: run "
                f"`ollama pull {self.model}` (the run waits and retries){have}"
            )
        if exc.status_code == 503 or "connection refused" in exc.error.lower():
            return ModelWaiting(f"the Ollama server at {self.host} is not ready: {exc.error}")
        return CallFailed(f"{self.name} failed: {exc.error}", partial)

    # --------------------------------------------------------------- extras
    def ready(self) -> str:
        """The server answers and has the model: checked by /api/tags, no tokens spent."""
        try:
            listed = self.client.list()
        except ollama.ResponseError as exc:
            raise ModelUnavailable(
                f"the Ollama server at {self.host} answered /api/tags with an error: {exc.error}"
            ) from None
        except (ConnectionError, httpx.HTTPError) as exc:
            raise ModelUnavailable(
                f"the Ollama server at {self.host} does not answer ({_short(exc)}); "
                "start it with `ollama serve`"
            ) from None
        installed = [m.model for m in listed.models if m.model]
        wanted = {self.model, self.model if ":" in self.model else f"{self.model}:latest"}
        if wanted.isdisjoint(installed):
            have = ", ".join(installed) or "none"
            raise ModelUnavailable(
                f"Ollama at {self.host} has no model {self.model!r} (installed: {have}); "
                f"run `ollama pull {self.model}`"
            )
        return f"Ollama at {self.host} answers and has {self.model} pulled"

    def installed_models(self) -> list[str]:
        """The names /api/tags lists; [] when the server cannot say."""
        try:
            listed = self.client.list()
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError):
            return []
        return [m.model for m in listed.models if m.model]

    def server_version(self) -> str | None:
        """The server's version from /api/version, or None when it does not answer."""
        try:
            response = self.client._client.get("/api/version")  # the client has no helper
            response.raise_for_status()
        except httpx.HTTPError:
            return None
        version = response.json().get("version")
        return str(version) if version else None

    def unload(self) -> None:
        """Ask Ollama to free the model now (keep_alive 0); errors are ignored."""
        # an unreachable server holds no memory for us
        with contextlib.suppress(ollama.ResponseError, ConnectionError, httpx.HTTPError):
            self.client.chat(model=self.model, messages=[], keep_alive=0)

    def parameter_count(self) -> float | None:
        """From /api/show: model_info's general.parameter_count, else details' "7.6B"."""
        try:
            shown = self.client.show(self.model)
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError):
            return None
        info = shown.modelinfo or {}
        count = info.get("general.parameter_count")
        if isinstance(count, int | float) and count > 0:
            return float(count)
        size = shown.details.parameter_size if shown.details else None
        return parse_parameter_size(size or "")


def parse_parameter_size(text: str) -> float | None:
    """ "7.6B" -> 7.6e9, "270M" -> 2.7e8; None for anything else."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMBT])\s*", text, re.IGNORECASE)
    if not match:
        return None
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[match.group(2).upper()]
    return float(match.group(1)) * scale


def truncation_warning(reported: int, estimate: int, context_tokens: int) -> str | None:
    """A warning when the reported prompt tokens say the server cut the prompt."""
    if reported <= 0:
        return None
    if estimate >= TRUNCATION_MIN_ESTIMATE and reported < TRUNCATION_RATIO * estimate:
        return (
            f"the prompt was probably cut: the server counted {reported} prompt tokens, "
            f"perfsup estimated {estimate}; raise model.context_tokens"
        )
    if reported >= context_tokens - FULL_WINDOW_MARGIN:
        return (
            f"the prompt filled the whole context window ({reported} of {context_tokens} "
            "tokens) and was probably cut; raise model.context_tokens"
        )
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
