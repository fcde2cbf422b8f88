"""A model behind an OpenAI-compatible server (llama.cpp's server, LM Studio, vLLM ...).

A thin client on httpx (see decision 0220): every call streams
`POST {base_url}/chat/completions` as server-sent events, so `on_token` sees
the answer as it is written. Token use comes from the stream's `usage` (asked
for with `stream_options.include_usage`) and, where the server sends them,
llama.cpp's `timings` (prompt time, tokens read from its cache). A server
that reports no usage (llama-cpp-python's) gets its tokens counted by its own
tokenize endpoint, or estimated when it has none.

The API key, when one is needed, is read from the environment variable the
config names (`api_key_env`) and goes only into the Authorization header.

Failures, and what the engine makes of them:
- the server does not answer, is still loading (503) or lacks the model (404):
  `ModelWaiting`; the run waits and calls again;
- the key is refused (401, 403): `ModelUnavailable`; waiting will not fix it;
- an error in the middle of the stream, a read timeout, another HTTP error:
  `CallFailed` with the text that had arrived.

A GBNF `grammar` goes in the request's `grammar` field, which llama.cpp's
server and llama-cpp-python's apply; a server that refuses the field (400,
422) is asked again without it, and never sent one again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from httpx_sse import connect_sse

from perfsup.agent.backend import (
    CallFailed,
    ChatMessage,
    ModelReply,
    ModelUnavailable,
    ModelWaiting,
)
from perfsup.agent.openai_models import ServerModels, model_size, server_root
from perfsup.agent.openai_wire import (
    count_of,
    delta_text,
    error_text,
    finish_reason,
    stream_chunk,
    token_count,
)
from perfsup.agent.tokens import estimate_tokens
from perfsup.agent.unchanged import ForbidUnchanged

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 300.0  # no token for this long ends the call
# A server that ignores max_tokens must not fill the engine's memory: the
# stream is cut at this many characters per answer token allowed.
MAX_CHARS_PER_TOKEN = 32
# Token counting routes, tried in order: llama.cpp's and vLLM's server, then
# llama-cpp-python's (whose /tokenize does not exist).
TOKENIZE_ROUTES = ("/tokenize", "/extras/tokenize/count")


class TokenizeUnsupported(CallFailed):
    """The server has no tokenize endpoint: its token counts cannot be asked for."""


class _GrammarRefused(Exception):
    """The server answered 400 or 422 to a request carrying a grammar."""


class OpenAIBackend:
    """Chat with one model of an OpenAI-compatible server; see the module docstring."""

    supports_grammar = True  # sent where asked; dropped for good if the server refuses it

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        max_answer_tokens: int,
        temperature: float,
        context_tokens: int = 8192,
        api_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = ""
        self.name = ""
        self._use(model)  # "": the one model the server lists, found on first use
        self.max_answer_tokens = max_answer_tokens
        self.context_tokens = context_tokens  # the server's window, as the config states it
        self.temperature = temperature
        self.grammar_accepted = True
        self.tokenize_route: str | None = None  # the route that worked, once one did
        self.tokenize_overhead = 0  # tokens that route adds to any text
        self.tokenize_missing = False  # asked once: the server has no tokenize route
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        )
        self.models = ServerModels(self.client, self.base_url)

    def _use(self, model: str) -> None:
        self.model = model
        self.name = f"openai:{model or self.base_url}"

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
        """Stream one answer; `ModelWaiting`, `ModelUnavailable` or `CallFailed` if none comes.

        `forbid_unchanged` is ignored: it is a sampler rule of perfsup's own
        llama.cpp child, which a server cannot be sent.
        """
        if not self.model:
            self._use(self._wait_for(self.models.only_model))
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": self.max_answer_tokens,
            "temperature": self.temperature,
        }
        if seed is not None:
            body["seed"] = seed
        if grammar and self.grammar_accepted:
            body["grammar"] = grammar
        try:
            return self._stream(body, messages, on_token)
        except _GrammarRefused:
            del body["grammar"]
            reply = self._stream(body, messages, on_token)
            self.grammar_accepted = False  # the same request without it was fine
            return reply

    def _wait_for(self, ask: Callable[[], str]) -> str:
        """`ask()`, with an unavailable server made a reason to wait (the run retries)."""
        try:
            return ask()
        except ModelUnavailable as exc:
            raise ModelWaiting(str(exc)) from None

    def _stream(
        self,
        body: dict[str, Any],
        messages: Sequence[ChatMessage],
        on_token: Callable[[str], None] | None,
    ) -> ModelReply:
        started = time.monotonic()
        first: float | None = None
        parts: list[str] = []
        size = 0
        final: dict[str, Any] = {}  # the last usage, timings and finish_reason seen
        try:
            with connect_sse(self.client, "POST", "chat/completions", json=body) as source:
                if source.response.status_code != 200:
                    source.response.read()
                    raise self._status_error(source.response, "grammar" in body)
                for event in source.iter_sse():
                    if event.event not in ("", "message") or not event.data.strip():
                        continue  # a keep-alive ping, an empty event
                    if event.data.strip() == "[DONE]":
                        break
                    chunk = stream_chunk(event.data, parts)
                    for key in ("usage", "timings"):
                        if isinstance(chunk.get(key), dict):
                            final[key] = chunk[key]
                    final["finish_reason"] = finish_reason(chunk) or final.get("finish_reason")
                    text = delta_text(chunk)
                    if text:
                        if first is None:
                            first = time.monotonic() - started
                        parts.append(text)
                        size += len(text)
                        if on_token is not None:
                            on_token(text)
                    if size > self.max_answer_tokens * MAX_CHARS_PER_TOKEN:
                        final["finish_reason"] = "length"  # cut here: the server ignored max_tokens
                        break
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ModelWaiting(
                f"the server at {self.base_url} does not answer ({_short(exc)}); "
                "start it (llama-server, LM Studio, vLLM ...) or fix model.base_url"
            ) from None
        except httpx.HTTPError as exc:  # read timeout, dropped connection, not an event stream
            raise CallFailed(
                f"the call to {self.name} broke off: {_short(exc)}", "".join(parts)
            ) from None
        total = time.monotonic() - started
        return self._reply("".join(parts), messages, final, first, total)

    def _reply(
        self,
        text: str,
        messages: Sequence[ChatMessage],
        final: dict[str, Any],
        first: float | None,
        total: float,
    ) -> ModelReply:
        usage = final.get("usage", {})
        timings = final.get("timings", {})
        prompt_tokens = count_of(usage, "prompt_tokens")
        completion_tokens = count_of(usage, "completion_tokens")
        if prompt_tokens is None or completion_tokens is None:
            # no usage in the stream: the server's tokenizer on the texts (without
            # the few tokens of its chat template), or the shared estimate
            prompt_tokens = sum(self._count_or_estimate(m.content) for m in messages)
            completion_tokens = self._count_or_estimate(text)
        cached = count_of(usage.get("prompt_tokens_details"), "cached_tokens")
        if cached is None:
            cached = count_of(timings, "cache_n")
        prompt_ms = timings.get("prompt_ms")
        if not isinstance(prompt_ms, int | float) or not prompt_ms >= 0:
            prompt_ms = None
        ttft = first if first is not None else total
        room = self.context_tokens - prompt_tokens
        return ModelReply(
            text=text,
            model=self.name,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_tokens=cached,
            ttft_s=ttft,
            total_s=total,
            # without timings: the first token comes right after the prompt is read
            prompt_eval_s=prompt_ms / 1000 if prompt_ms is not None else ttft,
            answer_limit=max(0, min(self.max_answer_tokens, room)),
            truncated=final.get("finish_reason") == "length",
        )

    def _status_error(self, response: httpx.Response, had_grammar: bool) -> Exception:
        code = response.status_code
        said = error_text(response)
        if had_grammar and code in (400, 422):
            return _GrammarRefused()
        if code in (401, 403):
            return ModelUnavailable(
                f"the server at {self.base_url} refused the API key (HTTP {code}: {said}); "
                "check the variable model.api_key_env names"
            )
        if code == 404:
            listed = self.models.listed_or_empty()
            have = f"; it lists: {', '.join(listed)}" if listed else ""
            return ModelWaiting(
                f"the server at {self.base_url} has no model {self.model!r} (HTTP 404: {said})"
                f"{have}; load it there or set model.name"
            )
        if code == 503:
            return ModelWaiting(f"the server at {self.base_url} is not ready: {said}")
        return CallFailed(f"{self.name} failed: HTTP {code}: {said}")

    # --------------------------------------------------------------- tokens
    def count_tokens(self, text: str) -> int:
        """Tokens of `text` by the server's own tokenizer.

        Asks llama.cpp's (and vLLM's) `/tokenize`, then llama-cpp-python's
        `/extras/tokenize/count`; `TokenizeUnsupported` when the server has
        neither, `CallFailed` when it cannot be asked. What a route adds to
        every text (llama-cpp-python's BOS token) is measured once, on the
        empty text, and taken off, so the counts of a prompt's parts add up.
        """
        if not text:
            return 0
        if self.tokenize_missing:
            raise TokenizeUnsupported(f"the server at {self.base_url} has no tokenize endpoint")
        if self.tokenize_route is None:
            self.tokenize_route = self._find_tokenize_route()
        count = self._ask_count(self.tokenize_route, text)
        if count is None:
            raise CallFailed(f"the server at {self.base_url} stopped counting tokens")
        return max(0, count - self.tokenize_overhead)

    def _find_tokenize_route(self) -> str:
        for route in TOKENIZE_ROUTES:
            try:
                overhead = self._ask_count(route, "")
            except CallFailed:  # the route exists but will not count nothing
                overhead = 0
            if overhead is not None:
                self.tokenize_overhead = overhead
                return route
        self.tokenize_missing = True
        raise TokenizeUnsupported(
            f"the server at {self.base_url} has no tokenize endpoint "
            f"(tried {', '.join(TOKENIZE_ROUTES)})"
        )

    def _ask_count(self, route: str, text: str) -> int | None:
        """The count `route` gives for `text`; None when the server has no such route."""
        url = server_root(self.base_url) + route
        body = {
            "model": self.model or None,
            "content": text,  # llama.cpp
            "prompt": text,  # vLLM
            "input": text,  # llama-cpp-python
            "add_special": False,
            "add_special_tokens": False,
        }
        try:
            response = self.client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise CallFailed(
                f"the server at {self.base_url} could not count tokens: {_short(exc)}"
            ) from None
        if response.status_code in (404, 405):
            return None
        if response.status_code != 200:
            raise CallFailed(
                f"the server at {self.base_url} could not count tokens "
                f"(HTTP {response.status_code}: {error_text(response)})"
            )
        count = token_count(response)
        if count is None:
            raise CallFailed(f"{url} answered without a token count")
        return count

    def _count_or_estimate(self, text: str) -> int:
        try:
            return self.count_tokens(text)
        except CallFailed:
            return estimate_tokens(text)

    # --------------------------------------------------------------- extras
    def ready(self) -> str:
        """The server answers `/models` and lists the model: no tokens spent."""
        if not self.model:
            self._use(self.models.only_model())
            return f"the server at {self.base_url} answers and serves {self.model}"
        self.models.require(self.model)
        return f"the server at {self.base_url} answers and lists {self.model}"

    def parameter_count(self) -> float | None:
        """What `/models` says of the model's size, or what its name says ("7b", "270m")."""
        return model_size(self.models.entry(self.model), self.model)

    def close(self) -> None:
        self.client.close()


def api_key_from(variable: str | None, environ: dict[str, str] | None = None) -> str | None:
    """The key in the environment variable `variable`; ValueError when it is not set."""
    if variable is None:
        return None
    value = (os.environ if environ is None else environ).get(variable, "")
    if not value:
        raise ValueError(
            f"model.api_key_env names the environment variable {variable}, which is not set "
            "(export it before running perfsup, or remove api_key_env for a server without a key)"
        )
    return value


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
