"""The TUI's controls: every key that acts on the run queues a command row
(or refuses on a finished run); export, full log, filters and help.

`PerfsupApp` (app.py) inherits these; the attributes below are its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from perfsup.config import Config
from perfsup.store.models import CommandKind
from perfsup.tui.keys import KEYS, key_for
from perfsup.tui.panes import NodePanes
from perfsup.tui.screens import FullLogScreen, HelpScreen, SteerScreen
from perfsup.tui.service import RunService, StatusInfo, TreeFilter
from perfsup.tui.tree import RunTree

FILTERS = (TreeFilter.ALL, TreeFilter.KEPT, TreeFilter.FAILED)


class ControlActions(App[None]):
    """The person's side of the app: commands to the engine and views."""

    config: Config | None
    keymap: dict[str, str]
    export_dir: Path
    service: RunService | None
    status_info: StatusInfo | None
    pending: dict[int, str]  # command id -> what the person asked for
    run_tree: RunTree
    node_panes: NodePanes

    def _status(self, problem: str | None = None) -> None:
        """Redraw the status line (the app's own)."""

    def send(self, kind: CommandKind, label: str, args: dict[str, Any] | None = None) -> int | None:
        """Queue a command unless the run is finished; the outcome arrives as a notification."""
        if self.service is None or self.status_info is None:
            self.notify(f"{label}: not connected to a run yet", severity="warning")
            return None
        if self.status_info.read_only:
            self.notify(
                f"run {self.status_info.run_id} is {self.status_info.run_status}: read-only",
                title=f"{label}: refused",
                severity="warning",
            )
            return None
        command_id = self.service.send(kind, args)
        self.pending[command_id] = label
        self.notify("waiting for the engine", title=f"{label}: requested", timeout=2)
        self._status()
        return command_id

    def _selected(self, label: str) -> str | None:
        node_id = self.run_tree.selected_id()
        if node_id is None:
            self.notify("select a node first", title=label, severity="warning")
        return node_id

    def action_pause_resume(self) -> None:
        info = self.status_info
        paused = info is not None and "paused" in (info.engine_state, info.run_status)
        if paused:
            self.send(CommandKind.RESUME, "resume")
        else:
            self.send(CommandKind.PAUSE, "pause")

    def action_abort(self) -> None:
        self.send(CommandKind.ABORT, "abort")

    def action_stop_engine(self) -> None:
        self.send(CommandKind.STOP, "stop")

    def action_prune(self) -> None:
        node_id = self._selected("prune")
        if node_id is not None:
            self.send(CommandKind.PRUNE, f"prune {node_id}", {"node": node_id})

    def action_promote(self) -> None:
        node_id = self._selected("promote")
        if node_id is not None:
            self.send(CommandKind.PROMOTE, f"promote {node_id}", {"node": node_id})

    def action_priority(self, delta: int) -> None:
        tree = self.run_tree
        node_id = self._selected("priority")
        if node_id is None:
            return
        priority = tree.rows[node_id].priority + delta
        self.send(
            CommandKind.PRIORITY,
            f"priority {node_id} {priority:+d}",
            {"node": node_id, "priority": priority},
        )

    def action_steer(self) -> None:
        goal = self.config.target.goal if self.config else ""

        def sent(args: dict[str, str] | None) -> None:
            if args:
                self.send(CommandKind.STEER, "steer", args)

        self.push_screen(SteerScreen(goal), sent)

    def action_export(self) -> None:
        node_id = self._selected("export")
        if node_id is not None:
            self.export(node_id)

    @work(thread=True, exclusive=True, group="export", name="export")
    def export(self, node_id: str) -> None:
        assert self.service is not None
        dest = self.export_dir / f"perfsup-{node_id}.patch"
        try:
            message = self.service.export_patch(node_id, dest)
        except (ValueError, OSError) as exc:
            self.call_from_thread(self.notify, str(exc), title="export refused", severity="error")
            return
        self.call_from_thread(self.notify, message, title="export")

    def action_full_log(self) -> None:
        panes = self.node_panes
        path = panes.active_log()
        if path is None and panes.detail is not None:
            path = panes.detail.logs.get("agent")
        if path is None or not path.exists():
            self.notify("no log for this step yet", title="full log", severity="warning")
            return
        self.push_screen(FullLogScreen(path))

    def action_cycle_filter(self) -> None:
        tree = self.run_tree
        tree.filter = FILTERS[(FILTERS.index(tree.filter) + 1) % len(FILTERS)]
        tree.reload()
        self.notify(f"showing {tree.filter.value} nodes", title="filter", timeout=2)

    def action_cycle_run(self) -> None:
        if self.service is None:
            return
        tree = self.run_tree
        choices: list[int | None] = [None, *self.service.run_ids()]
        tree.run_id = choices[(choices.index(tree.run_id) + 1) % len(choices)]
        tree.reload()
        shown = "all runs" if tree.run_id is None else f"run {tree.run_id}"
        self.notify(f"showing {shown}", title="filter", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.keymap))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key in KEYS:
            if key.palette:
                yield SystemCommand(
                    key.description,
                    f"key: {key_for(key.id, self.keymap)}",
                    partial(self.run_action, key.action),
                )
