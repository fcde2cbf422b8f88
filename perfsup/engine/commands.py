"""Apply people's commands to a running engine, within a fraction of a second.

A small thread polls the commands table (SQLite WAL lets it read and write
while the loop writes too), applies each pending command to the shared
`Controls` or to the store, and settles it `applied` or `rejected` with a
reason. Every command leaves an event with actor "human". The same thread
keeps the run's engine state and heartbeat fresh for the TUI.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from perfsup.config import Budgets
from perfsup.engine.controls import Controls
from perfsup.engine.unprune import cut_short_reason, pruned_reason, undo_prune
from perfsup.store import Node, NodeStatus, Run, Store
from perfsup.store.commands import any_pending, command_args, pending_commands, settle_command
from perfsup.store.models import (
    IN_FLIGHT,
    Command,
    CommandKind,
    EngineState,
    EventKind,
    utcnow,
)
from perfsup.store.transitions import LostTransition, move, new_node
from perfsup.store.tree import record_event

POLL_S = 0.2
HEARTBEAT_S = 1.0


class Refused(Exception):
    """A command that cannot be applied; the message says why."""


class CommandWatcher:
    """The thread that drains the commands table into `Controls`."""

    def __init__(
        self,
        store: Store,
        controls: Controls,
        *,
        config_text: Callable[[], str] = lambda: "",
        report: Callable[[str], None] = print,
    ) -> None:
        self.store = store
        self.controls = controls
        self.config_text = config_text
        self.report = report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_beat = utcnow() - timedelta(hours=1)
        self._last_state: tuple[str, str] = ("", "")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="perfsup-commands", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.tick()  # commands that arrived at the very end, and the final state
        except Exception as exc:  # a full disk, say: the engine still ends cleanly
            self.report(f"commands: {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.tick()
            except Exception as exc:  # the watcher must outlive a bad moment of the store
                self.report(f"commands: {type(exc).__name__}: {exc}")

    def tick(self) -> None:
        """Apply every pending command, then refresh the engine state on the run."""
        if any_pending(self.store.engine):
            with self.store.session() as s:
                for command in pending_commands(s):
                    self._handle(s, command)
        self._beat()

    # ------------------------------------------------------------ commands
    def _handle(self, s: Session, command: Command) -> None:
        run_id = self.controls.run_id
        try:
            kind = CommandKind(command.kind)
            result = self.apply(s, kind, command_args(command))
        except (Refused, ValueError) as exc:
            settle_command(command, applied=False, result=str(exc))
            record_event(
                s,
                EventKind.of_command(command.kind),
                f"refused: {exc}",
                run_id=run_id,
                actor="human",
            )
            self.report(f"command {command.kind} refused: {exc}")
            return
        settle_command(command, applied=True, result=result)
        record_event(s, EventKind.of_command(kind), result, run_id=run_id, actor="human")
        self.report(f"command {kind.value}: {result}")
        s.flush()

    def apply(self, s: Session, kind: CommandKind, args: dict[str, Any]) -> str:
        """Apply one command; the text says what happened. Raises Refused."""
        c = self.controls
        if kind is CommandKind.PAUSE:
            if c.paused:
                raise Refused("the engine is already paused")
            c.pause()
            return "paused: the command in flight stopped and runs again on resume"
        if kind is CommandKind.RESUME:
            if not c.paused:
                raise Refused("the engine is not paused")
            c.resume()
            return "resumed"
        if kind is CommandKind.ABORT:
            if c.current_node is None:
                raise Refused("no experiment is running")
            current = c.current_node
            c.abort(NodeStatus.CANCELLED, "aborted by a person")
            return f"aborted experiment {current}"
        if kind is CommandKind.STOP:
            c.stop("stopped by a person")
            return "stopping: the experiment in flight is cancelled"
        if kind is CommandKind.PRUNE:
            return self._prune(s, _node(s, args))
        if kind is CommandKind.UNPRUNE:
            return undo_prune(s, str(args.get("node") or "") or None)
        if kind is CommandKind.PRIORITY:
            node = _node(s, args)
            if node.parent_id is None:
                raise Refused(
                    f"{node.id} is the baseline of run {node.run_id}: every experiment is "
                    "measured against it, so its priority stays; raise or lower a node below it"
                )
            try:
                priority = int(args.get("priority"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise Refused(f"priority {args.get('priority')!r} is not a whole number") from None
            node.priority = priority
            s.add(node)
            return f"priority of {node.id} set to {priority}"
        if kind is CommandKind.PROMOTE:
            return self._promote(s, _node(s, args))
        if kind is CommandKind.STEER:
            return self._steer(s, args)
        if kind is CommandKind.BUDGETS:
            return self._budgets(args)
        raise Refused(f"unknown command {kind}")  # pragma: no cover - enum is exhaustive

    def _prune(self, s: Session, node: Node) -> str:
        if node.parent_id is None:
            raise Refused(f"{node.id} is the root of run {node.run_id}; use stop to end a run")
        if node.status == NodeStatus.PRUNED:
            raise Refused(f"{node.id} is already pruned")
        prefix = node.id + "."
        reason = cut_short_reason(node.id)
        current = self.controls.current_node
        if current is not None and (current == node.id or current.startswith(prefix)):
            self.controls.abort(NodeStatus.PRUNED, reason)
        ahead = self.controls.proposing  # proposed while `current` benchmarks
        if ahead is not None and (ahead == node.id or ahead.startswith(prefix)):
            self.controls.abort_proposal(NodeStatus.PRUNED, reason)
        others = s.exec(
            select(Node).where(
                col(Node.id).startswith(prefix), col(Node.status) == NodeStatus.QUEUED
            )
        ).all()
        for other in others:
            try:
                move(
                    s,
                    other,
                    NodeStatus.PRUNED,
                    expected=NodeStatus.QUEUED,
                    reason=reason,
                    finished_at=utcnow(),
                )
            except LostTransition:  # it started meanwhile: the abort above reaches it
                continue
        if node.id != current and NodeStatus(node.status) not in IN_FLIGHT:
            try:
                move(
                    s,
                    node,
                    NodeStatus.PRUNED,
                    expected=node.status,
                    reason=pruned_reason(node.status, node.reason),
                    finished_at=node.finished_at or utcnow(),
                )
            except LostTransition as exc:
                raise Refused(f"{exc}; try again") from None
        return f"pruned {node.id}: no new experiments below it"

    def _promote(self, s: Session, node: Node) -> str:
        if node.status != NodeStatus.KEPT or node.commit_sha is None:
            raise Refused(f"only a kept node can be promoted; {node.id} is {node.status}")
        if self.controls.promoted_run is not None:
            raise Refused(f"run {self.controls.promoted_run} is already starting")
        newest = s.exec(select(Run).order_by(col(Run.id).desc())).first()
        old = s.get(Run, node.run_id)
        assert newest is not None and old is not None
        run_id = newest.id + 1
        state, detail = self._state()
        # The newest run is the one the TUI and `perfsup status` show: until the
        # engine moves to it, it carries the engine's state (see _beat), so a
        # paused engine shows paused and `p` resumes it.
        s.add(
            Run(
                id=run_id,
                goal=old.goal,
                config_toml=self.config_text() or old.config_toml,
                repo_path=old.repo_path,
                baseline_commit=node.commit_sha,
                root_node_id=str(run_id),
                from_node_id=node.id,
                engine_state=state,
                engine_detail=detail,
                engine_pid=os.getpid(),
                heartbeat_at=utcnow(),
            )
        )
        s.flush()
        s.add(
            new_node(
                id=str(run_id),
                run_id=run_id,
                description=f"promoted from {node.id}",
                commit_sha=node.commit_sha,
            )
        )
        record_event(
            s,
            EventKind.RUN_STARTED,
            f"run {run_id} started from {node.id}",
            run_id=run_id,
            actor="human",
        )
        self.controls.promoted_run = run_id
        when = "on resume" if self.controls.paused else "after the experiment in flight"
        return f"run {run_id} starts from {node.id} {when}"

    def _steer(self, s: Session, args: dict[str, Any]) -> str:
        goal = str(args.get("goal") or "").strip()
        hint = str(args.get("hint") or "").strip()
        if not goal and not hint:
            raise Refused("steer needs a goal or a hint")
        said = []
        if goal:
            run = s.get(Run, self.controls.run_id) if self.controls.run_id else None
            if run is None:
                raise Refused("no run is open yet")
            run.goal = goal
            s.add(run)
            said.append(f"goal is now: {goal}")
        if hint:
            self.controls.add_hint(hint)
            said.append(f"hint added: {hint}")
        return "; ".join(said) + " (from the next proposal on)"

    def _budgets(self, args: dict[str, Any]) -> str:
        if not args:
            raise Refused("budgets needs at least one key=value")
        current = self.controls.budgets
        try:
            budgets = Budgets.model_validate({**current.model_dump(), **args})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "budgets"
            raise Refused(f"budgets.{where}: {first['msg']}") from None
        self.controls.set_budgets(budgets, args)
        return "budgets: " + ", ".join(f"{k} = {getattr(budgets, k)}" for k in args)

    # ----------------------------------------------------------- heartbeat
    def _state(self) -> tuple[str, str]:
        c = self.controls
        paused = c.paused and c.state == EngineState.RUNNING
        return (EngineState.PAUSED if paused else c.state, c.detail)

    def _beat(self) -> None:
        c = self.controls
        if c.run_id is None:
            return
        state = self._state()
        now = utcnow()
        if state == self._last_state and now - self._last_beat < timedelta(seconds=HEARTBEAT_S):
            return
        promoted = c.promoted_run
        with self.store.session() as s:
            for run_id in (c.run_id, promoted):
                run = s.get(Run, run_id) if run_id is not None else None
                if run is None:
                    continue
                run.engine_state, run.engine_detail = state
                if run_id == promoted:  # waiting for the engine to finish the run before
                    waits = "on resume" if c.paused else "after the experiment in flight"
                    run.engine_detail = f"starts {waits} (run {c.run_id} ends first)"
                run.engine_pid = os.getpid()
                run.heartbeat_at = now
        self._last_state = state
        self._last_beat = now


def _node(s: Session, args: dict[str, Any]) -> Node:
    node_id = str(args.get("node") or "")
    if not node_id:
        raise Refused("this command needs a node id")
    node = s.get(Node, node_id)
    if node is None:
        raise Refused(f"no node {node_id}")
    return node


def read_text(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
