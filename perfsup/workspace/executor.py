"""The executor interface: how the engine runs a command somewhere.

The engine only ever runs build, check and bench commands through an
`Executor`, so tests can swap in a scripted one and later engines (another
host, a sandbox) can slot in without touching the loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from perfsup.workspace.logcap import DEFAULT_MAX_LOG_BYTES
from perfsup.workspace.runner import CommandResult, run_command

__all__ = ["Executor", "LocalExecutor", "hidden_from_commands"]


@runtime_checkable
class Executor(Protocol):
    """Runs one shell command and reports how it went (see `run_command`)."""

    def run(
        self,
        command: str,
        cwd: Path,
        log_path: Path,
        timeout_s: float,
        *,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str, str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        """Run `command`; never raise because the command failed."""
        ...


def hidden_from_commands(executor: object, path: Path) -> bool:
    """Can no command run through `executor` see `path`? True only when a box in its
    chain of wrappers (each keeps the one it wraps as `inner`) says it hides it."""
    seen = 0
    while executor is not None and seen < 16:
        hides = getattr(executor, "hides", None)
        if callable(hides):
            return bool(hides(path))
        executor = getattr(executor, "inner", None)
        seen += 1
    return False


class LocalExecutor:
    """Runs commands on this machine with `run_command`, each log within `max_log_bytes`."""

    def __init__(self, max_log_bytes: int = DEFAULT_MAX_LOG_BYTES) -> None:
        self.max_log_bytes = max_log_bytes

    def run(
        self,
        command: str,
        cwd: Path,
        log_path: Path,
        timeout_s: float,
        *,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str, str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        """Run `command` here, in its own process group."""
        return run_command(
            command,
            cwd,
            log_path,
            timeout_s,
            env=env,
            on_line=on_line,
            cancel=cancel,
            max_log_bytes=self.max_log_bytes,
        )
