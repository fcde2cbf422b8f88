"""The source files the model may see, read once per parent commit.

A commit's files never change, so the visible files of a parent (a `git
ls-files` plus a read of each file) are kept for the next experiment from the
same parent instead of being read again. The key includes the access rules:
a config reload that changes them reads afresh.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from perfsup.config import AccessRules
from perfsup.workspace.access import visible_files

__all__ = ["MAX_SOURCE_BYTES", "SourceCache", "read_sources"]

MAX_SOURCE_BYTES = 200_000


def read_sources(worktree: Path, rules: AccessRules) -> dict[str, str]:
    """Path -> text of every visible text file under MAX_SOURCE_BYTES."""
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


class SourceCache:
    """The last few parents' sources, by (commit, access rules)."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._entries: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()

    def get(self, commit: str | None, worktree: Path, rules: AccessRules) -> dict[str, str]:
        """A fresh dict (callers reorder it) of the sources of `commit` in `worktree`."""
        if commit is None:  # nothing fixes the content: read it
            return read_sources(worktree, rules)
        key = (commit, rules.model_dump_json())
        found = self._entries.get(key)
        if found is None:
            found = self._entries[key] = read_sources(worktree, rules)
            while len(self._entries) > self.keep:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return dict(found)
