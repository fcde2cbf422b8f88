"""Run build, check and bench commands in a box: the model writes that code.

The command line is wrapped, in this order:

1. a pids cgroup (only when running as root with a writable cgroup v1
   `pids` hierarchy: the kernel never applies RLIMIT_NPROC to root);
2. `prlimit`: CPU time, address space, file size and process count;
3. the isolation: `bwrap` (no network; read-only host with private /tmp,
   /run and homes, host secrets covered, the run directory hidden except the
   step's own worktree: see confine.py; its own pid namespace so nothing
   outlives the command; an unprivileged user where the kernel allows), else
   `unshare -rn` (no network only), else nothing, with a warning that
   isolation is off. `Isolation.off` names the protections missing here.

The environment is scrubbed: only PATH, HOME, LANG and friends, perfsup's
own marks and the configured `pass_env` variables reach the command.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import shlex
import shutil
import subprocess
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from perfsup.config.model import SandboxSettings
from perfsup.workspace.confine import (
    StepScope,
    bwrap_argv,
    current_scope,
    user_namespace_works,
)
from perfsup.workspace.executor import Executor
from perfsup.workspace.runner import CommandResult
from perfsup.workspace.step_cache import cache_env, step_cache
from perfsup.workspace.syscalls import SECCOMP_FD, filter_path
from perfsup.workspace.target_env import READABLE_MARK

__all__ = ["Isolation", "SandboxExecutor", "detect_isolation", "scrub_env"]

# Always passed: what any build needs to find tools and speak a language.
BASIC_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "USER", "LOGNAME", "TZ")
# perfsup's own marks (the run directory, for finding strays after a crash).
PERFSUP_PREFIX = "PERFSUP_"
_PIDS_V1 = Path("/sys/fs/cgroup/pids")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # a variable the shell can name
_counter = itertools.count()


@dataclass(frozen=True)
class Isolation:
    """Which isolation is in use and a one-line description for `perfsup status`."""

    kind: str  # "bwrap", "unshare" or "none"
    network: bool
    # the seccomp filter refusing new Unix sockets (syscalls.py), where it can be used
    socket_filter: Path | None = None

    @property
    def off(self) -> list[str]:
        """The protections this machine or config leaves off, for the status line."""
        off = ["network"] if self.network else []
        if self.kind != "bwrap":
            off += ["filesystem confinement", "private /tmp, /run and home", "host secrets"]
        else:
            if not user_namespace_works():
                off.append("unprivileged user")
            if self.socket_filter is None:
                off.append("Unix-socket filter")
        if self.kind == "none":
            off += ["pid namespace"]
        return off

    @property
    def description(self) -> str:
        net = "network allowed" if self.network else "no network"
        off = f"; protections OFF: {', '.join(self.off)}" if self.off else ""
        if self.kind == "bwrap":
            return f"bubblewrap ({net}, only the step's worktree writable{off})"
        if self.kind == "unshare":
            return f"unshare ({net}; writes outside the worktree are NOT refused{off})"
        return f"none: isolation is OFF (install bubblewrap); resource limits only{off}"


def _works(argv: list[str]) -> bool:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@functools.cache
def _bwrap_works() -> bool:
    return shutil.which("bwrap") is not None and _works(
        ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-net", "true"]
    )


@functools.cache
def _unshare_works() -> bool:
    return shutil.which("unshare") is not None and _works(["unshare", "-rn", "true"])


def detect_isolation(settings: SandboxSettings) -> Isolation:
    """The strongest isolation this machine offers within what the config allows."""
    wanted = settings.kind
    if wanted in ("auto", "bwrap") and _bwrap_works():
        socket_filter = None if settings.unix_sockets else filter_path()
        return Isolation("bwrap", settings.network, socket_filter)
    if wanted in ("auto", "unshare") and _unshare_works():
        return Isolation("unshare", settings.network)
    return Isolation("none", True)


def scrub_env(env: Mapping[str, str], passed: Iterable[str]) -> dict[str, str]:
    """Only the basics, perfsup's marks and the configured variables."""
    keep = set(BASIC_ENV) | set(passed)
    return {k: v for k, v in env.items() if k in keep or k.startswith(PERFSUP_PREFIX)}


