"""Point a perfsup branch at a commit without starting a git process.

Every experiment moves its node's branch once; `git branch --force` cost a
process (a few milliseconds) each time. GitPython writes the loose ref the way
git does (a `.lock` file renamed over the ref), in the main repository's
trusted store. What `git branch` checked for us is checked here: a branch
checked out in any worktree (or being rebased there) is never moved, so the
person's current branch cannot move under them.
"""

from __future__ import annotations

from pathlib import Path

import git
from git.objects import Commit
from git.refs import Head

__all__ = ["checked_out_at", "point_branch"]

# Where git notes the branch a worktree has checked out, or is rebasing.
_HEAD_FILES = ("HEAD", "rebase-merge/head-name", "rebase-apply/head-name")


def checked_out_at(git_dir: Path, branch: str) -> Path | None:
    """The admin folder of the worktree (the main one included) that has `branch`
    checked out, or None."""
    ref = f"refs/heads/{branch}"
    admins = [git_dir]
    worktrees = git_dir / "worktrees"
    if worktrees.is_dir():
        admins += sorted(worktrees.iterdir())
    for admin in admins:
        for name in _HEAD_FILES:
            try:
                text = (admin / name).read_text(encoding="utf-8").strip()
            except OSError:
                continue
            if text.removeprefix("ref:").strip() == ref:
                return admin
    return None


def point_branch(repo: git.Repo, branch: str, sha: str) -> None:
    """Create or move `branch` to the commit `sha` (full hex). Raises RuntimeError
    when the branch is checked out somewhere."""
    holder = checked_out_at(Path(repo.common_dir), branch)
    if holder is not None:
        raise RuntimeError(f"cannot point {branch} at {sha[:12]}: it is checked out ({holder})")
    # A Commit built from its sha is not read back: no object lookup, no process.
    Head(repo, f"refs/heads/{branch}").set_reference(Commit(repo, bytes.fromhex(sha)))
