"""Each step folder's own writable cache, outside its worktree (decision 0210).

Commands run in a worktree under a run folder get `<worktree>.cache` beside
it, writable in the box, and Go's build cache (GOCACHE) inside. One per
worktree, not one per run and never the person's: a hostile step could
otherwise plant build outputs that another node's (or the person's own)
builds would pick up. A worktree's cache is deleted with the worktree.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["cache_env", "companion_cache", "step_cache"]


def companion_cache(worktree: Path) -> Path:
    """The cache folder that belongs to `worktree`."""
    return worktree.parent / f"{worktree.name}.cache"


def step_cache(cwd: Path, run_dirs: Iterable[Path]) -> Path | None:
    """The cache of commands run in `cwd` (made here), when `cwd` lies in a run folder."""
    here = cwd.resolve()
    if not any(root in here.parents for root in run_dirs):
        return None
    cache = companion_cache(here)
    cache.mkdir(exist_ok=True)
    return cache


def cache_env(cache: Path) -> dict[str, str]:
    """The variables that point the tools at a step's cache."""
    return {"GOCACHE": str(cache / "go-build")}