class SandboxExecutor:
    """An executor that runs every command inside the sandbox."""

    def __init__(
        self,
        inner: Executor,
        settings: SandboxSettings,
        private: Iterable[Path],
        report: Callable[[str], None] = print,
    ) -> None:
        """`private`: folders (the run directory) hidden from commands, except the
        worktree a command runs in."""
        self.inner = inner
        self.settings = settings
        self.private = [Path(p).resolve() for p in private]
        self.writable = [Path(p).expanduser().resolve() for p in settings.writable_paths]
        self.isolation = detect_isolation(settings)
        self._lines: dict[tuple[Path, StepScope | None, str], list[str]] = {}
        self._wrapped: dict[
            tuple[str, Path, Path | None, StepScope | None, str, tuple[str, ...]], str
        ] = {}
        self._cgroups = PidsCgroups(settings.processes)
        remove_stale_cgroups()
        if self.isolation.kind == "none":
            report("warning: sandbox isolation is OFF (no bubblewrap or unshare usable here)")

    def hides(self, path: Path) -> bool:
        """Is `path` out of sight of every command (inside a run directory that
        bubblewrap covers with an empty tmpfs, except the command's own worktree)?"""
        if self.isolation.kind != "bwrap":
            return False
        resolved = Path(path).resolve()
        return any(resolved == p or p in resolved.parents for p in self.private)

    def wrap(
        self,
        command: str,
        cwd: Path,
        cgroup: Path | None = None,
        readable: str = "",
        names: tuple[str, ...] = (),
    ) -> str:
        """The shell line that runs `command` in the box; `readable`: folders shown
        read-only (the target's environment, target_env.py), os.pathsep-separated;
        `names`: the only environment variables the command keeps."""
        # The same command runs in the same two trees for every benchmark pair:
        # its line is made once (the cache is keyed by everything it depends on).
        key = (command, cwd, cgroup, current_scope(), readable, names)
        line = self._wrapped.get(key)
        if line is None:
            line = self._wrap(command, cwd, cgroup, readable, names)
            self._wrapped[key] = line
            while len(self._wrapped) > 16:
                self._wrapped.pop(next(iter(self._wrapped)))
        return line

    def _wrap(
        self, command: str, cwd: Path, cgroup: Path | None, readable: str, names: tuple[str, ...]
    ) -> str:
        s = self.settings
        # The executor below adds our whole environment under the scrubbed one:
        # `env -i` starts from nothing and takes back only these names, their
        # values read by the shell (so no value is written into the logged line).
        keep = " ".join(f'{name}="${name}"' for name in names if _NAME.match(name))
        limits = [
            "prlimit",
            f"--cpu={s.cpu_s}",
            f"--as={s.memory_mb * 1024 * 1024}",
            f"--fsize={s.file_mb * 1024 * 1024}",
            f"--nproc={_nproc_limit(s.processes)}",
            "--",
        ]
        inner = ["/bin/bash", "-c", command]
        argv = limits + self._isolate(cwd, readable) + inner
        line = f"env -i {keep} {shlex.join(argv)}"
        if self.isolation.socket_filter is not None:
            # bwrap reads the filter from this descriptor (see syscalls.py)
            line += f" {SECCOMP_FD}< {shlex.quote(str(self.isolation.socket_filter))}"
        if cgroup is not None:
            line = f"echo $$ > {shlex.quote(str(cgroup / 'cgroup.procs'))} && exec {line}"
        return f"exec {line}" if cgroup is None else line

    def _isolate(self, cwd: Path, readable: str) -> list[str]:
        iso = self.isolation
        if iso.kind == "bwrap":
            # The same step runs many times (every benchmark pair): its line is
            # built once (about 2 ms of stat calls) and kept for a few steps.
            key = (cwd, current_scope(), readable)
            argv = self._lines.get(key)
            if argv is None:
                argv = bwrap_argv(
                    cwd,
                    private=self.private,
                    writable=self.writable,
                    network=iso.network,
                    scope=key[1],
                    readable=[Path(p) for p in readable.split(os.pathsep) if p],
                    cache=step_cache(cwd, self.private),
                    seccomp_fd=SECCOMP_FD if iso.socket_filter is not None else None,
                )
                self._lines[key] = argv
                while len(self._lines) > 8:
                    self._lines.pop(next(iter(self._lines)))
            return list(argv)
        if iso.kind == "unshare" and not iso.network:
            return ["unshare", "-rn", "--"]
        return []

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
        """Run `command` in the box; the inner executor does the waiting and killing."""
        scrubbed = scrub_env(env if env is not None else os.environ, self.settings.pass_env)
        cache = step_cache(cwd, self.private)  # Go's build cache: this step folder's own
        scrubbed.update(cache_env(cache) if cache is not None else {})
        cgroup = self._cgroups.take()
        try:
            return self.inner.run(
                self.wrap(
                    command,
                    cwd,
                    cgroup,
                    scrubbed.get(READABLE_MARK, ""),
                    tuple(sorted(scrubbed)),
                ),
                cwd,
                log_path,
                timeout_s,
                env=scrubbed,
                on_line=on_line,
                cancel=cancel,
            )
        finally:
            if cgroup is not None:
                self._cgroups.give(cgroup)


