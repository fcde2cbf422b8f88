"""The experiment loop: pick a parent, ask the model, apply, build, check,
benchmark against the parent, decide, record; until a budget ends the run.

The engine is the only writer of the store. Every state change is committed
as it happens, so a person (or `perfsup status`) sees the tree grow live and
a crash loses at most the step in flight.
"""

from __future__ import annotations

import hashlib
import platform
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from perfsup.agent.backend import (
    CallFailed,
    ModelBackend,
    ModelReply,
    ModelUnavailable,
    ScriptExhausted,
    SizedModel,
    Unloadable,
)
from perfsup.agent.context import EditFormatSetting, choose_edit_format
from perfsup.agent.grammar import forbid_unchanged, region_names, retry_grammar
from perfsup.agent.hotspots import hot_first, hot_regions, hot_spots, profile_section
from perfsup.agent.prompt import EditFormat, build_messages
from perfsup.config import Config, is_git_url
from perfsup.engine.benchmark import PARENT
from perfsup.engine.clock import Clock, SystemClock
from perfsup.engine.commands import CommandWatcher, read_text
from perfsup.engine.controls import OVERRIDES_NAME, ControlledExecutor, Controls, StepAborted
from perfsup.engine.guards import FailureStreak, disk_problem
from perfsup.engine.integrity import IntegrityGuard
from perfsup.engine.jsonl import MetricsCsvLog
from perfsup.engine.measure import GuardStop, Judgement, Measurer, decision_json
from perfsup.engine.model_wait import PatientBackend
from perfsup.engine.orphans import RUN_DIR_MARKER, kill_orphans
from perfsup.engine.pacing import BudgetReached, Pacer
from perfsup.engine.pipeline import Pipeline
from perfsup.engine.policy import PolicyLimits, choose_parent, find_twin
from perfsup.engine.profiling import parent_profile, profile_parent
from perfsup.engine.proposal import Proposal, propose
from perfsup.engine.reload import ConfigWatcher
from perfsup.engine.remote import STEP_STATUS, RemoteExperiments
from perfsup.engine.rundir import RunPaths
from perfsup.engine.sources import SourceCache
from perfsup.store import (
    Artifact,
    ModelCall,
    Node,
    NodeStatus,
    Run,
    RunStatus,
    Store,
)
from perfsup.store.models import IN_FLIGHT, utcnow
from perfsup.store.tree import child_id, children, lineage, next_ordinal, record_event, run_nodes
from perfsup.workspace.command_env import command_env
from perfsup.workspace.executor import Executor
from perfsup.workspace.experiments import ExperimentExecutor
from perfsup.workspace.git import GitWorkspace, NothingToCommit, clone_or_fetch

# Outcomes that count towards the pause after failures in a row.
FAILURES = frozenset(
    {
        NodeStatus.BUILD_FAILED,
        NodeStatus.CHECKS_FAILED,
        NodeStatus.CRASHED,
        NodeStatus.TIMEOUT,
        NodeStatus.MALFORMED,
    }
)


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    status: RunStatus
    reason: str


@dataclass(frozen=True)
class Candidate:
    """A committed change waiting to be built, checked and measured."""

    worktree: Path
    diff: str


class RunFailed(Exception):
    """The run cannot go on (for example the baseline fails its checks)."""


