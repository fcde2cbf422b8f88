"""Trees built from parts of commits, for `perfsup export --split`.

Plumbing only, in the person's repository (trusted ground, `safegit`): a
temporary index file outside the repository holds the tree being built, so
their own index, working tree, HEAD and branches are never touched.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from perfsup.workspace.git import _COMMIT_CONFIG, _IDENTITY_ENV  # one identity for our commits
from perfsup.workspace.safegit import run_git

__all__ = ["changed_paths", "commit_with_paths"]

_NO_OBJECT = "0" * 40


def changed_paths(repo: Path, old: str, new: str) -> list[str]:
    """The files that differ between commits `old` and `new` (a rename: both names)."""
    out = run_git(
        ["diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", old, new, "--"], cwd=repo
    )
    return [p for p in out.decode("utf-8", errors="surrogateescape").split("\0") if p]


def commit_with_paths(repo: Path, base: str, tip: str, paths: list[str], message: str) -> str:
    """A commit on `base` whose tree is `base`'s with `paths` as they are in `tip`
    (removed where `tip` has no such file); no ref moves."""
    with tempfile.TemporaryDirectory(prefix="perfsup-split-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), **_IDENTITY_ENV}
        run_git(["read-tree", base], cwd=repo, env=env)
        listed = run_git(["ls-tree", "-r", "-z", "--full-tree", tip, "--", *paths], cwd=repo)
        present: dict[str, str] = {}
        for entry in listed.decode("utf-8", errors="surrogateescape").split("\0"):
            if entry:
                info, path = entry.split("\t", 1)
                mode, _kind, sha = info.split()
                present[path] = f"{mode} {sha}"
        lines = [f"{present[p]}\t{p}" if p in present else f"0 {_NO_OBJECT}\t{p}" for p in paths]
        records = "".join(line + "\0" for line in lines).encode("utf-8", errors="surrogateescape")
        run_git(["update-index", "-z", "--index-info"], cwd=repo, env=env, stdin=records)
        tree = run_git(["write-tree"], cwd=repo, env=env).decode().strip()
        out = run_git(
            ["commit-tree", tree, "-p", base, "-F", "-"],
            cwd=repo,
            config=_COMMIT_CONFIG,
            env=env,
            stdin=message.encode("utf-8"),
        )
    return out.decode().strip()
