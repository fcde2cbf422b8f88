"""Modal screens: the help, the steer form and the full log."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Log, Static

from perfsup.tui.keys import KEYS, key_for
from perfsup.tui.logtail import strip_ansi

FULL_LOG_BYTES = 64 * 1024 * 1024  # beyond this, the start of the file is skipped


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]  # noqa: RUF012
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        table = Table(title="perfsup keys", expand=True, box=None)
        table.add_column("key", style="bold")
        table.add_column("what it does")
        table.add_column("id ([tui.keys])", style="dim")
        for key in KEYS:
            table.add_row(key_for(key.id, self.keymap), key.description, key.id)
        table.add_row("ctrl+p", "Command palette (every control by name)", "")
        self.table = table
        with VerticalScroll():
            yield Static(table)


class SteerScreen(ModalScreen[dict[str, str] | None]):
    """Edit the goal and/or add a hint for the next proposals."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012
    DEFAULT_CSS = """
    SteerScreen { align: center middle; }
    SteerScreen > Vertical { width: 90; height: auto; border: round $primary;
        background: $surface; padding: 1 2; }
    SteerScreen Horizontal { height: auto; }
    """

    def __init__(self, goal: str) -> None:
        super().__init__()
        self.goal = goal

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Goal (leave unchanged to keep it)")
            yield Input(self.goal, id="goal")
            yield Label("Hint for the next proposals (optional)")
            yield Input(placeholder="for example: try caching the tokenizer", id="hint")
            with Horizontal():
                yield Button("Send", variant="primary", id="send")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self._send()
        else:
            self.dismiss(None)

    def on_input_submitted(self) -> None:
        self._send()

    def _send(self) -> None:
        goal = self.query_one("#goal", Input).value.strip()
        hint = self.query_one("#hint", Input).value.strip()
        args = {}
        if goal and goal != self.goal:
            args["goal"] = goal
        if hint:
            args["hint"] = hint
        self.dismiss(args or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FullLogScreen(Screen[None]):
    """The whole log file (loaded off the UI thread; the Log renders visible lines only)."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]  # noqa: RUF012

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Static(f"{self.path}  (escape: back)", id="full-log-title")
        yield Log(id="full-log")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        log = self.query_one("#full-log", Log)
        try:
            with self.path.open("rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                handle.seek(max(0, size - FULL_LOG_BYTES))
                text = handle.read().decode("utf-8", errors="replace")
        except OSError as exc:
            self.app.call_from_thread(log.write_line, f"cannot read {self.path}: {exc}")
            return
        lines = strip_ansi(text).replace("\r", "").splitlines()
        self.app.call_from_thread(log.write_lines, lines)
