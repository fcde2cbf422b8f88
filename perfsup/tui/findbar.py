"""The bar under the tree: `/` searches the run's nodes, `:` jumps to a node id.

Searching narrows the tree as the person types (after a short pause, read off
the UI thread); enter keeps the search and goes back to the tree, escape
clears it. A jump takes an id like `1.3.2` and opens the levels down to it.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Input

from perfsup.store.tree import is_valid_id
from perfsup.tui.tree import RunTree

TYPE_PAUSE_S = 0.25  # search once typing pauses, not on every key


class FindBar(Input):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", show=False)]
    DEFAULT_CSS = "FindBar { display: none; height: 1; border: none; padding: 0 1; } "
    DEFAULT_CSS += "FindBar.-open { display: block; }"

    def __init__(self, tree: RunTree, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.run_tree = tree
        self.mode = "search"
        self._timer: Timer | None = None

    def open(self, mode: str) -> None:
        """Show the bar for a search (`/`) or a jump (`:`) and take the keys."""
        self.mode = mode
        if mode == "search":
            self.placeholder = "search: id, status, description or reason (enter: keep, esc: clear)"
            self.value = self.run_tree.search
        else:
            self.placeholder = "jump to node: an id like 1.3.2 (enter: go, esc: cancel)"
            self.value = ""
        self.add_class("-open")
        self.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.mode != "search":
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(TYPE_PAUSE_S, self._apply_search)

    def _apply_search(self) -> None:
        text = self.value.strip()
        if text != self.run_tree.search:
            self.run_tree.search = text
            self.run_tree.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.mode == "search":
            if self._timer is not None:
                self._timer.stop()
            self._apply_search()
            self._hide()
            if self.run_tree.search:
                self.notify(f"showing nodes matching {self.run_tree.search!r} (/ then esc: all)",
                            title="search", timeout=3)  # fmt: skip
            return
        node_id = self.value.strip().lstrip(":")
        if not is_valid_id(node_id):
            self.notify(f"{node_id!r} is not a node id (expected one like 1.3.2)",
                        title="jump", severity="warning")  # fmt: skip
            return
        self._hide()
        self.run_tree.jump_to(node_id)

    def action_close(self) -> None:
        if self.mode == "search" and self.run_tree.search:
            self.run_tree.search = ""
            self.run_tree.reload()
        self._hide()

    def _hide(self) -> None:
        self.remove_class("-open")
        self.run_tree.focus()
