"""Guards for the night: disk space and runs of failures.

Both end in a pause with a message a person can act on, never in a crash: a
full disk corrupts nothing if the engine stops writing before it is full,
and ten broken builds in a row usually mean the target, not the model.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MIB = 1024 * 1024


def tree_size(path: Path) -> int:
    """Bytes used by the files under `path` (symlinks not followed)."""
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def disk_problem(root: Path, max_disk_mb: int, min_free_mb: int) -> str | None:
    """Why the run must not write more now, or None when there is room."""
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        return None
    if free < min_free_mb * MIB:
        return low_space_message(root, free, min_free_mb)
    if max_disk_mb > 0:
        used = tree_size(root / "worktrees") + tree_size(root / "logs")
        if used > max_disk_mb * MIB:
            return (
                f"worktrees and logs use {used // MIB} MiB, over run.max_disk_mb = "
                f"{max_disk_mb}; raise it or remove old logs, then resume"
            )
    return None


def low_space_message(root: Path, free: int, min_free_mb: int) -> str:
    """What the run says when it pauses for a (nearly) full disk."""
    return (
        f"only {free // MIB} MiB free on the disk of {root} "
        f"(run.min_free_mb = {min_free_mb}); free some space, then resume"
    )


class FailureStreak:
    """Counts experiments in a row that failed to build, check or run."""

    def __init__(self) -> None:
        self.count = 0
        self.last_reason = ""

    def record(self, failed: bool, reason: str) -> None:
        if failed:
            self.count += 1
            self.last_reason = reason
        else:
            self.count = 0

    def reset(self) -> None:
        self.count = 0
