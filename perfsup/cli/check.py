"""The preflight as the command line runs it: `perfsup check`, and the first
step of `perfsup run` (before the engine asks the model anything)."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import col, select

from perfsup.agent.backend import ModelBackend
from perfsup.config import Config
from perfsup.engine.factory import run_command_env, target_repo
from perfsup.engine.preflight import PreflightFailed, PreflightReport, run_preflight
from perfsup.engine.preflight_text import report_lines
from perfsup.engine.rundir import RunPaths
from perfsup.store import Run, Store
from perfsup.workspace.executor import Executor
from perfsup.workspace.git import GitWorkspace
from perfsup.workspace.target_env import target_env


def preflight(
    config: Config,
    paths: RunPaths,
    backend: ModelBackend,
    executor: Executor,
    say: Callable[[str], None],
    store: Store | None = None,
) -> PreflightReport:
    """Run the preflight on the run's baseline and print its report.

    The baseline is the stored run's (a resumed run goes on from it), else
    `target.base`. Raises PreflightFailed (one line) when the run cannot work.
    """
    repo = target_repo(config, paths)
    git = GitWorkspace(repo, paths.worktrees)
    baseline = _stored_baseline(store)
    if baseline is None:
        try:
            baseline = git.resolve(config.target.base)
        except ValueError as exc:
            raise PreflightFailed(f"target.base {config.target.base!r}: {exc}") from None
    env = run_command_env(paths, config, repo)
    say(target_env(config, repo).describe())
    found = run_preflight(
        config=config,
        git=git,
        baseline=baseline,
        executor=executor,
        env=env,
        log_dir=paths.logs / "preflight",
        backend=backend,
        report=say,
    )
    for line in report_lines(found, config):
        say(line)
    return found


def _stored_baseline(store: Store | None) -> str | None:
    if store is None:
        return None
    with store.session() as s:
        run = s.exec(select(Run).order_by(col(Run.id).desc())).first()
        return run.baseline_commit if run is not None else None
