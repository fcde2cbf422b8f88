"""Commands die with the process that started them, even under SIGKILL.

`run_command` kills a command's whole process tree on timeout, cancel and
exit. But when the process that runs it is killed outright (a Dask worker
SIGKILLed by the OOM killer or by `kill -9`), no Python code runs: the
command's process group, in its own session, would go on running, and on a
Dask host it would keep benchmarking while the next experiment measures.

One small watchdog per process does the killing then: a `bash` started once,
in its own session, reading a pipe whose only write end is ours. We write
`+PGID` when a command starts and `-PGID` when it has been reaped. When this
process dies, for whatever reason, the kernel closes the write end; the
watchdog reads end-of-file and SIGKILLs every group still registered. It costs
one idle process and a few bytes per command; nothing polls.

(`PR_SET_PDEATHSIG` would need a `preexec_fn`, unsafe in a threaded process,
and only signals the direct child, not its group.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

__all__ = ["register", "unregister"]

# Keep the set of live groups; on EOF (our death) kill them all.
_SCRIPT = r"""
live=" "
while read -r op id; do
  case "$op" in
    +) live="$live$id " ;;
    -) live="${live/ $id / }" ;;
  esac
done
for id in $live; do kill -KILL -- "-$id" 2>/dev/null; done
"""

_lock = threading.Lock()
_state: dict[str, int] = {}  # "pid": the owner's pid, "fd": the pipe's write end
_watchdog: list[subprocess.Popen[bytes]] = []  # held, never waited: it outlives us by design


def _writer() -> int | None:
    """The pipe to this process's watchdog, started on first use (None: unavailable)."""
    with _lock:
        if _state.get("pid") == os.getpid():
            return _state.get("fd")
        # First use, or a forked child (the parent's watchdog is not ours).
        _state.clear()
        _state["pid"] = os.getpid()
        bash = shutil.which("bash")
        if bash is None:
            return None
        read_end, write_end = os.pipe()  # both close-on-exec: no command inherits them
        try:
            proc = subprocess.Popen(
                [bash, "-c", _SCRIPT],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a kill of our group leaves it to do its job
                close_fds=True,
            )
        except OSError:
            os.close(write_end)
            return None
        finally:
            os.close(read_end)
        _watchdog[:] = [proc]
        _state["fd"] = write_end
        return write_end


def _send(line: str) -> None:
    fd = _writer()
    if fd is None:
        return
    try:
        os.write(fd, line.encode())
    except (
        OSError
    ):  # the watchdog is gone (killed by someone): commands still get cleaned up normally
        with _lock:
            _state.pop("fd", None)


def register(pgid: int) -> None:
    """Kill process group `pgid` if this process dies before `unregister(pgid)`."""
    _send(f"+ {pgid}\n")


def unregister(pgid: int) -> None:
    """The group's leader has been reaped: forget it."""
    _send(f"- {pgid}\n")
