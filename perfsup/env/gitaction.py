"""The `git` action: git in the episode's worktree, on trusted ground.

Git runs on the host, not in the sandbox, so it goes through
workspace/safegit.py (scrubbed environment, no hooks, no fsmonitor, no
pager) with the worktree's admin folder named explicitly (`--git-dir`): the
worktree's own `.git` file, which a command could have replaced, is never
read. Only commands that read, or put files back as a commit has them
(`restore`, `checkout`), are allowed; refs are shared by every episode of a
repository, so nothing that moves one (branch, tag, stash, commit) is.
"""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING

from perfsup.workspace.safegit import SAFE_CONFIG, clean_env

if TYPE_CHECKING:
    from perfsup.env.episode import Episode

__all__ = [
    "READ_ONLY",
    "RESTORING",
    "GitRefused",
    "changed_paths",
    "check_args",
    "put_back",
    "run_git",
    "status",
]

READ_ONLY = frozenset(
    {"status", "diff", "log", "show", "ls-files", "grep", "blame", "rev-parse", "shortlog"}
)
RESTORING = frozenset({"restore", "checkout"})
_SHOWS_DIFFS = frozenset({"diff", "log", "show"})
# Options that write files, run programs or leave the worktree.
_FORBIDDEN_PREFIXES = (
    "--output",
    "--exec",
    "--upload-pack",
    "--ext-diff",
    "--textconv",
    "--open-files-in-pager",
    "-O",
    "--no-index",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--config",
    "-c",
    "-C",
    "--orphan",
    "-b",
    "-B",
    "--track",
)
_TIMEOUT_S = 60.0


class GitRefused(ValueError):
    """A git command the environment does not run; the message is one line."""


def check_args(args: list[str]) -> str:
    """The subcommand of `args` if the environment runs it, else GitRefused."""
    if not args:
        raise GitRefused("git: no subcommand given (expected e.g. ['status'] or ['diff'])")
    sub = args[0]
    if sub not in READ_ONLY | RESTORING:
        allowed = ", ".join(sorted(READ_ONLY | RESTORING))
        raise GitRefused(f"git {sub}: not allowed here (allowed: {allowed})")
    for arg in args[1:]:
        if any(arg.startswith(p) for p in _FORBIDDEN_PREFIXES) or "\0" in arg:
            raise GitRefused(f"git {sub}: option {arg!r} is not allowed here")
    return sub


def run_git(episode: Episode, args: list[str]) -> subprocess.CompletedProcess[str]:
    """git `args` in the episode's worktree (no check: the caller checked them)."""
    admin = episode.git.admin_of(episode.tree)
    if admin is None:
        raise GitRefused("git: the worktree's admin folder is unknown")
    argv = ["git", f"--git-dir={admin}", f"--work-tree={episode.tree}"]
    for item in SAFE_CONFIG:
        argv += ["-c", item]
    argv += ["-c", "color.ui=false", args[0]]
    if args[0] in _SHOWS_DIFFS:  # no diff program or converter of anyone's config runs
        argv += ["--no-ext-diff", "--no-textconv"]
    argv += args[1:]
    started = time.monotonic()
    done = subprocess.run(
        argv,
        cwd=episode.tree,
        env=clean_env(),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    episode.command_s += time.monotonic() - started
    return done


def status(episode: Episode) -> str:
    done = run_git(episode, ["status", "--short", "--untracked-files=all"])
    return done.stdout if done.returncode == 0 else f"git status failed: {done.stderr.strip()}"


def changed_paths(episode: Episode, untracked: bool = False) -> list[str]:
    """The tracked paths that differ from the task's commit (and new files, if asked)."""
    diff = run_git(episode, ["diff", "--name-only", "--no-renames", episode.commit, "--"])
    paths = diff.stdout.split("\n")
    if untracked:
        paths += run_git(episode, ["ls-files", "--others", "--exclude-standard"]).stdout.split("\n")
    return sorted(set(paths) - {""})


def put_back(episode: Episode, path: str) -> None:
    """`path` as the task's commit has it (deleted when the commit has none)."""
    done = run_git(episode, ["checkout", episode.commit, "--", path])
    if done.returncode != 0:
        target = episode.tree / path
        if target.is_file() or target.is_symlink():
            target.unlink()
