"""What ends a run, and the one-line reason of a failed command."""

from __future__ import annotations

from perfsup.workspace.steps import failure_line

__all__ = ["PromptTooLarge", "RunFailed", "failure_line"]


class RunFailed(Exception):
    """The run cannot go on (for example the baseline fails its checks)."""


class PromptTooLarge(Exception):
    """Even the smallest useful prompt does not fit the model's context: the run pauses.

    The message names the context size needed; a person raises
    `model.context_tokens` (or lowers the answer budget) and resumes.
    """
