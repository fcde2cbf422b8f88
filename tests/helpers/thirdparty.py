"""Other people's code, fetched at test time from the package registries.

Nothing of theirs is committed here: a pinned sdist comes through pip, a Go
library through Debian's golang-*-dev package (its source lands under
/usr/share/gocode; `dpkg -x` unpacks it without installing). When the registry
or the tool is not there (no network), the test is skipped saying which.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.helpers.repos import git

FETCH_TIMEOUT_S = 300


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(argv, 1, "", str(exc))


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"


def _extract(archive: tarfile.TarFile, into: Path) -> None:
    """Unpack a downloaded archive without letting it write outside `into`."""
    if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
        archive.extractall(into, filter="data")
        return
    # Older 3.11 (Debian 12's 3.11.2): refuse links and paths that leave `into`.
    root = into.resolve()
    for member in archive.getmembers():
        target = (root / member.name).resolve()
        if member.issym() or member.islnk() or not target.is_relative_to(root):
            raise AssertionError(f"unsafe member in the archive: {member.name}")
    archive.extractall(into)  # every member was checked above


def fetch_sdist(name: str, version: str, into: Path) -> Path:
    """The unpacked sdist of name==version (its own tests included); skip if unreachable."""
    into.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps"]
    done = _run([*pip, "-d", str(into), f"{name}=={version}"], into)
    archives = sorted(into.glob("*.tar.gz"))
    if done.returncode != 0 or not archives:
        pytest.skip(f"pip download of the sdist {name}=={version} failed: {_last_line(done)}")
    with tarfile.open(archives[0]) as archive:
        _extract(archive, into)
    top = into / archives[0].name.removesuffix(".tar.gz")
    assert top.is_dir(), f"the sdist {archives[0].name} has no top folder {top.name}"
    return top


def make_venv(requirements: list[str], into: Path) -> Path:
    """A virtualenv at `into` with `requirements` installed: a target's own environment."""
    done = _run([sys.executable, "-m", "venv", "--without-pip", str(into)], into.parent)
    assert done.returncode == 0, f"python -m venv {into}: {_last_line(done)}"
    pip = [sys.executable, "-m", "pip", "--python", str(into / "bin" / "python"), "install", "-q"]
    done = _run([*pip, *requirements], into.parent)
    if done.returncode != 0:
        pytest.skip(f"pip install of {' '.join(requirements)} failed: {_last_line(done)}")
    return into


def fetch_gocode(package: str, import_path: str, into: Path) -> Path:
    """The Go source of a Debian golang-*-dev package (unpacked, not installed); skip if
    apt-get or dpkg is missing or the package cannot be downloaded."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        pytest.skip(f"fetching {package} needs apt-get and dpkg (a Debian system)")
    into.mkdir(parents=True, exist_ok=True)
    done = _run(["apt-get", "download", "-q", package], into)
    if done.returncode != 0 and os.geteuid() == 0:
        # a fresh machine has no package lists yet: read them once, then try again
        _run(["apt-get", "update", "-qq"], into)
        done = _run(["apt-get", "download", "-q", package], into)
    debs = sorted(into.glob(f"{package}_*.deb"))
    if done.returncode != 0 or not debs:
        pytest.skip(f"apt-get download {package} failed: {_last_line(done)}")
    unpacked = into / "unpacked"
    done = _run(["dpkg", "-x", str(debs[0]), str(unpacked)], into)
    assert done.returncode == 0, f"dpkg -x {debs[0].name}: {_last_line(done)}"
    source = unpacked / "usr" / "share" / "gocode" / "src" / import_path
    assert source.is_dir(), f"{debs[0].name} holds no {import_path} under /usr/share/gocode/src"
    return source


def as_git_repo(source: Path, repo: Path) -> Path:
    """A copy of `source` at `repo`, committed on branch main (build leftovers left out)."""
    shutil.copytree(
        source, repo, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", ".pytest_cache")
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{source.name}, as published")
    return repo
