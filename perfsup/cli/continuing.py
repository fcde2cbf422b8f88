"""`perfsup run --continue`: a run that ended goes on with more budget.

Before the engine starts, the newest run's experiment and token budgets are
raised to what it used plus what is granted (`engine/continuation.py`); the
engine then resumes that run as it resumes any run. The TUI's `c` starts the
same command, detached.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from perfsup.config import Config


class ContinueError(Exception):
    """A one-line reason the run cannot be continued (exit status `code`)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_continue_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--continue",
        dest="continue_run",
        action="store_true",
        help="go on with the newest run after it ended, with more budget",
    )
    p.add_argument(
        "--more-experiments",
        type=int,
        default=None,
        metavar="N",
        help="with --continue: experiments granted (default: budgets.max_experiments)",
    )
    p.add_argument(
        "--more-tokens",
        type=int,
        default=None,
        metavar="N",
        help="with --continue: tokens granted (default: budgets.max_tokens)",
    )


def grant_more(config: Config, args: argparse.Namespace, say: Callable[[str], None]) -> None:
    """With --continue, raise the newest run's budgets and say what it may now spend."""
    from perfsup.engine.continuation import ContinueRefused, continue_run
    from perfsup.engine.lock import lock_holder
    from perfsup.engine.rundir import run_paths
    from perfsup.store import StoreError, open_store

    if not args.continue_run:
        if args.more_experiments is not None or args.more_tokens is not None:
            raise ContinueError("--more-experiments and --more-tokens go with --continue", 2)
        return
    paths = run_paths(config, args.run_dir)
    holder = lock_holder(paths.root)
    if holder is not None:
        raise ContinueError(
            f"an engine (pid {holder}) is running on {paths.root}; give it more budget "
            "with `perfsup ctl budgets max_experiments=N`"
        )
    if not paths.store.exists():
        raise ContinueError(f"no run store at {paths.store}: nothing to continue", 2)
    budgets = config.budgets
    more_experiments = (
        budgets.max_experiments if args.more_experiments is None else args.more_experiments
    )
    more_tokens = budgets.max_tokens if args.more_tokens is None else args.more_tokens
    try:
        store = open_store(paths.store)
    except StoreError as exc:
        raise ContinueError(str(exc)) from None
    try:
        say(continue_run(store, paths, config, more_experiments, more_tokens))
    except ContinueRefused as exc:
        raise ContinueError(str(exc), 2) from None
    finally:
        store.close()


def continue_in_background(config_path: Path, run_dir: Path) -> Callable[[int, int], str]:
    """The TUI's starter: `perfsup run --continue` detached on `run_dir`."""
    from perfsup.cli.detach import start_detached

    def start(more_experiments: int, more_tokens: int) -> str:
        argv = [
            "run", "--headless", "--continue", "-c", str(config_path), "--run-dir", str(run_dir),
            "--more-experiments", str(more_experiments), "--more-tokens", str(more_tokens),
        ]  # fmt: skip
        pid, log = start_detached(argv, run_dir)
        return f"engine started (pid {pid}), its output in {log}; the run goes on here"

    return start
