"""One episode's ground: its task's config, two worktrees (the baseline and the
agent's), the sandbox every command runs in, and the builds.

Both worktrees are checked out from the task's commit through the shared
repository (one clone per git URL, one GitWorkspace, hence one lock, for all
episodes of the server). Every command runs in perfsup's sandbox with the
server's folder hidden except the step's own worktree, so one episode can
neither read nor write another's.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from perfsup.config import Config, ConfigError, is_git_url, load_config
from perfsup.env.tasks import EnvTask
from perfsup.workspace.buildflags import FLAG_VARIABLES, flag_env
from perfsup.workspace.command_env import command_env
from perfsup.workspace.executor import LocalExecutor
from perfsup.workspace.git import GitWorkspace
from perfsup.workspace.gitclone import clone_or_fetch
from perfsup.workspace.runner import CommandResult
from perfsup.workspace.sandbox import SandboxExecutor

__all__ = ["Episode", "EpisodeError", "Ran", "TaskHub"]

# Enough of a command's output for an observation; the log keeps the rest.
OUTPUT_KEEP = 8_000
_FAILED_TEST = re.compile(r"^\s*--- FAIL: (\S+)|^FAILED (\S+)|^FAIL\s+(\S+)\s")


class EpisodeError(Exception):
    """An episode that cannot start (bad task, unknown commit, baseline broken)."""


class TaskHub:
    """What the episodes of one server share: the repositories and their lock."""

    def __init__(self, tasks: dict[str, EnvTask], workdir: Path) -> None:
        self.tasks = tasks
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._spaces: dict[str, GitWorkspace] = {}
        self._count = 0

    def workspace(self, task: EnvTask) -> GitWorkspace:
        """The task's repository (cloned or fetched once per server) and its worktrees."""
        with self._lock:
            space = self._spaces.get(task.repo)
            if space is None:
                try:
                    repo = (
                        clone_or_fetch(task.repo, self.workdir / "repos")
                        if is_git_url(task.repo)
                        else Path(task.repo)
                    )
                    space = GitWorkspace(repo, self.workdir / "worktrees")
                except Exception as exc:  # git's own errors, a missing folder
                    raise EpisodeError(f"task {task.name}: cannot get {task.repo}: {exc}") from None
                self._spaces[task.repo] = space
            return space

    def new_id(self) -> str:
        with self._lock:
            self._count += 1
            return f"ep{self._count}"


@dataclass(frozen=True)
class Ran:
    """One command of a step: its result and its error stream."""

    result: CommandResult
    stderr: str

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def stdout(self) -> str:
        return self.result.stdout[-OUTPUT_KEEP:]


class Episode:
    """The worktrees, config and sandbox of one episode."""

    def __init__(self, hub: TaskHub, task: EnvTask, episode_id: str) -> None:
        self.hub = hub
        self.task = task
        self.id = episode_id
        self.git = hub.workspace(task)
        try:
            self.commit = self.git.resolve(task.commit)
        except ValueError as exc:
            raise EpisodeError(f"task {task.name}: {exc}") from None
        self.baseline = self.git.add_worktree(f"{episode_id}-base", self.commit)
        self.tree = self.git.add_worktree(f"{episode_id}-work", self.commit)
        try:  # read before any command ran in the worktree: the config is the task's
            self.config = _task_config(self.baseline / task.config, task)
        except EpisodeError:
            self.close()
            raise
        self.logs = hub.workdir / "logs" / episode_id
        settings = self.config.sandbox.model_copy(
            update={
                "writable_paths": [*self.config.sandbox.writable_paths, *task.writable_paths],
                "pass_env": [*self.config.sandbox.pass_env, *FLAG_VARIABLES],
            }
        )
        self.executor = SandboxExecutor(LocalExecutor(), settings, [hub.workdir], lambda _l: None)
        env = command_env(hub.workdir / "bin")
        self.env = {k: v for k, v in env.items() if k not in FLAG_VARIABLES}
        self.flags: dict[str, str] = {}
        self.built_tree = False  # the agent's tree built as it is now
        self.commands = 0  # commands run so far: numbers the logs and artifacts
        self.command_s = 0.0  # seconds spent in commands, for the step's overhead

    @property
    def goal(self) -> str:
        return self.task.goal or self.config.target.goal

    def build_env(self, flags: dict[str, str]) -> dict[str, str]:
        return {**self.env, **flag_env(flags)}

    def run(
        self, name: str, command: str, where: Path, timeout_s: float, env: dict[str, str] | None
    ) -> Ran:
        """`command` in the sandbox in `where`; its log under the episode's logs."""
        self.commands += 1
        errors: list[str] = []

        def keep_errors(stream: str, line: str) -> None:
            if stream == "err" and sum(map(len, errors)) < OUTPUT_KEEP:
                errors.append(line)

        log = self.logs / f"{self.commands:03d}-{name}.log"
        result = self.executor.run(
            command, where, log, timeout_s, env=env or self.env, on_line=keep_errors
        )
        self.command_s += result.process_s
        return Ran(result, "\n".join(errors)[-OUTPUT_KEEP:])

    def build(self, where: Path, flags: dict[str, str]) -> Ran:
        spec = self.config.build
        if spec is None:  # nothing to build (an interpreted target)
            nothing = CommandResult(0, 0.0, False, False, self.logs / "build.log", "")
            ran = Ran(nothing, "")
        else:
            ran = self.run("build", spec.run, where, spec.timeout_s, self.build_env(flags))
        if where == self.tree:
            self.built_tree = ran.ok
        return ran

    def build_tree(self) -> Ran | None:
        """Build the agent's tree unless it is built as it stands; the failed build, if any."""
        if self.built_tree:
            return None
        ran = self.build(self.tree, self.flags)
        return None if ran.ok else ran

    def tests(self) -> tuple[Ran, list[str]]:
        spec = self.config.check
        if spec is None:
            raise EpisodeError("the task's config has no [check] command to run the tests")
        ran = self.run("tests", spec.run, self.tree, spec.timeout_s, self.build_env(self.flags))
        return ran, failed_tests(ran.stdout + "\n" + ran.stderr)

    def close(self) -> None:
        for tree in (self.baseline, self.tree):
            try:
                self.git.remove_worktree(tree)
            except (OSError, ValueError):
                continue


def failed_tests(text: str) -> list[str]:
    """The failing tests named in go test or pytest output, in order, once each."""
    tests: list[str] = []
    packages: list[str] = []
    for line in text.splitlines():
        match = _FAILED_TEST.match(line)
        if match:
            test, pytest_test, package = match.groups()
            found = packages if package else tests
            name = test or pytest_test or package
            if name not in found:
                found.append(name)
    return tests or packages  # a package is named only when no test is (a build error)


def _task_config(path: Path, task: EnvTask) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise EpisodeError(f"task {task.name}: {exc}") from None
