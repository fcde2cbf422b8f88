"""What ends a run, and the one-line reason of a failed command."""

from __future__ import annotations

from pathlib import Path

from perfsup.workspace.logcap import last_line as tail_line


class RunFailed(Exception):
    """The run cannot go on (for example the baseline fails its checks)."""


def last_line(log: Path) -> str:
    """The last non-empty line of a log, for a one-line failure reason (reads its end only)."""
    try:
        line = tail_line(log, skip=("--- perfsup:", "---- "))
    except OSError:
        return "(no log)"
    return (line or "(no output)")[:300]
