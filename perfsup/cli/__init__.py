"""Command-line entry point: argument parsing and wiring of the layers.

Expected failures (a bad config, a store that cannot be opened, an unknown
node) print one line to stderr and exit non-zero; they never show a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfsup import __version__
from perfsup.cli.continuing import ContinueError, add_continue_args, grant_more
from perfsup.cli.morning import HANDLERS as MORNING_HANDLERS
from perfsup.cli.morning import MorningError
from perfsup.cli.tui_commands import HANDLERS as TUI_HANDLERS
from perfsup.cli.tui_commands import (
    TuiCommandError,
    demo_with_tui,
    open_tui_or_stop,
    start_engine_for_tui,
)
from perfsup.cli.tui_launch import engine_state
from perfsup.config import Config, ConfigError, load_config

EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perfsup",
        description="Let a local model make your code faster overnight, with honest benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"perfsup {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-c", "--config", default="perfsup.toml", help="config file (default: ./perfsup.toml)"
        )
        p.add_argument("--run-dir", help="run directory (default: from the config)")

    p = sub.add_parser("init", help="write a perfsup.toml for a repository")
    p.add_argument("path", nargs="?", default=".", help="the repository (default: .)")
    p.add_argument("--force", action="store_true", help="overwrite an existing perfsup.toml")

    p = sub.add_parser("run", help="run the experiment loop on the configured target")
    with_config(p)
    p.add_argument("--headless", action="store_true", help="run in the foreground, plain output")
    p.add_argument("--seed", type=int, default=None, help="seed for the pair order")
    add_continue_args(p)
    # the foreground `perfsup run` passed the preflight before it started this engine
    p.add_argument("--preflight-done", action="store_true", help=argparse.SUPPRESS)

    p = sub.add_parser("check", help="build, check and bench the baseline; check the model")
    with_config(p)

    p = sub.add_parser("status", help="print the experiment tree of a run")
    with_config(p)
    p.add_argument("--run", type=int, default=None, help="only this run")
    p.add_argument("--events", type=int, default=0, help="also show the last N events")

    from perfsup.cli.morning import add_morning_parsers

    add_morning_parsers(sub, with_config)

    from perfsup.cli.ctl import add_ctl_parser

    add_ctl_parser(sub, with_config)
    p = sub.add_parser("stop", help="stop the running engine (same as `perfsup ctl stop`)")
    with_config(p)

    p = sub.add_parser("demo", help="run perfsup on the bundled demo target")
    p.add_argument("--headless", action="store_true", help="plain output, no TUI")
    p.add_argument("--dir", help="folder for the demo (default: a new temporary folder)")
    p.add_argument("--seed", type=int, default=None, help="seed for the pair order")
    p.add_argument("--theme", help="TUI theme (default: the Textual default)")
    p.add_argument("--go", action="store_true", help="the Go demo (needs the go tool)")

    from perfsup.cli.tui_commands import add_attach_parser

    add_attach_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        handler = HANDLERS[args.command]
        return handler(args)
    except ConfigError as exc:
        print(f"perfsup: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (CliError, TuiCommandError, MorningError, ContinueError) as exc:
        print(f"perfsup: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("perfsup: interrupted", file=sys.stderr)
        return 130


def _load(args: argparse.Namespace) -> tuple[Config, Path]:
    path = Path(args.config)
    return load_config(path), path.resolve()


def cmd_init(args: argparse.Namespace) -> int:
    from perfsup.cli.init import InitRefused, init_repo

    repo = Path(args.path).resolve()
    if not repo.is_dir():
        raise CliError(f"{args.path}: no such folder (expected a repository folder)", EXIT_USAGE)
    try:
        init_repo(repo, force=args.force, say=_say)
    except (FileExistsError, InitRefused) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    config, config_path = _load(args)
    grant_more(config, args, _say)
    if args.headless:
        return _run_engine(config, config_path, args.run_dir, args.seed, args.preflight_done)
    return _run_detached(config, config_path, args)


def cmd_check(args: argparse.Namespace) -> int:
    """The preflight alone: exit 0 when a run can start, 2 with one line when not."""
    from perfsup.engine.rundir import run_paths

    config, _ = _load(args)
    paths = run_paths(config, args.run_dir)
    backend = _backend(config, paths.logs)
    try:
        _preflight(config, paths, backend, None)
    finally:
        _close(backend)
    print("preflight passed: `perfsup run` can start")
    return 0


def _preflight(config: Config, paths: Any, backend: Any, store: Any) -> None:
    """The preflight with the run's sandbox; CliError (exit 2) when it fails."""
    from perfsup.cli.check import preflight
    from perfsup.engine.preflight import PreflightFailed
    from perfsup.workspace.executor import LocalExecutor
    from perfsup.workspace.sandbox import SandboxExecutor

    executor = SandboxExecutor(LocalExecutor(), config.sandbox, [paths.root], _say)
    try:
        preflight(config, paths, backend, executor, _say, store)
    except PreflightFailed as exc:
        raise CliError(f"preflight failed: {exc}", EXIT_USAGE) from None


