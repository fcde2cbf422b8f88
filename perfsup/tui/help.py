"""The help screen: every key by section, with the names a person types.

Generated from `keys.KEYS` (with the config's remaps) and `keys.NAVIGATION`,
so it never disagrees with the bindings.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from perfsup.tui.keys import KEYS, NAVIGATION, SECTIONS, human_key, key_for

MOVING = "Moving around"


def help_table(keymap: Mapping[str, str]) -> Table:
    """Sections of (key, what it does, the id to remap it in [tui.keys])."""
    table = Table(title="perfsup keys", expand=True, box=None, show_edge=False)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("what it does")
    table.add_column(Text("remap as [tui.keys] id"), style="dim", no_wrap=True)
    for section in SECTIONS:
        table.add_row(Text(section, style="bold underline"), "", "")
        for key in KEYS:
            if key.section == section:
                table.add_row(human_key(key_for(key.id, keymap)), key.description, key.id)
        table.add_row("", "", "")
    table.add_row(Text(MOVING, style="bold underline"), "", "")
    for keys, what in NAVIGATION:
        table.add_row(keys, what, "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]  # noqa: RUF012
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 100; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        self.table = help_table(self.keymap)
        with VerticalScroll():
            yield Static(self.table)
