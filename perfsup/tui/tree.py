"""The experiment tree, loaded one level at a time as the user expands it."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from perfsup.store.models import IN_FLIGHT, NodeStatus
from perfsup.tui.paintstyle import PaintStyleCache
from perfsup.tui.service import DIMMED, FAILED, NodeRow, RunService, TreeFilter, effect_label

GLYPHS = {
    NodeStatus.KEPT: ("✔", "green"),
    NodeStatus.DISCARDED: ("·", ""),
    NodeStatus.PRUNED: ("✂", ""),
    NodeStatus.CANCELLED: ("-", ""),
    NodeStatus.QUEUED: ("…", ""),
    NodeStatus.TIMEOUT: ("⧗", "red"),
    NodeStatus.MALFORMED: ("?", "red"),
    NodeStatus.REJECTED: ("⊘", "red"),
    NodeStatus.INTERRUPTED: ("!", "yellow"),
}


def node_label(row: NodeRow, metric: str | None) -> Text:
    status = NodeStatus(row.status)
    if status in IN_FLIGHT:
        glyph, colour = "●", "bold yellow"
    elif status in FAILED and status not in GLYPHS:
        glyph, colour = "✘", "red"
    else:
        glyph, colour = GLYPHS.get(status, ("•", ""))
    text = Text()
    text.append(glyph, style=colour)
    text.append(f" {row.id} ", style="bold")
    text.append(row.description or "(no description yet)")
    effect = effect_label(row, metric)
    if effect:
        text.append(f"  {effect}", style="green" if status is NodeStatus.KEPT else "")
    if row.progress:
        text.append(f"  [{row.progress}]", style="bold yellow")
    if row.priority:
        text.append(f"  prio {row.priority:+d}", style="italic")
    if status in DIMMED:
        text.stylize("dim")
    return text


class RunTree(PaintStyleCache, Tree[str]):
    """Runs at the top; children are read from the store (in a worker thread) when a
    node is expanded."""

    def __init__(self, service: RunService | None, **kwargs: object) -> None:
        super().__init__("runs", **kwargs)  # type: ignore[arg-type]
        self.show_root = False
        self.guide_depth = 2
        self.service = service
        self.filter = TreeFilter.ALL
        self.run_id: int | None = None
        self.rows: dict[str, NodeRow] = {}
        self.tree_nodes: dict[str, TreeNode[str]] = {}
        self.loaded: set[str] = set()
        self.generation = 0  # bumped by reload(): children read for an older tree are dropped

    @property
    def metric(self) -> str | None:
        return self.service.metric if self.service else None

    def reload(self) -> None:
        """Rebuild from the roots (after a filter change); expanded levels load again lazily."""
        self.clear()
        self.generation += 1
        self.rows.clear()
        self.tree_nodes.clear()
        self.loaded.clear()
        if self.service is None:
            return
        for row in self.service.roots(self.run_id):
            node = self._add(self.root, row)
            node.expand()  # the run's first level is what everyone looks at first
        if self.tree_nodes:
            self.move_cursor(next(iter(self.tree_nodes.values())))

    def add_roots(self, roots: list[NodeRow]) -> None:
        """Show runs that appeared since the tree was built (the engine just started)."""
        first = not self.tree_nodes
        for row in roots:
            if row.id not in self.tree_nodes:
                self._add(self.root, row).expand()
        if first and self.tree_nodes:
            self.move_cursor(next(iter(self.tree_nodes.values())))

    def _add(self, parent: TreeNode[str], row: NodeRow) -> TreeNode[str]:
        node = parent.add(node_label(row, self.metric), data=row.id, allow_expand=row.has_children)
        self.rows[row.id] = row
        self.tree_nodes[row.id] = node
        return node

    def load_children(self, node: TreeNode[str]) -> None:
        node_id = node.data
        if node_id is None or node_id in self.loaded or self.service is None:
            return
        self.loaded.add(node_id)
        self._read_children(node, node_id, self.filter, self.generation)

    @work(thread=True, group="tree", name="tree reader")
    def _read_children(
        self, node: TreeNode[str], node_id: str, filt: TreeFilter, generation: int
    ) -> None:
        # The store read (and the count of grandchildren) stays off the UI thread:
        # the cursor keeps moving while a node of many children loads.
        assert self.service is not None
        rows = self.service.children(node_id, filt)
        self.app.call_from_thread(self._show_children, node, rows, generation)

    def _show_children(self, node: TreeNode[str], rows: list[NodeRow], generation: int) -> None:
        if generation != self.generation:
            return  # the tree was rebuilt (a filter) while the rows were read
        known = {child.data for child in node.children}
        for row in rows:
            if row.id not in known:
                self._add(node, row)

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        self.load_children(event.node)

    def refresh_rows(self) -> None:
        """Re-read the nodes on screen (the app does this read in a worker thread)."""
        if self.service is not None and self.tree_nodes:
            self.apply_rows(self.service.rows(list(self.tree_nodes)))

    def apply_rows(self, fresh: dict[str, NodeRow]) -> None:
        """Update labels of nodes on screen and add children that appeared since."""
        grown: list[TreeNode[str]] = []
        for node_id, row in fresh.items():
            old = self.rows.get(node_id)
            node = self.tree_nodes.get(node_id)
            if node is None:  # the tree was rebuilt (a filter) while the rows were read
                continue
            if self.filter is not TreeFilter.ALL:
                row = _keep_expandability(row, old)
            if row != old:
                self.rows[node_id] = row
                node.set_label(node_label(row, self.metric))
                node.allow_expand = row.has_children
            if (
                self.filter is TreeFilter.ALL
                and node_id in self.loaded
                and row.child_count > len(node.children)
            ):
                grown.append(node)
        for node in grown:
            assert node.data is not None
            self.loaded.discard(node.data)
            self.load_children(node)

    def selected_id(self) -> str | None:
        node = self.cursor_node
        return node.data if node is not None else None


def _keep_expandability(row: NodeRow, old: NodeRow | None) -> NodeRow:
    """Under a filter the unfiltered child count says nothing: keep what the filter found."""
    if old is None:
        return row
    return NodeRow(**{**row.__dict__, "child_count": old.child_count})
