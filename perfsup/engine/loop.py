"""The experiment loop: pick a parent, ask the model, apply, build, check,
benchmark against the parent, decide, record; until a budget ends the run.

`Engine` is the loop and the run around it; `factory.make_engine` builds it
from its parts: `RunLifecycle` (runs.py: open, resume, baseline, finish),
`Phases` (phases.py: one experiment), `Proposer` (proposer.py: the model),
`Recorder` (recorder.py: every store write) and `Pipeline` (pipeline.py: the
next proposal while one benchmarks).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perfsup.agent.backend import ModelBackend, ModelUnavailable, ScriptExhausted
from perfsup.config import Config
from perfsup.engine.commands import CommandWatcher, read_text
from perfsup.engine.confirm import confirm_night
from perfsup.engine.controls import Controls, StepAborted
from perfsup.engine.diskfull import is_disk_full, ride_out_full_disk, unstored_stop_reason
from perfsup.engine.errors import PromptTooLarge, RunFailed
from perfsup.engine.guards import FailureStreak, disk_problem
from perfsup.engine.measure import GuardStop, Measurer
from perfsup.engine.night import night_text
from perfsup.engine.orphans import RUN_DIR_MARKER
from perfsup.engine.pacing import BudgetReached, Pacer
from perfsup.engine.phases import Candidate, Phases
from perfsup.engine.pipeline import Pipeline
from perfsup.engine.policy import PolicyLimits, choose_parent, exhausted_reason
from perfsup.engine.recorder import Recorder
from perfsup.engine.reload import ConfigWatcher
from perfsup.engine.remote import RemoteExperiments
from perfsup.engine.resume import resume_script
from perfsup.engine.rundir import RunPaths
from perfsup.engine.runs import RunLifecycle
from perfsup.engine.worktrees import BuiltTrees
from perfsup.store import Node, NodeStatus, RunStatus, Store
from perfsup.store.models import EngineState, EventKind
from perfsup.store.transitions import LostTransition
from perfsup.store.tree import run_nodes
from perfsup.workspace.git import GitWorkspace

__all__ = ["FAILURES", "RUN_DIR_MARKER", "Candidate", "Engine", "RunFailed", "RunOutcome"]

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


@dataclass
class EngineParts:
    """What `factory.make_engine` builds and the engine runs with."""

    config: Config
    config_path: Path | None
    store: Store
    paths: RunPaths
    controls: Controls
    pacer: Pacer
    recorder: Recorder
    trees: BuiltTrees
    phases: Phases
    runs: RunLifecycle
    git: GitWorkspace
    model: ModelBackend
    measure: Measurer
    remote: RemoteExperiments | None
    rng: random.Random
    report: Callable[[str], None]


class Engine:
    """Runs experiments on one target until a budget, the tree or the model ends the run."""

    def __init__(self, parts: EngineParts) -> None:
        self.parts = parts
        self.config = parts.config
        self.config_path = parts.config_path
        self.store = parts.store
        self.paths = parts.paths
        self.controls = parts.controls
        self.pacer = parts.pacer
        self.recorder = parts.recorder
        self.phases = parts.phases
        self.runs = parts.runs
        self.model = parts.model
        self.measure = parts.measure
        self.remote = parts.remote
        self.git = parts.git
        self.report = parts.report
        self.run_id = 0  # the run opened by `run` (a promoted run does not change it)
        self._failures = FailureStreak()
        self.pipeline = Pipeline(
            config=parts.config,
            store=parts.store,
            clock=parts.measure.clock,
            controls=parts.controls,
            pacer=parts.pacer,
            recorder=parts.recorder,
            phases=parts.phases,
            trees=parts.trees,
            model=parts.model,
            pick_parent=self.pick_parent,
            report=parts.report,
        )
        parts.phases.on_bench_start = self.pipeline.start

    # ----------------------------------------------------------------- run
    def run(self) -> RunOutcome:
        """Run the loop to its end and return why it ended."""
        watcher = CommandWatcher(
            self.store,
            self.controls,
            config_text=lambda: read_text(self.config_path),
            report=self.report,
        )
        run_id = self.run_id = self.runs.open()
        self.report(night_text(self.store, run_id, self.pacer.budgets, self.pacer.clock.now()))
        resume_script(self.model, self.store)  # a restart replays no answer already spent
        self.controls.run_id = run_id
        self.controls.set_state(EngineState.RUNNING, "starting")
        watcher.start()
        reloader = None
        if self.config_path is not None and self.config_path.is_file():
            reloader = ConfigWatcher(
                self.config_path, self.config, self.store, lambda: self.controls.run_id, self.report
            )
            reloader.start()
        try:
            return self._run_until_done(run_id)
        except Exception as exc:  # stopped while the disk was still full
            if not is_disk_full(exc):
                raise
            return RunOutcome(run_id, RunStatus.STOPPED, unstored_stop_reason(self))
        finally:
            self.controls.set_state(EngineState.STOPPED, "")
            if reloader is not None:
                reloader.close()
            watcher.close()

    def _run_until_done(self, run_id: int) -> RunOutcome:
        while True:
            try:
                self.runs.check_baseline(run_id)
                reason = self._loop(run_id)
            except (GuardStop, RunFailed) as exc:
                status = RunStatus.STOPPED if isinstance(exc, GuardStop) else RunStatus.FAILED
                return self._finish(run_id, status, str(exc))
            except StepAborted as exc:  # stopped during the baseline check
                reason = exc.reason
            except Exception as exc:  # a disk that filled up mid-step pauses the run
                if not is_disk_full(exc):
                    raise
                ride_out_full_disk(self, run_id)
                continue
            if self.controls.stop_reason is not None:
                return self._finish(run_id, RunStatus.STOPPED, self.controls.stop_reason)
            new_run = self.controls.promoted_run
            if new_run is None:
                self._confirm_night(run_id)  # issue 15: best vs baseline on fresh builds
                return self._finish(run_id, RunStatus.FINISHED, reason, self.pacer.budget_spent)
            self._finish(run_id, RunStatus.FINISHED, f"a person promoted a node to run {new_run}")
            self.controls.promoted_run = None
            run_id = self.controls.run_id = new_run
            self.report(f"run {run_id}: started from a promoted node")

    def _confirm_night(self, run_id: int) -> None:
        if self.remote is not None:  # remote hosts build there: not yet confirmed at the end
            return
        try:
            confirm_night(
                config=self.config,
                store=self.store,
                measure=self.measure,
                git=self.git,
                executor=self.phases.executor,
                env=self.phases.env,
                paths=self.paths,
                run_id=run_id,
                report=self.report,
            )
        except (GuardStop, StepAborted) as exc:
            self.report(f"end-of-night confirmation stopped: {exc}")

    def _finish(
        self, run_id: int, status: RunStatus, reason: str, budget: bool = False
    ) -> RunOutcome:
        self.runs.finish(run_id, status, reason, budget)
        return RunOutcome(run_id, status, reason)

    def _loop(self, run_id: int) -> str:
        reason = "the run ended"
        try:
            reason = self._steps(run_id)
            return reason
        finally:  # a proposal made ahead that will not be measured ends here
            self.pipeline.drop(self.controls.stop_reason or reason)

    def _steps(self, run_id: int) -> str:
        while True:
            self.controls.set_state(EngineState.RUNNING)
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
                parent = self.pick_parent(run_id)
                if isinstance(parent, str):
                    return parent
                node = self.recorder.add_child(run_id, parent)
                self.controls.begin(node.id)
            else:
                node, parent = ahead.node, ahead.parent
                self.controls.take_proposal(node.id)
            try:
                if ahead is None:
                    self.phases.run(run_id, node, parent)
                else:
                    self.pipeline.measure(run_id, ahead)
                self._count_failure(run_id, node)
            except StepAborted as exc:
                self.phases.aborted(node, exc)
            except LostTransition as exc:  # a person ended it first (a prune): leave it so
                self.phases.lost(node, exc)
            except (ScriptExhausted, BudgetReached) as exc:
                self.phases.end_unanswered(node, str(exc))
                return str(exc)
            except ModelUnavailable as exc:
                self.phases.end_unanswered(node, f"the model is unavailable: {exc}")
                return f"the model is unavailable: {exc}"
            except PromptTooLarge as exc:  # a person raises the context and resumes
                self.phases.end_unanswered(node, str(exc))
                self._pause_for(run_id, str(exc))
            finally:
                self.controls.end()
                self.pipeline.settle()  # the proposal made meanwhile is done (or given up)

    def pick_parent(self, run_id: int) -> Node | str:
        """The node to expand next, or why there is none."""
        budgets = self.controls.budgets
        limits = PolicyLimits(
            max_depth=budgets.max_depth,
            max_children=budgets.max_children,
            max_failures_in_a_row=budgets.max_failures_in_a_row,
            explore=budgets.explore,
        )
        with self.store.session() as s:
            nodes = run_nodes(s, run_id)
            parent = choose_parent(nodes, limits, self.parts.rng)
            return exhausted_reason(nodes, limits) if parent is None else parent

    # ------------------------------------------------------------- guards
    def _guard(self) -> str | None:
        """A disk problem that old worktrees cannot solve, or None."""
        run = self.config.run
        problem = disk_problem(self.paths.root, run.max_disk_mb, run.min_free_mb)
        if problem is None:
            return None
        # Old worktrees of finished nodes go first: they are rebuilt when needed.
        self.parts.trees.clear(keep=self.pipeline.worktrees())
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
        self.controls.set_state(EngineState.PAUSED, f"paused: {why}")
        self.recorder.event(run_id, EventKind.PAUSED, why)
        self.report(f"paused: {why}")

    # ------------------------------------------------- the model's outages
    def model_waiting(self, why: str) -> None:
        """Show why the run waits, in the store (for the TUI) and the log; one event per cause."""
        self.recorder.model_waiting(self.run_id, why)
        self.report(why)
        self.controls.set_state(EngineState.WAITING, why)  # the heartbeat keeps writing it

    def model_back(self) -> None:
        self.recorder.model_back(self.run_id, "the model answers again")
        self.report("the model answers again")
        self.controls.set_state(EngineState.RUNNING, "the model answers again")
