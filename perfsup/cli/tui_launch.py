"""Start a detached engine for a TUI without ever leaving one behind.

`perfsup run` and `perfsup demo` start the engine in the background and then
open the TUI on it. A TUI that cannot start (a missing package, no terminal)
used to leave that engine running with nothing on screen saying so. Here the
TUI is checked before the engine starts, an engine whose TUI still fails is
stopped, and the line printed on quitting names the engine's real state.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from perfsup.cli.detach import pid_alive

EXIT_USAGE = 2
_STOP_WAIT_S = 30.0


class TuiUnavailable(Exception):
    """The TUI cannot open here; nothing was started. `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def check_tui_can_start() -> None:
    """Raise TuiUnavailable when the TUI's code or the terminal is missing."""
    try:
        import perfsup.tui.app  # noqa: F401  (imports every package the TUI needs)
    except ImportError as exc:
        missing = exc.name or str(exc)
        raise TuiUnavailable(
            f"the TUI cannot start: the package {missing!r} is missing "
            "(reinstall perfsup with `python -m pip install -e .`)"
        ) from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise TuiUnavailable(
            "the TUI needs a terminal, but standard input or output is not one "
            "(use --headless for plain output)",
            EXIT_USAGE,
        )
    if os.environ.get("TERM", "dumb") == "dumb":
        raise TuiUnavailable(
            "the TUI needs a terminal that can draw, but TERM is unset or 'dumb' "
            "(set TERM, e.g. TERM=xterm-256color, or use --headless)",
            EXIT_USAGE,
        )


def stop_engine(pid: int, wait_s: float = _STOP_WAIT_S) -> bool:
    """SIGTERM the engine (it stops like `perfsup stop`); True once it has exited."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)


def engine_state(run_dir: Path, pid: int) -> str:
    """The engine's state in words: running, or how its newest run ended."""
    if pid_alive(pid):
        return f"keeps running (pid {pid})"
    run = _newest_run(run_dir)
    if run is None:
        return f"has exited (pid {pid}) before starting a run; see its log"
    status, reason = run
    if status in ("running", "paused"):  # the process is gone without closing its run
        return f"has exited (pid {pid}) while its run was {status}; `perfsup run` resumes it"
    return f"has {status}" + (f": {reason}" if reason else "")


def _newest_run(run_dir: Path) -> tuple[str, str | None] | None:
    from sqlmodel import col, select

    from perfsup.engine.rundir import RunPaths
    from perfsup.store import Run, StoreError, open_store

    path = RunPaths(run_dir).store
    if not path.exists():
        return None
    try:
        store = open_store(path)
    except StoreError:
        return None
    try:
        with store.session() as s:
            run = s.exec(select(Run).order_by(col(Run.id).desc())).first()
            return None if run is None else (str(run.status), run.stop_reason)
    finally:
        store.close()