class PidsCgroups:
    """Pids cgroups reused from one command to the next.

    Making and removing a cgroup around every command cost about 0.2 ms each
    time (a benchmark runs dozens of commands per experiment). A cgroup is
    handed out again only once it is empty, so each command has `limit` tasks
    to itself: right after a command the kernel may still be tearing down its
    pid namespace, so a cgroup that still lists tasks waits in the pool for a
    later turn. Past `keep`, empty ones are removed. The pool's cgroups are
    removed when the sandbox is collected or the process exits (a killed
    engine's are removed by `remove_stale_cgroups` at the next start).
    """

    def __init__(self, limit: int, keep: int = 4) -> None:
        self.limit = limit
        self.keep = keep
        self._pool: list[Path] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _remove_all, self._pool)

    def take(self) -> Path | None:
        with self._lock:
            for index, cgroup in enumerate(self._pool):
                if _empty(cgroup):
                    return self._pool.pop(index)
        return _make_pids_cgroup(self.limit)

    def give(self, cgroup: Path) -> None:
        with self._lock:
            self._pool.append(cgroup)
            extra = len(self._pool) - self.keep
            for old in list(self._pool):
                if extra <= 0:
                    break
                if _empty(old):
                    with contextlib.suppress(OSError):
                        old.rmdir()
                        self._pool.remove(old)
                        extra -= 1


def _empty(cgroup: Path) -> bool:
    try:
        return not (cgroup / "cgroup.procs").read_text().strip()
    except OSError:
        return False


def _remove_all(cgroups: list[Path]) -> None:
    for cgroup in cgroups:
        with contextlib.suppress(OSError):
            cgroup.rmdir()
    cgroups.clear()


def _make_pids_cgroup(limit: int) -> Path | None:
    """A fresh pids cgroup holding at most `limit` tasks, when root can make one."""
    if os.geteuid() != 0 or not os.access(_PIDS_V1, os.W_OK):
        return None
    path = _PIDS_V1 / f"perfsup-{os.getpid()}-{next(_counter)}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(limit))
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return path


def remove_stale_cgroups() -> None:
    """Remove empty pids cgroups left by engines that died (kill -9) before cleanup."""
    if not _PIDS_V1.is_dir():
        return
    for path in _PIDS_V1.glob("perfsup-*-*"):
        try:
            owner = int(path.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if owner != os.getpid() and not _alive(owner):
            with contextlib.suppress(OSError):
                path.rmdir()  # fails while a task is still inside: left for next time


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _nproc_limit(processes: int) -> int:
    """RLIMIT_NPROC counts every process of the user, not only the command's:
    allow what the user already runs plus `processes` more."""
    if os.geteuid() == 0:
        return processes  # ignored for root; the pids cgroup bounds it instead
    uid = os.getuid()
    running = 0
    for proc in psutil.process_iter(["uids"]):
        uids = proc.info.get("uids")
        if uids is not None and uids.real == uid:
            running += 1
    return running + processes
