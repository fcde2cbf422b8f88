"""Run one shell command with a timeout, live logging and whole-tree cleanup.

Build, check and benchmark commands are arbitrary user shell lines. They fork
compilers, test runners and background helpers, and some of those outlive the
command or escape into their own session. This module makes sure that:

- output is appended to a log file line by line as it is produced, so the TUI
  (another process) can tail it live;
- on timeout or cancel the whole process tree dies (SIGTERM, a short grace,
  then SIGKILL to the process group and to every descendant ever seen);
- after a normal exit nothing the command started is left running;
- no grandchild holding a pipe open can make the caller hang.

Everything runs in the calling thread: one `selectors` loop reads both pipes,
watches the exit, the deadline and the cancel event. No reader threads means
nothing to join and no thread left blocked on a pipe.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from perfsup.workspace import deathwatch

__all__ = ["STDOUT_KEEP_CHARS", "CommandResult", "end_line", "run_command"]

# Only the tail of stdout is kept in memory: METRIC lines come at the end, and
# a chatty benchmark must not grow the engine without bound.
STDOUT_KEEP_CHARS = 4 * 1024 * 1024
# A "line" without a newline is cut here so one endless line cannot eat memory.
_MAX_LINE_BYTES = 64 * 1024
# How often the loop wakes to check exit, deadline and cancel (brief: <= 0.1 s).
_POLL_S = 0.05
# Between SIGTERM and SIGKILL: enough for a tool to remove its temp files.
_GRACE_S = 0.5
# After the command is gone, how long we keep draining pipes that some
# unkillable stray may still hold open.
_DRAIN_S = 1.0
# Descendant snapshots (to catch processes that setsid away and lose their
# parent) start frequent and back off: scanning /proc costs CPU that would
# otherwise disturb a running benchmark.
_SNAPSHOT_FIRST_S = 0.1
_SNAPSHOT_MAX_S = 2.0


@dataclass(frozen=True)
class CommandResult:
    """What happened to one command."""

    exit_code: int | None  # None when the command was killed (timeout or cancel)
    duration_s: float
    timed_out: bool
    cancelled: bool
    log_path: Path
    stdout: str  # the last STDOUT_KEEP_CHARS characters of stdout
    # From the start of the process to the moment its exit was seen: the
    # command's own time. duration_s adds our set-up, sweep and reaping.
    process_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the command ran to completion and exited 0."""
        return self.exit_code == 0


def _shell() -> str:
    return "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"


class _LineSplitter:
    """Turns chunks from one pipe into complete text lines."""

    def __init__(self, stream: str, emit: Callable[[str, str], None]) -> None:
        self.stream = stream
        self._emit = emit
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                break
            self._emit_bytes(bytes(self._buf[:nl]))
            del self._buf[: nl + 1]
        if len(self._buf) >= _MAX_LINE_BYTES:
            self._emit_bytes(bytes(self._buf))
            self._buf.clear()

    def close(self) -> None:
        # The last line often has no newline; it still counts.
        if self._buf:
            self._emit_bytes(bytes(self._buf))
            self._buf.clear()

    def _emit_bytes(self, raw: bytes) -> None:
        self._emit(self.stream, raw.decode("utf-8", errors="replace").removesuffix("\r"))


class _StdoutTail:
    """Keeps the last `limit` characters of stdout, line by line."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lines: deque[str] = deque()
        self._size = 0

    def add(self, line: str) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        while self._size > self._limit and len(self._lines) > 1:
            self._size -= len(self._lines.popleft()) + 1

    def text(self) -> str:
        text = "".join(line + "\n" for line in self._lines)
        return text[-self._limit :]


# Linux lists each task's children in /proc (3.5+, CONFIG_PROC_CHILDREN): a walk
# down from the leader reads a few files, where psutil's `children()` reads the
# stat file of every process on the machine, several times per benchmark run.
_CHILDREN_FILES = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _descendant_pids(pid: int) -> list[int]:
    """Pids below `pid` (any depth) as the kernel links them now."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue  # exited meanwhile
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", encoding="ascii") as handle:
                    kids = [int(k) for k in handle.read().split()]
            except (OSError, ValueError):
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


