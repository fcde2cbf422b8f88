"""The morning-after commands: export, minimize, report and log.

Each reads the run store (minimize also measures, so it takes the engine's
lock: no engine may run on the same run directory meanwhile). Failures are
one line on stderr, as everywhere in the CLI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfsup.config import Config, load_config

EXIT_USAGE = 2


class MorningError(Exception):
    """A one-line failure the CLI prints (status `code`)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_morning_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    with_config: Callable[[argparse.ArgumentParser], None],
) -> None:
    p = sub.add_parser(
        "export", help="write the patch series (or one squashed patch, or a branch) for a node"
    )
    with_config(p)
    p.add_argument("node", nargs="?", help="node id, for example 1.3.2 (or --best)")
    p.add_argument("--best", action="store_true", help="the best kept node of the run")
    p.add_argument("--run", type=int, default=None, help="with --best: this run (default: newest)")
    p.add_argument("--squash", action="store_true", help="one patch against the baseline")
    p.add_argument("--branch", help="create this branch in the repository instead of a file")
    p.add_argument("-o", "--output", help="patch file (default: stdout); with --split a folder")
    p.add_argument(
        "--split",
        action="store_true",
        help="one patch per group of changes touching the same files, each applying alone "
        "to the baseline (-o names the folder)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="export a node that is not kept (or on a path through one); every message says so",
    )

    p = sub.add_parser(
        "minimize", help="find the smallest set of changes on the path to a node that keeps its win"
    )
    with_config(p)
    p.add_argument("node", help="node id, for example 1.3.2")
    p.add_argument("--seed", type=int, default=None, help="seed for the pair order")

    p = sub.add_parser("report", help="write the morning report of a run (markdown or HTML)")
    with_config(p)
    p.add_argument("run", nargs="?", type=int, default=None, help="run number (default: newest)")
    p.add_argument("--html", action="store_true", help="one self-contained HTML page")
    p.add_argument("-o", "--output", help="report file (default: perfsup-report-<run>.md/.html)")

    p = sub.add_parser("log", help="write the experiments as JSON lines or the metrics CSV")
    with_config(p)
    p.add_argument("run", nargs="?", type=int, default=None, help="run number (default: newest)")
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument("--jsonl", action="store_true", help="autoresearch JSON lines")
    kind.add_argument("--csv", action="store_true", help="the metrics CSV (seed convention)")
    p.add_argument("-o", "--output", help="file (default: stdout)")


# ------------------------------------------------------------------ helpers
def _config(args: argparse.Namespace) -> Config:
    return load_config(Path(args.config))


def _open(config: Config, run_dir: str | None) -> Any:
    from perfsup.engine.rundir import run_paths
    from perfsup.store import StoreError, open_store

    paths = run_paths(config, run_dir)
    if not paths.store.exists():
        raise MorningError(f"no run store at {paths.store} (start one with `perfsup run`)")
    try:
        return open_store(paths.store)
    except StoreError as exc:
        raise MorningError(str(exc)) from None


def _run_id(store: Any, wanted: int | None) -> int:
    from sqlmodel import col, select

    from perfsup.store import Run

    with store.session() as s:
        if wanted is not None:
            if s.get(Run, wanted) is None:
                raise MorningError(f"no run {wanted} in {store.path}")
            return wanted
        run = s.exec(select(Run).order_by(col(Run.id).desc())).first()
    if run is None:
        raise MorningError(f"the store {store.path} has no run yet")
    return int(run.id)


def _check_node_id(node_id: str) -> None:
    from perfsup.store.tree import is_valid_id

    if not is_valid_id(node_id):
        raise MorningError(
            f"{node_id!r} is not a node id (expected numbers with dots, like 1.3.2)", EXIT_USAGE
        )


def _write(text: str, output: str | None, what: str) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}: {what}")
    else:
        sys.stdout.write(text)


