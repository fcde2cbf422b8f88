"""What a failed build or check is called, on every executor.

The reason ends with the command's own last line (a compiler error, the
check's verdict), so a person reads why without opening the log; the engine
running the step here and the runner on another host both use this.
"""

from __future__ import annotations

from pathlib import Path

from perfsup.store.models import NodeStatus
from perfsup.workspace.runner import CommandResult

__all__ = ["last_line", "step_failure"]

# Lines perfsup writes into a log around the command's own output.
_OWN_LINES = ("--- perfsup:", "---- ")


def step_failure(
    step: str, result: CommandResult, timeout_s: float, failed: NodeStatus
) -> tuple[NodeStatus, str] | None:
    """(status, reason) when `step` did not succeed; None when it did."""
    if result.cancelled:
        return NodeStatus.CANCELLED, f"{step} was cancelled"
    if result.timed_out:
        return NodeStatus.TIMEOUT, f"{step} did not finish within {timeout_s:g} s"
    if result.exit_code != 0:
        return (
            failed,
            f"{step} exited with status {result.exit_code}: {last_line(result.log_path)}",
        )
    return None


def last_line(log: Path) -> str:
    """The last non-empty line of a log that the command wrote, for a one-line reason."""
    try:
        lines = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln]
    except OSError:
        return "(no log)"
    meaningful = [ln for ln in lines if not ln.startswith(_OWN_LINES)]
    return (meaningful or lines or ["(no output)"])[-1][:300]
