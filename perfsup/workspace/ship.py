"""Pack a parent commit for another host: a git bundle, cached per commit.

A bundle holds the commit and its history, so a host with an empty cache can
check it out; a host that already has the commit skips the fetch (see the
runner). Bundles are cached by commit here, since every child of one parent
ships the same one.
"""

from __future__ import annotations

import base64
import subprocess
import tempfile
from pathlib import Path

from perfsup.workspace.safegit import clean_env, safe_argv

__all__ = ["BundleCache"]

_KEEP = 8


class BundleCache:
    """Base64 git bundles of commits of one repository."""

    def __init__(self, repo: Path) -> None:
        self.repo = Path(repo)
        self._cache: dict[str, str] = {}

    def bundle_b64(self, commit: str) -> str:
        cached = self._cache.get(commit)
        if cached is not None:
            return cached
        ref = f"refs/perfsup-ship/{commit}"
        self._git("update-ref", ref, commit)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "parent.bundle"
                self._git("bundle", "create", "--quiet", str(out), ref)
                data = base64.b64encode(out.read_bytes()).decode("ascii")
        finally:
            self._git("update-ref", "-d", ref)
        if len(self._cache) >= _KEEP:
            self._cache.pop(next(iter(self._cache)))
        self._cache[commit] = data
        return data

    def _git(self, *args: str) -> None:
        proc = subprocess.run(
            safe_argv(*args),
            cwd=self.repo,
            capture_output=True,
            text=True,
            check=False,
            env=clean_env(),
        )
        if proc.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed in {self.repo}: {proc.stderr.strip()}")
