"""A target given as a git URL: one bare clone per URL in the run folder's
cache, fetched again on later runs (its own perfsup/* branches untouched)."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

from perfsup.workspace.git import PERFSUP_BRANCH_PREFIX, _run_git

__all__ = ["clone_or_fetch"]


def _cache_name(url: str) -> str:
    """A readable, collision-free folder name for a clone of `url`."""
    stem = re.split(r"[/:\\]", url.rstrip("/"))[-1].removesuffix(".git")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "repo"
    digest = hashlib.sha1(url.encode("utf-8")).hexdigest()[:10]
    return f"{stem[:40]}-{digest}.git"


def clone_or_fetch(url: str, cache_dir: Path) -> Path:
    """Clone `url` (bare) into cache_dir once; on later calls fetch. Return its path.

    The clone is bare and its branches track the remote's directly, so after a
    fetch `HEAD` and branch names resolve to the remote's newest commits. Our
    own perfsup/* branches are excluded from the fetch so it never clobbers
    them.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    dest = cache_dir / _cache_name(url)
    if dest.is_dir():
        _run_git(dest, "fetch", "--quiet", "--force", "--tags", "origin")
        return dest
    # Clone next to the destination and rename, so an interrupted clone
    # never leaves a half repository that later calls would trust.
    tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=cache_dir))
    try:
        _run_git(cache_dir, "clone", "--bare", "--quiet", "--", url, str(tmp))
        _run_git(
            tmp, "config", "--replace-all", "remote.origin.fetch", "+refs/heads/*:refs/heads/*"
        )
        _run_git(
            tmp, "config", "--add", "remote.origin.fetch", f"^refs/heads/{PERFSUP_BRANCH_PREFIX}*"
        )
        try:
            tmp.rename(dest)
        except OSError:
            if not dest.is_dir():  # not a concurrent clone that won the race
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
