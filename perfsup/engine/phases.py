"""One experiment's phases: propose (ask, apply, commit), then measure (build,
check, benchmark against the parent, here or on another host) and decide;
and how an experiment ends when a person or a budget cuts it short.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perfsup.agent.backend import ModelBackend, Unloadable
from perfsup.config import Config
from perfsup.engine.controls import Controls, StepAborted
from perfsup.engine.flags import FlagsProposer
from perfsup.engine.measure import GuardStop, Judgement, Measurer
from perfsup.engine.metrics_csv import MetricsCsvLog
from perfsup.engine.policy import find_twin
from perfsup.engine.profiling import profile_parent
from perfsup.engine.proposer import Proposer
from perfsup.engine.recorder import Recorder
from perfsup.engine.remote import STEP_STATUS, RemoteExperiments
from perfsup.engine.rundir import RunPaths
from perfsup.engine.worktrees import BuiltTrees
from perfsup.store import Node, NodeStatus, Store
from perfsup.store.models import utcnow
from perfsup.store.transitions import LostTransition
from perfsup.workspace.executor import Executor
from perfsup.workspace.git import GitWorkspace, NothingToCommit
from perfsup.workspace.pairs import PARENT
from perfsup.workspace.steps import step_failure


@dataclass(frozen=True)
class Candidate:
    """A committed change waiting to be built, checked and measured."""

    worktree: Path
    diff: str


class Phases:
    """Runs the phases of one experiment at a time (see the module docstring)."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        paths: RunPaths,
        git: GitWorkspace,
        executor: Executor,
        env: dict[str, str],
        controls: Controls,
        recorder: Recorder,
        trees: BuiltTrees,
        proposer: Proposer | FlagsProposer,
        measure: Measurer,
        remote: RemoteExperiments | None,
        model: ModelBackend,
        report: Callable[[str], None],
    ) -> None:
        self.config = config
        self.store = store
        self.paths = paths
        self.git = git
        self.executor = executor
        self.env = env
        self.controls = controls
        self.recorder = recorder
        self.trees = trees
        self.proposer = proposer
        self.measure = measure
        self.remote = remote
        self.model = model
        self.report = report
        self.metrics_csv = MetricsCsvLog(paths.root, list(config.metrics))
        # Called as the benchmark starts: the pipeline proposes the next one meanwhile.
        self.on_bench_start: Callable[[int, Node], None] = lambda _run, _node: None

    def run(self, run_id: int, node: Node, parent: Node) -> None:
        """Both phases of a node proposed in the loop."""
        made = self.propose(run_id, node, parent, self.prepared_parent(parent))
        if made is not None:
            self.measure_candidate(run_id, node, parent, made)

    def prepared_parent(self, parent: Node) -> Path:
        """The parent's built worktree, profiled where configured (runs commands here)."""
        parent_dir = self.trees.built(parent)
        profile_parent(
            config=self.config,
            store=self.store,
            executor=self.executor,
            env=self.env,
            node=parent,
            workdir=parent_dir,
            out_dir=self.paths.logs / parent.id / "profile",
        )
        return parent_dir

    # -------------------------------------------------------------- propose
    def propose(
        self,
        run_id: int,
        node: Node,
        parent: Node,
        parent_dir: Path,
        *,
        backend: ModelBackend | None = None,
        check: Callable[[], None] | None = None,
    ) -> Candidate | None:
        """Ask, apply, commit: the candidate to measure, or None when the node ended.

        Runs no build, check or bench command, so it may run while another node
        benchmarks (pipeline.py passes its own backend and abort check).
        Raises LostTransition when a person ended the node before it started.
        """
        assert parent.commit_sha is not None
        check = check or self.controls.raise_if_aborted
        # Compare-and-set: a prune that landed since the node was created wins.
        self.recorder.move(
            node,
            NodeStatus.PROPOSING,
            log=("agent", self.paths.log(node.id, "agent")),
            started_at=utcnow(),
        )
        self.report(f"{node.id:<10} proposing on top of {parent.id}")
        candidate_dir = self.git.add_worktree(node.id, parent.commit_sha)
        proposal = self.proposer.ask(
            run_id, node, parent, parent_dir, candidate_dir, backend=backend
        )
        check()
        if proposal.edit is None:
            self.git.remove_worktree(candidate_dir)
            status = NodeStatus.REJECTED if proposal.refusal else NodeStatus.MALFORMED
            if proposal.call_failed:
                status = NodeStatus.CRASHED
            why = proposal.refusal or proposal.call_failed or proposal.malformed or ""
            self.recorder.end(node, status, why)
            return None

        self.recorder.move(node, NodeStatus.APPLYING)
        message = (
            f"perfsup {node.id}: {proposal.edit.description}\n\n"
            f"{proposal.edit.rationale}\n\nperfsup-node: {node.id}\n"
        )
        try:
            sha = self.git.commit_all(candidate_dir, self.git.node_branch(node.id), message)
        except NothingToCommit:
            self.git.remove_worktree(candidate_dir)
            self.recorder.end(node, NodeStatus.MALFORMED, "the edit changes nothing")
            return None
        diff = self.git.diff(parent.commit_sha, sha)
        self.recorder.update(
            node,
            commit_sha=sha,
            branch=self.git.node_branch(node.id),
            diff=diff,
            diff_hash=hashlib.sha256(diff.encode()).hexdigest(),
        )
        twin = find_twin(self.store, node)
        if twin is not None:  # an identical diff is never built or measured twice
            self.git.remove_worktree(candidate_dir)
            self.recorder.end(node, NodeStatus.REJECTED, f"identical to {twin}")
            return None
        return Candidate(candidate_dir, diff)

    # -------------------------------------------------------------- measure
    def measure_candidate(self, run_id: int, node: Node, parent: Node, made: Candidate) -> None:
        """Build, check, benchmark against the parent and decide (here or remotely)."""
        candidate_dir = made.worktree
        parent_dir = self.trees.built(parent)  # cached; rebuilt if the disk guard took it
        if self.remote is not None:
            self._judge_remotely(run_id, node, parent, made)
            return
        failure = self.build_and_check(node, candidate_dir)
        if failure is not None:
            self.trees.discard(candidate_dir)
            self.recorder.end(node, *failure)
            return

        log = self.paths.log(node.id, "bench")
        self.recorder.move(node, NodeStatus.BENCHMARKING, log=("bench", log))
        if self.config.model.unload_before_bench and isinstance(self.model, Unloadable):
            self.model.unload()  # free its memory for the benchmark; reloaded on the next call
        pairs = self.config.bench.pairs
        self.report(f"{node.id:<10} benchmarking {pairs} pairs at most against {parent.id}")
        dirs = {PARENT: parent_dir, "candidate": candidate_dir}
        try:  # A/A calibration at the run's first benchmark, then every few hours
            self._calibrate_if_due(run_id, parent, parent_dir)
        except GuardStop:
            self.trees.discard(candidate_dir)
            self.recorder.end(node, NodeStatus.CANCELLED, "the noise guard stopped the run")
            raise
        self.on_bench_start(run_id, node)  # the next proposal, if it may run meanwhile
        self._decide(node, self.measure.judge(run_id, node, dirs, log), candidate_dir)

    def _judge_remotely(self, run_id: int, node: Node, parent: Node, made: Candidate) -> None:
        """Build, check and benchmark on another engine's host; decide here."""
        assert self.remote is not None
        for step in ("build", "check", "bench"):
            self.recorder.artifact(node.id, step, self.paths.log(node.id, step))

        def on_step(step: str) -> None:
            status = NodeStatus.QUEUED if step == "queued" else STEP_STATUS.get(step)
            if status is not None and status != node.status:
                self.recorder.move(node, status)

        self.on_bench_start(run_id, node)  # nothing of this experiment runs here
        try:
            judgement = self.remote.judge(run_id, node, parent, made.diff, on_step)
        except GuardStop:
            self.trees.discard(made.worktree)
            self.recorder.end(node, NodeStatus.CANCELLED, "no host left in the pool")
            raise
        self._decide(node, judgement, made.worktree)

    def build_and_check(self, node: Node, workdir: Path) -> tuple[NodeStatus, str] | None:
        """Run the build and the check in `workdir`: None, or how the node fails."""
        steps = (
            ("build", self.config.build, NodeStatus.BUILDING, NodeStatus.BUILD_FAILED),
            ("check", self.config.check, NodeStatus.CHECKING, NodeStatus.CHECKS_FAILED),
        )
        for step, spec, running, failed in steps:
            if spec is None:
                continue
            log = self.paths.log(node.id, step)
            self.recorder.move(node, running, log=(step, log))
            self.report(f"{node.id:<10} {running.value}")
            result = self.executor.run(spec.run, workdir, log, spec.timeout_s, env=self.env)
            failure = step_failure(step, result, spec.timeout_s, failed)
            if failure is not None:
                return failure
        return None

    def _calibrate_if_due(self, run_id: int, parent: Node, parent_dir: Path) -> None:
        """A/A calibration on the parent's build, measured against itself."""
        if not self.measure.due():
            return
        log = self.paths.log(parent.id, "calibrate")
        self.measure.calibrate(run_id, parent, parent_dir, log)
        self.recorder.artifact(parent.id, "calibrate", log)

    def _decide(self, node: Node, judgement: Judgement, candidate_dir: Path) -> None:
        if judgement.failure is not None:
            self.trees.discard(candidate_dir)
            self.recorder.end(node, *judgement.failure)
            return
        self.recorder.decision(node, judgement)
        if judgement.keep:
            self.trees.keep(node.id, candidate_dir)
            self.recorder.end(node, NodeStatus.KEPT, judgement.reason)
        else:
            self.trees.discard(candidate_dir)
            self.recorder.end(node, NodeStatus.DISCARDED, judgement.reason)
        try:  # the metrics CSV a person can `tail -f`; never worth stopping the run for
            with self.store.session() as s:
                self.metrics_csv.record(s, node.run_id, node.id)
        except OSError as exc:
            self.report(f"{node.id:<10} cannot append to the metrics CSV: {exc}")

    # ------------------------------------------------------ cut short
    def aborted(self, node: Node, exc: StepAborted) -> None:
        """A person ended the experiment in flight: its processes are gone, record it."""
        self.trees.remove_stray(node.id)
        self.recorder.end(node, exc.status, exc.reason)

    def lost(self, node: Node, exc: LostTransition) -> None:
        """A person ended `node` first (a prune): drop our side of it, keep their status."""
        self.trees.remove_stray(node.id)
        self.report(f"{node.id:<10} left {node.status}: {exc}")

    def end_unanswered(self, node: Node, reason: str) -> None:
        """A budget ran out during a proposal: keep a node the model answered, else drop it."""
        self.trees.remove_stray(node.id)
        if self.recorder.answered(node.id):
            self.recorder.end(node, NodeStatus.CANCELLED, reason)
        else:
            self.recorder.drop(node)
