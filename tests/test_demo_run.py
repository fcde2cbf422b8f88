"""The acceptance run: `perfsup demo --headless` on the bundled target, for real.

It builds, checks and benchmarks in real subprocesses and git worktrees, then
exports the kept node and applies the patch series to the demo's baseline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import GIT_ENV, git, perfsup

pytestmark = pytest.mark.slow

EXPECTED = {
    "1": "kept",
    "1.1": "discarded",  # the no-op
    "1.2": "kept",  # the real speed-up
    "1.2.1": "checks_failed",
    "1.2.2": "build_failed",
    "1.2.3": "rejected",  # edits the protected bench.py
}


@pytest.fixture(scope="module")
def demo(python_demo: Path) -> Path:
    return python_demo  # one demo run, shared with tests/test_morning.py


def status_rows(base: Path) -> dict[str, str]:
    done = perfsup(
        "status", "-c", str(base / "repo" / "perfsup.toml"), "--run-dir", str(base / "run")
    )
    assert done.returncode == 0, done.stderr
    rows = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1][0].isdigit():
            rows[parts[1]] = parts[2]
    return rows


def test_demo_tree_has_every_outcome(demo: Path) -> None:
    assert status_rows(demo) == EXPECTED


def test_user_checkout_is_untouched(demo: Path) -> None:
    repo = demo / "repo"
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-list", "--count", "main") == "1"
    # every experiment that produced a change has its branch
    branches = set(git(repo, "branch", "--list", "perfsup/*", "--format=%(refname:short)").split())
    assert {"perfsup/1.1", "perfsup/1.2", "perfsup/1.2.1", "perfsup/1.2.2"} <= branches
    assert "perfsup/1.2.3" not in branches  # rejected before anything was applied


def test_export_applies_with_git_am(demo: Path, tmp_path: Path) -> None:
    patch = tmp_path / "speedup.patch"
    done = perfsup(
        "export",
        "1.2",
        "-c",
        str(demo / "repo" / "perfsup.toml"),
        "--run-dir",
        str(demo / "run"),
        "-o",
        str(patch),
    )
    assert done.returncode == 0, done.stderr
    assert "Use sets for the membership tests" in patch.read_text()

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(demo / "repo"), str(clone)], check=True)
    env = {**os.environ, **GIT_ENV}
    applied = subprocess.run(
        ["git", "-C", str(clone), "am", str(patch)], capture_output=True, text=True, env=env
    )
    assert applied.returncode == 0, applied.stderr
    assert "known = set(vocabulary)" in (clone / "textstats" / "core.py").read_text()
    check = subprocess.run([sys.executable, "check.py"], cwd=clone, capture_output=True)
    assert check.returncode == 0


def test_export_of_unknown_node_is_a_clear_error(demo: Path) -> None:
    config = str(demo / "repo" / "perfsup.toml")
    done = perfsup("export", "1.9", "-c", config, "--run-dir", str(demo / "run"))
    assert done.returncode == 1
    assert "no node 1.9" in done.stderr and "Traceback" not in done.stderr
    done = perfsup("export", "one", "-c", config, "--run-dir", str(demo / "run"))
    assert "not a node id" in done.stderr
