"""Built worktrees of the run's nodes, reused as parents (one build per node).

A kept node's worktree stays built for its children; the disk guard may clear
the cache (a worktree is rebuilt when needed), and `keep_worktrees` says what
is left on disk when an experiment or the run ends.
"""

from __future__ import annotations

from pathlib import Path

from perfsup.config import Config
from perfsup.engine.errors import RunFailed, failure_line
from perfsup.engine.rundir import RunPaths
from perfsup.store import Node
from perfsup.workspace.executor import Executor
from perfsup.workspace.git import GitWorkspace


class BuiltTrees:
    """node id -> its built worktree, and the policy for the others."""

    def __init__(
        self,
        *,
        config: Config,
        git: GitWorkspace,
        paths: RunPaths,
        executor: Executor,
        env: dict[str, str],
        build_here: bool,
    ) -> None:
        self.config = config
        self.git = git
        self.paths = paths
        self.executor = executor
        self.env = env
        self.build_here = build_here  # False: a remote executor builds there
        self._built: dict[str, Path] = {}

    def built(self, node: Node) -> Path:
        """A worktree of `node`'s commit with its build done, reused across its children."""
        cached = self._built.get(node.id)
        if cached is not None and cached.is_dir():
            return cached
        assert node.commit_sha is not None
        workdir = self.git.add_worktree(node.id, node.commit_sha)
        if self.config.build is not None and self.build_here:
            log = self.paths.log(node.id, "build")
            result = self.executor.run(
                self.config.build.run, workdir, log, self.config.build.timeout_s, env=self.env
            )
            if result.exit_code != 0:
                raise RunFailed(
                    f"node {node.id} no longer builds (status {result.exit_code}): "
                    f"{failure_line(log)}"
                )
        self._built[node.id] = workdir
        return workdir

    def ready(self, node_id: str) -> Path | None:
        """The built worktree of `node_id` if it is there now (no build runs), else None."""
        cached = self._built.get(node_id)
        return cached if cached is not None and cached.is_dir() else None

    def keep(self, node_id: str, path: Path) -> None:
        self._built[node_id] = path

    def discard(self, path: Path) -> None:
        """An experiment's worktree it no longer needs, unless every one is kept."""
        if self.config.run.keep_worktrees != "all":
            self.git.remove_worktree(path)

    def remove_stray(self, node_id: str) -> None:
        """Remove `node_id`'s worktree unless it is a cached, built one."""
        worktree = self.paths.worktrees / node_id
        if worktree.exists() and self._built.get(node_id) != worktree:
            self.git.remove_worktree(worktree)

    def clear(self, keep: list[Path]) -> None:
        """Forget every built worktree and remove all but `keep` (the disk guard)."""
        self._built.clear()
        self.git.remove_orphan_worktrees(keep=keep)

    def finish(self) -> None:
        """The run ends: no worktree stays registered in the person's repository.

        `keep_worktrees` says which folders stay on disk, as plain folders (no
        `.git`): "kept" the built ones (kept nodes), "all" every one, "none" none.
        Kept nodes stay reachable by their `perfsup/...` branches.
        """
        keep = self.config.run.keep_worktrees
        built = {path.resolve() for path in self._built.values()}
        for path in self.git.known_worktrees():
            if keep == "all" or (keep == "kept" and path in built):
                self.git.release_worktree(path)
            else:
                self.git.remove_worktree(path)
        # A promoted node starts another run: its parents are checked out afresh.
        self._built.clear()
        self.git.prune_worktrees()
