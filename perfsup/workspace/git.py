"""Git operations on the target repository: worktrees, perfsup branches, patches.

Hard rule: nothing here touches the user's own working tree, index, HEAD or
current branch. We only create and remove worktrees under `worktrees_dir`,
move branches named `perfsup/*`, and edit `git worktree` metadata. Every git
call passes `-C <dir>` explicitly, because GitPython silently falls back to
the current directory when a cwd does not exist, and that directory may be
the user's checkout.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import git
from git.refs.symbolic import SymbolicReference

from perfsup.workspace.branchref import point_branch
from perfsup.workspace.removal import force_rmtree
from perfsup.workspace.safegit import run_git
from perfsup.workspace.step_cache import companion_cache

__all__ = ["PERFSUP_BRANCH_PREFIX", "GitWorkspace", "NothingToCommit"]

PERFSUP_BRANCH_PREFIX = "perfsup/"
_IDENTITY_NAME = "perfsup"
_IDENTITY_EMAIL = "perfsup@localhost"

# Config that keeps our commits deterministic and quiet whatever the user's
# git config says: a fixed identity, no signing prompt, no hooks, and no
# background `gc`/maintenance that would disturb a benchmark.
_COMMIT_CONFIG = (
    f"user.name={_IDENTITY_NAME}",
    f"user.email={_IDENTITY_EMAIL}",
    "user.useConfigOnly=false",
    "commit.gpgSign=false",
    f"core.hooksPath={os.devnull}",
    "gc.auto=0",
    "maintenance.auto=false",
)
_IDENTITY_ENV = {
    "GIT_AUTHOR_NAME": _IDENTITY_NAME,
    "GIT_AUTHOR_EMAIL": _IDENTITY_EMAIL,
    "GIT_COMMITTER_NAME": _IDENTITY_NAME,
    "GIT_COMMITTER_EMAIL": _IDENTITY_EMAIL,
}
# Diff output must not depend on the user's diff config (prefixes, colour,
# external diff tools).
_DIFF_CONFIG = ("diff.noprefix=false", "diff.mnemonicPrefix=false", "diff.external=")
_DIFF_FLAGS = ("--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/")
_WORKTREE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# A full object name needs no `rev-parse` (every git call costs milliseconds,
# and an experiment used to make sixteen of them).
_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# perfsup/[<tag>/]<node id> (branches.py): a valid branch name, no `check-ref-format`.
_NODE_BRANCH = re.compile(r"^perfsup/(?:[A-Za-z0-9][A-Za-z0-9_-]*/)?[0-9]+(?:\.[0-9]+)*$")


class NothingToCommit(Exception):
    """The worktree has no change to commit."""


def _run_git(
    cwd: Path,
    *args: str,
    config: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> str:
    """Run `git -C cwd [-c k=v ...] args...` on trusted ground and return stdout as text.

    Safe config and a scrubbed environment (safegit.py): GIT_DIR or GIT_INDEX_FILE
    set by a hook cannot redirect us. Output is decoded as UTF-8 with
    replacement, exactly as produced (no newline stripped: a patch needs its
    last newline).
    """
    out = run_git(args, cwd=cwd, config=config, env=env)
    return out.decode("utf-8", errors="replace")


def _is_under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _serialized(
    method: Callable[Concatenate[GitWorkspace, _P], _R],
) -> Callable[Concatenate[GitWorkspace, _P], _R]:
    """One worktree change at a time: the engine proposes in a thread while it measures."""

    @wraps(method)
    def locked(self: GitWorkspace, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class GitWorkspace:
    """Worktrees and perfsup branches of one repository."""

    def __init__(self, repo_path: Path, worktrees_dir: Path) -> None:
        self._lock = threading.RLock()
        repo_path = Path(repo_path)
        try:
            git.Repo(repo_path)  # fail early, with a clear message, on a non-repo
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise ValueError(f"not a git repository: {repo_path}") from exc
        self.repo_path = repo_path.resolve()
        self.worktrees_dir = Path(worktrees_dir).resolve()
        common = _run_git(self.repo_path, "rev-parse", "--git-common-dir").strip()
        # The object store every trusted read goes through (an explicit --git-dir).
        self.git_dir = (self.repo_path / common).resolve()
        self._store = git.Repo(self.git_dir)  # refs written in-process (branchref.py)
        # worktree -> its admin folder, read when git made it (before any command ran)
        self._admin: dict[Path, Path] = {}
        self._commits: dict[Path, str] = {}  # worktree -> the commit checked out there
        # perfsup/, or perfsup/<tag>/ when another run folder owns the plain names
        self.branch_prefix = PERFSUP_BRANCH_PREFIX
        # Folders that hold the user's work: never deleted, whatever happens.
        self._precious = (self.repo_path, self.git_dir)
        for precious in self._precious:
            if _is_under(precious, self.worktrees_dir):
                raise ValueError(
                    f"worktrees_dir {self.worktrees_dir} must not contain the repository {precious}"
                )

    def _git(self, *args: str, config: Iterable[str] = ()) -> str:
        return _run_git(self.repo_path, *args, config=config)

    def _check_worktree_path(self, path: Path) -> Path:
        """Resolve `path` and refuse anything outside worktrees_dir."""
        resolved = Path(path).resolve()
        if resolved == self.worktrees_dir or not _is_under(resolved, self.worktrees_dir):
            raise ValueError(f"not a perfsup worktree (outside {self.worktrees_dir}): {path}")
        if any(_is_under(precious, resolved) for precious in self._precious):
            raise ValueError(f"refusing to touch {path}: it holds the user's repository")
        return resolved

    def node_branch(self, node_id: str) -> str:
        """The branch of a node's commit: `perfsup/<id>`, or `perfsup/<tag>/<id>`."""
        return f"{self.branch_prefix}{node_id}"

    def _check_branch(self, branch: str) -> None:
        if not branch.startswith(PERFSUP_BRANCH_PREFIX) or branch == PERFSUP_BRANCH_PREFIX:
            raise ValueError(f"perfsup only moves branches named perfsup/*, not {branch!r}")
        if _NODE_BRANCH.match(branch):
            return
        try:
            self._git("check-ref-format", "--branch", branch)
        except git.GitCommandError as exc:
            raise ValueError(f"invalid branch name {branch!r}") from exc

    def resolve(self, ref: str) -> str:
        """Return the full sha of the commit `ref` names; ValueError if unknown."""
        return self._resolve(ref)

    def _sha(self, ref: str) -> str:
        """`ref` itself when it is a full sha (git checks it exists when used), else resolved."""
        return ref if _FULL_SHA.match(ref) else self._resolve(ref)

    def _resolve(self, ref: str) -> str:
        if not ref or ref.startswith("-"):
            raise ValueError(f"unknown git ref {ref!r} in {self.repo_path}")
        try:
            out = self._git(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
            )
        except git.GitCommandError as exc:
            raise ValueError(f"unknown git ref {ref!r} in {self.repo_path}") from exc
        return out.strip()

    @_serialized
    def add_worktree(self, name: str, commit: str) -> Path:
        """Check out `commit` detached at worktrees_dir/name; replace a stale one."""
        if not _WORKTREE_NAME.match(name):
            raise ValueError(f"bad worktree name {name!r} (letters, digits, '.', '_', '-')")
        sha = self._sha(commit)
        path = self.worktrees_dir / name
        self.worktrees_dir.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self.remove_worktree(path)
        try:
            self._git("worktree", "add", "--detach", "--quiet", str(path), sha)
        except git.GitCommandError:
            # A stale registration (its folder gone) refuses the add: clear it
            # and try once more; any other error is raised by the second try.
            self._resolve(sha)  # ValueError when the commit does not exist
            self.remove_worktree(path)
            self._git("worktree", "add", "--detach", "--quiet", str(path), sha)
        self._remember_admin(path.resolve())
        self._commits[path.resolve()] = sha
        return path

    def known_worktrees(self) -> list[Path]:
        """The worktrees this workspace made and has not removed."""
        return list(self._commits)

    def commit_of(self, worktree: Path) -> str | None:
        """The commit checked out (or last committed) in a worktree we made, else None."""
        # Asked around every command: the path as given first (our own paths
        # are resolved already), resolving only when that misses.
        found = self._commits.get(Path(worktree))
        return found if found is not None else self._commits.get(Path(worktree).resolve())

    def admin_of(self, worktree: Path) -> Path | None:
        """The admin folder of a worktree we made, noted before any command ran there:
        git for that worktree goes through it (`--git-dir`), never its `.git` file."""
        return self._admin.get(Path(worktree).resolve())

    def _remember_admin(self, path: Path) -> None:
        """Note the worktree's admin folder now, while its `.git` file is git's own."""
        try:
            line = (path / ".git").read_text(encoding="utf-8").strip()
        except OSError:
            return
        admin = Path(line.removeprefix("gitdir:").strip())
        if admin.parent == self.git_dir / "worktrees":
            self._admin[path] = admin

    def _wt_git(
        self, wt: Path, *args: str, config: Iterable[str] = (), env: Mapping[str, str] | None = None
    ) -> str:
        """git in worktree `wt` through its admin folder: the `.git` file is not read."""
        admin = self._admin.get(wt)
        if admin is None:  # made by an earlier engine: only used before any command ran
            return _run_git(wt, *args, config=config, env=env)
        out = run_git(args, git_dir=admin, work_tree=wt, config=config, env=env)
        return out.decode("utf-8", errors="replace")

    @_serialized
    def remove_worktree(self, path: Path) -> None:
        """Delete a worktree under worktrees_dir and its registration; no error if gone.

        No git command runs for this: `git worktree remove` reads the
        worktree's `.git` file, which a command may have replaced with one
        pointing at a hostile repository. The folder is deleted here and the
        admin folder whose `gitdir` names it is deleted from the trusted store.
        """
        resolved = self._check_worktree_path(path)
        for folder in (resolved, companion_cache(resolved)):
            if folder.is_dir() and not folder.is_symlink():
                force_rmtree(folder)
            elif folder.exists() or folder.is_symlink():
                folder.unlink(missing_ok=True)
        self._admin.pop(resolved, None)
        self._commits.pop(resolved, None)
        self._forget_worktree(resolved)

    @_serialized
    def release_worktree(self, path: Path) -> None:
        """Unregister a worktree but leave its files on disk, a plain folder without `.git`."""
        resolved = self._check_worktree_path(path)
        force_rmtree(companion_cache(resolved), missing_ok=True)
        dot_git = resolved / ".git"
        if dot_git.is_dir() and not dot_git.is_symlink():
            force_rmtree(dot_git)  # a command may have replaced the file with a folder
        else:
            dot_git.unlink(missing_ok=True)
        self._admin.pop(resolved, None)
        self._commits.pop(resolved, None)
        self._forget_worktree(resolved)

    def prune_worktrees(self) -> None:
        """`git worktree prune`: registrations whose folder is gone (a crash) are dropped."""
        self._git("worktree", "prune")

    def _forget_worktree(self, path: Path) -> None:
        """Remove the registrations (in the main repository) of the worktree at `path`."""
        admins = self.git_dir / "worktrees"
        if not admins.is_dir():
            return
        for admin in admins.iterdir():
            try:
                named = (admin / "gitdir").read_text(encoding="utf-8").strip()
            except OSError:
                continue
            if Path(named).parent == path or Path(named).parent.resolve() == path:
                force_rmtree(admin)

    @_serialized
    def commit_all(self, worktree: Path, branch: str, message: str) -> str:
        """Commit every change in `worktree` and force `branch` onto it.

        Author and committer are always "perfsup <perfsup@localhost>". Raises
        NothingToCommit if the worktree is clean.
        """
        self._check_branch(branch)
        wt = self._check_worktree_path(worktree)
        if not wt.is_dir():
            raise FileNotFoundError(f"worktree does not exist: {worktree}")
        # Only ever before a command ran in `wt` (the engine commits the edit first).
        self._wt_git(wt, "add", "--all", "--", ".")
        try:
            self._wt_git(
                wt,
                "commit",
                "--quiet",
                "--no-verify",
                "--no-edit",
                "-m",
                message,
                config=_COMMIT_CONFIG,
                env=_IDENTITY_ENV,
            )
        except git.GitCommandError:
            # Asked only when the commit failed: a clean worktree is the usual cause.
            if not self._wt_git(wt, "diff", "--cached", "--name-only", "--no-ext-diff").strip():
                raise NothingToCommit(f"no change to commit in {worktree}") from None
            raise
        # HEAD read from the admin folder: a git process per commit costs more.
        sha = self._head_of(wt)
        self._commits[wt] = sha
        point_branch(self._store, branch, sha)  # never one checked out anywhere
        return sha

    def _head_of(self, wt: Path) -> str:
        admin = self._admin.get(wt)
        if admin is not None:
            head = (admin / "HEAD").read_text(encoding="utf-8").strip()
            if _FULL_SHA.match(head):
                return head
        return SymbolicReference.dereference_recursive(git.Repo(wt), "HEAD")

    def diff(self, old: str, new: str) -> str:
        """Unified diff text from commit `old` to commit `new`."""
        return self._git(
            "diff", *_DIFF_FLAGS, self._sha(old), self._sha(new), "--", config=_DIFF_CONFIG
        )

    def format_patch(self, base: str, tip: str) -> str:
        """`git format-patch --stdout base..tip`: a patch series for `git am`."""
        rng = f"{self.resolve(base)}..{self.resolve(tip)}"
        return self._git("format-patch", "--stdout", *_DIFF_FLAGS, rng, "--", config=_DIFF_CONFIG)

    def commit_tree(self, tree_of: str, parent: str, message: str) -> str:
        """A new commit with the tree of `tree_of` on top of `parent`; no ref moves.

        Plumbing only (`git commit-tree`): the user's working tree, index and
        branches are untouched; the commit is reachable once a ref points at it.
        """
        tree = self.resolve(tree_of) + "^{tree}"
        out = _run_git(
            self.repo_path,
            "commit-tree",
            tree,
            "-p",
            self.resolve(parent),
            "-m",
            message,
            config=_COMMIT_CONFIG,
            env=_IDENTITY_ENV,
        )
        return out.strip()

    def commit_message(self, sha: str) -> str:
        """The full message of commit `sha`."""
        return self._git("log", "-1", "--format=%B", self.resolve(sha), "--")

    def create_branch(self, name: str, sha: str) -> None:
        """Create branch `name` at `sha` in the user's repository; never moves an existing one.

        `git branch` without --force refuses an existing name, and creating a
        branch changes no working tree, index or HEAD.
        """
        if not name or name.startswith("-"):
            raise ValueError(f"invalid branch name {name!r}")
        try:
            self._git("check-ref-format", "--branch", name)
        except git.GitCommandError as exc:
            raise ValueError(f"invalid branch name {name!r}") from exc
        if self.branch_commit(name) is not None:
            raise ValueError(
                f"branch {name!r} already exists in {self.repo_path}; pick another name"
            )
        self._git("branch", "--no-track", name, self.resolve(sha))

    def cherry_pick_into(self, worktree: Path, sha: str) -> bool:
        """Apply commit `sha`'s change to `worktree` without committing; False on a conflict."""
        wt = self._check_worktree_path(worktree)
        try:
            self._wt_git(
                wt,
                "cherry-pick",
                "--no-commit",
                "--strategy-option=diff-algorithm=histogram",
                self.resolve(sha),
                config=_COMMIT_CONFIG,
                env=_IDENTITY_ENV,
            )
        except git.GitCommandError:
            with contextlib.suppress(git.GitCommandError):
                self._wt_git(wt, "cherry-pick", "--abort")
            return False
        return True

    def branch_commit(self, branch: str) -> str | None:
        """The sha branch `branch` points at, or None if it does not exist."""
        if not branch or branch.startswith("-"):
            return None
        try:
            out = self._git(
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                f"refs/heads/{branch}^{{commit}}",
            )
        except git.GitCommandError:
            return None
        return out.strip() or None

    @_serialized
    def remove_orphan_worktrees(self, keep: Iterable[Path]) -> list[Path]:
        """Remove (after a crash) the worktrees and stray folders under worktrees_dir
        that are not in `keep`, the store's; the removed paths."""
        kept = {Path(p).resolve() for p in keep}
        # Listed before any prune: worktrees whose folder vanished are reported too.
        candidates = {p for p in self._registered_worktrees() if _is_under(p, self.worktrees_dir)}
        candidates.discard(self.worktrees_dir)
        if self.worktrees_dir.is_dir():
            # Folders left by a crash in the middle of `git worktree add`.
            candidates.update(p.resolve() for p in self.worktrees_dir.iterdir())
        removed = []
        for path in sorted(candidates - kept):
            self.remove_worktree(path)
            removed.append(path)
        self.prune_worktrees()
        return removed

    def _registered_worktrees(self) -> set[Path]:
        out = self._git("worktree", "list", "--porcelain", "-z")
        paths = set()
        for field in out.split("\0"):
            if field.startswith("worktree "):
                paths.add(Path(field.removeprefix("worktree ")).resolve())
        return paths
