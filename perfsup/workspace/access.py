"""Access rules: which files the model may see and change.

Checked before any edit is applied. Every refusal is an `AccessDenied` whose
message is one line naming the path and the rule, because it is shown to the
person and fed back to the model in the next prompt.

Rule entries are repo-relative paths; an entry covers itself and everything
under it ("src", "src/" and "./src" are the same entry; "." covers the whole
repository). An entry containing `*`, `?` or `[` is a glob matched against the
path and each of its parent folders (`*` also crosses `/`, so "*.pem" hides
every .pem file).
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from perfsup.config.model import AccessRules
from perfsup.workspace.safegit import TreeEntry, run_git

__all__ = [
    "AccessDenied",
    "check_edit_path",
    "is_hidden",
    "is_protected",
    "visible_entries",
    "visible_files",
]

_GLOB_CHARS = frozenset("*?[")


class AccessDenied(Exception):
    """An edit was refused; str(exc) is a one-line reason for person and model."""


def _entry_parts(entry: str) -> tuple[str, ...]:
    return PurePosixPath(entry.strip()).parts if entry.strip() not in ("", ".") else ()


def _covers(entry: str, parts: tuple[str, ...]) -> bool:
    """Does rule `entry` cover the clean relative path given by `parts`?"""
    if _GLOB_CHARS & set(entry):
        pattern = entry.strip().removeprefix("./").rstrip("/")
        return any(
            fnmatch.fnmatchcase("/".join(parts[:n]), pattern) for n in range(1, len(parts) + 1)
        )
    prefix = _entry_parts(entry)
    return parts[: len(prefix)] == prefix


def _first_covering(entries: Iterable[str], parts: tuple[str, ...]) -> str | None:
    for entry in entries:
        if _covers(entry, parts):
            return entry
    return None


def _show(path: str) -> str:
    """The path as written, quoted only when it would not read well on one line."""
    return path if path and path.isprintable() and path.strip() == path else repr(path)


def _clean_parts(path: str) -> tuple[str, ...] | str:
    """Split a repo-relative path into parts, or return why it is not one."""
    if not path or not path.strip():
        return "empty path"
    if not path.isprintable():
        return "path contains control characters"
    pure = PurePosixPath(path)
    if pure.is_absolute():
        return "absolute paths are not allowed; use a path relative to the repository root"
    if ".." in pure.parts:
        return "'..' is not allowed in paths"
    if not pure.parts:
        return "path names the repository root, not a file"
    if any(part.lower() == ".git" for part in pure.parts):
        return "files under .git are off limits"
    return pure.parts


def _check_rules(
    shown: str, parts: tuple[str, ...], rules: AccessRules, extra_protected: list[str]
) -> None:
    """Apply hidden / protected / writable rules to clean `parts`."""
    rel = "/".join(parts)
    shown = _show(shown) if rel == shown else f"{_show(shown)} (-> {_show(rel)})"
    if (entry := _first_covering(rules.hidden, parts)) is not None:
        raise AccessDenied(f"{shown}: refused, the file is hidden (hidden entry {entry!r})")
    if (entry := _first_covering(rules.protected, parts)) is not None:
        raise AccessDenied(f"{shown}: refused, the file is protected (protected entry {entry!r})")
    if (entry := _first_covering(extra_protected, parts)) is not None:
        raise AccessDenied(
            f"{shown}: refused, the file is protected ({entry!r} is a bench/check script or config)"
        )
    if _first_covering(rules.writable, parts) is None:
        allowed = ", ".join(repr(e) for e in rules.writable)
        raise AccessDenied(f"{shown}: refused, not inside a writable entry (writable: {allowed})")


def check_edit_path(
    worktree: Path, path: str, rules: AccessRules, extra_protected: Iterable[str] = ()
) -> Path:
    """Return the absolute resolved path the edit may write to, or raise AccessDenied.

    Refuses absolute paths, `..`, `.git`, hidden and protected paths (including
    `extra_protected`), paths outside every writable entry, and paths whose
    resolution through symlinks leaves the worktree or lands on a refused file.
    """
    extra = list(extra_protected)
    parts = _clean_parts(path)
    if isinstance(parts, str):
        raise AccessDenied(f"{_show(path)}: refused, {parts}")
    _check_rules(path, parts, rules, extra)

    # Follow symlinks (in any folder of the path and the file itself): the
    # place actually written must be inside the worktree and pass the rules.
    root = Path(worktree).resolve()
    target = root.joinpath(*parts).resolve()
    if target != root and root not in target.parents:
        raise AccessDenied(f"{_show(path)}: refused, a symlink leads outside the worktree")
    real_parts = target.relative_to(root).parts
    if real_parts != parts:
        real = _clean_parts("/".join(real_parts))
        if isinstance(real, str):
            raise AccessDenied(f"{_show(path)}: refused, a symlink leads to {real}")
        _check_rules(path, real, rules, extra)
    if target.is_dir():
        raise AccessDenied(f"{_show(path)}: refused, it is a folder, not a file")
    return target


def is_hidden(path: str, rules: AccessRules) -> bool:
    """True if the model must not see `path` (hidden entries, .git, bad paths)."""
    parts = _clean_parts(path)
    if isinstance(parts, str):
        return True  # not a clean repo-relative path: show nothing
    return _first_covering(rules.hidden, parts) is not None


def is_protected(path: str, rules: AccessRules, extra_protected: Iterable[str] = ()) -> bool:
    """True if commands must not change `path` (protected entries, config, answer script)."""
    parts = _clean_parts(path)
    if isinstance(parts, str):
        return False
    return _first_covering([*rules.protected, *extra_protected], parts) is not None


def visible_files(worktree: Path, rules: AccessRules) -> list[str]:
    """Git-tracked files under writable entries, minus hidden ones; sorted posix paths.

    Tracked symlinks that lead outside the worktree are left out, so reading a
    visible file never reads something outside it.
    """
    root = Path(worktree).resolve()
    out = run_git(["ls-files", "-z", "--cached"], cwd=root)
    files: list[str] = []
    for raw in out.split(b"\0"):
        if not raw:
            continue
        rel = os.fsdecode(raw)
        parts = _clean_parts(rel)
        if isinstance(parts, str) or _first_covering(rules.writable, parts) is None:
            continue
        if _first_covering(rules.hidden, parts) is not None:
            continue
        full = root.joinpath(*parts)
        real = full.resolve()
        if real != root and root not in real.parents:
            continue
        # A symlink to a hidden file would show that file's content.
        real_parts = _clean_parts(real.relative_to(root).as_posix())
        if isinstance(real_parts, str) or _first_covering(rules.hidden, real_parts) is not None:
            continue
        if not full.is_file():  # submodules, files deleted in the worktree
            continue
        files.append(rel)
    return sorted(set(files))


def visible_entries(
    entries: Iterable[TreeEntry], rules: AccessRules, links: Mapping[str, str]
) -> dict[str, TreeEntry]:
    """Of a commit's files (from the object store): path -> the regular file shown there.

    Writable and not hidden; a symlink (its text in `links`) is shown with its
    target's content only when the target is a regular, not hidden file of the
    same commit, so nothing outside the tree is ever read.
    """
    by_path = {e.path: e for e in entries}
    shown: dict[str, TreeEntry] = {}
    for entry in by_path.values():
        parts = _clean_parts(entry.path)
        if isinstance(parts, str) or _first_covering(rules.writable, parts) is None:
            continue
        if _first_covering(rules.hidden, parts) is not None:
            continue
        target: TreeEntry | None = entry
        if entry.mode == "120000":
            text = links.get(entry.path, "")
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), text))
            target = None if text.startswith("/") else by_path.get(joined)
            real = _clean_parts(joined)
            if isinstance(real, str) or _first_covering(rules.hidden, real) is not None:
                continue
        if target is not None and target.regular:
            shown[entry.path] = target
    return shown
