"""Every third-party import of perfsup is declared in pyproject.toml.

A fresh `pip install -e .` must have everything perfsup imports; CI once
stayed green only because the machine had two undeclared packages installed
by hand. deptry compares the imports with the declared dependencies; these
tests show it passes on the project as it is and fails on an undeclared
import, so the check in `scripts/test.sh` can catch one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def deptry(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deptry", "perfsup"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_project(dest: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "perfsup", dest / "perfsup", ignore=ignore)
    return dest


def test_every_import_is_declared() -> None:
    done = deptry(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_undeclared_import_fails_the_check(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    # pygments is installed (Rich needs it) but perfsup never declares it: the
    # situation of a package a developer happens to have, a new user does not.
    (project / "perfsup" / "tui" / "highlight.py").write_text("import pygments\n")
    (project / "perfsup" / "agent" / "tokenizer.py").write_text("import no_such_package_xyz\n")
    done = deptry(project)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "pygments" in out and "no_such_package_xyz" in out, out
