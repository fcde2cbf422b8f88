"""Start the engine in its own session and follow its log.

`perfsup run` without --headless starts `perfsup run --headless` detached:
its own session (no controlling terminal, so closing the terminal or an SSH
drop does not reach it), output appended to `engine.log` in the run
directory. The caller then follows that log until the engine ends or the
person presses Ctrl-C, which only detaches.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

LOG_NAME = "engine.log"
_POLL_S = 0.2


def start_detached(argv: list[str], run_dir: Path) -> tuple[int, Path]:
    """Start `python -m perfsup <argv>` in a new session; its pid and log file."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / LOG_NAME
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "perfsup", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return proc.pid, log


def follow(log: Path, alive: Callable[[], bool], offset: int = 0) -> None:
    """Print `log` from `offset` as it grows while `alive()`; then the rest."""
    position = offset
    while True:
        running = alive()
        try:
            with log.open("rb") as handle:
                handle.seek(position)
                chunk = handle.read()
        except OSError:
            chunk = b""
        if chunk:
            position += len(chunk)
            sys.stdout.write(chunk.decode("utf-8", errors="replace"))
            sys.stdout.flush()
        if not running:
            return
        time.sleep(_POLL_S)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie child of ours counts as gone)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # not our child: ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
