"""Integrity checks around every command: do not trust the sandbox alone.

Before each build, check or bench command in a worktree perfsup made:

- its protected files (the access rules' `protected`, the config and the
  answer script) are compared with the commit's blobs in the trusted object
  store and rewritten from there when they differ, so a benchmark always runs
  from pristine copies; they are also bound read-only into the box;
- its hidden files are deleted: a command cannot read what is not there;
- every other worktree a command already ran in (the parent's build, kept
  nodes) is fingerprinted: tracked files and their folders. Not when the box
  hides them: bubblewrap shows a command only its own worktree, so the other
  trees are out of its reach and checking them would cost a few ms per command
  for nothing.

After the command, the protected files and those other trees are checked
again. Any change raises `StepAborted(rejected, "tampered with <path>")`: the
node ends rejected and its result is never used; a tampered tree is deleted
(the next use rebuilds it from its commit).

Cheap by design: a fingerprint is lstat's (mode, size, mtime, ctime, inode),
and a file is hashed only when its fingerprint moved since it was last
verified; ctime cannot be set back by a process, so a rewrite is always seen.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from perfsup.config import Config
from perfsup.engine.controls import Controls, StepAborted
from perfsup.store.models import NodeStatus
from perfsup.workspace.access import is_hidden, is_protected
from perfsup.workspace.confine import StepScope, step_scope
from perfsup.workspace.executor import Executor, hidden_from_commands
from perfsup.workspace.git import GitWorkspace
from perfsup.workspace.runner import CommandResult
from perfsup.workspace.safegit import TreeEntry, read_blobs, tree_entries

__all__ = ["IntegrityGuard", "blob_id"]

Fingerprint = tuple[int, int, int, int, int] | None


@dataclass(frozen=True)
class _Layout:
    """What is checked of one commit's tree, worked out once per commit (around
    every command only the lstat calls remain)."""

    entries: list[TreeEntry]
    # tracked files, then their folders ("dir/", "./"): a file added next to
    # tracked ones (a shadowing module) changes its folder's fingerprint
    names: tuple[str, ...]
    relative: tuple[str, ...]  # what to lstat, relative to the tree


class GuardedEngine(Protocol):
    """What the guard reads from the engine, at each command (the config may reload)."""

    git: GitWorkspace
    extra_protected: list[str]
    config: Config
    controls: Controls


@dataclass
class GuardView:
    """The parts of the engine the guard reads (built by `factory.make_engine`)."""

    git: GitWorkspace
    extra_protected: list[str]
    config: Config
    controls: Controls


def blob_id(data: bytes, length: int) -> str:
    """Git's object id of a blob with this content (sha1, or sha256 repositories)."""
    algo = hashlib.sha1 if length == 40 else hashlib.sha256
    return algo(b"blob %d\0" % len(data) + data).hexdigest()


def _stat(path: Path) -> Fingerprint:
    return _lstat(str(path))


def _lstat(path: str) -> Fingerprint:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _layout_of(entries: list[TreeEntry]) -> _Layout:
    files = [e.path for e in entries]
    folders: dict[str, None] = {"": None}
    for path in files:
        parent = os.path.dirname(path)
        while parent not in folders:
            folders[parent] = None
            parent = os.path.dirname(parent)
    names = tuple(files) + tuple(f + "/" if f else "./" for f in folders)
    relative = tuple(files) + tuple(f or "." for f in folders)
    return _Layout(entries=entries, names=names, relative=relative)


