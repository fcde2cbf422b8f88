"""Small dialogs for the controls a person must be able to trust: a yes/no
before a stop or a prune, and the form that gives a finished run more budget."""

from __future__ import annotations

from collections.abc import Collection

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """One key to confirm (`y`, or the key that asked), any other key cancels."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 76; height: auto; border: thick $warning;
        background: $surface; padding: 1 2; }
    ConfirmScreen #confirm-title { text-style: bold; }
    ConfirmScreen #confirm-keys { color: $text-muted; padding-top: 1; }
    """

    def __init__(self, title: str, explanation: str, confirm_keys: Collection[str] = ()) -> None:
        super().__init__()
        self.title_text = title
        self.explanation = explanation
        self.confirm_keys = {"y", *confirm_keys}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="confirm-title")
            yield Static(self.explanation, id="confirm-text")
            yield Static("y: yes, do it · any other key: no", id="confirm-keys")

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.dismiss(event.key in self.confirm_keys)


class ContinueScreen(ModalScreen[dict[str, int] | None]):
    """How much more a finished run may spend: experiments and tokens."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012
    DEFAULT_CSS = """
    ContinueScreen { align: center middle; }
    ContinueScreen > Vertical { width: 76; height: auto; border: round $primary;
        background: $surface; padding: 1 2; }
    ContinueScreen Horizontal { height: auto; }
    ContinueScreen #continue-error { color: $error; }
    """

    def __init__(self, run_id: int, experiments: int, tokens: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.experiments = experiments
        self.tokens = tokens

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Continue run {self.run_id}: the engine starts again with more budget")
            yield Label("More experiments")
            yield Input(str(self.experiments), id="experiments", type="integer")
            yield Label("More tokens")
            yield Input(str(self.tokens), id="tokens", type="integer")
            yield Static("", id="continue-error")
            with Horizontal():
                yield Button("Continue", variant="primary", id="send")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self._send()
        else:
            self.dismiss(None)

    def on_input_submitted(self) -> None:
        self._send()

    def _send(self) -> None:
        values = {}
        for name in ("experiments", "tokens"):
            text = self.query_one(f"#{name}", Input).value.strip()
            if not text.isdigit() or int(text) < 1:
                self.query_one("#continue-error", Static).update(
                    f"more {name}: {text!r} is not a whole number of at least 1"
                )
                return
            values[name] = int(text)
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
