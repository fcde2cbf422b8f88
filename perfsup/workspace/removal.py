"""Deleting a folder that a tool (or a hostile command) left hard to delete."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["force_rmtree"]


def force_rmtree(path: Path, *, missing_ok: bool = False) -> None:
    """Delete a folder even if a tool left read-only entries in it (Go does)."""
    if missing_ok and (path.is_symlink() or not path.is_dir()):
        return

    def make_writable_and_retry(func: Callable[[str], object], p: str, _exc: object) -> None:
        try:
            os.chmod(os.path.dirname(p), stat.S_IRWXU)
            os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass  # nothing more we can do; the caller checks what is left

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable_and_retry)
    else:
        shutil.rmtree(path, onerror=make_writable_and_retry)
