"""Wait out a model that is temporarily gone, instead of losing the night.

A backend raises `ModelWaiting` when its model should come back (Ollama not
running yet, a model still to be pulled). `PatientBackend` wraps a backend:
it reports why it waits, sleeps with exponential backoff, and calls again,
until the call succeeds or the run must stop (a budget or the deadline).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from perfsup.agent.backend import ChatMessage, ModelBackend, ModelReply, ModelWaiting
from perfsup.agent.unchanged import ForbidUnchanged
from perfsup.engine.clock import Clock

FIRST_WAIT_S = 2.0
MAX_WAIT_S = 60.0


class PatientBackend:
    """A `ModelBackend` that retries `ModelWaiting` with backoff; see the module docstring."""

    def __init__(
        self,
        inner: ModelBackend,
        *,
        clock: Clock,
        on_wait: Callable[[str], None],
        on_resume: Callable[[], None],
        before_retry: Callable[[], None],
        sleep: Callable[[float], None] | None = None,
        first_wait_s: float = FIRST_WAIT_S,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_grammar = bool(getattr(inner, "supports_grammar", False))
        self.clock = clock
        self.on_wait = on_wait
        self.on_resume = on_resume
        self.before_retry = before_retry  # raises to end the wait (a budget ran out)
        self.sleep = sleep or clock.sleep  # may raise to end the wait (a stop or an abort)
        self.first_wait_s = first_wait_s
        self.max_wait_s = max_wait_s

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        on_token: Callable[[str], None] | None = None,
        seed: int | None = None,
        grammar: str | None = None,
        forbid_unchanged: ForbidUnchanged | None = None,
    ) -> ModelReply:
        wait = self.first_wait_s
        waited = False
        while True:
            try:
                reply = self.inner.complete(
                    messages,
                    on_token=on_token,
                    seed=seed,
                    grammar=grammar,
                    forbid_unchanged=forbid_unchanged,
                )
            except ModelWaiting as exc:
                self.on_wait(f"waiting for the model: {exc}; next try in {wait:.0f} s")
                waited = True
                self.sleep(wait)
                wait = min(wait * 2, self.max_wait_s)
                self.before_retry()
                continue
            if waited:
                self.on_resume()
            return reply
