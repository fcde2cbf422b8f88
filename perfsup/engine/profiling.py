"""Profile a parent node once: Go escape analysis, the top functions of a
cProfile of the Python benchmark and of a pprof CPU profile of the Go
benchmarks, stored as JSON artifacts (kind "profile") of that node for the
context builder. A profile that cannot be made is an event,
never a failed experiment: profiles are hints, not measurements.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from sqlmodel import col, select

from perfsup.config import Config
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.profiles.escape import EscapeNote, parse_escape
from perfsup.metrics.profiles.gopprof import (
    PPROF_DIR,
    TRACES_FILE,
    go_hot_functions,
    module_path,
    pprof_command,
)
from perfsup.metrics.profiles.pyprofile import (
    PROFILE_FILE,
    HotFunction,
    cprofile_command,
    top_functions,
)
from perfsup.store import Artifact, Node, Store
from perfsup.store.models import EventKind
from perfsup.store.tree import record_event
from perfsup.workspace.executor import Executor


def profile_parent(
    *,
    config: Config,
    store: Store,
    executor: Executor,
    env: dict[str, str],
    node: Node,
    workdir: Path,
    out_dir: Path,
) -> None:
    """Make the configured profiles of `node` unless it already has them."""
    if not profile_due(config, store, node.id):
        return
    settings = config.profile
    out_dir.mkdir(parents=True, exist_ok=True)
    if settings.go_escape is not None:
        log = out_dir / "go_escape.log"
        result = executor.run(
            f"go build -gcflags=-m {settings.go_escape}", workdir, log, settings.timeout_s, env=env
        )
        notes = parse_escape(_read(log)) if result.exit_code == 0 else []
        if result.exit_code != 0:
            _event(store, node, f"go escape analysis failed (status {result.exit_code})")
        else:
            data = [{**asdict(n), "to_heap": n.to_heap} for n in notes]
            _save(store, node, "go_escape", out_dir / "go_escape.json", data)
            _perf_tab(store, node, out_dir, _escape_text(notes, settings.go_escape))
    if settings.python_script is not None:
        log = out_dir / "cprofile.log"
        command = cprofile_command(settings.python_script)
        result = executor.run(command, workdir, log, settings.timeout_s, env=env)
        try:
            if result.exit_code != 0:
                raise MetricParseError(f"the profiled run exited with status {result.exit_code}")
            hot = top_functions(workdir / PROFILE_FILE, settings.top, root=workdir)
        except MetricParseError as exc:
            _event(store, node, f"cProfile of {settings.python_script} failed: {exc}")
        else:
            _save(store, node, "cprofile", out_dir / "cprofile.json", [asdict(h) for h in hot])
            title = f"cProfile of {settings.python_script}: top functions by own time"
            _perf_tab(store, node, out_dir, _hot_text(title, hot))
        (workdir / PROFILE_FILE).unlink(missing_ok=True)
    if settings.go_pprof is not None:
        _go_pprof(config, store, executor, env, node, workdir, out_dir)


def _go_pprof(
    config: Config,
    store: Store,
    executor: Executor,
    env: dict[str, str],
    node: Node,
    workdir: Path,
    out_dir: Path,
) -> None:
    """The Go benchmarks under pprof: the worktree's hot functions, like cProfile's."""
    settings = config.profile
    packages = settings.go_pprof
    log = out_dir / "go_pprof.log"
    command = pprof_command(str(packages), settings.go_benchtime)
    result = executor.run(command, workdir, log, settings.timeout_s, env=env)
    folder = workdir / PPROF_DIR
    try:
        if result.exit_code != 0:
            last = _read(log).strip().splitlines()[-1:] or ["no output"]
            raise MetricParseError(f"exited with status {result.exit_code}: {last[0][:200]}")
        traces = folder / TRACES_FILE
        if folder.is_symlink() or traces.is_symlink():  # written where the benchmarks ran
            raise MetricParseError(f"{PPROF_DIR}/{TRACES_FILE} is a link, not the traces")
        module = module_path(_read(workdir / "go.mod"))
        hot = go_hot_functions(_read(traces), workdir, module, settings.top)
    except MetricParseError as exc:
        _event(store, node, f"Go CPU profile of {packages} failed: {exc}")
    else:
        _save(store, node, "go_pprof", out_dir / "go_pprof.json", [asdict(h) for h in hot])
        kept = [p for p in sorted(folder.glob("*.pprof")) if p.is_file() and not p.is_symlink()]
        for index, path in enumerate(kept, 1):  # for `go tool pprof` by a person
            shutil.copyfile(
                path, out_dir / ("cpu.pprof" if len(kept) == 1 else f"cpu-{index}.pprof")
            )
        title = f"Go CPU profile (go test -bench . {packages}): worktree functions by own time"
        _perf_tab(store, node, out_dir, _hot_text(title, hot))
    if folder.is_symlink():
        folder.unlink()
    else:
        shutil.rmtree(folder, ignore_errors=True)


def _hot_text(title: str, hot: list[HotFunction]) -> str:
    """What the Perf tab shows of a profile's top functions."""
    lines = [title, ""]
    lines += [
        f"{h.self_s * 1000:9.1f} ms own {h.cumulative_s * 1000:9.1f} ms total "
        + (f"{h.calls:>8} calls  " if h.calls else "")
        + f"{h.function} ({h.file}:{h.line})"
        for h in hot
    ]
    return "\n".join(lines) + "\n"


