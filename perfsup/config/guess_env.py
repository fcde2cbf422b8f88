"""`perfsup init`: the target's own virtualenv, written as `[target] venv`.

A folder of the repository holding `pyvenv.cfg` and `bin/python` (.venv,
venv, env), else the virtualenv active in the person's shell (VIRTUAL_ENV)
unless perfsup runs in it; none found: a comment says that `python` is
perfsup's own interpreter.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["VENV_FOLDERS", "find_venv", "venv_lines"]

VENV_FOLDERS = (".venv", "venv", "env", ".env")


def _is_venv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file() and os.access(folder / "bin" / "python", os.X_OK)


def find_venv(repo: Path) -> tuple[str, str] | None:
    """(value for target.venv, where it was found), or None."""
    for name in VENV_FOLDERS:
        if _is_venv(repo / name):
            return name, f"found {name}/pyvenv.cfg in the repository"
    active = os.environ.get("VIRTUAL_ENV")
    # perfsup's own venv is what `python` already is without the setting
    if active and _is_venv(Path(active)) and Path(active).resolve() != Path(sys.prefix).resolve():
        folder = Path(active).resolve()
        try:
            return folder.relative_to(repo.resolve()).as_posix(), "the active VIRTUAL_ENV"
        except ValueError:
            return str(folder), "the virtualenv active when init ran (VIRTUAL_ENV)"
    return None


def venv_lines(found: tuple[str, str] | None) -> list[str]:
    """The [target] lines naming the target's interpreter."""
    if found is None:
        names = ", ".join(VENV_FOLDERS[:3])
        return [
            f"# no virtualenv found ({names} with pyvenv.cfg): `python` in the commands is",
            "# perfsup's own interpreter; name the project's virtualenv to use its python",
            '# venv = ".venv"',
        ]
    value, source = found
    return [
        f"# guessed: {source}; commands run with its bin first on PATH (`python` is its",
        "# interpreter, with the project's dependencies)",
        f"venv = {_quoted(value)}",
    ]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
