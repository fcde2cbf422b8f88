"""What ends a run, and the one-line reason of a failed command."""

from __future__ import annotations

from pathlib import Path

from perfsup.workspace.logcap import last_line as tail_line


class RunFailed(Exception):
    """The run cannot go on (for example the baseline fails its checks)."""


class PromptTooLarge(Exception):
    """Even the smallest useful prompt does not fit the model's context: the run pauses.

    The message names the context size needed; a person raises
    `model.context_tokens` (or lowers the answer budget) and resumes.
    """


def last_line(log: Path) -> str:
    """The last non-empty line of a log, for a one-line failure reason (reads its end only)."""
    try:
        line = tail_line(log, skip=("--- perfsup:", "---- "))
    except OSError:
        return "(no log)"
    return (line or "(no output)")[:300]