def _close(backend: Any) -> None:
    close = getattr(backend, "close", None)
    if callable(close):  # a llama.cpp child process ends with the run
        close()


def _run_detached(config: Config, config_path: Path, args: argparse.Namespace) -> int:
    """Start the engine in its own session, then follow it until Ctrl-C detaches."""
    from perfsup.cli.detach import follow, pid_alive, start_detached
    from perfsup.engine.lock import lock_holder
    from perfsup.engine.rundir import run_paths

    paths = run_paths(config, args.run_dir)
    holder = lock_holder(paths.root)
    if holder is not None:
        raise CliError(
            f"an engine (pid {holder}) is already running on {paths.root}; "
            "`perfsup attach` follows it, `perfsup stop` stops it"
        )
    backend = _backend(config, paths.logs)
    store = _existing_store(paths)
    try:  # here, so that a run that cannot work fails at this terminal, with exit 2
        _preflight(config, paths, backend, store)
    finally:
        _close(backend)
        if store is not None:
            store.close()
    argv = ["run", "--headless", "-c", str(config_path), "--run-dir", str(paths.root)]
    argv.append("--preflight-done")
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    old_log = paths.root / "engine.log"
    offset = old_log.stat().st_size if old_log.exists() else 0
    if sys.stdout.isatty():
        pid, log = start_engine_for_tui(argv, paths.root)
        print(f"perfsup: engine started in the background (pid {pid}), log {log}", flush=True)
        open_tui_or_stop(pid, paths.root, config, None, Path.cwd(), config_path)
        print(f"perfsup: the engine {engine_state(paths.root, pid)}; `perfsup attach` comes back")
        return 0
    pid, log = start_detached(argv, paths.root)
    print(f"perfsup: engine started in the background (pid {pid}), log {log}", flush=True)
    try:  # no terminal for a TUI: follow the log instead
        follow(log, lambda: pid_alive(pid), offset)
    except KeyboardInterrupt:
        print(f"\nperfsup: detached; the engine keeps running (pid {pid})")
    return 0


def _run_engine(
    config: Config,
    config_path: Path,
    run_dir: str | None,
    seed: int | None,
    preflight_done: bool = False,
) -> int:
    from perfsup.engine.lock import EngineRunning, engine_lock
    from perfsup.engine.rundir import run_paths

    paths = run_paths(config, run_dir)
    try:
        with engine_lock(paths.root):
            return _run_locked(config, config_path, paths, seed, preflight_done)
    except EngineRunning as exc:
        raise CliError(f"{exc}; `perfsup attach` follows it, `perfsup stop` stops it") from None


def _run_locked(
    config: Config, config_path: Path, paths: Any, seed: int | None, preflight_done: bool
) -> int:
    import signal

    from perfsup.engine.factory import make_engine
    from perfsup.store import RunStatus, StoreError, open_store
    from perfsup.workspace.executor import LocalExecutor
    from perfsup.workspace.logcap import MIB
    from perfsup.workspace.sandbox import SandboxExecutor

    try:
        store = open_store(paths.store)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    from perfsup.cli.executors import ExecutorUnavailable, experiment_executor

    try:
        experiments = experiment_executor(config)
    except ExecutorUnavailable as exc:
        raise CliError(str(exc)) from None
    backend = _backend(config, paths.logs)
    if not preflight_done:
        try:  # before any model call: a run that cannot work stops here, exit 2
            _preflight(config, paths, backend, store)
        except CliError:
            store.close()
            _close(backend)
            if experiments is not None:
                experiments.close()
            raise
    engine = make_engine(
        config=config,
        store=store,
        paths=paths,
        backend=backend,
        executor=SandboxExecutor(
            LocalExecutor(config.run.max_log_mb * MIB), config.sandbox, [paths.root], _say
        ),
        seed=seed,
        config_path=config_path,
        report=_say,
        experiments=experiments,
    )
    # The engine outlives its terminal: a hang-up is ignored (output that
    # cannot be written is dropped) and SIGTERM stops it like `perfsup stop`.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: engine.controls.stop("stopped by SIGTERM"))
    try:
        outcome = engine.run()
    finally:
        store.close()
        if experiments is not None:
            experiments.close()
        _close(backend)
    _say(f"store: {paths.store}")
    return 1 if outcome.status == RunStatus.FAILED else 0


def _say(line: str) -> None:
    """Print a progress line; a closed terminal must not stop the engine."""
    with contextlib.suppress(OSError):
        print(line, flush=True)


