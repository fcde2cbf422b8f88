"""The selected node's tabs: the diff, and one bounded live log per step."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Region
from textual.widgets import Log, RichLog, Static, TabbedContent, TabPane

from perfsup.results.wording import direction_words, unit_of
from perfsup.tui.logtail import LogTail
from perfsup.tui.nodecard import NodeCardView, PairTable, perf_note
from perfsup.tui.paintstyle import PaintStyleCache
from perfsup.tui.service import NodeDetail

DIFF_LINES = 5_000  # a longer diff is cut in the pane; `e` exports all of it
PANE_LINES = 1_000  # what a pane keeps; the full log is on disk, one key away
LOG_STEPS = ("agent", "build", "check", "bench", "perf")
TAB_TITLES = {"diff": "Diff", "agent": "Agent", "build": "Build", "check": "Checks",
              "bench": "Bench", "perf": "Perf"}  # fmt: skip


class LogPane(Log):
    """A Log widget (it renders only the visible lines) fed from a LogTail."""

    def __init__(self, step: str, max_lines: int = PANE_LINES, **kwargs: object) -> None:
        super().__init__(max_lines=max_lines, **kwargs)  # type: ignore[arg-type]
        self.step = step
        self.tail: LogTail | None = None
        self.fallback = ""

    def attach(self, path: Path | None, fallback: str = "") -> None:
        self.clear()
        self.tail = LogTail(path) if path is not None else None
        self.fallback = fallback
        if not self.flush() and fallback and (path is None or not path.exists()):
            self.write_lines(fallback.splitlines())

    def flush(self) -> int:
        """Move what the file gained since the last flush into the pane; returns lines read."""
        if self.tail is None:
            return 0
        before = self.tail.lines_read
        lines = self.tail.read(keep_last=self.max_lines)
        if lines:
            self.write_lines(lines)
        return self.tail.lines_read - before

    @property
    def path(self) -> Path | None:
        return self.tail.path if self.tail else None


class DiffView(PaintStyleCache, RichLog):
    """The diff, pre-rendered into lines: a repaint or a scroll draws only the
    visible ones, and a new diff repaints this pane only."""

    # Its size never depends on its content: it fills the tab, always shows the
    # vertical scrollbar and never a horizontal one (RichLog keeps no width).
    DEFAULT_CSS = "DiffView { height: 1fr; width: 1fr; overflow-y: scroll; overflow-x: hidden; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(wrap=False, auto_scroll=False, **kwargs)  # type: ignore[arg-type]
        self._content_only = False

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        # RichLog asks for a layout whenever its line count changes, and Textual answers
        # a layout by reflowing and repainting the whole screen (20-80 ms here), which a
        # cursor key arriving meanwhile waits for. A new diff changes only how far this
        # pane scrolls (see the CSS): its scrollbar is updated in show() instead.
        if self._content_only:
            layout = False
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def show(self, diff: str) -> None:
        self._content_only = True
        try:
            self._write(diff)
        finally:
            self._content_only = False
        self.vertical_scrollbar.window_virtual_size = self.virtual_size.height

    def _write(self, diff: str) -> None:
        self.clear()
        lines = diff.splitlines()
        if not lines:
            self.write(Text("(no diff)", style="dim"))
            return
        if len(lines) > DIFF_LINES:
            diff = "\n".join(lines[:DIFF_LINES])
        self.write(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))
        if len(lines) > DIFF_LINES:
            self.write(Text(f"... {len(lines) - DIFF_LINES} more lines: export the patch", "dim"))
        self.scroll_home(animate=False)


class NodePanes(Vertical):
    """Diff, agent, build, checks, bench and perf of one node, as tabs."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.detail: NodeDetail | None = None
        self._header_shown: str | None = None
        self._diff_shown: str | None = None

    def compose(self) -> ComposeResult:
        yield NodeCardView(id="card")
        with TabbedContent(id="tabs"):
            with TabPane(TAB_TITLES["diff"], id="tab-diff"):
                yield Static("select a node", id="diff-header")
                yield DiffView(id="diff")
            for step in LOG_STEPS:
                with TabPane(TAB_TITLES[step], id=f"tab-{step}"):
                    if step == "bench":
                        yield PairTable(id="pairs")
                    if step == "perf":  # why the tab is empty, while it is
                        yield Static(perf_note(getattr(self.app, "config", None)), id="perf-why")
                    yield LogPane(step, id=f"log-{step}")

    def panes(self) -> list[LogPane]:
        return list(self.query(LogPane))

    def show(self, detail: NodeDetail | None) -> None:
        """Switch to another node (re-reads its logs) or refresh the same one."""
        shown = self.detail
        same = shown is not None and detail is not None and detail.row.id == shown.row.id
        self.detail = detail
        self.query_one(NodeCardView).show(detail.card if detail else None)
        if detail is None:
            self._header("select a node")
            return
        self._show_diff(detail)
        self._show_pairs(detail)
        if same:
            return
        for pane in self.panes():
            fallback = detail.answer_text if pane.step == "agent" else ""
            pane.attach(detail.logs.get(pane.step), fallback)
        perf = detail.logs.get("perf")
        why = self.query_one("#perf-why", Static)
        empty = perf is None or not perf.exists()
        if why.display != empty:  # a layout, only between nodes with and without a profile
            why.display = empty

    def _show_pairs(self, detail: NodeDetail) -> None:
        config = getattr(self.app, "config", None)
        spec = config.metrics[0] if config else None
        name = spec.name if spec else ""
        table = self.query_one(PairTable)
        table.unit = unit_of(name, spec.unit if spec else "")
        pairs = detail.card.pairs if detail.card else []
        table.show(detail.row.id, pairs, direction_words(name, table.unit))

    def _header(self, text: str) -> None:
        # One fixed line (CSS): redraw it in place, without laying out the screen.
        if text != self._header_shown:
            self._header_shown = text
            self.query_one("#diff-header", Static).update(Text(text, style="bold"), layout=False)

    def _show_diff(self, detail: NodeDetail) -> None:
        header = f"{detail.row.id}  {detail.row.status}"
        if detail.reason:
            header += f": {detail.reason}"
        self._header(header)
        if detail.diff != self._diff_shown:
            self._diff_shown = detail.diff
            self.query_one(DiffView).show(detail.diff)

    def flush(self) -> int:
        return sum(pane.flush() for pane in self.panes())

    def behind(self) -> bool:
        """A pane read a full chunk: the file has more, flush again next tick."""
        return any(pane.tail is not None and pane.tail.behind for pane in self.panes())

    def active_log(self) -> Path | None:
        active = self.query_one(TabbedContent).active.removeprefix("tab-")
        if self.detail is None:
            return None
        if active == "diff":
            return None
        return self.detail.logs.get(active)
