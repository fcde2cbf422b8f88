"""A backend that replays answers from a TOML file, for tests and demos.

The file holds one `[[answer]]` table per answer, replayed in order::

    [[answer]]
    description_hint = "cache the parsed regex"   # optional, for the reader
    text = '''
    DESCRIPTION: compile the regex once
    ...
    '''
"""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from perfsup.agent.backend import ChatMessage, ModelReply, ScriptExhausted
from perfsup.agent.tokens import estimate_tokens
from perfsup.agent.unchanged import ForbidUnchanged

WORDS_PER_CHUNK = 3
_ALLOWED_KEYS = {"text", "description_hint"}


class ScriptedBackend:
    """Replays the answers of a TOML answer file, streaming each like a model would."""

    def __init__(self, path: Path, chunk_delay_s: float = 0.0) -> None:
        self.path = Path(path)
        self.chunk_delay_s = chunk_delay_s
        self.name = f"scripted:{self.path.name}"
        self.answers = load_answers(self.path)
        self.used = 0

    @property
    def remaining(self) -> int:
        """Answers not yet replayed."""
        return len(self.answers) - self.used

    def resume_after(self, used: int) -> None:
        """Go on after `used` answers a run already spent (a restart replays none of them)."""
        self.used = max(self.used, min(used, len(self.answers)))

    def ready(self) -> str:
        """The file was read and parsed when this backend was made."""
        count = len(self.answers)
        return f"answer file {self.path.name} parses: {count} answer{'s' if count != 1 else ''}"

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        on_token: Callable[[str], None] | None = None,
        seed: int | None = None,
        grammar: str | None = None,
        forbid_unchanged: ForbidUnchanged | None = None,
    ) -> ModelReply:
        """The next answer of the file; `seed`, `grammar` and `forbid_unchanged` are ignored."""
        if self.used >= len(self.answers):
            raise ScriptExhausted(
                f"the scripted answer file {self.path} has no answers left ({self.used} used)"
            )
        text = self.answers[self.used]
        self.used += 1
        started = time.monotonic()
        first: float | None = None
        for chunk in _chunks(text):
            if self.chunk_delay_s:
                time.sleep(self.chunk_delay_s)
            if first is None:
                first = time.monotonic() - started
            if on_token is not None:
                on_token(chunk)
        total = time.monotonic() - started
        return ModelReply(
            text=text,
            model=self.name,
            prompt_tokens=sum(estimate_tokens(m.content) for m in messages),
            completion_tokens=estimate_tokens(text),
            cached_tokens=None,
            ttft_s=first if first is not None else total,
            total_s=total,
        )


def load_answers(path: Path) -> list[str]:
    """The answer texts of the file at `path`; `ValueError` naming file and problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the scripted answer file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: the scripted answer file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: TOML syntax error in the scripted answer file: {exc}") from None
    extra = sorted(set(raw) - {"answer"})
    if extra:
        raise ValueError(
            f"{path}: unknown top-level key(s) {', '.join(extra)}; expected only [[answer]] tables"
        )
    tables = raw.get("answer")
    if not isinstance(tables, list) or not tables:
        raise ValueError(
            f"{path}: no answers; expected one or more [[answer]] tables with text = '''...'''"
        )
    answers: list[str] = []
    for number, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise ValueError(f"{path}: answer {number} is not a table; expected [[answer]]")
        unknown = sorted(set(table) - _ALLOWED_KEYS)
        if unknown:
            raise ValueError(
                f"{path}: answer {number} has unknown key(s) {', '.join(unknown)}; expected "
                "text and optionally description_hint"
            )
        text = table.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f"{path}: answer {number} has no text; expected text = '''<the model answer>'''"
            )
        answers.append(text)
    return answers


def _chunks(text: str) -> Iterator[str]:
    """A few words at a time, whitespace kept, so the chunks join back to `text`."""
    pieces = re.findall(r"\s*\S+|\s+", text)
    for start in range(0, len(pieces), WORDS_PER_CHUNK):
        yield "".join(pieces[start : start + WORDS_PER_CHUNK])
