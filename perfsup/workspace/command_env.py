"""The environment build, check and bench commands run in.

`python` in a command is the interpreter running perfsup: a folder of our own
with `python` and `python3` scripts goes first on PATH, so a target's `python
bench.py` runs where perfsup's dependencies are, even when the interpreter's
own folder only has `python3` (or a slow shim). Used by the engine, minimize
and the runner on every host.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import threading
from pathlib import Path

__all__ = ["command_env"]


def command_env(bin_dir: Path) -> dict[str, str]:
    """This process's environment with `bin_dir` (made here) first on PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    # A script, not a symlink: Python finds its virtualenv (pyvenv.cfg) next to
    # the path it was started by, so a link elsewhere to a venv's python would
    # run the bare interpreter without perfsup's (and pytest's) packages.
    script = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n'
    for name in ("python", "python3"):
        link = bin_dir / name
        with contextlib.suppress(OSError):
            if not link.is_symlink() and link.read_text(encoding="utf-8") == script:
                continue
        # Two runners of one host may set the scripts up at once: both are fine.
        temporary = bin_dir / f".{name}.{os.getpid()}.{threading.get_ident()}"
        temporary.write_text(script, encoding="utf-8")
        temporary.chmod(0o755)
        os.replace(temporary, link)  # atomic: a command never sees half a script
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    return env
