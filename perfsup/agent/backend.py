"""The interface between the engine and a model: messages in, one reply out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


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


class ModelUnavailable(RuntimeError):
    """The model cannot answer (not running, not installed, out of answers)."""


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
    ) -> ModelReply:
        """Answer `messages`; raise `ModelUnavailable` when the model cannot."""
        ...
