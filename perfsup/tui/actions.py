"""The TUI's controls: every key that acts on the run queues a command row
(or refuses on a finished run); export, full log, filters and help.

`PerfsupApp` (app.py) inherits these; the attributes below are its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from perfsup.config import Config
from perfsup.engine.rundir import RunPaths
from perfsup.store.models import CommandKind
from perfsup.tui.continuing import ContinueRun
from perfsup.tui.dialogs import ConfirmScreen
from perfsup.tui.keys import KEYS, human_key, key_for
from perfsup.tui.panes import NodePanes
from perfsup.tui.screens import FullLogScreen, HelpScreen, SteerScreen
from perfsup.tui.service import RunService, StatusInfo, TreeFilter
from perfsup.tui.tree import RunTree

FILTERS = (TreeFilter.ALL, TreeFilter.KEPT, TreeFilter.FAILED)


class ControlActions(ContinueRun):
    """The person's side of the app: commands to the engine and views."""

    config: Config | None
    paths: RunPaths
    keymap: dict[str, str]
    export_dir: Path
    service: RunService | None
    status_info: StatusInfo | None
    pending: dict[int, str]  # command id -> what the person asked for
    run_tree: RunTree
    node_panes: NodePanes

    def _status(self, problem: str | None = None) -> None:
        """Redraw the status line (the app's own)."""

    def writable(self, label: str) -> bool:
        """The run takes commands; if not, say why (not connected, or finished)."""
        if self.service is None or self.status_info is None:
            self.notify(f"{label}: not connected to a run yet", severity="warning")
            return False
        if self.status_info.read_only:
            self.notify(
                f"run {self.status_info.run_id} is {self.status_info.run_status}: read-only "
                f"(`{human_key(key_for('continue', self.keymap))}` continues it with more budget)",
                title=f"{label}: refused",
                severity="warning",
            )
            return False
        return True

    def send(self, kind: CommandKind, label: str, args: dict[str, Any] | None = None) -> int | None:
        """Queue a command unless the run is finished; the outcome arrives as a notification."""
        if not self.writable(label) or self.service is None:
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
        info = self.status_info
        flying = f" ({info.current})" if info is not None and info.current else ""
        self.confirm(
            "stop",
            "Stop the run now?",
            f"The experiment in flight{flying} is cancelled at once and the run ends "
            f"(stopped). `{human_key(key_for('continue', self.keymap))}` here or "
            "`perfsup run --continue` goes on with it later.",
            lambda: self.send(CommandKind.STOP, "stop"),
        )

    def action_prune(self) -> None:
        node_id = self._selected("prune")
        if node_id is None:
            return
        self.confirm(
            "prune",
            f"Prune {node_id}?",
            f"No new experiments grow below {node_id}; one running inside it is cancelled. "
            f"`{human_key(key_for('undo_prune', self.keymap))}` undoes the last prune.",
            lambda: self.send(CommandKind.PRUNE, f"prune {node_id}", {"node": node_id}),
        )

    def action_undo_prune(self) -> None:
        self.send(CommandKind.UNPRUNE, "undo prune")

    def confirm(self, key_id: str, title: str, text: str, then: Callable[[], object]) -> None:
        """Ask first; `y` (or the same key again) does it, any other key does not."""
        if not self.writable(key_id):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                then()
            else:
                self.notify("nothing was sent", title=f"{key_id}: cancelled", timeout=2)

        self.push_screen(ConfirmScreen(title, text, {key_for(key_id, self.keymap)}), answered)

    def action_promote(self) -> None:
        node_id = self._selected("promote")
        if node_id is not None:
            self.send(CommandKind.PROMOTE, f"promote {node_id}", {"node": node_id})

    def action_priority(self, delta: int) -> None:
        tree = self.run_tree
        node_id = self._selected("priority")
        if node_id is None:
            return
        row = tree.rows[node_id]
        if row.parent_id is None:
            self.notify(
                f"{node_id} is the baseline: every experiment is measured against it, "
                "so its priority stays; raise or lower a node below it",
                title="priority: refused",
                severity="warning",
            )
            return
        priority = row.priority + delta
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

    def get_key_display(self, binding: Binding) -> str:
        return human_key(binding.key)  # `?` and `+`, not question_mark and plus

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Screenshots go to the run folder (there is not always a Downloads folder)."""
        if path is None:
            folder = self.paths.root / "screenshots"
            folder.mkdir(parents=True, exist_ok=True)
            path = str(folder)
        return super().deliver_screenshot(filename, path, time_format)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key in KEYS:
            if key.palette:
                yield SystemCommand(
                    key.description,
                    f"key: {key_for(key.id, self.keymap)}",
                    partial(self.run_action, key.action),
                )
