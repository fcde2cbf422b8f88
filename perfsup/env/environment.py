"""The OpenEnv environment: reset starts an episode of a task, step runs an action.

Each WebSocket session of the server gets its own `PerfEnvironment` (its own
worktrees, sandbox and state); what sessions share is the `TaskHub` (one
clone per git URL and its lock), so episodes run side by side.
"""

from __future__ import annotations

import random
import time
from typing import Any

from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import EnvironmentMetadata

from perfsup.env.actions import Steps
from perfsup.env.episode import Episode, EpisodeError, TaskHub
from perfsup.env.gitaction import status as git_status
from perfsup.env.models import PerfAction, PerfObservation, PerfState
from perfsup.metrics.collect import collect_metrics
from perfsup.metrics.errors import MetricParseError

__all__ = ["PerfEnvironment"]


class PerfEnvironment(Environment[PerfAction, PerfObservation, PerfState]):
    """perfsup's performance-tuning environment (one episode at a time)."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, hub: TaskHub) -> None:
        super().__init__()
        self.hub = hub
        self.episode: Episode | None = None
        self.steps: Steps | None = None
        self._state = PerfState()

    # ---------------------------------------------------------------- OpenEnv
    def reset(
        self,
        seed: int | None = None,
        episode_id: str | None = None,
        task: str | None = None,
        **kwargs: Any,
    ) -> PerfObservation:
        """Start an episode of `task` (the only one when the server has one)."""
        self.close()
        try:
            chosen = self._task(task)
            episode = Episode(self.hub, chosen, self.hub.new_id())
        except EpisodeError as exc:
            return PerfObservation(action="reset", message=str(exc), done=True, reward=0.0)
        self.episode = episode
        self._state = PerfState(
            episode_id=episode_id or episode.id,
            task=chosen.name,
            goal=episode.goal,
            commit=episode.commit,
            budget=chosen.max_steps,
            remaining=chosen.max_steps,
        )
        self.steps = Steps(episode, self._state, random.Random(seed))
        built = episode.build(episode.baseline, {})
        obs = PerfObservation(action="reset", goal=episode.goal, remaining=chosen.max_steps)
        if not built.ok:
            obs.done = True
            obs.message = f"the baseline of task {chosen.name} does not build: see stderr"
            obs.stderr = built.stderr
            return obs
        obs.message = self._baseline_metrics(episode)
        obs.git_status = git_status(episode)
        return obs

    def step(
        self, action: PerfAction, timeout_s: float | None = None, **kwargs: Any
    ) -> PerfObservation:
        if self.episode is None or self.steps is None:
            return PerfObservation(message="no episode: reset first", done=True, reward=0.0)
        state = self._state
        if state.remaining <= 0:
            return PerfObservation(message="the step budget is spent", done=True, reward=0.0)
        started = time.monotonic()
        self.episode.command_s = 0.0
        try:
            obs = self.steps.do(action)
        except EpisodeError as exc:
            obs = PerfObservation(action=action.kind, message=str(exc), reward=0.0)
        state.step_count += 1
        state.remaining -= 1
        reward = float(obs.reward or 0.0)
        obs.reward = reward
        state.rewards.append(reward)
        state.history.append(
            {
                "step": state.step_count,
                "action": action.kind,
                "reward": reward,
                "verdict": obs.verdict,
                "message": obs.message,
                "seconds": round(time.monotonic() - started, 3),
            }
        )
        obs.step = state.step_count
        obs.remaining = state.remaining
        obs.goal = state.goal
        obs.command_s = self.episode.command_s
        obs.git_status = git_status(self.episode)
        obs.done = state.remaining <= 0
        return obs

    @property
    def state(self) -> PerfState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(
            name="perfsup",
            description="Make a repository's benchmarks faster; rewards come from "
            "interleaved A/B measurement against the episode's baseline.",
        )

    def close(self) -> None:
        if self.episode is not None:
            self.episode.close()
        self.episode = None
        self.steps = None

    # ---------------------------------------------------------------- helpers
    def _task(self, name: str | None) -> Any:
        tasks = self.hub.tasks
        if name is None:
            if len(tasks) != 1:
                raise EpisodeError(f"name a task to reset (one of: {', '.join(sorted(tasks))})")
            return next(iter(tasks.values()))
        if name not in tasks:
            known = ", ".join(sorted(tasks))
            raise EpisodeError(f"unknown task {name!r} (expected one of: {known})")
        return tasks[name]

    def _baseline_metrics(self, episode: Episode) -> str:
        """One run of the baseline's benchmark: the metrics the state starts from."""
        spec = episode.config.bench
        ran = episode.run("bench-baseline", spec.run, episode.baseline, spec.timeout_s, None)
        try:
            values = collect_metrics(ran.result.stdout, episode.baseline, episode.config.metrics)
        except MetricParseError as exc:
            return f"episode {episode.id} of {episode.task.name}: baseline metrics unread: {exc}"
        self._state.baseline_metrics = values
        self._state.current_metrics = dict(values)
        return f"episode {episode.id} of {episode.task.name}: baseline built and benchmarked"
