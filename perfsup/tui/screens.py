"""Modal screens: the steer form and the full log (the help is in help.py)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Log, Static

from perfsup.tui.help import HelpScreen
from perfsup.tui.logtail import strip_ansi

__all__ = ["FullLogScreen", "HelpScreen", "SteerScreen"]

FULL_LOG_BYTES = 64 * 1024 * 1024  # beyond this, the start of the file is skipped


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
