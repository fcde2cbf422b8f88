"""A run's lifecycle: open (the first run, or resume the newest and reconcile
what a dead engine left), check the baseline, finish.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlmodel import col, select

from perfsup.config import Config
from perfsup.engine.branch_prefix import choose_branch_prefix
from perfsup.engine.controls import Controls, StepAborted
from perfsup.engine.errors import RunFailed
from perfsup.engine.orphans import kill_orphans
from perfsup.engine.phases import Phases
from perfsup.engine.recorder import Recorder
from perfsup.engine.rundir import RunPaths
from perfsup.engine.worktrees import BuiltTrees
from perfsup.store import Node, NodeStatus, Run, RunStatus, Store
from perfsup.workspace.git import GitWorkspace


class RunLifecycle:
    """Opens, resumes and finishes runs in the store."""

    def __init__(
        self,
        *,
        config: Config,
        config_path: Path | None,
        repo_path: Path,
        store: Store,
        paths: RunPaths,
        git: GitWorkspace,
        controls: Controls,
        recorder: Recorder,
        trees: BuiltTrees,
        phases: Phases,
        report: Callable[[str], None],
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.repo_path = repo_path
        self.store = store
        self.paths = paths
        self.git = git
        self.controls = controls
        self.recorder = recorder
        self.trees = trees
        self.phases = phases
        self.report = report

    def open(self) -> int:
        """Continue the newest run in the store, or start run 1 from the baseline."""
        claim = choose_branch_prefix(self.store, self.git, self.paths)
        if claim.namespaced:
            self.report(
                f"branches: {claim.prefix}<id> (perfsup/<id> belong to the run folder "
                f"{claim.owner or 'of an earlier run'})"
            )
        run = self.recorder.newest_run()
        if run is None:
            baseline = self.git.resolve(self.config.target.base)
            self.recorder.first_run(
                Run(
                    id=1,
                    goal=self.config.target.goal,
                    config_toml=_config_text(self.config_path),
                    repo_path=str(self.repo_path),
                    baseline_commit=baseline,
                    root_node_id="1",
                )
            )
            self.report(f"run 1: baseline {baseline[:12]} in {self.repo_path}")
            return 1
        # Nodes left in flight by a dead engine are marked interrupted; its strays die.
        self.recorder.resume(run.id, kill_orphans(self.paths.root))
        self.git.remove_orphan_worktrees(keep=[])
        self.report(f"run {run.id}: resumed")
        return run.id

    def check_baseline(self, run_id: int) -> None:
        """The run's root builds and passes its checks (once), or RunFailed."""
        with self.store.session() as s:
            root = (
                s.get(Node, str(run_id))
                or s.exec(
                    select(Node).where(Node.run_id == run_id, col(Node.parent_id).is_(None))
                ).one()
            )
        if root.status == NodeStatus.KEPT:
            return
        if root.status != NodeStatus.QUEUED:  # failed or interrupted last time: check again
            self.recorder.move(root, NodeStatus.QUEUED)
        self.report(f"{root.id:<10} checking the baseline builds and passes its checks")
        assert root.commit_sha is not None
        workdir = self.git.add_worktree(root.id, root.commit_sha)
        self.controls.begin(root.id)
        try:
            failure = self.phases.build_and_check(root, workdir)
        except StepAborted:  # stopped: the baseline is checked again next start
            self.recorder.move(root, NodeStatus.QUEUED)
            self.git.remove_worktree(workdir)
            raise
        finally:
            self.controls.end()
        if failure is not None:
            self.git.remove_worktree(workdir)
            self.recorder.end(root, failure[0], failure[1])
            raise RunFailed(f"the baseline fails: {failure[1]}")
        self.trees.keep(root.id, workdir)
        self.recorder.end(root, NodeStatus.KEPT, "baseline")

    def finish(self, run_id: int, status: RunStatus, reason: str, budget: bool = False) -> None:
        self.recorder.finish(run_id, status, reason, budget)
        self.trees.finish()
        self.report(f"run {run_id} {status.value}: {reason}")


def _config_text(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
