"""Profile a parent node once: Go escape analysis and the top functions of a
cProfile of the Python benchmark, stored as JSON artifacts (kind "profile") of
that node for the context builder. A profile that cannot be made is an event,
never a failed experiment: profiles are hints, not measurements.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from sqlmodel import select

from perfsup.config import Config
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.profiles.escape import EscapeNote, parse_escape
from perfsup.metrics.profiles.pyprofile import PROFILE_FILE, cprofile_command, top_functions
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
            lines = [f"cProfile of {settings.python_script}: top functions by own time", ""]
            lines += [
                f"{h.self_s * 1000:9.1f} ms own {h.cumulative_s * 1000:9.1f} ms total "
                f"{h.calls:>8} calls  {h.function} ({h.file}:{h.line})"
                for h in hot
            ]
            _perf_tab(store, node, out_dir, "\n".join(lines) + "\n")
        (workdir / PROFILE_FILE).unlink(missing_ok=True)


def profile_due(config: Config, store: Store, node_id: str) -> bool:
    """Whether `profile_parent` would run commands for `node_id` (none stored yet)."""
    settings = config.profile
    if settings.python_script is None and settings.go_escape is None:
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


def parent_profile(store: Store, node_id: str) -> list[dict[str, object]]:
    """The cProfile top functions stored for `node_id` (empty when there are none)."""
    with store.session() as s:
        artifact = s.exec(
            select(Artifact).where(
                Artifact.node_id == node_id, Artifact.kind == "profile", Artifact.step == "cprofile"
            )
        ).first()
    if artifact is None:
        return []
    try:
        rows = json.loads(Path(artifact.path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # a profile is a hint: a lost file only means no hint
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
