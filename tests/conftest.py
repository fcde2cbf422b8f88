"""Shared fixtures: real git repositories in temporary folders.

Plain helpers (git, make_repo, perfsup, build_engine, wait_until...) live in
tests/helpers; this file holds fixtures only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import make_repo, perfsup


@pytest.fixture
def small_repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "repo",
        {"src/app.py": "def f():\n    return 1\n", "bench.py": "print('METRIC t=1')\n"},
    )


@pytest.fixture(scope="session")
def python_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real `perfsup demo --headless` run of the Python target, shared by the
    slow tests that read it (tests that change its repository undo what they did)."""
    base = tmp_path_factory.mktemp("demo")
    done = perfsup("demo", "--headless", "--dir", str(base), "--seed", "7")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return base
