"""What each action does to an episode, and the reward of the steps that change code.

A step that changes the agent's tree (a `patch`, a `git restore`, a flag set)
builds it, runs the tests and measures it against the baseline with the
decision rule (reward.py); the reward is the change of the tree's decided
standing. A refused patch or git command, a failed build and failing tests
pay a penalty and leave the standing as it was. Every other action observes
and earns nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from perfsup.agent.apply import apply_edit
from perfsup.agent.edits import parse_answer
from perfsup.env.benchview import is_go, run_benchmarks
from perfsup.env.episode import Episode, Ran
from perfsup.env.gitaction import (
    RESTORING,
    GitRefused,
    changed_paths,
    check_args,
    put_back,
    run_git,
)
from perfsup.env.models import PerfAction, PerfObservation, PerfState
from perfsup.env.perfmodes import run_perf
from perfsup.env.reward import MeasureFailed, measure_standing
from perfsup.metrics.profiles.escape import parse_escape
from perfsup.workspace.access import AccessDenied, check_edit_path, is_protected
from perfsup.workspace.buildflags import BadFlags, describe_flags, flag_env

__all__ = ["Steps"]

# Patch text is hostile input: whatever it makes the parser raise is a refusal.
_PATCH_ERRORS = (ValueError, AccessDenied, MemoryError, RecursionError, OSError)


@dataclass
class Steps:
    """The actions of one episode over its state."""

    episode: Episode
    state: PerfState
    rng: random.Random

    def do(self, action: PerfAction) -> PerfObservation:
        handler = getattr(self, f"_{action.kind}")
        observation: PerfObservation = handler(action)
        observation.action = action.kind
        return observation

    # ------------------------------------------------------------ observing
    def _benchmarks(self, action: PerfAction) -> PerfObservation:
        view = run_benchmarks(self.episode, action)
        obs = _from_ran(view.ran, reward=0.0)
        obs.bench_summary = view.summary
        obs.comparison = view.comparison
        obs.message = view.problem or f"{len(view.summary)} benchmark values (no reward)"
        return obs

    def _tests(self, action: PerfAction) -> PerfObservation:
        ran, failures = self.episode.tests()
        obs = _from_ran(ran, reward=0.0)
        obs.test_failures = failures
        names = ", ".join(failures) or "see output"
        obs.message = "tests pass" if ran.ok else f"tests fail: {names}"
        return obs

    def _escape_analysis(self, action: PerfAction) -> PerfObservation:
        if not is_go(self.episode.tree):
            return PerfObservation(message="escape analysis is for Go targets (no go.mod here)")
        ran = self.episode.run(
            "escape",
            f"go build -gcflags=-m {action.package}",
            self.episode.tree,
            action.timeout_s,
            self.episode.build_env(self.episode.flags),
        )
        obs = _from_ran(ran, reward=0.0)
        notes = parse_escape(ran.stderr + "\n" + ran.stdout)
        heap = [n for n in notes if n.to_heap]
        lines = [f"{n.file}:{n.line}: {n.message}" for n in heap[:40]]
        obs.escape_summary = f"{len(heap)} heap escapes of {len(notes)} notes\n" + "\n".join(lines)
        path = self.episode.logs / f"{self.episode.commands:03d}-escape.txt"
        path.write_text("\n".join(f"{n.file}:{n.line}: {n.message}" for n in notes) + "\n")
        self.state.artifacts["escape"] = str(path)
        obs.message = f"heap escapes: {len(heap)}"
        return obs

    def _perf(self, action: PerfAction) -> PerfObservation:
        failed = self.episode.build_tree()
        if failed is not None:
            obs = _from_ran(failed, reward=0.0)
            obs.message = "the tree does not build; nothing to count"
            return obs
        view = run_perf(self.episode, action.mode, action.timeout_s)
        obs = _from_ran(view.ran, reward=0.0)
        obs.perf_summary = view.summary
        obs.message = view.summary.splitlines()[0]
        self.state.artifacts.update(view.artifacts)
        return obs

    # ------------------------------------------------------------- changing
    def _git(self, action: PerfAction) -> PerfObservation:
        try:
            sub = check_args(action.args)
        except GitRefused as exc:
            return self._refused(str(exc))
        done = run_git(self.episode, action.args)
        obs = PerfObservation(stdout=done.stdout[-8000:], stderr=done.stderr[-8000:])
        obs.exit_code = done.returncode
        obs.message = f"git {sub}: exit {done.returncode}"
        if sub not in RESTORING:
            obs.reward = 0.0
            return obs
        # Files put back from another commit must still be the agent's to change.
        rules = self.episode.config.access
        for path in changed_paths(self.episode):
            try:
                check_edit_path(self.episode.tree, path, rules)
            except AccessDenied as exc:
                put_back(self.episode, path)
                return self._refused(f"git {sub}: {exc}; put back as the task's commit has it")
        return self._changed(obs)

    def _patch(self, action: PerfAction) -> PerfObservation:
        tree = self.episode.tree
        try:
            edit = parse_answer(action.patch)
            for path in edit.paths:
                check_edit_path(tree, path, self.episode.config.access)
            changed = apply_edit(tree, edit)
        except _PATCH_ERRORS as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return self._refused(f"patch refused: {reason}")
        obs = PerfObservation(message=f"patch applied to {', '.join(changed) or 'no file'}")
        return self._changed(obs)

    def _build_flags(self, action: PerfAction) -> PerfObservation:
        try:
            flag_env(action.flags)
        except BadFlags as exc:
            return self._refused(str(exc))
        self.episode.flags = dict(action.flags)
        self.state.build_flags = dict(action.flags)
        self.episode.built_tree = False
        obs = PerfObservation(message=f"build flags: {describe_flags(action.flags)}")
        return self._changed(obs)

    def _changed(self, obs: PerfObservation) -> PerfObservation:
        """Build, test and measure the changed tree; the reward is its new standing's change."""
        task = self.episode.task
        self.episode.built_tree = False
        failed = self.episode.build_tree()
        if failed is not None:
            return self._penalty(obs, failed, "failed", f"{obs.message}; the build fails")
        if self.episode.config.check is not None:
            ran, failures = self.episode.tests()
            obs.test_failures = failures
            if not ran.ok:
                why = f"{obs.message}; tests fail: {', '.join(failures) or 'see output'}"
                return self._penalty(obs, ran, "failed", why)
        if tampered := self._tampered():
            return self._refused(f"{obs.message}; a command changed {tampered}, put back")
        try:
            standing = measure_standing(
                config=self.episode.config,
                executor=self.episode.executor,
                env=self.episode.build_env({}),
                baseline=self.episode.baseline,
                current=self.episode.tree,
                log=self.episode.logs / f"{self.episode.commands:03d}-ab.log",
                rng=self.rng,
            )
        except MeasureFailed as exc:
            obs.reward = -task.penalty_failed
            obs.verdict = "failed"
            obs.message = f"{obs.message}; not measured: {exc}"
            return obs
        if tampered := self._tampered():  # the benchmark itself may have written
            return self._refused(f"{obs.message}; a command changed {tampered}, put back")
        obs.reward = standing.value - self.state.credited
        self.state.credited = standing.value
        self.state.current_metrics = {k: cur for k, (_base, cur) in standing.means.items()}
        obs.verdict = standing.verdict
        obs.effect = standing.effect
        obs.reward_interval = [standing.low, standing.high]
        obs.comparison = standing.analysis
        obs.message = f"{obs.message}; against the baseline: {standing.verdict} ({standing.reason})"
        return obs

    def _tampered(self) -> str:
        """A protected file the commands changed (put back as the commit has it), or ""."""
        rules = self.episode.config.access
        changed = [p for p in changed_paths(self.episode, untracked=True) if is_protected(p, rules)]
        for path in changed:
            put_back(self.episode, path)
        self.episode.built_tree = self.episode.built_tree and not changed
        return ", ".join(changed)

    def _penalty(self, obs: PerfObservation, ran: Ran, verdict: str, why: str) -> PerfObservation:
        failed = _from_ran(ran, reward=-self.episode.task.penalty_failed)
        failed.test_failures = obs.test_failures
        failed.verdict = verdict
        failed.message = why
        return failed

    def _refused(self, why: str) -> PerfObservation:
        return PerfObservation(
            message=why, verdict="rejected", reward=-self.episode.task.penalty_rejected
        )


def _from_ran(ran: Ran, reward: float) -> PerfObservation:
    return PerfObservation(
        stdout=ran.stdout, stderr=ran.stderr, exit_code=ran.result.exit_code, reward=reward
    )
