"""The host an experiment runner lands on: its folder, its fingerprint, and the
locks that keep the tasks of one host apart (its repository cache, its parents).
"""

from __future__ import annotations

import contextlib
import os
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import psutil

__all__ = ["default_root", "file_lock", "host_info", "host_lock"]


def default_root() -> Path:
    """Where a host keeps its repository cache and worktrees."""
    base = os.environ.get("PERFSUP_RUNNER_ROOT") or os.path.join(
        tempfile.gettempdir(), f"perfsup-runner-{os.getuid()}"
    )
    return Path(base)


def host_info() -> dict[str, Any]:
    """The host fingerprint, sent first so every sample is stored with it."""
    try:
        load: float | None = psutil.getloadavg()[0]
    except (OSError, AttributeError):
        load = None
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "host": platform.node(),
        "cpu_model": cpu or platform.processor(),
        "cpu_count": psutil.cpu_count(logical=True),
        "load_avg": load,
    }


@contextlib.contextmanager
def host_lock(root: Path) -> Iterator[None]:
    """Serialise changes to this host's repository cache and parent worktrees.

    One bench slot per host means one experiment at a time, but the task of a
    cancelled or re-queued experiment may still be cleaning up when the next
    one prepares (git refuses concurrent worktree changes, or worse).
    """
    root.mkdir(parents=True, exist_ok=True)
    handle = file_lock(root / ".lock", shared=False)
    try:
        yield
    finally:
        if handle is not None:
            handle.close()


def file_lock(path: Path, *, shared: bool, wait: bool = True) -> IO[bytes] | None:
    """An open file holding a flock on `path`; None if `wait` is False and it is taken.

    Without fcntl (not a POSIX host) nothing is locked and an unlocked handle
    is returned: one experiment per host at a time is the rule there.
    """
    handle = open(path, "a+b")  # noqa: SIM115 - the caller closes it to unlock
    try:
        import fcntl
    except ImportError:
        return handle
    mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
    try:
        fcntl.flock(handle, mode)
    except BlockingIOError:
        handle.close()
        return None
    return handle
