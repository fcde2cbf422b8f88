"""The interface between the engine and a model: messages in, one reply out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from perfsup.agent.unchanged import ForbidUnchanged


@dataclass
class ChatMessage:
    """One turn of a chat conversation."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass
class ModelReply:
    """A complete answer and what it cost.

    `cached_tokens` is None when the backend does not say how much of the
    prompt came from its cache; times are seconds from the start of the call.
    """

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None
    ttft_s: float
    total_s: float
    prompt_eval_s: float | None = None  # time spent reading the prompt, where known
    warnings: list[str] = field(default_factory=list)  # e.g. a prompt cut by the server
    answer_limit: int | None = None  # the most tokens the answer could have: the room left
    truncated: bool = False  # the answer stopped at its limit, not at its end


class ModelUnavailable(RuntimeError):
    """The model cannot answer (not running, not installed, out of answers)."""


class ModelWaiting(ModelUnavailable):
    """The model should come back by itself or by a person's hand: wait and retry.

    Raised for a model that is not pulled yet or a server that is down; the
    engine shows the message, waits with backoff and calls again.
    """


class CallFailed(RuntimeError):
    """One call broke part-way (an error line in the stream, a crashed child).

    The engine records the call as failed and may try again; `partial` is
    whatever text arrived before the failure.
    """

    def __init__(self, message: str, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class ScriptExhausted(ModelUnavailable):
    """A scripted backend has replayed every answer it had."""


class ModelBackend(Protocol):
    """Anything that can complete a chat; streaming goes to `on_token` as it arrives."""

    name: str

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        on_token: Callable[[str], None] | None = None,
        seed: int | None = None,
        grammar: str | None = None,
        forbid_unchanged: ForbidUnchanged | None = None,
    ) -> ModelReply:
        """Answer `messages`; raise `ModelUnavailable` when the model cannot.

        `grammar` (GBNF) constrains the answer where the backend supports it
        (its `supports_grammar` is true); others ignore it, and so
        `forbid_unchanged`, which keeps such an answer from copying the code
        back unchanged (see `perfsup.agent.unchanged`).
        """
        ...


@runtime_checkable
class Unloadable(Protocol):
    """A backend that can free its model's memory (before a benchmark)."""

    def unload(self) -> None:
        """Free the model's memory; the next call loads it again."""
        ...


@runtime_checkable
class Checkable(Protocol):
    """A backend that can say, without spending tokens, whether it will answer."""

    def ready(self) -> str:
        """What was checked ("model pulled", "GGUF loaded"); `ModelUnavailable` if not."""
        ...


@runtime_checkable
class Closable(Protocol):
    """A backend that holds resources (a child process) to release at the end."""

    def close(self) -> None: ...


@runtime_checkable
class SizedModel(Protocol):
    """A backend that knows how big its model is (for edit_format = "auto")."""

    def parameter_count(self) -> float | None:
        """Parameters of the model, or None when unknown."""
        ...


@runtime_checkable
class TokenCounting(Protocol):
    """A backend that counts tokens as its model does (budgets are then exact)."""

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` by the model's tokenizer (or a calibrated estimate of it)."""
        ...
