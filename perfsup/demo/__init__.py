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
GO_CACHE_PLACEHOLDER = 'writable_paths = ["~/.cache/go-build"]'


class GoMissing(Exception):
    """`perfsup demo --go` needs the go tool."""


DEMO_ACTOR = Actor("perfsup demo", "demo@perfsup.invalid")


def go_cache() -> Path:
    """Go's build cache folder (`go env GOCACHE`); GoMissing without a usable go."""
    if shutil.which("go") is None:
        raise GoMissing("the Go demo needs the go tool on PATH (apt install golang-go)")
    try:
        out = subprocess.run(
            ["go", "env", "-json", "GOCACHE"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        cache = Path(json.loads(out)["GOCACHE"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        raise GoMissing(f"`go env GOCACHE` failed: {exc}") from None
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def prepare_demo(dest: Path, go: bool = False) -> Path:
    """Copy a demo target into `dest/repo`, make it a git repository, return its path."""
    repo_dir = dest / "repo"
    if repo_dir.exists():
        raise FileExistsError(f"{repo_dir} already exists; pick an empty folder for the demo")
    cache = go_cache() if go else None
    source = GO_TARGET if go else TARGET
    shutil.copytree(source, repo_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if cache is not None:
        # The sandbox leaves the home folder read-only: Go's cache must be writable.
        config = repo_dir / "perfsup.toml"
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace(GO_CACHE_PLACEHOLDER, f"writable_paths = [{json.dumps(str(cache))}]"),
            encoding="utf-8",
        )
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
