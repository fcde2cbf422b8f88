"""The source files the model may see, read once per parent commit.

Read from the commit through the main repository's object store (`git
ls-tree` and `git cat-file` with an explicit git dir), never from a
worktree: a command may have tampered with the worktree and its `.git` file.
A commit's files never change, so the visible files of a parent are kept for
the next experiment from the same parent. The key includes the access rules:
a config reload that changes them reads afresh.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from perfsup.config import AccessRules
from perfsup.workspace.access import visible_entries, visible_files
from perfsup.workspace.safegit import read_blobs, run_git, tree_entries

__all__ = ["MAX_SOURCE_BYTES", "SourceCache", "read_sources", "read_sources_at"]

MAX_SOURCE_BYTES = 200_000


def read_sources(worktree: Path, rules: AccessRules) -> dict[str, str]:
    """Path -> text of every visible text file under MAX_SOURCE_BYTES, from the disk.

    Only for a folder no command ever ran in (the user's own checkout).
    """
    sources: dict[str, str] = {}
    for rel in visible_files(worktree, rules):
        path = worktree / rel
        try:
            if path.stat().st_size > MAX_SOURCE_BYTES:
                continue
            sources[rel] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # binary or unreadable files are not source for the model
    return sources


def read_sources_at(git_dir: Path, commit: str, rules: AccessRules) -> dict[str, str]:
    """Path -> text of every visible text file of `commit`, from the object store."""
    entries = tree_entries(git_dir, commit)
    link_blobs = read_blobs(git_dir, [e.blob for e in entries if e.mode == "120000"])
    links = {
        e.path: link_blobs.get(e.blob, b"").decode("utf-8", "replace")
        for e in entries
        if e.mode == "120000"
    }
    shown = {
        path: entry
        for path, entry in visible_entries(entries, rules, links).items()
        if entry.size <= MAX_SOURCE_BYTES
    }
    blobs = read_blobs(git_dir, [entry.blob for entry in shown.values()])
    sources: dict[str, str] = {}
    for path in sorted(shown):
        try:
            sources[path] = blobs[shown[path].blob].decode("utf-8")
        except (KeyError, UnicodeDecodeError):
            continue  # binary files are not source for the model
    return sources


def git_dir_of(repo: Path) -> Path:
    """The common git dir of the repository at `repo` (the user's, trusted)."""
    out = run_git(["rev-parse", "--git-common-dir"], cwd=repo).decode().strip()
    return (repo / out).resolve()


class SourceCache:
    """The last few parents' sources, by (commit, access rules)."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._entries: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()
        self._git_dirs: dict[Path, Path] = {}

    def get(self, commit: str | None, repo: Path, rules: AccessRules) -> dict[str, str]:
        """A fresh dict (callers reorder it) of the sources of `commit` in repository `repo`.

        Without a commit, `repo`'s files on disk are read (a checkout no command touched).
        """
        if commit is None:  # nothing fixes the content: read it
            return read_sources(repo, rules)
        key = (commit, rules.model_dump_json())
        found = self._entries.get(key)
        if found is None:
            git_dir = self._git_dirs.get(repo)
            if git_dir is None:
                git_dir = self._git_dirs[repo] = git_dir_of(repo)
            found = self._entries[key] = read_sources_at(git_dir, commit, rules)
            while len(self._entries) > self.keep:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return dict(found)
