"""Where a run keeps its store, logs and worktrees.

By default the run directory lives outside the target repository (under the
user's state folder), so a run never adds files to the user's checkout.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from perfsup.config import Config

STORE_NAME = "perfsup.db"


@dataclass(frozen=True)
class RunPaths:
    """The files and folders of one run directory."""

    root: Path

    @property
    def store(self) -> Path:
        return self.root / STORE_NAME

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def worktrees(self) -> Path:
        return self.root / "worktrees"

    @property
    def repo_cache(self) -> Path:
        return self.root / "repo-cache"

    def log(self, node_id: str, step: str) -> Path:
        return self.logs / node_id / f"{step}.log"


def state_home() -> Path:
    configured = os.environ.get("XDG_STATE_HOME")
    return Path(configured) if configured else Path.home() / ".local" / "state"


def default_run_dir(repo: str) -> Path:
    """`<state>/perfsup/<repo name>-<hash of its location>`: stable per repository."""
    name = Path(repo.rstrip("/")).name.removesuffix(".git") or "repo"
    digest = hashlib.sha256(repo.encode()).hexdigest()[:8]
    return state_home() / "perfsup" / f"{name}-{digest}"


def run_paths(config: Config, override: str | Path | None = None) -> RunPaths:
    if override is not None:
        return RunPaths(Path(override).resolve())
    if config.run.dir:
        return RunPaths(Path(config.run.dir))
    return RunPaths(default_run_dir(config.target.repo))
