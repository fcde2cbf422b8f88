"""Whose `perfsup/<id>` branches these are: one run folder per repository owns the
plain names; a run in any other run folder writes `perfsup/<tag>/<id>`, so two
runs on one repository never move each other's branches.

The claim is a file in the repository's git folder, `perfsup-owner`, naming the
owning run folder (created exclusively: of two runs claiming at once one wins;
git ignores the file; the person's config and refs stay as they were). A claim
whose run folder no longer holds a store is stale and is taken over, unless
plain node branches are still there (they stay someone's).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from perfsup.workspace.safegit import run_git

__all__ = ["OWNER_FILE", "BranchClaim", "branch_tag", "claim_branches"]

OWNER_FILE = "perfsup-owner"
PLAIN = "perfsup/"
_PLAIN_NODE_REF = re.compile(r"^refs/heads/perfsup/[0-9]+(?:\.[0-9]+)*$")


@dataclass(frozen=True)
class BranchClaim:
    """The prefix of this run's node branches and, when namespaced, why."""

    prefix: str
    owner: str | None = None  # the run folder owning the plain names, when not us

    @property
    def namespaced(self) -> bool:
        return self.prefix != PLAIN


def branch_tag(run_root: Path) -> str:
    """A short, readable, valid ref component naming a run folder: `<name>-<hash>`."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", run_root.name).strip("-_")[:24] or "run"
    digest = hashlib.sha256(str(run_root.resolve()).encode()).hexdigest()[:6]
    return f"{name}-{digest}"


def claim_branches(git_dir: Path, run_root: Path, store_name: str) -> BranchClaim:
    """The branch prefix of the run in `run_root` on the repository at `git_dir`:
    plain `perfsup/` when this run folder owns (or now claims) the plain names,
    else `perfsup/<tag>/`."""
    me = str(run_root.resolve())
    claim = git_dir / OWNER_FILE
    owner = _owner(claim)
    if owner == me:
        return BranchClaim(PLAIN)
    live = owner is not None and (Path(owner) / store_name).is_file()
    if live or _plain_node_branches(git_dir):
        return BranchClaim(f"{PLAIN}{branch_tag(run_root)}/", owner)
    if owner is not None:  # stale: its run folder is gone and so are its branches
        claim.unlink(missing_ok=True)
    try:
        with claim.open("x", encoding="utf-8") as handle:
            handle.write(me + "\n")
    except FileExistsError:  # another run claimed it just now
        return BranchClaim(f"{PLAIN}{branch_tag(run_root)}/", _owner(claim))
    return BranchClaim(PLAIN)


def _owner(claim: Path) -> str | None:
    try:
        return claim.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _plain_node_branches(git_dir: Path) -> bool:
    out = _git(git_dir, "for-each-ref", "--format=%(refname)", "refs/heads/perfsup/")
    return any(_PLAIN_NODE_REF.match(line) for line in out.splitlines())


def _git(git_dir: Path, *args: str) -> str:
    return run_git(args, git_dir=git_dir).decode("utf-8", errors="replace")
