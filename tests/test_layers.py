"""The core never imports Textual, and layers point down only (ARCHITECTURE.md, "Layers")."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ", ".join(
    f"perfsup.{layer}" for layer in ("engine", "store", "workspace", "agent", "metrics", "config")
)


def test_core_imports_without_textual_in_a_fresh_interpreter() -> None:
    code = f"import {CORE}; import sys; assert 'textual' not in sys.modules, 'textual was imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_cli_status_path_does_not_load_textual() -> None:
    code = "import perfsup.cli, perfsup.cli.status, sys; assert 'textual' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([lint], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
