"""The target's own environment for build, check and bench (decision 0210).

`[target] venv` names the person's virtualenv for the repository: its `bin`
goes first on PATH (so `python` is the target's interpreter, with the target's
dependencies) and VIRTUAL_ENV is set; `[target] path` adds folders after it.
Without a venv, `python` stays perfsup's own interpreter (the run's `bin`
links, `command_env.py`). The box (`confine.py`) must show these folders
read-only wherever they live, and the venv's base interpreter with them: they
travel to it in the PERFSUP_READABLE mark of the command's environment.

Go: a Go target reads its dependencies from the person's module cache,
read-only (GOMODCACHE, also passed in the mark); its build cache is the step
folder's own (`step_cache.py`), never the person's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from perfsup.config import Config, is_git_url

__all__ = ["READABLE_MARK", "TargetEnv", "target_env"]

READABLE_MARK = "PERFSUP_READABLE"


@dataclass(frozen=True)
class TargetEnv:
    """What the commands of one target run with, beyond perfsup's own basics."""

    venv: Path | None = None
    path: tuple[Path, ...] = ()  # first on PATH, in this order
    readable: tuple[Path, ...] = ()  # shown read-only in the box
    variables: dict[str, str] = field(default_factory=dict)

    def apply(self, env: dict[str, str]) -> dict[str, str]:
        """`env` with these folders first on PATH, VIRTUAL_ENV and the box's mark set."""
        out = dict(env)
        if self.path:
            out["PATH"] = os.pathsep.join([*map(str, self.path), out.get("PATH", "")])
        if self.venv is not None:
            out["VIRTUAL_ENV"] = str(self.venv)
            out.pop("PYTHONHOME", None)
        out.update(self.variables)
        if self.readable:
            out[READABLE_MARK] = os.pathsep.join(map(str, self.readable))
        return out

    def describe(self) -> str:
        """One line for `perfsup check`: which `python` and PATH the commands get."""
        if self.venv is not None:
            python = f"python: {self.venv / 'bin' / 'python'} (target.venv)"
        else:
            python = f"python: perfsup's own interpreter {sys.executable} (no target.venv)"
        extra = [str(p) for p in self.path if self.venv is None or p != self.venv / "bin"]
        first = f"; first on PATH: {', '.join(extra)}" if extra else ""
        go = "; Go: build cache per step folder, module cache read-only" if self.variables else ""
        return f"environment: {python}{first}{go}"


def target_env(config: Config, repo: Path) -> TargetEnv:
    """The environment `config` names for the target checked out at `repo`."""
    venv = _absolute(config.target.venv, repo, config) if config.target.venv else None
    path = [_absolute(p, repo, config) for p in config.target.path]
    readable = list(path)
    if venv is not None:
        path.insert(0, venv / "bin")
        readable += [venv, *_base_interpreter(venv)]
    variables: dict[str, str] = {}
    modcache = _go_modcache() if (repo / "go.mod").is_file() else None
    if modcache is not None:
        variables["GOMODCACHE"] = str(modcache)
        readable.append(modcache)
    return TargetEnv(venv, tuple(path), tuple(dict.fromkeys(readable)), variables)


def _absolute(entry: str, repo: Path, config: Config) -> Path:
    """Config paths are absolute after loading a local repo; relative for a git URL's clone."""
    path = Path(entry).expanduser()
    return path if path.is_absolute() or not is_git_url(config.target.repo) else repo / path


def _base_interpreter(venv: Path) -> list[Path]:
    """The installation a venv's python links to (its stdlib), and pyvenv.cfg's `home`."""
    found = []
    python = venv / "bin" / "python"
    real = python.resolve()
    if real.parent.name == "bin":
        found.append(real.parent.parent)
    try:
        for line in (venv / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                found.append(Path(value.strip()))
    except OSError:
        pass
    return [p for p in found if p.is_absolute() and p != Path("/")]


def _go_modcache() -> Path | None:
    """The person's Go module cache (`go env GOMODCACHE`), if go is here and it exists."""
    if shutil.which("go") is None:
        return None
    try:
        out = subprocess.run(
            ["go", "env", "-json", "GOMODCACHE"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            stdin=subprocess.DEVNULL,
        ).stdout
        value = json.loads(out).get("GOMODCACHE")
    except (OSError, subprocess.SubprocessError, ValueError, AttributeError):
        return None
    return Path(value) if isinstance(value, str) and value and Path(value).is_dir() else None