def profile_due(config: Config, store: Store, node_id: str) -> bool:
    """Whether `profile_parent` would run commands for `node_id` (none stored yet)."""
    settings = config.profile
    if settings.python_script is None and settings.go_escape is None and settings.go_pprof is None:
        return False
    with store.session() as s:
        done = s.exec(
            select(Artifact.id).where(Artifact.node_id == node_id, Artifact.kind == "profile")
        ).first()
    return done is None


def _escape_text(notes: list[EscapeNote], packages: str) -> str:
    """What the Perf tab shows of an escape analysis: heap moves first, then the rest."""
    heap = [n for n in notes if n.to_heap]
    lines = [f"Go escape analysis (go build -gcflags=-m {packages}): {len(heap)} to the heap", ""]
    lines += [f"{n.file}:{n.line}: {n.message}" for n in heap]
    others = [n for n in notes if not n.to_heap]
    if others:
        lines += ["", "Other notes:"] + [f"{n.file}:{n.line}: {n.message}" for n in others]
    return "\n".join(lines) + "\n"


def _perf_tab(store: Store, node: Node, out_dir: Path, text: str) -> None:
    """Append `text` to the node's perf log: the TUI's Perf tab shows it."""
    path = out_dir / "perf.log"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text + "\n")
    with store.session() as s:
        known = s.exec(
            select(Artifact.id).where(
                Artifact.node_id == node.id, Artifact.kind == "log", Artifact.step == "perf"
            )
        ).first()
        if known is None:
            s.add(Artifact(node_id=node.id, kind="log", step="perf", path=str(path)))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _save(store: Store, node: Node, step: str, path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    with store.session() as s:
        s.add(Artifact(node_id=node.id, kind="profile", step=step, path=str(path)))
        record_event(
            s,
            EventKind.PROFILE,
            f"{step} profile of {node.id}",
            run_id=node.run_id,
            node_id=node.id,
        )


def _event(store: Store, node: Node, message: str) -> None:
    with store.session() as s:
        record_event(s, EventKind.PROFILE_FAILED, message, run_id=node.run_id, node_id=node.id)


HOT_FUNCTION_STEPS = ("cprofile", "go_pprof")  # profiles stored as `HotFunction` rows


def parent_profile(store: Store, node_id: str) -> list[dict[str, object]]:
    """The top functions (cProfile, Go pprof) stored for `node_id` (empty when none)."""
    with store.session() as s:
        artifacts = s.exec(
            select(Artifact).where(
                Artifact.node_id == node_id,
                Artifact.kind == "profile",
                col(Artifact.step).in_(HOT_FUNCTION_STEPS),
            )
        ).all()
    found: list[dict[str, object]] = []
    for artifact in artifacts:
        try:
            rows = json.loads(Path(artifact.path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a profile is a hint: a lost file only means no hint
        if isinstance(rows, list):
            found += [r for r in rows if isinstance(r, dict)]
    return found
