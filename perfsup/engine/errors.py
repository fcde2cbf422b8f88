"""What ends a run, and the one-line reason of a failed command."""

from __future__ import annotations

from pathlib import Path


class RunFailed(Exception):
    """The run cannot go on (for example the baseline fails its checks)."""


def last_line(log: Path) -> str:
    """The last non-empty line of a log, for a one-line failure reason."""
    try:
        lines = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln]
    except OSError:
        return "(no log)"
    meaningful = [ln for ln in lines if not ln.startswith(("--- perfsup:", "---- "))]
    return (meaningful or lines or ["(no output)"])[-1][:300]
