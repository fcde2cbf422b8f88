"""One engine per run directory: an exclusive `flock` on `engine.lock`.

The lock dies with its process (kill -9 included), so a crashed engine never
leaves a stale lock behind; the file only says which pid held it last.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = "engine.lock"


class EngineRunning(Exception):
    """Another engine holds the run directory; `pid` says which."""

    def __init__(self, root: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"an engine ({who}) is already running on {root}")
        self.pid = pid


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def engine_lock(root: Path) -> Iterator[None]:
    """Hold the run directory's lock for the life of the block, or raise EngineRunning."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EngineRunning(root, _read_pid(path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


def lock_holder(root: Path) -> int | None:
    """The pid of the engine running on `root`, or None when none runs."""
    path = root / LOCK_NAME
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(path) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
