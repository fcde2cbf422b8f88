"""Which branch names a run's nodes get (decision 0211): the names its store
already used, else those its run folder may claim in the repository."""

from __future__ import annotations

from sqlmodel import col, select

from perfsup.engine.rundir import STORE_NAME, RunPaths
from perfsup.store import Node, Store
from perfsup.workspace.branches import BranchClaim, claim_branches
from perfsup.workspace.git import GitWorkspace


def choose_branch_prefix(store: Store, git: GitWorkspace, paths: RunPaths) -> BranchClaim:
    """Set `git.branch_prefix` for this store's nodes and return the claim behind it."""
    with store.session() as s:
        named = s.exec(select(Node).where(col(Node.branch).is_not(None)).limit(1)).first()
    if named is not None and named.branch and named.branch.endswith(f"/{named.id}"):
        claim = BranchClaim(
            named.branch.removesuffix(named.id)
        )  # a resumed store goes on as it was
    else:
        claim = claim_branches(git.git_dir, paths.root, STORE_NAME)
    git.branch_prefix = claim.prefix
    return claim
