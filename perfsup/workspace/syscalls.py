"""A seccomp filter for the box: no new Unix sockets, no io_uring.

A read-only bind does not stop `connect()` on a socket file, so a Docker or
session-bus socket outside the box's private folders would still answer a
command. The filter refuses `socket(AF_UNIX, ...)` with EACCES (`socketpair`
stays allowed: interpreters use it between their own processes), and
`io_uring_setup` with ENOSYS (io_uring can open sockets without the
`socket` system call). Syscalls of another architecture (32-bit calls on a
64-bit kernel) kill the process: libseccomp's default for a filter that
names only the native one.

The filter is compiled once per process by libseccomp (through `pyseccomp`)
into a private file that bubblewrap reads on a file descriptor
(`--seccomp FD`); None where libseccomp is not installed, and the status
line then says the protection is off.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import os
import socket
import tempfile
from pathlib import Path

__all__ = ["SECCOMP_FD", "filter_path"]

# The descriptor the wrapped shell line opens the filter on for bubblewrap.
SECCOMP_FD = 9


@functools.cache
def filter_path() -> Path | None:
    """The compiled filter (a file only this user can read), or None if unavailable."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError):  # OSError: libseccomp itself is missing
        return None
    try:
        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        rules.add_rule(
            seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.EQ, socket.AF_UNIX)
        )
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "io_uring_setup")
        handle, name = tempfile.mkstemp(prefix="perfsup-seccomp-", suffix=".bpf")
        with os.fdopen(handle, "wb") as out:
            rules.export_bpf(out)
    except (OSError, RuntimeError, ValueError):
        return None
    path = Path(name)
    atexit.register(_remove, path)
    return path


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
