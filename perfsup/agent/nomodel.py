"""The backend of a run without a model (`perfsup run --flags-only`): its
experiments are build flag sets (engine/flags.py), so it is never asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from perfsup.agent.backend import ChatMessage, ModelReply, ScriptExhausted
from perfsup.agent.unchanged import ForbidUnchanged

__all__ = ["NoModel"]


class NoModel:
    """Stands in for a model; a call means a bug and ends the run cleanly."""

    name = "no model (build flags only)"
    supports_grammar = False

    def ready(self) -> str:
        return "no model: the experiments are build flag sets"

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        on_token: Callable[[str], None] | None = None,
        seed: int | None = None,
        grammar: str | None = None,
        forbid_unchanged: ForbidUnchanged | None = None,
    ) -> ModelReply:
        raise ScriptExhausted("a flags-only run asks no model")