def cmd_ctl(args: argparse.Namespace) -> int:
    from perfsup.cli.ctl import CtlError, command_args, send

    config, _ = _load(args)
    kind = "stop" if args.command == "stop" else args.kind
    try:
        payload = command_args(args) if args.command == "ctl" else {}
    except CtlError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    _require_engine(config, args.run_dir)
    store = _open_existing_store(config, args.run_dir)
    try:
        command = send(store, kind, payload)
    except CtlError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    if command.status == "applied":
        print(f"{kind}: {command.result}")
        return 0
    print(f"perfsup: {kind} refused: {command.result}", file=sys.stderr)
    return 1


def _require_engine(config: Config, run_dir: str | None) -> int:
    from perfsup.engine.lock import lock_holder
    from perfsup.engine.rundir import run_paths

    root = run_paths(config, run_dir).root
    pid = lock_holder(root)
    if pid is None:
        raise CliError(f"no engine is running on {root} (start one with `perfsup run`)")
    return pid


def _backend(config: Config, log_dir: Path | None = None):  # type: ignore[no-untyped-def]
    from perfsup.agent.factory import BackendError, make_backend

    try:
        return make_backend(config, log_dir)
    except BackendError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def _existing_store(paths: Any):  # type: ignore[no-untyped-def]
    """The run's store when one exists (its baseline is the one to check), else None."""
    from perfsup.store import StoreError, open_store

    if not paths.store.exists():
        return None
    try:
        return open_store(paths.store)
    except StoreError as exc:
        raise CliError(str(exc)) from None


def _open_existing_store(config: Config, run_dir: str | None):  # type: ignore[no-untyped-def]
    from perfsup.engine.rundir import run_paths
    from perfsup.store import StoreError, open_store

    paths = run_paths(config, run_dir)
    if not paths.store.exists():
        raise CliError(f"no run store at {paths.store} (start one with `perfsup run`)")
    try:
        return open_store(paths.store)
    except StoreError as exc:
        raise CliError(str(exc)) from None


def cmd_status(args: argparse.Namespace) -> int:
    from perfsup.cli.status import render_store

    config, _ = _load(args)
    store = _open_existing_store(config, args.run_dir)
    try:
        with store.session() as session:
            print(render_store(session, config.primary_metric.name, args.run, args.events))
            print(_engine_status(session, config, args.run_dir))
    finally:
        store.close()
    from perfsup.engine.rundir import run_paths

    # Where to `tail -f metrics.csv` or read a node's logs while it runs.
    print(f"run folder: {run_paths(config, args.run_dir).root} (metrics.csv, logs/)")
    return 0


def _engine_status(session: Any, config: Config, run_dir: str | None) -> str:
    from sqlmodel import col, select

    from perfsup.cli.status import engine_line
    from perfsup.engine.lock import lock_holder
    from perfsup.engine.rundir import run_paths
    from perfsup.store import Run
    from perfsup.workspace.sandbox import detect_isolation

    run = session.exec(select(Run).order_by(col(Run.id).desc())).first()
    if run is None:
        return "engine: not running"
    sandbox = detect_isolation(config.sandbox).description
    return "\n" + engine_line(run, lock_holder(run_paths(config, run_dir).root), sandbox)


def cmd_demo(args: argparse.Namespace) -> int:
    from perfsup.cli.status import render_store
    from perfsup.demo import GoMissing, prepare_demo
    from perfsup.engine.rundir import RunPaths
    from perfsup.store import open_store

    base = Path(args.dir).resolve() if args.dir else Path(tempfile.mkdtemp(prefix="perfsup-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        repo = prepare_demo(base, go=args.go)
    except (FileExistsError, GoMissing) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    config_path = repo / "perfsup.toml"
    if not args.headless:
        return demo_with_tui(base, config_path, args.seed, args.theme)
    config = load_config(config_path)
    run_dir = base / "run"
    print(f"demo repository: {repo}\nrun directory:   {run_dir}\n")
    _run_engine(config, config_path, str(run_dir), args.seed)
    store = open_store(RunPaths(run_dir).store)
    try:
        with store.session() as session:
            print()
            print(render_store(session, config.primary_metric.name))
    finally:
        store.close()
    print(
        "\nTry:\n"
        f"  perfsup status -c {config_path} --run-dir {run_dir}\n"
        f"  perfsup export --best -c {config_path} --run-dir {run_dir} -o speedup.patch\n"
        f"  perfsup report -c {config_path} --run-dir {run_dir} -o {base / 'report.md'}\n"
        f"  perfsup log --jsonl -c {config_path} --run-dir {run_dir}"
    )
    return 0


HANDLERS = {
    "init": cmd_init,
    "run": cmd_run,
    "check": cmd_check,
    "status": cmd_status,
    **MORNING_HANDLERS,
    "demo": cmd_demo,
    "ctl": cmd_ctl,
    "stop": cmd_ctl,
    **TUI_HANDLERS,
}
