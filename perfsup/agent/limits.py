"""Bounds that keep a model's answer from hurting the engine.

A model answer is hostile input: the engine parses it, applies it and
syntax-checks the result in its own process, with the lock that its signal
handlers and its command thread need. So the work an answer can cause is
bounded before any of it starts:

- an answer longer than `max_chars`, or with a line longer than
  `max_line_chars`, is refused at once as malformed (the reason names the
  setting), so everything after this check works on bounded input with
  linear-time code;
- Python's own parser is asked through `parse_python`, which turns every way
  it can fail on hostile text (SyntaxError, ValueError for a NUL byte,
  MemoryError and RecursionError on deep nesting) into one `SyntaxProblem`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 64 * 1024
DEFAULT_MAX_LINE_CHARS = 4_000
# Characters per answer token granted on top of the fixed default: a person who
# raises model.max_answer_tokens gets room for the longer answers that allows.
CHARS_PER_TOKEN = 16


@dataclass(frozen=True)
class AnswerLimits:
    """The largest answer, and the longest line of one, the parser looks at."""

    max_chars: int = DEFAULT_MAX_CHARS
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS

    @classmethod
    def for_settings(
        cls, max_answer_kb: int | None, max_line_chars: int, max_answer_tokens: int
    ) -> AnswerLimits:
        """The limits of `[model]`: max_answer_kb, or by default room for max_answer_tokens."""
        if max_answer_kb is None:
            chars = max(DEFAULT_MAX_CHARS, CHARS_PER_TOKEN * max_answer_tokens)
        else:
            chars = max_answer_kb * 1024
        return cls(max_chars=chars, max_line_chars=max_line_chars)


class AnswerTooLarge(ValueError):
    """An answer over the limits; the message says which and what was expected."""


def check_answer_size(text: str, limits: AnswerLimits) -> list[str]:
    """The lines of `text` (see `split_lines`); `AnswerTooLarge` when it is over `limits`."""
    if len(text) > limits.max_chars:
        raise AnswerTooLarge(
            f"the answer is {len(text):,} characters long; expected at most "
            f"{limits.max_chars:,} (model.max_answer_kb): write only the lines that change"
        )
    lines = split_lines(text)
    if max(map(len, lines)) > limits.max_line_chars:
        number, line = next(
            (n, line) for n, line in enumerate(lines, 1) if len(line) > limits.max_line_chars
        )
        raise AnswerTooLarge(
            f"line {number} of the answer is {len(line):,} characters long; expected "
            f"lines of at most {limits.max_line_chars:,} characters "
            "(model.max_answer_line_chars): break long lines as the code's style allows"
        )
    return lines


def split_lines(text: str) -> list[str]:
    """The lines of an answer as the parser sees them: \\r\\n, \\r and \\n end a line."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


class SyntaxProblem(ValueError):
    """Python text that does not parse; the message says where and why."""


def parse_python(text: str) -> ast.Module:
    """`ast.parse(text)`, with every failure hostile text can cause as `SyntaxProblem`.

    MemoryError and RecursionError are what CPython's parser raises on deep
    nesting (`1+` three thousand times, a long chain of unary minus): they
    are about this text, not about the engine, so they are caught here.
    """
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise SyntaxProblem(f"line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:  # a NUL byte in the source (Python 3.11)
        raise SyntaxProblem(str(exc)) from None
    except RecursionError:
        raise SyntaxProblem("the code is nested too deeply for Python's parser") from None
    except MemoryError:
        raise SyntaxProblem(
            "the code is nested too deeply for Python's parser (it ran out of memory)"
        ) from None


def parse_python_or_none(text: str) -> ast.Module | None:
    """The module of `text`, or None when it does not parse for any reason."""
    try:
        return parse_python(text)
    except SyntaxProblem:
        return None
