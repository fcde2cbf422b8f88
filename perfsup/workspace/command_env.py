"""The environment build, check and bench commands run in.

`python` in a command is the interpreter running perfsup: a folder of our own
with `python` and `python3` links goes first on PATH, so a target's `python
bench.py` runs where perfsup's dependencies are, even when the interpreter's
own folder only has `python3` (or a slow shim). Used by the engine, minimize
and the runner on every host.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

__all__ = ["command_env"]


def command_env(bin_dir: Path) -> dict[str, str]:
    """This process's environment with `bin_dir` (made here) first on PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        link = bin_dir / name
        if link.is_symlink() and Path(os.readlink(link)) == Path(sys.executable):
            continue
        # Two runners of one host may set the links up at once: both are fine.
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        with contextlib.suppress(FileExistsError):
            link.symlink_to(sys.executable)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    return env
