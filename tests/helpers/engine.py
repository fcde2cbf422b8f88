"""Test targets: the engine as `perfsup run` builds it, and the usual configs."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

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
    is; `extra` goes to `make_engine` as is (clock, experiments, executor: by default the
    local one, its logs capped at run.max_log_mb as `perfsup run` does)."""
    from perfsup.agent.scripted import ScriptedBackend
    from perfsup.config import load_config
    from perfsup.engine.factory import make_engine
    from perfsup.engine.rundir import RunPaths
    from perfsup.store import open_store
    from perfsup.workspace.executor import LocalExecutor

    config = load_config(config_path)
    executor = extra.pop("executor", None) or LocalExecutor(config.run.max_log_mb * 1024 * 1024)
    paths = RunPaths(run_dir)
    return make_engine(
        config=config,
        store=store if store is not None else open_store(paths.store),
        paths=paths,
        backend=backend
        if backend is not None
        else ScriptedBackend(Path(config.model.script or "")),
        executor=executor,
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
