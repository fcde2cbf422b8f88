"""A disk that fills up during a step pauses the run; it never ends the engine.

The free-space guard (`guards.py`) pauses before the disk is full, but a
step can fill it between two looks: a check that writes a huge file, another
program on the same disk. Then the log writer gets ENOSPC, or SQLite says
"database or disk is full", in the middle of an experiment. The engine
treats both like the guard's pause, with the same message:

- the experiment in flight is ended `interrupted` (a half-run step proves
  nothing) and its worktree removed, which often frees the space it took;
- the run pauses and says why; a person frees space and resumes;
- SQLite rolls back the write that failed, so nothing already stored is
  lost; what cannot be written while the disk is full (the event, the
  node's end) is written again after the resume.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlmodel import col, select

from perfsup.config import Config
from perfsup.engine.controls import Controls
from perfsup.engine.guards import low_space_message
from perfsup.engine.rundir import RunPaths
from perfsup.store import EngineState, EventKind, Node, NodeStatus, Store
from perfsup.store.models import IN_FLIGHT, utcnow
from perfsup.store.transitions import move
from perfsup.store.tree import record_event
from perfsup.workspace.git import GitWorkspace

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL_TEXT = "database or disk is full"
_CHAIN_DEPTH = 16  # enough for any real chain; a cycle cannot keep us here


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the disk or the store is full."""
    seen: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno in _FULL_ERRNOS:
            return True
        if isinstance(seen, sqlite3.Error) and (
            getattr(seen, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL
            or _SQLITE_FULL_TEXT in str(seen)
        ):
            return True
        orig = getattr(seen, "orig", None)  # SQLAlchemy wraps the driver's error
        if isinstance(orig, BaseException) and is_disk_full(orig):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def full_disk_message(root: Path, min_free_mb: int) -> str:
    """The free-space guard's message, for a disk that is full now."""
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        free = 0
    return low_space_message(root, free, min_free_mb)


class _Engine(Protocol):
    """What of the engine riding out a full disk needs."""

    config: Config
    store: Store
    paths: RunPaths
    controls: Controls
    git: GitWorkspace
    report: Callable[[str], None]


def ride_out_full_disk(engine: _Engine, run_id: int) -> None:
    """Pause the run for a full disk; return once a person resumed it (or stops the
    run) and what the full disk kept from being stored is stored."""
    recorded = False
    while True:
        message = full_disk_message(engine.paths.root, engine.config.run.min_free_mb)
        engine.controls.pause()
        engine.controls.set_state(EngineState.PAUSED, f"paused: {message}")
        engine.report(f"paused: {message}")
        recorded = recorded or _try_record(engine, run_id, message)
        if engine.controls.safe_point() is not None:  # waits for the resume (or a stop)
            return  # stopping: a restart settles what is left in flight
        recorded = recorded or _try_record(engine, run_id, message)
        if recorded:
            return


def unstored_stop_reason(engine: _Engine) -> str:
    """Why the run ended, when it stopped before the disk had room to store that."""
    why = engine.controls.stop_reason or "stopped"
    message = full_disk_message(engine.paths.root, engine.config.run.min_free_mb)
    return (
        f"{why}; the disk was still full ({message}), so the end of the run is not "
        "stored: the next start settles the experiments left in flight"
    )


def _try_record(engine: _Engine, run_id: int, message: str) -> bool:
    """`_record`, or False when the disk is still too full for the store."""
    try:
        _record(engine, run_id, message)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        engine.report("the store cannot be written while the disk is full; trying after resume")
        return False
    return True


def _record(engine: _Engine, run_id: int, message: str) -> None:
    """End the experiments in flight `interrupted` and note the pause in the store.

    Their half-made worktrees go first: they often hold what filled the disk
    (reading the store needs no space), so the writes after them can succeed.
    """
    reason = f"the disk filled up during this experiment: {message}"
    with engine.store.session() as s:
        in_flight = list(
            s.exec(
                select(Node.id).where(
                    Node.run_id == run_id,
                    col(Node.status).in_(list(IN_FLIGHT)),
                    col(Node.parent_id).is_not(None),
                )
            ).all()
        )
    for node_id in in_flight:
        worktree = engine.paths.worktrees / node_id
        if worktree.exists():
            engine.git.remove_worktree(worktree)
    with engine.store.session() as s:
        for node_id in in_flight:
            node = s.get(Node, node_id)
            if node is None or NodeStatus(node.status) not in IN_FLIGHT:
                continue
            move(
                s,
                node,
                NodeStatus.INTERRUPTED,
                expected=NodeStatus(node.status),
                reason=reason,
                finished_at=utcnow(),
            )
            record_event(s, EventKind.NODE_INTERRUPTED, reason, run_id=run_id, node_id=node_id)
        record_event(s, EventKind.PAUSED, message, run_id=run_id)
    for node_id in in_flight:
        engine.report(f"{node_id:<10} INTERRUPTED: {reason}")
