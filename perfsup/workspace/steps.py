"""What a failed build or check is called, on every executor.

The reason ends with the command's own line that says why (an exception, a
compiler error, the check's verdict; else its last line), so a person reads
why without opening the log; the engine running the step here and the runner
on another host both use this.
"""

from __future__ import annotations

from pathlib import Path

from perfsup.store.models import NodeStatus
from perfsup.workspace.logcap import telling_line
from perfsup.workspace.runner import CommandResult

__all__ = ["failure_line", "step_failure"]


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
            f"{step} exited with status {result.exit_code}: {failure_line(result.log_path)}",
        )
    return None


def failure_line(log: Path) -> str:
    """The line of a failed command's log that says why (see `telling_line`),
    for a one-line reason; reads the end of the log only."""
    try:
        line = telling_line(log)
    except OSError:
        return "(no log)"
    return (line or "(no output)")[:300]
