"""Build an engine from a config: the one composition root that the CLI, the
benchmarks and the tests share.

Everything the engine's parts need is made here once, in dependency order:
the repository (a git URL is cloned or fetched into the run folder), the
controls a person steers, the executor that obeys them, the recorder, the
built-worktree cache, the measurer, the remote experiments where configured,
the proposer, one experiment's phases and the run lifecycle.
"""

from __future__ import annotations

import platform
import random
from collections.abc import Callable
from pathlib import Path

from perfsup.agent.backend import ModelBackend
from perfsup.config import Config, is_git_url
from perfsup.engine.clock import Clock, SystemClock
from perfsup.engine.controls import OVERRIDES_NAME, ControlledExecutor, Controls
from perfsup.engine.integrity import GuardView, IntegrityGuard
from perfsup.engine.loop import Engine, EngineParts
from perfsup.engine.measure import Measurer
from perfsup.engine.model_wait import PatientBackend
from perfsup.engine.orphans import RUN_DIR_MARKER
from perfsup.engine.pacing import Pacer
from perfsup.engine.phases import Phases
from perfsup.engine.pipeline import proposing_ahead
from perfsup.engine.proposer import Proposer
from perfsup.engine.recorder import Recorder
from perfsup.engine.remote import RemoteExperiments
from perfsup.engine.rundir import RunPaths
from perfsup.engine.runs import RunLifecycle
from perfsup.engine.worktrees import BuiltTrees
from perfsup.store import Store
from perfsup.workspace.command_env import command_env
from perfsup.workspace.executor import Executor
from perfsup.workspace.experiments import ExperimentExecutor
from perfsup.workspace.git import GitWorkspace
from perfsup.workspace.gitclone import clone_or_fetch
from perfsup.workspace.target_env import target_env


def make_engine(
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
) -> Engine:
    """The engine for `config` on `store`; `experiments` runs build, check and bench
    on another engine (Dask, SkyPilot), None runs them here through `executor`."""
    clock = clock or SystemClock()
    rng = random.Random(seed)
    controls = Controls(config.budgets, paths.root / OVERRIDES_NAME)
    say = _reporter(report, controls)
    repo_path = target_repo(config, paths)
    git = GitWorkspace(repo_path, paths.worktrees)
    env = run_command_env(paths, config, repo_path)
    extra_protected = _extra_protected(config, config_path, repo_path)
    # Protected files and other trees checked around every command (integrity.py).
    guarded = IntegrityGuard(executor, GuardView(git, extra_protected, config, controls))
    commands = ControlledExecutor(guarded, controls)
    recorder = Recorder(store, paths, clock, say)
    pacer = Pacer(lambda: controls.budgets, store, clock, report)
    trees = BuiltTrees(
        config=config,
        git=git,
        paths=paths,
        executor=commands,
        env=env,
        build_here=experiments is None,
    )
    measure = Measurer(
        config=config,
        store=store,
        executor=commands,
        env=env,
        rng=rng,
        clock=clock,
        report=say,
        host=platform.node(),
        set_state=controls.set_state,
    )
    # Another engine (Dask, SkyPilot) runs build, check and bench: see remote.py.
    remote = None
    if experiments is not None:
        remote = RemoteExperiments(
            executor=experiments,
            config=config,
            store=store,
            paths=paths,
            repo=repo_path,
            controls=controls,
            clock=clock,
            rng=rng,
            report=say,
            max_requeues=config.executor.max_requeues,
        )
    engine: list[Engine] = []  # the patient backend reports the model's outages to it
    patient = PatientBackend(
        backend,
        clock=clock,
        on_wait=lambda why: engine[0].model_waiting(why),
        on_resume=lambda: engine[0].model_back(),
        before_retry=lambda: pacer.before_call(engine[0].run_id),
        sleep=lambda seconds: controls.sleep_unless_stopped(seconds, clock.sleep),
    )
    proposer = Proposer(
        config=config,
        store=store,
        paths=paths,
        recorder=recorder,
        controls=controls,
        pacer=pacer,
        model=backend,
        backend=patient,
        extra_protected=extra_protected,
        repo_path=repo_path,
        report=say,
    )
    phases = Phases(
        config=config,
        store=store,
        paths=paths,
        git=git,
        executor=commands,
        env=env,
        controls=controls,
        recorder=recorder,
        trees=trees,
        proposer=proposer,
        measure=measure,
        remote=remote,
        model=backend,
        report=say,
    )
    runs = RunLifecycle(
        config=config,
        config_path=config_path,
        repo_path=repo_path,
        store=store,
        paths=paths,
        git=git,
        controls=controls,
        recorder=recorder,
        trees=trees,
        phases=phases,
        report=say,
    )
    parts = EngineParts(
        config=config,
        config_path=config_path,
        store=store,
        paths=paths,
        controls=controls,
        pacer=pacer,
        recorder=recorder,
        trees=trees,
        phases=phases,
        runs=runs,
        git=git,
        model=backend,
        measure=measure,
        remote=remote,
        rng=rng,
        report=say,
    )
    engine.append(Engine(parts))
    return engine[0]


def _reporter(report: Callable[[str], None], controls: Controls) -> Callable[[str], None]:
    """Every progress line is also the engine's current detail for the TUI."""

    def both(line: str) -> None:
        if not proposing_ahead():  # the benchmark's step stays the detail
            controls.set_state(controls.state, line.strip())
        report(line)

    return both


def run_command_env(paths: RunPaths, config: Config, repo: Path) -> dict[str, str]:
    """The environment of build, check and bench commands: the target's own (its venv
    and PATH, target_env.py) first on PATH, else this Python; and the run folder's
    marker, by which a crashed engine's strays are found."""
    env = target_env(config, repo).apply(command_env(paths.root / "bin"))
    env[RUN_DIR_MARKER] = str(paths.root)
    return env


def target_repo(config: Config, paths: RunPaths) -> Path:
    """The target's repository: the folder named, or our cached clone of a git URL."""
    repo = config.target.repo
    if is_git_url(repo):
        return clone_or_fetch(repo, paths.repo_cache)
    return Path(repo)


def _extra_protected(config: Config, config_path: Path | None, repo_path: Path) -> list[str]:
    """The config and the answer script are never the model's to change."""
    found = []
    for path in (config_path, config.model.script):
        if path is None:
            continue
        try:
            found.append(Path(path).resolve().relative_to(repo_path.resolve()).as_posix())
        except ValueError:
            continue
    return found
