"""Git on trusted ground: every git process perfsup starts goes through here.

Model-written code runs in worktrees, so anything under a worktree may be
hostile after a command ran there: a replaced `.git` file pointing at a
repository whose config sets `core.fsmonitor`, hooks, filters,
`core.sshCommand` or `include.path`. So:

- the environment is scrubbed: no GIT_* variable of ours or of a hook's
  reaches git (GitPython's `execute(env=)` can add variables but not remove
  them, hence a plain subprocess here);
- config that runs programs is switched off on the command line, which wins
  over every config file (fsmonitor, hooks, ssh command, pager, ext protocol);
- reading a commit's files goes through the main repository's object store
  with an explicit `--git-dir`, never through a worktree.

Errors are raised as `git.GitCommandError`, like GitPython's, so callers
keep one exception type.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import git

__all__ = [
    "SAFE_CONFIG",
    "TreeEntry",
    "clean_env",
    "read_blobs",
    "run_git",
    "safe_argv",
    "tree_entries",
]

SAFE_CONFIG = (
    "core.fsmonitor=",
    f"core.hooksPath={os.devnull}",
    "core.sshCommand=false",
    "core.pager=cat",
    "core.untrackedCache=false",
    "protocol.ext.allow=never",
    "credential.helper=",
)
# Not a GIT_* variable but read by git: an ssh command would run a program.
_ALSO_DROPPED = ("SSH_ASKPASS",)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any GIT_* variable, plus `extra`."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k not in _ALSO_DROPPED
    }
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password at night
    env.update(extra or {})
    return env


def safe_argv(*args: str) -> list[str]:
    """`git` with the safe config, then `args`: for callers that run it themselves
    (pass `env=clean_env()` too)."""
    argv = ["git"]
    for item in SAFE_CONFIG:
        argv += ["-c", item]
    return [*argv, *args]


def run_git(
    args: Iterable[str],
    *,
    cwd: Path | None = None,
    git_dir: Path | None = None,
    work_tree: Path | None = None,
    config: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> bytes:
    """Run git with the safe config and a scrubbed environment; stdout as bytes.

    `git_dir` names the repository explicitly (no discovery through `.git`
    files); `work_tree` adds a work tree and runs git from inside it.
    """
    cmd = ["git"]
    if git_dir is not None:
        cmd += [f"--git-dir={git_dir}"]
        if work_tree is not None:
            cmd += [f"--work-tree={work_tree}"]
    elif cwd is not None:
        cmd += ["-C", str(cwd)]
    for item in (*SAFE_CONFIG, *config):
        cmd += ["-c", item]
    cmd += list(args)
    done = subprocess.run(
        cmd,
        input=stdin,
        capture_output=True,
        env=clean_env(env),
        cwd=work_tree if git_dir is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise git.GitCommandError(cmd, done.returncode, done.stderr, done.stdout)
    return done.stdout


@dataclass(frozen=True)
class TreeEntry:
    """One file of a commit, as the object store has it."""

    path: str
    mode: str  # "100644", "100755", "120000" (symlink), "160000" (submodule)
    blob: str
    size: int

    @property
    def regular(self) -> bool:
        return self.mode in ("100644", "100755")


def tree_entries(git_dir: Path, commit: str) -> list[TreeEntry]:
    """Every file of `commit`, read from the object store (no worktree involved)."""
    out = run_git(
        ["ls-tree", "-r", "-z", "-l", "--full-tree", "--end-of-options", commit], git_dir=git_dir
    )
    entries = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, _kind, blob, size = meta.decode().split()
        entries.append(
            TreeEntry(os.fsdecode(raw_path), mode, blob, int(size) if size.isdigit() else 0)
        )
    return entries


def read_blobs(git_dir: Path, blobs: Iterable[str]) -> dict[str, bytes]:
    """The content of each blob, in one `git cat-file --batch`."""
    wanted = list(dict.fromkeys(blobs))
    if not wanted:
        return {}
    out = run_git(
        ["cat-file", "--batch"], git_dir=git_dir, stdin="\n".join(wanted).encode() + b"\n"
    )
    found: dict[str, bytes] = {}
    pos = 0
    for blob in wanted:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        found[blob] = out[pos : pos + size]
        pos += size + 1
    return found