class Engine:
    """Runs experiments on one target until a budget, the tree or the model ends the run."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        paths: RunPaths,
        backend: ModelBackend,
        executor: Executor,
        clock: Clock | None = None,
        report: Callable[[str], None] = print,
        seed: int | None = None,
        config_path: Path | None = None,
        experiments: ExperimentExecutor | None = None,
    ) -> None:
        self.config = config
        self._sources = SourceCache()
        self.store = store
        self.paths = paths
        self.model = backend  # the backend itself; self.backend waits out its outages
        self.controls = Controls(config.budgets, paths.root / OVERRIDES_NAME)
        self.pipeline = Pipeline(self)  # the next proposal while one benchmarks, if configured
        # Protected files and other trees checked around every command (integrity.py).
        self.executor = ControlledExecutor(IntegrityGuard(executor, self), self.controls)
        self.clock = clock or SystemClock()
        self.report = self._reporter(report)
        self.rng = random.Random(seed)
        self.config_path = config_path
        self.host = platform.node()
        self.repo_path = self._repo_path()
        self.git = GitWorkspace(self.repo_path, paths.worktrees)
        self.env = command_env(paths.root / "bin")
        self.env[RUN_DIR_MARKER] = str(paths.root)  # finds our strays after a crash
        self.extra_protected = self._extra_protected()
        self._built: dict[str, Path] = {}  # node id -> built worktree, reused as a parent
        self._failures = FailureStreak()
        self.metrics_csv = MetricsCsvLog(paths.root, list(config.metrics))
        self.measure = Measurer(
            config=config,
            store=store,
            executor=self.executor,
            env=self.env,
            rng=self.rng,
            clock=self.clock,
            report=self.report,
            host=self.host,
            set_state=self.controls.set_state,
        )
        self.pacer = Pacer(lambda: self.controls.budgets, store, self.clock, report)
        # Another engine (Dask, SkyPilot) runs build, check and bench: see remote.py.
        self.remote = (
            None
            if experiments is None
            else RemoteExperiments(
                executor=experiments,
                config=config,
                store=store,
                paths=paths,
                repo=self.repo_path,
                controls=self.controls,
                clock=self.clock,
                rng=self.rng,
                report=self.report,
                max_requeues=config.executor.max_requeues,
            )
        )
        self._run_id = 0
        self._chosen_format: EditFormat | None = None
        self.backend = PatientBackend(
            backend,
            clock=self.clock,
            on_wait=self._model_waiting,
            on_resume=self._model_back,
            before_retry=lambda: self.pacer.before_call(self._run_id),
            sleep=lambda seconds: self.controls.sleep_unless_stopped(seconds, self.clock.sleep),
        )

    # ----------------------------------------------------------------- run
    def run(self) -> RunOutcome:
        """Run the loop to its end and return why it ended."""
        watcher = CommandWatcher(
            self.store,
            self.controls,
            config_text=lambda: read_text(self.config_path),
            report=self.report,
        )
        run_id = self._run_id = self._open_run()
        self.controls.run_id = run_id
        self.controls.set_state("running", "starting")
        watcher.start()
        reloader = None
        if self.config_path is not None and self.config_path.is_file():
            reloader = ConfigWatcher(
                self.config_path, self.config, self.store, lambda: self.controls.run_id, self.report
            )
            reloader.start()
        try:
            return self._run_until_done(run_id)
        finally:
            self.controls.set_state("stopped", "")
            if reloader is not None:
                reloader.close()
            watcher.close()

    def _run_until_done(self, run_id: int) -> RunOutcome:
        while True:
            try:
                self._check_baseline(run_id)
                reason = self._loop(run_id)
            except GuardStop as exc:
                self._finish(run_id, RunStatus.STOPPED, str(exc))
                return RunOutcome(run_id, RunStatus.STOPPED, str(exc))
            except RunFailed as exc:
                self._finish(run_id, RunStatus.FAILED, str(exc))
                return RunOutcome(run_id, RunStatus.FAILED, str(exc))
            except StepAborted as exc:  # stopped during the baseline check
                reason = exc.reason
            if self.controls.stop_reason is not None:
                self._finish(run_id, RunStatus.STOPPED, self.controls.stop_reason)
                return RunOutcome(run_id, RunStatus.STOPPED, self.controls.stop_reason)
            new_run = self.controls.promoted_run
            if new_run is None:
                self._finish(run_id, RunStatus.FINISHED, reason)
                return RunOutcome(run_id, RunStatus.FINISHED, reason)
            self._finish(run_id, RunStatus.FINISHED, f"a person promoted a node to run {new_run}")
            self.controls.promoted_run = None
            run_id = self.controls.run_id = new_run
            self.report(f"run {run_id}: started from a promoted node")

    def _loop(self, run_id: int) -> str:
        reason = "the run ended"
        try:
            reason = self._steps(run_id)
            return reason
        finally:  # a proposal made ahead that will not be measured ends here
            self.pipeline.drop(self.controls.stop_reason or reason)

    def _steps(self, run_id: int) -> str:
        while True:
            self.controls.set_state("running")
            reason = self.controls.safe_point()
            if reason:
                return reason
            problem = self._guard()
            if problem is not None:
                self._pause_for(run_id, problem)
                continue
            ahead = self.pipeline.take()  # proposed while the last one benchmarked
            if ahead is None:
                reason = self.pacer.stop_reason(run_id)
                if reason:
                    return reason
                parent = self._pick_parent(run_id)
                if isinstance(parent, str):
                    return parent
                node = self._add_child(run_id, parent)
                self.controls.begin(node.id)
            else:
                node, parent = ahead.node, ahead.parent
                self.controls.take_proposal(node.id)
            try:
                if ahead is None:
                    self._experiment(run_id, node, parent)
                else:
                    self.pipeline.measure(run_id, ahead)
                self._count_failure(run_id, node)
            except StepAborted as exc:
                self._aborted(node, exc)
            except (ScriptExhausted, BudgetReached) as exc:
                self._end_unanswered(node, str(exc))
                return str(exc)
            except ModelUnavailable as exc:
                self._end_unanswered(node, f"the model is unavailable: {exc}")
                return f"the model is unavailable: {exc}"
            finally:
                self.controls.end()
                self.pipeline.settle()  # the proposal made meanwhile is done (or given up)

    def _pick_parent(self, run_id: int) -> Node | str:
        """The node to expand next, or why there is none."""
        budgets = self.controls.budgets
        limits = PolicyLimits(
            max_depth=budgets.max_depth,
            max_children=budgets.max_children,
            max_failures_in_a_row=budgets.max_failures_in_a_row,
            explore=budgets.explore,
        )
        with self.store.session() as s:
            parent = choose_parent(run_nodes(s, run_id), limits, self.rng)
        if parent is None:
            return (
                "no node left to expand (limits on depth, children per node and failures in a row)"
            )
        return parent

    def _add_child(self, run_id: int, parent: Node) -> Node:
        """A new queued node under `parent`."""
        with self.store.session() as s:
            ordinal = next_ordinal(s, parent.id)
            node = Node(
                id=child_id(parent.id, ordinal),
                run_id=run_id,
                parent_id=parent.id,
                ordinal=ordinal,
                depth=parent.depth + 1,
            )
            s.add(node)
        return node

    # ---------------------------------------------------------- experiment
    def _experiment(self, run_id: int, node: Node, parent: Node) -> None:
        made = self._proposal_phase(run_id, node, parent, self._prepared_parent(parent))
        if made is not None:
            self._measure_phase(run_id, node, parent, made)

    def _prepared_parent(self, parent: Node) -> Path:
        """The parent's built worktree, profiled where configured (runs commands here)."""
        parent_dir = self._built_worktree(parent)
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

    def _proposal_phase(
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
        """
        assert parent.commit_sha is not None
        check = check or self.controls.raise_if_aborted
        self._set(node, status=NodeStatus.PROPOSING, started_at=utcnow())
        self.report(f"{node.id:<10} proposing on top of {parent.id}")
        agent_log = self.paths.log(node.id, "agent")
        self._artifact(node.id, "agent", agent_log)
        candidate_dir = self.git.add_worktree(node.id, parent.commit_sha)
        proposal = self._propose(
            run_id, node, parent, parent_dir, candidate_dir, agent_log, backend=backend
        )
        check()
        if proposal.edit is None:
            self.git.remove_worktree(candidate_dir)
            status = NodeStatus.REJECTED if proposal.refusal else NodeStatus.MALFORMED
            if proposal.call_failed:
                status = NodeStatus.CRASHED
            self._end(
                node, status, proposal.refusal or proposal.call_failed or proposal.malformed or ""
            )
            return None

        self._set(node, status=NodeStatus.APPLYING)
        message = (
            f"perfsup {node.id}: {proposal.edit.description}\n\n"
            f"{proposal.edit.rationale}\n\nperfsup-node: {node.id}\n"
        )
        try:
            sha = self.git.commit_all(candidate_dir, f"perfsup/{node.id}", message)
        except NothingToCommit:
            self.git.remove_worktree(candidate_dir)
            self._end(node, NodeStatus.MALFORMED, "the edit changes nothing")
            return None
        diff = self.git.diff(parent.commit_sha, sha)
        self._set(
            node,
            commit_sha=sha,
            branch=f"perfsup/{node.id}",
            diff=diff,
            diff_hash=hashlib.sha256(diff.encode()).hexdigest(),
        )

        twin = find_twin(self.store, node)
        if twin is not None:  # an identical diff is never built or measured twice
            self.git.remove_worktree(candidate_dir)
            self._end(node, NodeStatus.REJECTED, f"identical to {twin}")
            return None
        return Candidate(candidate_dir, diff)

    def _measure_phase(self, run_id: int, node: Node, parent: Node, made: Candidate) -> None:
        """Build, check, benchmark against the parent and decide (here or remotely)."""
        candidate_dir, diff = made.worktree, made.diff
        parent_dir = self._built_worktree(parent)  # cached; rebuilt if the disk guard took it
        if self.remote is not None:
            self._judge_remotely(run_id, node, parent, diff, candidate_dir)
            return
        failure = self._build_and_check(node, candidate_dir)
        if failure is not None:
            self._discard_worktree(node.id, candidate_dir)
            self._end(node, *failure)
            return

        self._set(node, status=NodeStatus.BENCHMARKING)
        if self.config.model.unload_before_bench and isinstance(self.model, Unloadable):
            self.model.unload()  # free its memory for the benchmark; reloaded on the next call
        pairs = self.config.bench.pairs
        self.report(f"{node.id:<10} benchmarking {pairs} pairs at most against {parent.id}")
        log = self.paths.log(node.id, "bench")
        self._artifact(node.id, "bench", log)
        dirs = {PARENT: parent_dir, "candidate": candidate_dir}
        try:  # A/A calibration at the run's first benchmark, then every few hours
            self._calibrate_if_due(run_id, parent, parent_dir)
        except GuardStop:
            self._discard_worktree(node.id, candidate_dir)
            self._end(node, NodeStatus.CANCELLED, "the noise guard stopped the run")
            raise
        self.pipeline.start(run_id, node)  # the next proposal, if it may run meanwhile
        judgement = self.measure.judge(run_id, node, dirs, log)
        if judgement.failure is not None:
            self._discard_worktree(node.id, candidate_dir)
            self._end(node, *judgement.failure)
            return
        self._decide(node, judgement, candidate_dir)

    def _judge_remotely(
        self, run_id: int, node: Node, parent: Node, diff: str, candidate_dir: Path
    ) -> None:
        """Build, check and benchmark on another engine's host; decide here."""
        assert self.remote is not None
        for step in ("build", "check", "bench"):
            self._artifact(node.id, step, self.paths.log(node.id, step))

        def on_step(step: str) -> None:
            status = NodeStatus.QUEUED if step == "queued" else STEP_STATUS.get(step)
            if status is not None and status != node.status:
                self._set(node, status=status)

        self.pipeline.start(run_id, node)  # nothing of this experiment runs here
        try:
            judgement = self.remote.judge(run_id, node, parent, diff, on_step)
        except GuardStop:
            self._discard_worktree(node.id, candidate_dir)
            self._end(node, NodeStatus.CANCELLED, "no host left in the pool")
            raise
        if judgement.failure is not None:
            self._discard_worktree(node.id, candidate_dir)
            self._end(node, *judgement.failure)
            return
        self._decide(node, judgement, candidate_dir)

    def _propose(
        self,
        run_id: int,
        node: Node,
        parent: Node,
        parent_dir: Path,
        candidate_dir: Path,
        agent_log: Path,
        *,
        backend: ModelBackend | None = None,
    ) -> Proposal:
        context = self._context(run_id, parent, parent_dir)
        try:
            messages = build_messages(**context)
        except ValueError as exc:  # the instructions alone do not fit the context
            raise RunFailed(f"cannot build a prompt: {exc}") from None
        agent_log.parent.mkdir(parents=True, exist_ok=True)
        prompt_file = self.paths.log(node.id, "prompt")
        prompt_file.write_text(
            "\n\n".join(f"### {m.role}\n{m.content}" for m in messages), encoding="utf-8"
        )
        self._artifact(node.id, "prompt", prompt_file)
        with agent_log.open("a", encoding="utf-8") as log:

            def on_token(chunk: str) -> None:
                log.write(chunk)
                log.flush()

            def on_reply(reply: ModelReply, attempt: int) -> None:
                self._record_call(run_id, node, reply, attempt)

            def on_failure(exc: CallFailed, attempt: int) -> None:
                self._record_failed_call(run_id, node, exc, attempt)

            proposal = propose(
                backend=backend or self.backend,
                messages=messages,
                max_retries=self.config.model.max_retries,
                worktree=candidate_dir,
                rules=self.config.access,
                extra_protected=self.extra_protected,
                on_token=on_token,
                on_reply=on_reply,
                on_failure=on_failure,
                before_call=lambda: self.pacer.before_call(run_id),
                retry_grammar=self._retry_grammar(context),
                retry_forbid=forbid_unchanged(context["edit_format"], context["sources"]),
            )
        self._set(
            node,
            answer_text=proposal.answer_text,
            description=proposal.description,
            rationale=proposal.rationale,
        )
        return proposal

    def _context(self, run_id: int, parent: Node, parent_dir: Path) -> dict[str, Any]:
        sources = self._sources.get(parent.commit_sha, self.repo_path, self.config.access)
        with self.store.session() as s:
            inquiry = [_summary(n) for n in lineage(s, parent)[1:]]
            tried = [n for n in children(s, parent.id) if NodeStatus(n.status).finished]
            run = s.get(Run, run_id)
            goal = run.goal if run else self.config.target.goal
        failed = [_summary(n) for n in tried if n.status != NodeStatus.KEPT]
        last_failure = tried[-1].reason if tried and tried[-1].status != NodeStatus.KEPT else None
        fmt = self.config.model.edit_format
        spots = hot_spots(parent_profile(self.store, parent.id), sources)
        sources = hot_first(sources, spots)
        regions = [f"{p}::{n}" for p, text in sources.items() for n in region_names(p, text)]
        return {
            "goal": goal,
            "rules": self.config.access,
            "sources": sources,
            "inquiry": inquiry,
            "failed_tries": failed,
            "last_failure": last_failure,
            "hints": list(dict.fromkeys([*self.config.target.hints, *self.controls.hint_list()])),
            "edit_format": self._edit_format(fmt),
            "context_tokens": self.config.model.context_tokens,
            "answer_tokens": self.config.model.max_answer_tokens,
            "regions": hot_regions(regions, spots),
            "profile": profile_section(spots),
            "hot_files": [spot.file for spot in spots],
        }

    def _edit_format(self, setting: EditFormatSetting) -> EditFormat:
        """The run's edit format; for "auto", asked once of the backend's model size."""
        if self._chosen_format is None:
            size = self.model.parameter_count() if isinstance(self.model, SizedModel) else None
            self._chosen_format = choose_edit_format(setting, size)
            if setting == "auto":
                known = f"{size / 1e9:.2g}B parameters" if size else "size unknown"
                self.report(f"edit format: {self._chosen_format} ({known})")
        return self._chosen_format

    def _retry_grammar(self, context: dict[str, Any]) -> str | None:
        if not (self.config.model.grammar_retry and self.backend.supports_grammar):
            return None
        return retry_grammar(context["edit_format"], context["sources"])

    def _build_and_check(self, node: Node, workdir: Path) -> tuple[NodeStatus, str] | None:
        steps = (
            ("build", self.config.build, NodeStatus.BUILDING, NodeStatus.BUILD_FAILED),
            ("check", self.config.check, NodeStatus.CHECKING, NodeStatus.CHECKS_FAILED),
        )
        for step, spec, running, failed in steps:
            if spec is None:
                continue
            self._set(node, status=running)
            self.report(f"{node.id:<10} {running.value}")
            log = self.paths.log(node.id, step)
            self._artifact(node.id, step, log)
            result = self.executor.run(spec.run, workdir, log, spec.timeout_s, env=self.env)
            if result.cancelled:
                return NodeStatus.CANCELLED, f"{step} was cancelled"
            if result.timed_out:
                return NodeStatus.TIMEOUT, f"{step} did not finish within {spec.timeout_s:g} s"
            if result.exit_code != 0:
                return failed, f"{step} exited with status {result.exit_code}: {_last_line(log)}"
        return None

    def _calibrate_if_due(self, run_id: int, parent: Node, parent_dir: Path) -> None:
        """A/A calibration on the parent's build, measured against itself."""
        if not self.measure.due():
            return
        log = self.paths.log(parent.id, "calibrate")
        self.measure.calibrate(run_id, parent, parent_dir, log)
        self._artifact(parent.id, "calibrate", log)

    def _decide(self, node: Node, judgement: Judgement, candidate_dir: Path) -> None:
        primary = judgement.recorded
        assert primary is not None
        self._set(
            node,
            decision_rule=judgement.rule,
            effect=primary.effect,
            ci_low=primary.ci_low,
            ci_high=primary.ci_high,
            p_value=primary.p_value,
            pairs_used=judgement.pairs_used,
            threshold=primary.threshold,
            decision_json=decision_json(judgement),
            analysis=judgement.analysis,
        )
        if judgement.keep:
            self._built[node.id] = candidate_dir
            self._end(node, NodeStatus.KEPT, judgement.reason)
        else:
            self._discard_worktree(node.id, candidate_dir)
            self._end(node, NodeStatus.DISCARDED, judgement.reason)
        try:  # the metrics CSV a person can `tail -f`; never worth stopping the run for
            with self.store.session() as s:
                self.metrics_csv.record(s, node.run_id, node.id)
        except OSError as exc:
            self.report(f"{node.id:<10} cannot append to the metrics CSV: {exc}")

    # ------------------------------------------------------------ worktrees
    def _built_worktree(self, node: Node) -> Path:
        """A worktree of `node`'s commit with its build done, reused across its children."""
        cached = self._built.get(node.id)
        if cached is not None and cached.is_dir():
            return cached
        assert node.commit_sha is not None
        workdir = self.git.add_worktree(node.id, node.commit_sha)
        if self.config.build is not None and self.remote is None:  # remote: built there
            log = self.paths.log(node.id, "build")
            result = self.executor.run(
                self.config.build.run, workdir, log, self.config.build.timeout_s, env=self.env
            )
            if result.exit_code != 0:
                raise RunFailed(
                    f"node {node.id} no longer builds "
                    f"(status {result.exit_code}): {_last_line(log)}"
                )
        self._built[node.id] = workdir
        return workdir

    def _discard_worktree(self, node_id: str, path: Path) -> None:
        if self.config.run.keep_worktrees != "all":
            self.git.remove_worktree(path)

    # -------------------------------------------------------------- run setup
    def _repo_path(self) -> Path:
        repo = self.config.target.repo
        if is_git_url(repo):
            return clone_or_fetch(repo, self.paths.repo_cache)
        return Path(repo)

    def _extra_protected(self) -> list[str]:
        """The config and the answer script are never the model's to change."""
        found = []
        for path in (self.config_path, self.config.model.script):
            if path is None:
                continue
            try:
                found.append(Path(path).resolve().relative_to(self.repo_path.resolve()).as_posix())
            except ValueError:
                continue
        return found

    def _open_run(self) -> int:
        """Continue the newest run in the store, or start run 1 from the baseline."""
        with self.store.session() as s:
            run = s.exec(select(Run).order_by(col(Run.id).desc())).first()
            if run is None:
                baseline = self.git.resolve(self.config.target.base)
                run = Run(
                    id=1,
                    goal=self.config.target.goal,
                    config_toml=_config_text(self.config_path),
                    repo_path=str(self.repo_path),
                    baseline_commit=baseline,
                    root_node_id="1",
                )
                s.add(run)
                s.flush()
                s.add(
                    Node(
                        id="1",
                        run_id=1,
                        description="baseline",
                        commit_sha=baseline,
                        status=NodeStatus.QUEUED,
                    )
                )
                record_event(s, "run_started", f"run 1 started at {baseline[:12]}", run_id=1)
                self.report(f"run 1: baseline {baseline[:12]} in {self.repo_path}")
                return 1
            run.status = RunStatus.RUNNING
            run.finished_at = None
            self._reconcile(s, run.id)
            record_event(s, "run_resumed", f"run {run.id} resumed", run_id=run.id)
            self.report(f"run {run.id}: resumed")
            return run.id

    def _reconcile(self, s: Session, run_id: int) -> None:
        """Nodes left in flight by a dead engine are marked interrupted; its strays die."""
        killed = kill_orphans(self.paths.root)
        if killed:
            pids = ", ".join(map(str, killed))
            record_event(
                s, "orphans_killed", f"killed processes left running: {pids}", run_id=run_id
            )
        stale = s.exec(
            select(Node).where(Node.run_id == run_id, col(Node.status).in_(list(IN_FLIGHT)))
        ).all()
        # A queued child was created just before the engine died: it never started.
        unstarted = s.exec(
            select(Node).where(
                Node.run_id == run_id,
                Node.status == NodeStatus.QUEUED,
                col(Node.parent_id).is_not(None),
            )
        ).all()
        for node in [*stale, *unstarted]:
            node.status = NodeStatus.INTERRUPTED
            node.reason = "the engine stopped while this experiment was in flight"
            node.finished_at = utcnow()
            record_event(s, "node_interrupted", node.reason, run_id=run_id, node_id=node.id)
        self.git.remove_orphan_worktrees(keep=[])

    def _check_baseline(self, run_id: int) -> None:
        with self.store.session() as s:
            root = (
                s.get(Node, str(run_id))
                or s.exec(
                    select(Node).where(Node.run_id == run_id, col(Node.parent_id).is_(None))
                ).one()
            )
        if root.status == NodeStatus.KEPT:
            return
        self.report(f"{root.id:<10} checking the baseline builds and passes its checks")
        assert root.commit_sha is not None
        workdir = self.git.add_worktree(root.id, root.commit_sha)
        self.controls.begin(root.id)
        try:
            failure = self._build_and_check(root, workdir)
        except StepAborted:  # stopped: the baseline is checked again next start
            self._set(root, status=NodeStatus.QUEUED)
            self.git.remove_worktree(workdir)
            raise
        finally:
            self.controls.end()
        if failure is not None:
            self.git.remove_worktree(workdir)
            self._end(root, failure[0], failure[1])
            raise RunFailed(f"the baseline fails: {failure[1]}")
        self._built[root.id] = workdir
        self._end(root, NodeStatus.KEPT, "baseline")

    # ------------------------------------------------------------- records
    def _record_call(self, run_id: int, node: Node, reply: ModelReply, attempt: int) -> None:
        with self.store.session() as s:
            s.add(
                ModelCall(
                    run_id=run_id,
                    node_id=node.id,
                    model=reply.model,
                    attempt=attempt,
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                    cached_tokens=reply.cached_tokens,
                    ttft_s=reply.ttft_s,
                    total_s=reply.total_s,
                    prompt_eval_s=reply.prompt_eval_s,
                    created_at=self._utc_now(),  # the engine's clock paces the calls
                )
            )
            stored = s.get(Node, node.id)
            run = s.get(Run, run_id)
            assert stored is not None and run is not None
            stored.model = reply.model
            stored.prompt_tokens += reply.prompt_tokens
            stored.completion_tokens += reply.completion_tokens
            run.tokens_used += reply.prompt_tokens + reply.completion_tokens
            for warning in reply.warnings:  # e.g. the server cut the prompt
                record_event(s, "model_warning", warning, run_id=run_id, node_id=node.id)
        for warning in reply.warnings:
            self.report(f"{node.id:<10} model warning: {warning}")

    def _record_failed_call(self, run_id: int, node: Node, exc: CallFailed, attempt: int) -> None:
        with self.store.session() as s:
            s.add(
                ModelCall(
                    run_id=run_id,
                    node_id=node.id,
                    model=self.model.name,
                    attempt=attempt,
                    ok=False,
                    error=str(exc),
                    created_at=self._utc_now(),
                )
            )
            record_event(s, "model_call_failed", str(exc), run_id=run_id, node_id=node.id)
        self.report(f"{node.id:<10} model call failed: {exc}")

    def _utc_now(self) -> datetime:
        return self.clock.now().astimezone(UTC)

    def _model_waiting(self, why: str) -> None:
        """Show why the run waits, in the store (for the TUI) and the log; one event per cause."""
        with self.store.session() as s:
            run = s.get(Run, self._run_id)
            if run is not None:
                cause = why.split("; next try")[0]
                if run.engine_detail.split("; next try")[0] != cause:
                    record_event(s, "model_waiting", why, run_id=self._run_id)
                run.engine_state = "waiting"
                run.engine_detail = why
        self.report(why)
        self.controls.set_state("waiting", why)  # the heartbeat keeps writing it

    def _model_back(self) -> None:
        with self.store.session() as s:
            run = s.get(Run, self._run_id)
            if run is not None:
                run.engine_state = "running"
                run.engine_detail = "the model answers again"
                record_event(s, "model_back", "the model answers again", run_id=self._run_id)
        self.report("the model answers again")
        self.controls.set_state("running", "the model answers again")

    def _set(self, node: Node, **fields: Any) -> None:
        with self.store.session() as s:
            stored = s.get(Node, node.id)
            assert stored is not None
            for key, value in fields.items():
                setattr(stored, key, value)
                setattr(node, key, value)

    def _end(self, node: Node, status: NodeStatus, reason: str) -> None:
        self._set(node, status=status, reason=reason, finished_at=utcnow())
        with self.store.session() as s:
            record_event(
                s, "node_finished", f"{status.value}: {reason}", run_id=node.run_id, node_id=node.id
            )
        self.report(f"{node.id:<10} {status.value.upper()}: {reason}")

    def _artifact(self, node_id: str, step: str, path: Path) -> None:
        with self.store.session() as s:
            exists = s.exec(
                select(Artifact.id).where(Artifact.node_id == node_id, Artifact.step == step)
            ).first()
            if exists is None:
                s.add(Artifact(node_id=node_id, kind="log", step=step, path=str(path)))

    def _guard(self) -> str | None:
        """A disk problem that old worktrees cannot solve, or None."""
        run = self.config.run
        problem = disk_problem(self.paths.root, run.max_disk_mb, run.min_free_mb)
        if problem is None:
            return None
        # Old worktrees of finished nodes go first: they are rebuilt when needed.
        self._built.clear()
        self.git.remove_orphan_worktrees(keep=self.pipeline.worktrees())
        return disk_problem(self.paths.root, run.max_disk_mb, run.min_free_mb)

    def _count_failure(self, run_id: int, node: Node) -> None:
        failed = node.status in FAILURES
        self._failures.record(failed, f"{node.id} {node.status}: {node.reason}")
        limit = self.controls.budgets.pause_after_failures
        if self._failures.count >= limit:
            self._failures.reset()
            self._pause_for(
                run_id,
                f"{limit} experiments in a row failed (last: {self._failures.last_reason}); "
                "check the build and check commands or steer the model, then resume",
            )

    def _pause_for(self, run_id: int, why: str) -> None:
        """Pause the run by itself and say why (the person resumes it)."""
        self.controls.pause()
        self.controls.set_state("paused", f"paused: {why}")
        with self.store.session() as s:
            record_event(s, "paused", why, run_id=run_id)
        self.report(f"paused: {why}")

    def _aborted(self, node: Node, exc: StepAborted) -> None:
        """A person ended the experiment in flight: its processes are gone, record it."""
        worktree = self.paths.worktrees / node.id
        if worktree.exists() and self._built.get(node.id) != worktree:
            self.git.remove_worktree(worktree)
        self._end(node, exc.status, exc.reason)

    def _reporter(self, report: Callable[[str], None]) -> Callable[[str], None]:
        """Every progress line is also the engine's current detail for the TUI."""

        def both(line: str) -> None:
            if not self.pipeline.in_thread():  # the benchmark's step stays the detail
                self.controls.set_state(self.controls.state, line.strip())
            report(line)

        return both

    def _end_unanswered(self, node: Node, reason: str) -> None:
        """A budget ran out during a proposal: keep a node the model answered, else drop it."""
        with self.store.session() as s:
            answered = s.exec(select(ModelCall.id).where(ModelCall.node_id == node.id)).first()
        if answered is None:
            self._drop_unanswered(node)
            return
        worktree = self.paths.worktrees / node.id
        if worktree.exists():
            self.git.remove_worktree(worktree)
        self._end(node, NodeStatus.CANCELLED, reason)

    def _drop_unanswered(self, node: Node) -> None:
        """A node the model never answered is not an experiment: remove it."""
        with self.store.session() as s:
            stored = s.get(Node, node.id)
            if stored is not None and stored.status in (NodeStatus.QUEUED, NodeStatus.PROPOSING):
                for artifact in s.exec(select(Artifact).where(Artifact.node_id == node.id)).all():
                    s.delete(artifact)
                s.delete(stored)
        worktree = self.paths.worktrees / node.id
        if worktree.exists():
            self.git.remove_worktree(worktree)
        shutil.rmtree(self.paths.logs / node.id, ignore_errors=True)

    def _finish(self, run_id: int, status: RunStatus, reason: str) -> None:
        with self.store.session() as s:
            run = s.get(Run, run_id)
            assert run is not None
            run.status = status
            run.stop_reason = reason
            run.finished_at = utcnow()
            record_event(s, "run_finished", reason, run_id=run_id)
        for node_id, path in list(self._built.items()):
            if self.config.run.keep_worktrees == "none":
                self.git.remove_worktree(path)
                del self._built[node_id]
        self.report(f"run {run_id} {status.value}: {reason}")


def _summary(node: Node) -> str:
    effect = f", effect {node.effect:+.1%}" if node.effect is not None else ""
    reason = f" ({node.reason})" if node.reason and node.status != NodeStatus.KEPT else ""
    return f"{node.id}: {node.description or '(no description)'} -> {node.status}{effect}{reason}"


def _last_line(log: Path) -> str:
    """The last non-empty line of a log, for a one-line failure reason."""
    try:
        lines = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln]
    except OSError:
        return "(no log)"
    meaningful = [ln for ln in lines if not ln.startswith(("--- perfsup:", "---- "))]
    return (meaningful or lines or ["(no output)"])[-1][:300]


def _config_text(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
