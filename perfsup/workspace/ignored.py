"""Source files in the person's checkout that git ignores.

Every experiment starts from a clean checkout of a commit, so a file the
person's build tools generate and git ignores (setuptools-scm's and
hatch-vcs's `_version.py`, a generated header) is missing there, and the
baseline fails in a way their own checkout never does. Naming those files
turns "13 errors" into a fix a person can make in `[build]`.
"""

from __future__ import annotations

from pathlib import Path

import git

from perfsup.workspace.safegit import run_git

__all__ = ["ignored_sources"]

# What a build or a test imports; ignored folders (.venv/, build/) are listed
# as folders by git and never count.
_SOURCE_SUFFIXES = frozenset(
    {".py", ".pyx", ".pxd", ".go", ".c", ".h", ".cc", ".cpp", ".hpp", ".rs", ".js", ".ts"}
)


def ignored_sources(repo: Path, limit: int = 3) -> list[str]:
    """Up to `limit` ignored source files in the checkout at `repo` (empty on any git error)."""
    try:
        out = run_git(
            ["ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"],
            cwd=repo,
        )
    except git.GitCommandError:
        return []
    found = []
    for name in out.decode("utf-8", errors="surrogateescape").split("\0"):
        if name and not name.endswith("/") and Path(name).suffix in _SOURCE_SUFFIXES:
            found.append(name)
            if len(found) == limit:
                break
    return found
