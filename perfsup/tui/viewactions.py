"""The keys that change what the person sees (never the run): search, jump, reasons."""

from __future__ import annotations

from textual.app import App

from perfsup.tui.findbar import FindBar
from perfsup.tui.tree import RunTree


class ViewActions(App[None]):
    run_tree: RunTree

    def action_find(self) -> None:
        self.query_one(FindBar).open("search")

    def action_jump(self) -> None:
        self.query_one(FindBar).open("jump")

    def action_toggle_reasons(self) -> None:
        shown = self.run_tree.toggle_reasons()
        what = "why each node ended" if shown else "the model's descriptions"
        self.notify(f"the tree shows {what}", title="reasons", timeout=2)

    def on_run_tree_jumped(self, message: RunTree.Jumped) -> None:
        if not message.found:
            self.notify(f"no node {message.node_id} in this store", title="jump",
                        severity="warning")  # fmt: skip
