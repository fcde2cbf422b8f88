"""Ask the model for a change and turn its answer into an applied edit.

The model gets a bounded number of tries: an answer that does not parse, or
whose search blocks do not match the files, is sent back with exactly what
was wrong. An edit that breaks the access rules is not retried: the node is
`rejected` and the reason reaches the next prompt through the failed tries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfsup.agent.apply import EditDoesNotApply, apply_edit
from perfsup.agent.backend import CallFailed, ChatMessage, ModelBackend, ModelReply
from perfsup.agent.edits import MalformedAnswer, ProposedEdit, parse_answer
from perfsup.agent.limits import AnswerLimits
from perfsup.agent.unchanged import ForbidUnchanged
from perfsup.config import AccessRules, ModelSettings
from perfsup.engine.diskfull import is_disk_full
from perfsup.workspace.access import AccessDenied, check_edit_path


@dataclass
class Proposal:
    """What came of asking: an applied edit, or why there is none."""

    edit: ProposedEdit | None
    answer_text: str
    description: str = ""
    rationale: str = ""
    refusal: str | None = None  # access rules broken -> rejected
    malformed: str | None = None  # no usable answer after every try
    call_failed: str | None = None  # every try broke off (stream error, crashed model)


def propose(
    *,
    backend: ModelBackend,
    messages: Sequence[ChatMessage],
    max_retries: int,
    worktree: Path,
    rules: AccessRules,
    extra_protected: Sequence[str],
    on_token: Callable[[str], None],
    on_reply: Callable[[ModelReply, int], None],
    before_call: Callable[[], None],
    on_failure: Callable[[CallFailed, int], None] | None = None,
    retry_grammar: str | None = None,
    retry_forbid: ForbidUnchanged | None = None,
    limits: AnswerLimits | None = None,
    on_unusable: Callable[[int, str], None] | None = None,
    fit: RetryFit | None = None,
) -> Proposal:
    """Call the model up to 1 + max_retries times until an edit applies to `worktree`.

    After an answer that does not parse or apply, the retries go out under
    `retry_grammar` (GBNF) when one is given: the backend then can only
    write an answer in the edit format whose search blocks are file lines;
    `retry_forbid` goes with it, so that answer cannot copy the code back
    unchanged either.

    With `fit`, a retry conversation never outgrows the context: the
    answer it repeats is cut (or left out) so that the answer budget stays
    free. An answer cut at its limit is said to be cut, with its parse
    error; `on_unusable` gets why each unusable answer was.

    Whatever goes wrong with an answer (parsing, applying, syntax-checking;
    running out of memory or recursion on a hostile one included) makes it
    unusable, never ends the engine; only a full disk goes up to the engine,
    which pauses the run for it.
    """
    conversation = list(messages)
    grammar: str | None = None
    forbid: ForbidUnchanged | None = None
    problem = ""
    answer = ""
    failed_calls = 0
    for attempt in range(max_retries + 1):
        before_call()
        try:
            reply = backend.complete(
                conversation,
                on_token=on_token,
                seed=attempt,
                grammar=grammar,
                forbid_unchanged=forbid,
            )
        except CallFailed as exc:  # the same question again, with the next seed
            failed_calls += 1
            problem = str(exc)
            answer = answer or exc.partial
            on_token(f"\n\n[perfsup] the model call failed: {problem}\n\n")
            if on_failure is not None:
                on_failure(exc, attempt)
            continue
        on_reply(reply, attempt)
        answer = reply.text
        try:
            edit = parse_answer(answer, limits)
            for path in edit.paths:
                check_edit_path(worktree, path, rules, extra_protected)
            apply_edit(worktree, edit)
        except AccessDenied as exc:
            return Proposal(
                edit=None,
                answer_text=answer,
                description=edit.description,
                rationale=edit.rationale,
                refusal=str(exc),
            )
        except Exception as exc:  # hostile input may fail in any way: never the engine
            if is_disk_full(exc):
                raise
            problem = _unusable(exc)
            if reply.truncated:
                problem = (
                    f"truncated: the answer reached its limit of {reply.answer_limit} tokens "
                    f"(the answer budget, or the room left in the context) before its end; "
                    f"{problem}"
                )
            grammar = retry_grammar
            forbid = retry_forbid if retry_grammar is not None else None
            on_token(f"\n\n[perfsup] answer not usable: {problem}\n\n")
            if on_unusable is not None:
                on_unusable(attempt, problem)
            feedback = (
                f"Your answer could not be used: {problem[:RETRY_FEEDBACK_CHARS]}\n"
                + ("Write a shorter change.\n" if reply.truncated else "")
                + "Answer again in the exact edit format, changing only what is needed."
            )
            echo = fit.echo(messages, answer, feedback) if fit is not None else answer
            conversation = [
                *messages,
                *([ChatMessage(role="assistant", content=echo)] if echo else []),
                ChatMessage(role="user", content=feedback),
            ]
            continue
        return Proposal(
            edit=edit, answer_text=answer, description=edit.description, rationale=edit.rationale
        )
    tries = max_retries + 1
    if failed_calls == tries:
        return Proposal(
            edit=None,
            answer_text=answer,
            call_failed=f"every model call failed ({tries}); the last: {problem}",
        )
    return Proposal(
        edit=None,
        answer_text=answer,
        malformed=f"no usable edit after {tries} {'try' if tries == 1 else 'tries'}: {problem}",
    )


RETRY_FEEDBACK_CHARS = 600  # what a retry says of the failure (the reserve below holds it)
RETRY_RESERVE_TOKENS = 256  # kept free in the first prompt for a retry's feedback
MESSAGE_OVERHEAD_TOKENS = 4  # role markers per message (as agent.prompt counts them)
_ECHO_CUT = "\n[... the rest of this answer is not repeated]"


@dataclass(frozen=True)
class RetryFit:
    """How a retry keeps within the context: the counter and the sizes it keeps free."""

    count: Callable[[str], int]
    context_tokens: int
    answer_tokens: int

    def echo(self, messages: Sequence[ChatMessage], answer: str, feedback: str) -> str:
        """As much of the failed answer as the retry can repeat with the answer budget free."""
        used = sum(self.count(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)
        used += self.count(feedback) + 2 * MESSAGE_OVERHEAD_TOKENS
        room = self.context_tokens - self.answer_tokens - used
        if self.count(answer) <= room:
            return answer
        lines = answer.splitlines(keepends=True)
        while lines and self.count("".join(lines) + _ECHO_CUT) > room:
            lines = lines[: len(lines) // 2] if len(lines) > 8 else lines[:-1]
        return "".join(lines) + _ECHO_CUT if lines else ""


def answer_limits(settings: ModelSettings) -> AnswerLimits:
    """The answer limits of the `[model]` settings."""
    return AnswerLimits.for_settings(
        settings.max_answer_kb, settings.max_answer_line_chars, settings.max_answer_tokens
    )


def _unusable(exc: Exception) -> str:
    """Why an answer could not be used, in words for the model and the person."""
    if isinstance(exc, MalformedAnswer | EditDoesNotApply):
        return str(exc)
    if isinstance(exc, MemoryError | RecursionError):
        return (
            f"the answer could not be processed ({type(exc).__name__}: it is nested too "
            "deeply or too large); expected a plain edit in the edit format"
        )
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return (
        f"the answer could not be applied ({type(exc).__name__}{': ' + detail if detail else ''}); "
        "expected a plain edit in the edit format"
    )
