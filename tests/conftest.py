"""Shared fixtures: real git repositories in temporary folders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def perfsup(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `perfsup` command line in a child process, with no stdin."""
    import sys

    return subprocess.run(
        [sys.executable, "-m", "perfsup", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )


def git(repo: Path, *args: str) -> str:
    import os

    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


def make_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository at `path` with `files` committed on branch main."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "baseline")
    return path


@pytest.fixture
def small_repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "repo",
        {"src/app.py": "def f():\n    return 1\n", "bench.py": "print('METRIC t=1')\n"},
    )


VALID_CONFIG = """
[target]
repo = "repo"
goal = "make f faster"

[build]
run = "true"

[bench]
run = "python bench.py"
timeout_s = 30

[[metrics]]
name = "t"
direction = "lower"

[access]
writable = ["src"]
protected = ["bench.py"]

[model]
backend = "scripted"
script = "answers.toml"
"""


@pytest.fixture(scope="session")
def python_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real `perfsup demo --headless` run of the Python target, shared by the
    slow tests that read it (tests that change its repository undo what they did)."""
    base = tmp_path_factory.mktemp("demo")
    done = perfsup("demo", "--headless", "--dir", str(base), "--seed", "7")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return base
