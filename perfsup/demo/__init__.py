"""The bundled demo target and the code that makes a fresh repository of it."""

from __future__ import annotations

import shutil
from pathlib import Path

from git import Actor, Repo

TARGET = Path(__file__).resolve().parent / "target"
DEMO_ACTOR = Actor("perfsup demo", "demo@perfsup.invalid")


def prepare_demo(dest: Path) -> Path:
    """Copy the demo target into `dest/repo`, make it a git repository, return its path."""
    repo_dir = dest / "repo"
    if repo_dir.exists():
        raise FileExistsError(f"{repo_dir} already exists; pick an empty folder for the demo")
    shutil.copytree(TARGET, repo_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    repo = Repo.init(repo_dir, initial_branch="main")
    repo.git.add(A=True)
    repo.index.commit("demo baseline", author=DEMO_ACTOR, committer=DEMO_ACTOR)
    repo.close()
    return repo_dir
