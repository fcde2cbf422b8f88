"""The perfsup TUI: attach to a run through its store and its log files.

The app never runs the loop. It reads the store on steady timers, tails the
selected node's logs (woken by watchfiles, flushed at a fixed rate into
bounded panes), and acts on the run only by queueing command rows that the
engine applies or refuses; the outcome comes back as a notification.
"""

from __future__ import annotations

import gc
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.theme import BUILTIN_THEMES
from textual.timer import Timer
from textual.widgets import Footer, Header, Static, Tree
from textual.worker import Worker, WorkerState

from perfsup.config import Config
from perfsup.config.model import TuiSettings
from perfsup.engine.rundir import RunPaths
from perfsup.store.models import CommandStatus, NodeStatus
from perfsup.tui.actions import ControlActions
from perfsup.tui.chart import MetricChart
from perfsup.tui.continuing import ContinueStarter
from perfsup.tui.gcpace import IdleCollector
from perfsup.tui.keys import bindings, check_keymap
from perfsup.tui.notices import NOTIFIED_KINDS, event_notice
from perfsup.tui.panes import NodePanes
from perfsup.tui.service import (
    Chart,
    CommandOutcome,
    EventRow,
    NodeDetail,
    NodeRow,
    RunService,
    StatusInfo,
    is_store_ready,
)
from perfsup.tui.strips import fix_strip_cycles
from perfsup.tui.themes import ThemeError, bundled_themes
from perfsup.tui.tree import RunTree

__all__ = ["NOTIFIED_KINDS", "PerfsupApp", "create_app"]

FLUSH_S = 0.05  # log panes take new lines 20 times a second, however fast they come
REFRESH_S = 1.0  # tree, status line, chart, command outcomes and events
GC_TICK_S = 0.25  # how often the idle collector looks whether a full pass is due
POLL_EVERY = 20  # without a watch event, still look at the files once a second
STALE_HEARTBEAT_S = 30.0


@dataclass(frozen=True)
class Snapshot:
    """One read of the store, made in a worker thread and applied on the UI thread."""

    status: StatusInfo
    rows: dict[str, NodeRow]
    roots: list[NodeRow]
    detail: NodeDetail | None
    chart: Chart
    outcomes: list[CommandOutcome]
    events: list[EventRow]