class IntegrityGuard:
    """An executor that checks protected files and other trees around each command."""

    def __init__(self, inner: Executor, engine: GuardedEngine) -> None:
        self.inner = inner
        self.engine = engine
        self._lock = threading.Lock()
        self._trees: dict[str, _Layout] = {}  # commit -> its files
        # per commit, under the access rules in force: (hidden paths, protected entries)
        self._rules: tuple[object, tuple[str, ...]] | None = None
        self._split: dict[str, tuple[list[str], list[TreeEntry]]] = {}
        self._verified: dict[Path, Fingerprint] = {}  # protected file -> last good stat
        self._sealed: set[Path] = set()  # worktrees a command ran in
        self._hidden_trees: bool | None = None  # does the box hide the other worktrees?

    # ------------------------------------------------------------ executor
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
        here = Path(cwd).resolve()
        commit = self.engine.git.commit_of(here)
        if commit is None:  # not a worktree of ours: nothing to compare with
            return self.inner.run(
                command, cwd, log_path, timeout_s, env=env, on_line=on_line, cancel=cancel
            )
        protected = self._prepare(here, commit)
        others = [] if self._boxed() else self._others(here)
        before = {tree: self._fingerprint(tree) for tree in others}
        link = _stat(here / ".git")  # a replaced .git file would point git elsewhere
        scope = StepScope(readonly=tuple(here / e.path for e in protected))
        with step_scope(scope):
            result = self.inner.run(
                command, cwd, log_path, timeout_s, env=env, on_line=on_line, cancel=cancel
            )
        tampered = ".git" if _stat(here / ".git") != link else self._own_changes(here, protected)
        for tree, print_before in before.items():
            if tampered is None:
                tampered = self._tree_change(tree, print_before)
                if tampered is not None:
                    self._discard(tree)
        if tampered is not None:
            reason = f"tampered with {tampered}"
            _note(log_path, f"--- perfsup: {reason}; this result is not used ---")
            raise StepAborted(NodeStatus.REJECTED, reason)
        return result

    # ----------------------------------------------------------- own tree
    def _tree(self, commit: str) -> list[TreeEntry]:
        return self._layout(commit).entries

    def _layout(self, commit: str) -> _Layout:
        with self._lock:
            found = self._trees.get(commit)
        if found is None:
            found = _layout_of(tree_entries(self.engine.git.git_dir, commit))
            with self._lock:
                self._trees[commit] = found
                while len(self._trees) > 64:
                    self._trees.pop(next(iter(self._trees)))
        return found

    def _hidden_and_protected(self, commit: str) -> tuple[list[str], list[TreeEntry]]:
        """The commit's hidden paths and protected entries, cached while the rules stand
        (a config reload brings new rule objects, which empties the cache)."""
        rules, extra = self.engine.config.access, self.engine.extra_protected
        with self._lock:
            if self._rules is None or self._rules[0] is not rules or self._rules[1] != tuple(extra):
                self._rules = (rules, tuple(extra))
                self._split.clear()
            found = self._split.get(commit)
        if found is None:
            entries = self._tree(commit)
            hidden = [e.path for e in entries if rules.hidden and is_hidden(e.path, rules)]
            protected = [e for e in entries if e.regular and is_protected(e.path, rules, extra)]
            found = (hidden, protected)
            with self._lock:
                self._split[commit] = found
                while len(self._split) > 64:
                    self._split.pop(next(iter(self._split)))
        return found

    def _prepare(self, here: Path, commit: str) -> list[TreeEntry]:
        """Delete hidden files, restore protected ones; the protected entries."""
        hidden, protected = self._hidden_and_protected(commit)
        for path in hidden:
            _delete(here / path)
        stale = [e for e in protected if not self._intact(here / e.path, e)]
        if stale:
            blobs = read_blobs(self.engine.git.git_dir, [e.blob for e in stale])
            for entry in stale:
                _restore(here / entry.path, blobs.get(entry.blob, b""), entry.mode)
                self._verified[here / entry.path] = _stat(here / entry.path)
        with self._lock:
            self._sealed.add(here)
        return protected

    def _intact(self, path: Path, entry: TreeEntry) -> bool:
        """Is the file at `path` the blob of `entry`? Hashed only when its stat moved."""
        now = _stat(path)
        if now is None:
            return False
        if self._verified.get(path) == now:
            return True  # lstat's mode shows it is still the regular file we hashed
        if not os.path.isfile(path) or os.path.islink(path):
            return False
        try:
            data = path.read_bytes()
        except OSError:
            return False
        good = blob_id(data, len(entry.blob)) == entry.blob
        if good:
            self._verified[path] = now
        return good

    def _own_changes(self, here: Path, protected: list[TreeEntry]) -> str | None:
        for entry in protected:
            if not self._intact(here / entry.path, entry):
                self._verified.pop(here / entry.path, None)
                return entry.path
        return None

    # ------------------------------------------------------- other trees
    def _boxed(self) -> bool:
        """Are all worktrees out of sight of the commands (a box shows each only its own)?"""
        if self._hidden_trees is None:  # neither the box nor the folder changes in a run
            self._hidden_trees = hidden_from_commands(self.inner, self.engine.git.worktrees_dir)
        return self._hidden_trees

    def _others(self, here: Path) -> list[Path]:
        """The trees to watch during a command in `here`: every other worktree that is
        its commit's content, except a proposal made ahead (the engine edits it meanwhile)."""
        git = self.engine.git
        editing = self.engine.controls.proposing
        for tree in git.known_worktrees():
            if tree == here or tree in self._sealed or tree.name == editing:
                continue
            if self._pristine(tree):
                with self._lock:
                    self._sealed.add(tree)
        with self._lock:
            gone = {t for t in self._sealed if git.commit_of(t) is None or not t.is_dir()}
            self._sealed -= gone
            return sorted(t for t in self._sealed if t != here and t.name != editing)

    def _pristine(self, tree: Path) -> bool:
        """Does every tracked file of `tree` hold its commit's blob? (hashed once per tree)"""
        commit = self.engine.git.commit_of(tree)
        if commit is None or not tree.is_dir():
            return False
        hidden = self.engine.config.access.hidden
        for entry in self._tree(commit):
            path = tree / entry.path
            if not entry.regular:
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                if hidden and is_hidden(entry.path, self.engine.config.access):
                    continue  # deleted by us before a command
                return False
            except OSError:
                return False
            if blob_id(data, len(entry.blob)) != entry.blob:
                return False
        return True

    def _fingerprint(self, tree: Path) -> tuple[str | None, tuple[Fingerprint, ...]]:
        """(commit, the lstat of every tracked file and folder), in the layout's order."""
        commit = self.engine.git.commit_of(tree)
        if commit is None:
            return None, ()
        base = str(tree)
        relative = self._layout(commit).relative
        return commit, tuple(_lstat(os.path.join(base, rel)) for rel in relative)

    def _tree_change(
        self, tree: Path, before: tuple[str | None, tuple[Fingerprint, ...]]
    ) -> str | None:
        commit, prints = before
        now_commit, now = self._fingerprint(tree)
        if commit is None or now == prints:
            return None
        if now_commit != commit:
            return f"{tree.name}/"
        names = self._layout(commit).names
        for name, was, is_now in zip(names, prints, now, strict=True):
            if was != is_now:
                return f"{tree.name}/{name}"
        return None  # pragma: no cover - the tuples differ, so some entry does

    def _discard(self, tree: Path) -> None:
        with self._lock:
            self._sealed.discard(tree)
        with contextlib.suppress(OSError, ValueError):
            self.engine.git.remove_worktree(tree)


def _delete(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(OSError):
            path.unlink()


def _restore(path: Path, data: bytes, mode: str) -> None:
    """Write the pristine blob at `path`, whatever stands there now."""
    if path.is_symlink() or path.exists():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o755 if mode == "100755" else 0o644)


def _note(log_path: Path, line: str) -> None:
    with contextlib.suppress(OSError):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