# ----------------------------------------------------------------- commands
def cmd_export(args: argparse.Namespace) -> int:
    from perfsup.engine.rundir import run_paths
    from perfsup.results.export import ExportError, best_node, export_node

    if bool(args.node) == bool(args.best):
        raise MorningError("export needs a node id or --best (not both)", EXIT_USAGE)
    if args.branch and args.output:
        raise MorningError("--branch creates a branch; it writes no file (drop -o)", EXIT_USAGE)
    if args.split and (args.squash or args.branch or not args.output):
        raise MorningError(
            "--split writes one patch per part into a folder: it needs -o FOLDER and "
            "neither --squash nor --branch",
            EXIT_USAGE,
        )
    config = _config(args)
    store = _open(config, args.run_dir)
    try:
        if args.best:
            run_id = _run_id(store, args.run)
            with store.session() as s:
                best = best_node(s, run_id, list(config.metrics))
            if best is None:
                raise MorningError(f"run {run_id} has no kept change to export")
            node_id = best.id
        else:
            _check_node_id(args.node)
            node_id = args.node
        if args.split:
            return _export_split(store, run_paths(config, args.run_dir).worktrees, node_id, args)
        try:
            done = export_node(
                store,
                run_paths(config, args.run_dir).worktrees,
                node_id,
                squash=args.squash,
                branch=args.branch,
                direction=config.primary_metric.direction,
                force=args.force,
            )
        except ExportError as exc:
            raise MorningError(str(exc)) from None
    finally:
        store.close()
    for text in done.not_kept:  # --force: said on stderr, and in every message
        print(f"perfsup: warning: {text}; exported because of --force", file=sys.stderr)
    what = "one squashed commit" if args.squash else f"{done.commits} commit(s)"
    if done.not_kept:
        what += f" ({len(done.not_kept)} not kept)"
    if done.branch is not None:
        print(f"created branch {done.branch} at {done.tip[:12]}: {what} up to {done.node_id}")
        return 0
    assert done.patch is not None
    _write(done.patch, args.output, f"{what} from the baseline to {done.node_id}")
    return 0


def _export_split(store: Any, worktrees: Path, node_id: str, args: argparse.Namespace) -> int:
    from perfsup.results.export import ExportError
    from perfsup.results.export_split import export_split

    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise MorningError(f"--split -o {folder}: a file; expected a folder", EXIT_USAGE)
    try:
        done = export_split(store, worktrees, node_id, force=args.force)
    except ExportError as exc:
        raise MorningError(str(exc)) from None
    for text in done.not_kept:
        print(f"perfsup: warning: {text}; exported because of --force", file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    for part in done.parts:
        path = folder / f"perfsup-{done.node_id}-part{part.number}.patch"
        path.write_text(part.patch, encoding="utf-8")
        print(f"wrote {path}: {', '.join(part.node_ids)} ({', '.join(part.files)})")
    if done.unchanged:
        print(f"no file changed by {', '.join(done.unchanged)}: nothing to write for them")
    print(
        f"{len(done.parts)} independent part(s) up to {done.node_id}; each applies alone to "
        "the baseline"
    )
    return 0


def cmd_minimize(args: argparse.Namespace) -> int:
    from perfsup.engine.lock import EngineRunning, engine_lock
    from perfsup.engine.rundir import run_paths
    from perfsup.results.minimize import AlreadyMinimal, MinimizeError, minimize

    _check_node_id(args.node)
    config = _config(args)
    paths = run_paths(config, args.run_dir)
    store = _open(config, args.run_dir)
    try:
        with engine_lock(paths.root):
            result = minimize(
                config=config,
                store=store,
                paths=paths,
                node_id=args.node,
                seed=args.seed,
                report=lambda line: print(line, flush=True),
            )
    except EngineRunning as exc:
        raise MorningError(f"{exc}; minimize measures, so stop the engine first") from None
    except AlreadyMinimal as exc:  # already as small as it gets: say so, succeed
        print(exc)
        return 0
    except MinimizeError as exc:
        raise MorningError(str(exc)) from None
    finally:
        store.close()
    print(result.summary)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from perfsup.engine.rundir import run_paths
    from perfsup.results.report import write_report

    html = _report_is_html(args.output, args.html)
    config = _config(args)
    store = _open(config, args.run_dir)
    try:
        run_id = _run_id(store, args.run)
        suffix = ".html" if html else ".md"
        output = Path(args.output or f"perfsup-report-{run_id}{suffix}")
        written = write_report(
            store,
            run_id,
            output,
            html=html,
            paths=run_paths(config, args.run_dir),
            fallback=config,
        )
    finally:
        store.close()
    print(f"wrote {output}" + (f" and {written.chart}" if written.chart else ""))
    return 0


def _report_is_html(output: str | None, html_flag: bool) -> bool:
    """HTML for --html or an .html/.htm name; a Markdown name with --html is refused."""
    suffix = Path(output).suffix.lower() if output else ""
    if html_flag and suffix in (".md", ".markdown"):
        raise MorningError(
            f"report --html -o {output}: an HTML page in a Markdown file name; "
            "expected a name ending in .html (or drop --html for Markdown)",
            EXIT_USAGE,
        )
    return html_flag or suffix in (".html", ".htm")


def cmd_log(args: argparse.Namespace) -> int:
    from perfsup.results.logs import csv_text, jsonl_text

    config = _config(args)
    store = _open(config, args.run_dir)
    try:
        run_id = _run_id(store, args.run)
        write = jsonl_text if args.jsonl else csv_text
        text = write(store, run_id, config)
    finally:
        store.close()
    _write(text, args.output, f"run {run_id}, {'JSON lines' if args.jsonl else 'metrics CSV'}")
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "export": cmd_export,
    "minimize": cmd_minimize,
    "report": cmd_report,
    "log": cmd_log,
}
