"""Shared fixtures: real git repositories in temporary folders."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def perfsup(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `perfsup` command line in a child process, with no stdin."""
    import sys

    return subprocess.run(
        [sys.executable, "-m", "perfsup", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )


def git(repo: Path, *args: str) -> str:
    import os

    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


def make_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository at `path` with `files` committed on branch main."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "baseline")
    return path


@pytest.fixture
def small_repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "repo",
        {"src/app.py": "def f():\n    return 1\n", "bench.py": "print('METRIC t=1')\n"},
    )


VALID_CONFIG = """
[target]
repo = "repo"
goal = "make f faster"

[build]
run = "true"

[bench]
run = "python bench.py"
timeout_s = 30

[[metrics]]
name = "t"
direction = "lower"

[access]
writable = ["src"]
protected = ["bench.py"]

[model]
backend = "scripted"
script = "answers.toml"
"""


@pytest.fixture(scope="session")
def python_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real `perfsup demo --headless` run of the Python target, shared by the
    slow tests that read it (tests that change its repository undo what they did)."""
    base = tmp_path_factory.mktemp("demo")
    done = perfsup("demo", "--headless", "--dir", str(base), "--seed", "7")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return base


def build_engine(
    config_path: Path,
    run_dir: Path,
    *,
    store: Any = None,
    backend: Any = None,
    seed: int = 1,
    report: Any = None,
    **extra: Any,
) -> Any:
    """The engine as `perfsup run` builds it, on the local executor: the config's
    scripted answers unless `backend` is given, a store in `run_dir` unless `store`
    is; `extra` goes to `make_engine` as is (clock, experiments...)."""
    from perfsup.agent.scripted import ScriptedBackend
    from perfsup.config import load_config
    from perfsup.engine.factory import make_engine
    from perfsup.engine.rundir import RunPaths
    from perfsup.store import open_store
    from perfsup.workspace.executor import LocalExecutor

    config = load_config(config_path)
    paths = RunPaths(run_dir)
    return make_engine(
        config=config,
        store=store if store is not None else open_store(paths.store),
        paths=paths,
        backend=backend
        if backend is not None
        else ScriptedBackend(Path(config.model.script or "")),
        executor=LocalExecutor(),
        seed=seed,
        config_path=config_path,
        report=report if report is not None else (lambda _line: None),
        **extra,
    )


def bench_sh_config(
    *,
    goal: str = "make work() faster",
    repo: str = "repo",
    pairs: int = 3,
    bench: str = "",
    model: str = "",
    tables: str = "",
) -> str:
    """The perfsup.toml of the usual test target: `bash bench.sh` prints METRIC t,
    `src/` is writable, `bench.sh` protected, answers come from answers.toml.

    `bench` and `model` are extra lines for those tables (a TOML table cannot be
    reopened later); `tables` is appended as is ([budgets], [decision]...)."""
    return (
        f'[target]\nrepo = "{repo}"\ngoal = "{goal}"\n'
        f'[bench]\nrun = "bash bench.sh"\npairs = {pairs}\nwarmup = 0\n{bench}\n'
        '[[metrics]]\nname = "t"\n'
        '[access]\nwritable = ["src"]\nprotected = ["bench.sh"]\n'
        f'[model]\nbackend = "scripted"\nscript = "answers.toml"\n{model}\n'
        f"{textwrap.dedent(tables)}"
    )