class _Tree:
    """The command's process group plus every descendant seen so far."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.pgid = proc.pid  # start_new_session makes the child its group leader
        self.seen: dict[int, psutil.Process] = {}
        # Made at the first snapshot, not here: most benchmark runs end before
        # one is due, and neither costs anything then. The leader is not
        # reaped before we are done with it, so its pid cannot be reused.
        self._leader: psutil.Process | None = None
        # Not at once: a command that has just forked has no descendants yet.
        self._next_snapshot = time.monotonic() + _SNAPSHOT_FIRST_S
        self._snapshot_every = _SNAPSHOT_FIRST_S
        self.swept = False  # kill() ran: the group and every stray seen got SIGKILL
        self.exit_seen: float | None = None  # monotonic time the leader's exit was seen

    def leader_exited(self) -> bool:
        """Has the leader exited? Leaves it unreaped where the OS allows.

        An unreaped (zombie) leader keeps its pid, hence the group id, from
        being reused, so signalling the group afterwards can never hit an
        unrelated process.
        """
        if self.exit_seen is None and self._exited():
            self.exit_seen = time.monotonic()
        return self.exit_seen is not None

    def _exited(self) -> bool:
        if self.proc.returncode is not None:
            return True
        if hasattr(os, "waitid"):
            try:
                info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return self.proc.poll() is not None
            return info is not None
        return self.proc.poll() is not None

    def maybe_snapshot(self) -> None:
        now = time.monotonic()
        if now >= self._next_snapshot:
            self.snapshot()
            self._snapshot_every = min(self._snapshot_every * 2, _SNAPSHOT_MAX_S)
            self._next_snapshot = now + self._snapshot_every

    def snapshot(self) -> None:
        """Remember the leader's current descendants, including setsid'd ones."""
        if _CHILDREN_FILES:
            for pid in _descendant_pids(self.proc.pid):
                if pid not in self.seen:
                    with contextlib.suppress(psutil.Error):
                        self.seen[pid] = psutil.Process(pid)
            return
        try:
            if self._leader is None:
                self._leader = psutil.Process(self.proc.pid)
            children = self._leader.children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            self.seen.setdefault(child.pid, child)

    def _alive_seen(self) -> list[psutil.Process]:
        alive = []
        for p in self.seen.values():
            try:
                # is_running() also guards against pid reuse (create time).
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.Error:
                continue
        return alive

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    def kill(self, grace_s: float) -> None:
        """SIGTERM the group, wait up to grace_s, then SIGKILL group and strays."""
        self.swept = True
        # Once the leader has exited its children belong to init: a snapshot
        # would scan all of /proc (milliseconds on every command) for nothing.
        exited = self.leader_exited()
        if not exited:
            self.snapshot()
        if grace_s > 0:
            self._signal_group(signal.SIGTERM)
            for p in self._alive_seen():
                with contextlib.suppress(psutil.Error):
                    p.terminate()
            end = time.monotonic() + grace_s
            while time.monotonic() < end:
                if self.leader_exited() and not self._alive_seen():
                    break
                time.sleep(0.02)
        if not exited and not self.leader_exited():
            self.snapshot()  # anything forked during the grace period
        self._signal_group(signal.SIGKILL)
        for p in self._alive_seen():
            with contextlib.suppress(psutil.Error):
                p.kill()

    def reap(self) -> int | None:
        try:
            return self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:  # stuck in uninterruptible sleep
            return self.proc.returncode


def run_command(
    command: str,
    cwd: Path,
    log_path: Path,
    timeout_s: float,
    *,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str, str], None] | None = None,
    cancel: threading.Event | None = None,
) -> CommandResult:
    """Run `command` in a shell in `cwd`, streaming output to `log_path`.

    `env` is added on top of the current environment (it does not replace
    it). `on_line(stream, line)` is called with stream "out" or "err" for each
    line as it arrives, without its newline. Never raises because the command
    failed; raises FileNotFoundError if `cwd` is not a directory.
    """
    cwd = Path(cwd)
    if not cwd.is_dir():
        raise FileNotFoundError(f"run_command: working directory does not exist: {cwd}")
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env is not None:
        full_env.update(env)

    with open(log_path, "a", encoding="utf-8", errors="replace") as log:
        log.write(f"--- perfsup: $ {command}\n")
        log.flush()
        tail = _StdoutTail(STDOUT_KEEP_CHARS)

        def emit(stream: str, line: str) -> None:
            log.write(line + "\n")
            log.flush()  # another process tails this file live
            if stream == "out":
                tail.add(line)
            if on_line is not None:
                on_line(stream, line)

        start = time.monotonic()
        proc = subprocess.Popen(
            [_shell(), "-c", command],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        tree = _Tree(proc)
        deathwatch.register(tree.pgid)  # the group dies with us, even under SIGKILL
        timed_out = cancelled = False
        try:
            timed_out, cancelled = _pump(proc, tree, emit, start + timeout_s, cancel)
        finally:
            process_s = (tree.exit_seen or time.monotonic()) - start
            # Also runs when on_line raised: the tree must never outlive us.
            if proc.returncode is None and not tree.leader_exited():
                tree.kill(_GRACE_S)
            elif not tree.swept:
                tree.kill(0.0)  # background leftovers of a finished command
            deathwatch.unregister(tree.pgid)  # before the reap: the group id is still ours
            exit_code = tree.reap()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        duration = time.monotonic() - start
        result = CommandResult(
            exit_code=None if timed_out or cancelled else exit_code,
            duration_s=duration,
            timed_out=timed_out,
            cancelled=cancelled,
            log_path=log_path,
            stdout=tail.text(),
            process_s=process_s,
        )
        log.write(end_line(result) + "\n")
        log.flush()
    return result


def end_line(result: CommandResult) -> str:
    """The line a command's log ends with; the report sums the seconds it states
    (a remote host sends it back with the command's output)."""
    if result.timed_out or result.cancelled:
        why = "timed out" if result.timed_out else "cancelled"
        return f"--- perfsup: killed ({why}) after {result.duration_s:.2f} s"
    return f"--- perfsup: exit {result.exit_code} after {result.duration_s:.2f} s"


def _pump(
    proc: subprocess.Popen[bytes],
    tree: _Tree,
    emit: Callable[[str, str], None],
    deadline: float,
    cancel: threading.Event | None,
) -> tuple[bool, bool]:
    """Read output until the command is done; return (timed_out, cancelled).

    On timeout or cancel the tree is killed here; the caller still reaps it.
    """
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    splitters: dict[int, _LineSplitter] = {}
    for pipe, stream in ((proc.stdout, "out"), (proc.stderr, "err")):
        sel.register(pipe, selectors.EVENT_READ)
        splitters[pipe.fileno()] = _LineSplitter(stream, emit)

    # A pidfd turns readable the moment the leader exits: without it the loop
    # would notice the exit up to _POLL_S late (the pipes close a moment
    # before the process becomes waitable), on every command.
    pidfd = _pidfd(proc.pid)
    if pidfd is not None:
        sel.register(pidfd, selectors.EVENT_READ)
    timed_out = cancelled = False
    drain_until: float | None = None  # set once the command is over
    pipes_open = len(splitters)
    try:
        while True:
            if pipes_open or (drain_until is None and pidfd is not None and pidfd in sel.get_map()):
                # Output still open, or it closed and we wait for the exit.
                for key, _ in sel.select(timeout=_POLL_S):
                    if key.fd == pidfd:
                        sel.unregister(pidfd)
                        continue
                    data = os.read(key.fd, 65536)
                    if data:
                        splitters[key.fd].feed(data)
                    else:
                        splitters[key.fd].close()
                        fileobj: IO[bytes] = key.fileobj  # type: ignore[assignment]
                        sel.unregister(fileobj)
                        pipes_open -= 1
            elif drain_until is not None:
                break
            elif cancel is not None:
                # Output closed but the command still runs: keep watching it.
                cancel.wait(_POLL_S)
            else:
                time.sleep(_POLL_S)
            now = time.monotonic()
            if drain_until is not None:
                if not pipes_open or now >= drain_until:
                    break  # done, or a stray we could not kill holds a pipe
                continue
            if tree.leader_exited():
                # Kill background leftovers now so their pipe ends close.
                tree.kill(0.0)
                drain_until = now + _DRAIN_S
            elif cancel is not None and cancel.is_set():
                cancelled = True
                tree.kill(_GRACE_S)
                drain_until = time.monotonic() + _DRAIN_S
            elif now >= deadline:
                timed_out = True
                tree.kill(_GRACE_S)
                drain_until = time.monotonic() + _DRAIN_S
            else:
                tree.maybe_snapshot()
    finally:
        for splitter in splitters.values():
            splitter.close()
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
    return timed_out, cancelled


def _pidfd(pid: int) -> int | None:
    """A file descriptor that turns readable when `pid` exits (Linux 5.3+), or None."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:  # an older kernel, or a seccomp filter that refuses it
        return None
    return fd
