"""The bundled demo targets (Python, and Go when `go` is installed) and the code
that makes a fresh repository of one."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from git import Actor, Repo

TARGET = Path(__file__).resolve().parent / "target"
GO_TARGET = Path(__file__).resolve().parent / "go_target"


class GoMissing(Exception):
    """`perfsup demo --go` needs the go tool."""


DEMO_ACTOR = Actor("perfsup demo", "demo@perfsup.invalid")


def require_go() -> None:
    """GoMissing without a usable go tool."""
    if shutil.which("go") is None:
        raise GoMissing("the Go demo needs the go tool on PATH (apt install golang-go)")
    try:
        subprocess.run(["go", "version"], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise GoMissing(f"`go version` failed: {exc}") from None


def prepare_demo(dest: Path, go: bool = False) -> Path:
    """Copy a demo target into `dest/repo`, make it a git repository, return its path."""
    repo_dir = dest / "repo"
    if repo_dir.exists():
        raise FileExistsError(f"{repo_dir} already exists; pick an empty folder for the demo")
    if go:
        require_go()
    source = GO_TARGET if go else TARGET
    shutil.copytree(source, repo_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if go:
        (repo_dir / ".gitignore").write_text("*.test\n", encoding="utf-8")
    # The run folder sits beside the repository and the config names it, so the
    # README's morning commands (`perfsup status`, ...) work from the demo's folder.
    with (repo_dir / "perfsup.toml").open("a", encoding="utf-8") as config_file:
        config_file.write(f"\n[run]\ndir = {json.dumps(str(dest.resolve() / 'run'))}\n")
    repo = Repo.init(repo_dir, initial_branch="main")
    repo.git.add(A=True)
    repo.index.commit("demo baseline", author=DEMO_ACTOR, committer=DEMO_ACTOR)
    repo.close()
    return repo_dir