class PerfsupApp(ControlActions):
    TITLE = "perfsup"
    BINDINGS: ClassVar[list[BindingType]] = bindings()  # type: ignore[assignment]
    CSS = """
    #main { height: 1fr; }
    RunTree { width: 45%; border: round $primary; }
    #right { width: 1fr; }
    NodePanes { height: 1fr; }
    NodePanes TabbedContent { height: 1fr; }
    NodePanes TabPane { height: 1fr; padding: 0; }
    MetricChart { height: 12; }
    #status { height: 2; background: $panel; padding: 0 1; }
    #diff-header { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(
        self,
        *,
        paths: RunPaths,
        store_path: Path,
        config: Config | None,
        theme_name: str | None,
        keymap: dict[str, str],
        export_dir: Path,
        now: Callable[[], datetime] | None = None,
        continue_starter: ContinueStarter | None = None,
    ) -> None:
        super().__init__()
        self.continue_starter = continue_starter
        fix_strip_cycles()  # see strips.py: each painted line was a reference cycle
        self.gc_pace = IdleCollector()
        self.paths = paths
        self.store_path = store_path
        self.config = config
        self.keymap = keymap
        self.export_dir = export_dir
        self.now = now
        self.service: RunService | None = None
        self.status_info: StatusInfo | None = None
        self.pending: dict[int, str] = {}  # command id -> what the person asked for
        self.last_event = 0
        self.flood_lines = 0
        self.notices: deque[str] = deque(maxlen=200)  # every notification shown, newest last
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._tick = 0
        self._select_timer: Timer | None = None
        self._connect_timer: Timer | None = None
        self._reading = False  # a store read is in flight
        self._status_shown = ""
        for theme in bundled_themes():
            self.register_theme(theme)
        if theme_name:
            self.theme = theme_name
        self.sub_title = folder_title(paths.root)

    # ------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield RunTree(None, id="tree")
            with Vertical(id="right"):
                yield NodePanes(id="panes")
                yield MetricChart(self.config.metrics[0].name if self.config else None, id="chart")
        yield Static("connecting to the run...", id="status")
        yield Footer()

    def on_mount(self) -> None:
        # Kept, because timers fire while another screen (help, full log) is on top.
        self.run_tree = self.query_one(RunTree)
        self.node_panes = self.query_one(NodePanes)
        self.metric_chart = self.query_one(MetricChart)
        self.status_line = self.query_one("#status", Static)
        if self.keymap:
            self.set_keymap(self.keymap)
        self.run_tree.focus()
        gc.freeze()  # see _connect
        if not self._connect():
            self._status(f"waiting for the engine to create the store {self.store_path}")
            self._connect_timer = self.set_interval(0.5, self._connect)
        self.set_interval(FLUSH_S, self._flush_logs)
        self.set_interval(REFRESH_S, self._refresh)
        self.gc_pace.start()  # full collections wait for a pause in the keys (gcpace.py)
        self.set_interval(GC_TICK_S, self.gc_pace.tick)
        self.watch_logs()

    def on_unmount(self) -> None:
        self.gc_pace.stop()
        gc.unfreeze()  # what the app froze can be collected again once it is gone
        self._stop.set()
        if self.service is not None:
            self.service.close()

    def _connect(self) -> bool:
        if self.service is not None:
            return True
        if not is_store_ready(self.store_path):
            return False
        self.service = RunService.open(self.paths.root, self.config, self.store_path)
        if self.now is not None:
            self.service.now = self.now
        if self._connect_timer is not None:
            self._connect_timer.stop()
        self.last_event = self.service.last_event_id()  # notify only what happens from now
        tree = self.run_tree
        tree.service = self.service
        tree.reload()
        self._refresh()
        # Everything made so far (Textual, SQLAlchemy, Pygments, the store's mappers)
        # lives as long as the app. Left in the collector's oldest generation, each
        # full collection walks all of it: 150-250 ms pauses, a frozen screen every
        # few seconds while the cursor moves. Frozen, they are never walked again.
        gc.freeze()
        return True

    # ------------------------------------------------------- live updates
    @work(thread=True, exclusive=True, group="watch", name="log watcher")
    def watch_logs(self) -> None:
        """Wake the flush timer when a log file changes (watchfiles, in a thread)."""
        from watchfiles import watch

        logs = self.paths.logs
        while not logs.is_dir():
            if self._stop.wait(0.5):
                return
        for _ in watch(
            logs, stop_event=self._stop, debounce=50, step=20, rust_timeout=500,
            yield_on_timeout=True, raise_interrupt=False,
        ):  # fmt: skip
            self._dirty.set()

    def _flush_logs(self) -> None:
        self._tick += 1
        if not self._dirty.is_set() and self._tick % POLL_EVERY:
            return
        self._dirty.clear()
        self.flood_lines += self.node_panes.flush()
        if self.node_panes.behind():
            self._dirty.set()

    def _refresh(self) -> None:
        """Read the store off the UI thread; the UI only applies the result."""
        if self.service is None or self._reading:
            return
        self._reading = True
        shown = self.node_panes.detail
        follow = None  # the panes follow a node only while it is still changing
        if (
            shown is not None
            and shown.row.id == self.run_tree.selected_id()
            and not NodeStatus(shown.row.status).finished
        ):
            follow = shown.row.id
        self.read_store(
            list(self.run_tree.tree_nodes),
            follow,
            list(self.pending),
            self.last_event,
            self.run_tree.run_id,
        )

    @work(thread=True, group="refresh", name="store reader")
    def read_store(
        self,
        ids: list[str],
        follow: str | None,
        pending: list[int],
        last_event: int,
        run_filter: int | None,
    ) -> None:
        service = self.service
        assert service is not None
        try:
            status = service.status()
            snapshot = Snapshot(
                status=status,
                rows=service.rows(ids),
                roots=service.roots(run_filter),
                detail=service.detail(follow) if follow else None,
                chart=service.chart(status.run_id),
                outcomes=service.outcomes(pending),
                events=service.events_after(last_event),
            )
        except Exception as exc:  # a busy or locked store: say so, try again next tick
            self.call_from_thread(self._store_problem, exc)
            return
        self.call_from_thread(self._apply, snapshot)

    def _store_problem(self, exc: Exception) -> None:
        self._reading = False
        self._status(f"cannot read the store: {exc}")

    def _apply(self, snapshot: Snapshot) -> None:
        self._reading = False
        self.status_info = snapshot.status
        self.run_tree.add_roots(snapshot.roots)  # a run that started after we attached
        self.run_tree.apply_rows(snapshot.rows)
        if snapshot.detail is not None and snapshot.detail.row.id == self.run_tree.selected_id():
            self.node_panes.show(snapshot.detail)
        self.metric_chart.show(snapshot.chart)
        self._settle_commands(snapshot.outcomes)
        self._notify_events(snapshot.events)
        self._status()

    def _refresh_detail(self) -> None:
        if self.service is None:
            return
        node_id = self.run_tree.selected_id()
        if node_id is None:
            self.node_panes.show(None)
        else:
            self.read_detail(node_id)

    @work(thread=True, exclusive=True, group="detail", name="node reader")
    def read_detail(self, node_id: str) -> None:
        """The selected node's detail, read off the UI thread (the cursor stays instant)."""
        assert self.service is not None
        detail = self.service.detail(node_id)
        self.call_from_thread(self._show_detail, node_id, detail)

    def _show_detail(self, node_id: str, detail: NodeDetail | None) -> None:
        if node_id == self.run_tree.selected_id():  # the cursor may have moved on meanwhile
            self.node_panes.show(detail)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        # Moving fast through the tree must stay instant: load the panes once it rests.
        if self._select_timer is not None:
            self._select_timer.stop()
        self._select_timer = self.set_timer(0.05, self._refresh_detail)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) or (
            isinstance(event, events.MouseEvent) and not isinstance(event, events.MouseMove)
        ):
            self.gc_pace.input()
        await super().on_event(event)

    # -------------------------------------------------------- status line
    def _status(self, problem: str | None = None) -> None:
        text = problem or self.status_text()
        if text != self._status_shown:
            # Two fixed lines (CSS): redraw in place; a layout pass costs the whole screen.
            self._status_shown = text
            self.status_line.update(text, layout=False)

    def status_text(self) -> str:
        info = self.status_info
        if info is None or info.run_id is None:
            return "waiting for the engine to open the run"
        if info.read_only:
            sub_title = f"{folder_title(self.paths.root)} (read-only)"
            if self.sub_title != sub_title:
                self.sub_title = sub_title
            why = f": {info.stop_reason}" if info.stop_reason else ""
            first = f"run {info.run_id} {info.run_status}{why} · read-only"
        else:
            if self.sub_title.endswith("(read-only)"):  # a continued run: writable again
                self.sub_title = folder_title(self.paths.root)
            state = info.engine_state
            if state == "stopped" and info.run_status in ("running", "paused"):
                state = info.run_status  # an engine that does not report its state yet
            first = f"run {info.run_id} · engine {state}"
            if info.engine_detail:
                first += f": {info.engine_detail}"
            if info.heartbeat_age_s is not None and info.heartbeat_age_s > STALE_HEARTBEAT_S:
                first += f" · no heartbeat for {info.heartbeat_age_s:.0f} s"
            if info.current:
                first += f" · step {info.current}"
            requested = [label for label in self.pending.values()]
            if requested:
                first += " · " + ", ".join(f"{label} requested" for label in requested)
        tokens = f"tokens {info.tokens_used:,}" + (
            f" of {info.max_tokens:,}" if info.max_tokens else ""
        )
        experiments = f"experiments {info.experiments}" + (
            f" of {info.max_experiments}" if info.max_experiments else ""
        )
        second = f"{tokens} · {experiments} · {info.per_hour:.1f}/h"
        if info.ends:
            second += f" · ends: {info.ends}"
        if info.sandbox:
            second += f" · sandbox: {info.sandbox}"
        return f"{first}\n{second}"

    # ------------------------------------------------------ notifications
    def _notify_events(self, events: list[EventRow]) -> None:
        for event in events:
            self.last_event = max(self.last_event, event.id)
            text = event_notice(event)
            if text is not None:
                self.notify(text[1], title=text[0], severity=text[2])

    def _settle_commands(self, outcomes: list[CommandOutcome]) -> None:
        for outcome in outcomes:
            label = self.pending.pop(outcome.id, outcome.kind)
            if outcome.status == CommandStatus.APPLIED:
                self.notify(outcome.result or "done", title=f"{label}: applied")
            else:
                self.notify(
                    outcome.result or "no reason given",
                    title=f"{label}: refused",
                    severity="error",
                )

    def notify(self, message: str, *, title: str = "", **kwargs: Any) -> None:
        self.notices.append(f"{title}: {message}" if title else message)
        super().notify(message, title=title, **kwargs)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed background job is reported."""
        if event.state == WorkerState.ERROR:
            if event.worker.group == "refresh":
                self._reading = False
            self.notify(f"{event.worker.name}: {event.worker.error}", severity="error")


def folder_title(folder: Path) -> str:
    """The run folder for the header, the home folder written `~` (shorter, and not personal)."""
    home = Path.home()
    return f"~/{folder.relative_to(home)}" if folder.is_relative_to(home) else str(folder)


def create_app(
    store_path: Path | None,
    run_dir: Path,
    config: Config | None = None,
    *,
    theme: str | None = None,
    keys: dict[str, str] | None = None,
    export_dir: Path | None = None,
    now: Callable[[], datetime] | None = None,
    continue_starter: ContinueStarter | None = None,
) -> PerfsupApp:
    """The TUI on the run in `run_dir` (store at `store_path`, default the run dir's).

    Raises ThemeError or KeymapError (both ValueError) with one-line messages.
    """
    paths = RunPaths(Path(run_dir).resolve())
    settings = config.tui if config else TuiSettings()
    theme_name = theme or settings.theme
    if theme_name:
        known = {t.name for t in bundled_themes()} | set(BUILTIN_THEMES)
        if theme_name not in known:
            expected = ", ".join(sorted(known))
            raise ThemeError(
                f"tui.theme = {theme_name!r}: no such theme (expected one of {expected})"
            )
    keymap = check_keymap(keys if keys is not None else settings.keys)
    return PerfsupApp(
        paths=paths,
        store_path=Path(store_path) if store_path else paths.store,
        config=config,
        theme_name=theme_name,
        keymap=keymap,
        export_dir=export_dir or Path.cwd(),
        now=now,
        continue_starter=continue_starter,
    )
