"""What a command sees inside bubblewrap: only what its step needs.

The host's root is mounted read-only, then covered where it holds something
a hostile command could use:

- the run directory (store, overrides, logs, other nodes' worktrees) is an
  empty, read-only tmpfs; only the step's own worktree comes back, writable, and the run's
  `bin` (the `python` links), read-only;
- /tmp, /run and every home folder are private, empty tmpfs: no session bus,
  Docker or X11 socket, no ~/.ssh, ~/.gitconfig or shell rc files; the
  interpreter and PATH folders that lived there come back read-only;
- host secrets outside home (shadow files, sudoers, SSH host keys) are
  replaced by an empty file or folder;
- protected files of the worktree are bound read-only over the writable tree;
- the command runs as an unprivileged user of its own user namespace where
  the kernel allows one (no capabilities, so no root privileges over files).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["HOST_SECRETS", "StepScope", "bwrap_argv", "step_scope", "user_namespace_works"]

# Readable by root (and so by a root-mapped user namespace) and never needed by a build.
HOST_SECRETS = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/security/opasswd",
)
# Private, empty folders: sockets and the users' homes live here.
PRIVATE_FOLDERS = ("/tmp", "/run", "/var/tmp", "/home", "/root", "/var/lib/docker")
NOBODY = "65534"


@dataclass(frozen=True)
class StepScope:
    """What the step in flight adds to the box: files bound read-only over the tree."""

    readonly: tuple[Path, ...] = field(default_factory=tuple)


_SCOPE: ContextVar[StepScope | None] = ContextVar("perfsup_step_scope", default=None)


@contextmanager
def step_scope(scope: StepScope) -> Iterator[None]:
    """Commands wrapped inside this block get `scope` (per thread: the pipeline has two)."""
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def current_scope() -> StepScope | None:
    return _SCOPE.get()


@functools.cache
def user_namespace_works() -> bool:
    """Can bubblewrap run a command as an unprivileged user of its own namespace here?"""
    argv = ["bwrap", "--ro-bind", "/", "/", "--unshare-user", "--uid", NOBODY]
    argv += ["--gid", NOBODY, "true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _masked(path: Path, masks: Iterable[Path]) -> bool:
    return any(path == m or m in path.parents for m in masks)


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def bwrap_argv(
    cwd: Path,
    *,
    private: Iterable[Path],
    writable: Iterable[Path],
    network: bool,
    scope: StepScope | None,
    readable: Iterable[Path] = (),
    cache: Path | None = None,
    seccomp_fd: int | None = None,
) -> list[str]:
    """The bubblewrap command line (up to `--`) for a command run in `cwd`; `readable`:
    folders shown read-only (the target's venv), `cache`: the step's writable cache."""
    argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    masks: list[Path] = []
    home = Path(os.environ.get("HOME", "/nonexistent")).resolve()
    for folder in dict.fromkeys([*map(Path, PRIVATE_FOLDERS), home]):
        if folder.is_dir() and not folder.is_symlink():
            argv += ["--tmpfs", str(folder)]
            masks.append(folder)
    for secret in map(Path, HOST_SECRETS):
        if secret.is_dir() and not secret.is_symlink():
            argv += ["--tmpfs", str(secret), "--remount-ro", str(secret)]
        elif secret.is_file() and not secret.is_symlink():
            argv += ["--ro-bind", "/dev/null", str(secret)]
    # Configured folders (caches) next: a run directory inside one stays hidden below.
    for path in dict.fromkeys(Path(p).resolve() for p in writable):
        if path.is_dir():
            argv += ["--bind", str(path), str(path)]
    runs = [Path(p).resolve() for p in private]
    for run_dir in runs:
        argv += ["--tmpfs", str(run_dir)]
    masks += runs
    # Back, read-only: the interpreter and the tools on PATH that lived under a mask.
    tools = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent]
    tools += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    tools += [run_dir / "bin" for run_dir in runs] + list(readable)
    back: list[Path] = []
    for tool in sorted({t.resolve() for t in tools if t.is_absolute()}, key=lambda t: len(t.parts)):
        if tool.is_dir() and _masked(tool, masks) and not _masked(tool, back):
            back.append(tool)  # a folder inside one already back needs no mount of its own
            argv += ["--ro-bind", str(tool), str(tool)]
    here = cwd.resolve()
    argv += ["--bind", str(here), str(here)]
    if cache is not None and cache.is_dir() and not cache.is_symlink():
        argv += ["--bind", str(cache), str(cache)]
    for path in scope.readonly if scope is not None else ():
        if _exists(path) and not path.is_symlink():
            argv += ["--ro-bind", str(path), str(path)]
    for run_dir in runs:  # nothing can be written next to the worktree either
        argv += ["--remount-ro", str(run_dir)]
    argv += ["--tmpfs", "/dev/shm"] if Path("/dev/shm").is_dir() else []
    argv += ["--unshare-pid", "--unshare-ipc", "--die-with-parent"]
    if not network:
        argv.append("--unshare-net")
    if user_namespace_works():
        argv += ["--unshare-user", "--uid", NOBODY, "--gid", NOBODY]
    if seccomp_fd is not None:  # the shell line opens the compiled filter on it
        argv += ["--seccomp", str(seccomp_fd)]
    return [*argv, "--chdir", str(here), "--"]
