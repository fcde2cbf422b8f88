"""`perfsup attach` and the interactive `perfsup demo`: open the TUI on a run.

The TUI only reads the store and queues commands; the engine is another
process (started detached here for the demo), so quitting the TUI never
stops the run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from perfsup.cli.tui_launch import (
    TuiUnavailable,
    check_tui_can_start,
    engine_state,
    stop_engine,
)
from perfsup.config import Config, ConfigError, load_config
from perfsup.config.load import parse_config

EXIT_USAGE = 2


class TuiCommandError(Exception):
    """A one-line failure the CLI prints (status `code`)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_attach_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`perfsup attach` and `perfsup serve` (the TUI in a browser, cli/serve.py)."""
    from perfsup.cli.serve import add_serve_parser

    p = sub.add_parser("attach", help="open the TUI on a running or finished run")
    p.add_argument(
        "-c", "--config", default="perfsup.toml", help="config file (default: ./perfsup.toml)"
    )
    p.add_argument("--run-dir", help="run directory (default: from the config)")
    p.add_argument("--theme", help="TUI theme (default: [tui] theme in the config)")
    add_serve_parser(sub)


def cmd_attach(args: argparse.Namespace) -> int:
    from perfsup.engine.rundir import RunPaths, run_paths

    config_path = Path(args.config)
    config: Config | None = None
    if config_path.is_file() or not args.run_dir:
        config = load_config(config_path)
    paths = run_paths(config, args.run_dir) if config else RunPaths(Path(args.run_dir).resolve())
    if not paths.store.exists():
        raise TuiCommandError(f"no run store at {paths.store} (start one with `perfsup run`)")
    if config is None:
        config = config_from_store(paths.store)
    config_file = config_path.resolve() if config_path.is_file() else None
    open_tui(paths.root, config, args.theme, Path.cwd(), config_file)
    return 0


def config_from_store(store_path: Path) -> Config | None:
    """The config the newest run was started with, when it can still be read here."""
    from sqlmodel import col, select

    from perfsup.store import Run, open_store

    store = open_store(store_path)
    try:
        with store.session() as s:
            run = s.exec(select(Run).order_by(col(Run.id).desc())).first()
    finally:
        store.close()
    if run is None or not run.config_toml:
        return None
    try:
        return parse_config(run.config_toml, Path(run.repo_path) / "perfsup.toml")
    except ConfigError:
        return None  # moved or edited since: the TUI still works, with fewer details


def open_tui(
    run_dir: Path,
    config: Config | None,
    theme: str | None,
    export_dir: Path,
    config_path: Path | None = None,
) -> None:
    from perfsup.cli.continuing import continue_in_background
    from perfsup.tui.app import create_app

    starter = continue_in_background(config_path, run_dir) if config_path else None
    try:
        app = create_app(
            None, run_dir, config, theme=theme, export_dir=export_dir, continue_starter=starter
        )
    except ValueError as exc:  # a bad theme or key in [tui]
        raise TuiCommandError(str(exc), EXIT_USAGE) from None
    app.run()


def demo_with_tui(base: Path, config_path: Path, seed: int | None, theme: str | None) -> int:
    config = load_config(config_path)
    run_dir = base / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    argv = ["run", "--headless", "-c", str(config_path), "--run-dir", str(run_dir)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    pid, log = start_engine_for_tui(argv, run_dir)
    (base / "engine.pid").write_text(f"{pid}\n")
    open_tui_or_stop(pid, run_dir, config, theme, base, config_path)
    print(
        f"The demo engine {engine_state(run_dir, pid)}; its output is in {log}.\n"
        f"  perfsup attach -c {config_path} --run-dir {run_dir}\n"
        f"  perfsup status -c {config_path} --run-dir {run_dir}"
    )
    return 0


def start_engine_for_tui(argv: list[str], run_dir: Path) -> tuple[int, Path]:
    """Start a detached engine, but only once the TUI that follows it can open."""
    from perfsup.cli.detach import start_detached

    try:
        check_tui_can_start()
    except TuiUnavailable as exc:
        raise TuiCommandError(f"{exc}; no engine was started", exc.code) from None
    return start_detached(argv, run_dir)


def open_tui_or_stop(
    pid: int,
    run_dir: Path,
    config: Config | None,
    theme: str | None,
    export_dir: Path,
    config_path: Path | None = None,
) -> None:
    """Open the TUI on the engine `pid`; if the TUI fails, stop that engine and say so."""
    try:
        open_tui(run_dir, config, theme, export_dir, config_path)
    except Exception as exc:
        stopped = stop_engine(pid)
        state = "was stopped" if stopped else f"did not stop; `kill {pid}` ends it"
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TuiCommandError(
            f"the TUI failed ({message}); the engine it started (pid {pid}) {state}"
        ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from perfsup.cli.serve import ServeError
    from perfsup.cli.serve import cmd_serve as serve

    try:
        return serve(args)
    except ServeError as exc:
        raise TuiCommandError(str(exc), exc.code) from None


HANDLERS = {"attach": cmd_attach, "serve": cmd_serve}
