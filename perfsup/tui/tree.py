"""The experiment tree, loaded one level at a time as the user expands it."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from perfsup.results.wording import unit_of
from perfsup.tui.columns import Columns, fixed_width, row_text
from perfsup.tui.paintstyle import PaintStyleCache
from perfsup.tui.search import search_rows
from perfsup.tui.service import NodeRow, RunService, TreeFilter


def node_label(row: NodeRow) -> Text:
    """The label a node keeps: its id. The tree paints `columns.row_text` from the
    row instead, fitted to its width when the line is drawn."""
    return Text(row.id)


class RunTree(PaintStyleCache, Tree[str]):
    """Runs at the top; children are read from the store (in a worker thread) when a
    node is expanded."""

    def __init__(self, service: RunService | None, **kwargs: object) -> None:
        # Set before Tree's own set-up, which already paints and measures labels.
        self.service = service
        self.rows: dict[str, NodeRow] = {}
        self.show_reasons = False
        self._columns = Columns()
        super().__init__("runs", **kwargs)  # type: ignore[arg-type]
        self.show_root = False
        self.guide_depth = 2
        self.filter = TreeFilter.ALL
        self.search = ""  # `/`: a flat list of the nodes matching this under each run
        self.run_id: int | None = None
        self.tree_nodes: dict[str, TreeNode[str]] = {}
        self.loaded: set[str] = set()
        self.generation = 0  # bumped by reload(): children read for an older tree are dropped

    @property
    def metric(self) -> str | None:
        return self.service.metric if self.service else None

    @property
    def columns(self) -> Columns:
        config = self.service.config if self.service else None
        spec = config.metrics[0] if config else None
        name = spec.name if spec else ""
        return Columns(name, unit_of(name, spec.unit if spec else ""), self.show_reasons)

    def toggle_reasons(self) -> bool:
        """Show why nodes ended (their reason) in the description column, or not."""
        self.show_reasons = not self.show_reasons
        self._invalidate()
        return self.show_reasons

    # ------------------------------------------------------------ painting
    def _depth(self, node: TreeNode[str]) -> int:
        depth, parent = 0, node.parent
        while parent is not None and parent is not self.root:
            depth, parent = depth + 1, parent.parent
        return depth

    def render_label(self, node: TreeNode[str], base_style: Style, style: Style) -> Text:
        """The row's columns fitted to the width left after the guides (painted lines only)."""
        row = self.rows.get(node.data or "")
        if row is None:
            return super().render_label(node, base_style, style)
        prefix = (
            (self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE)
            if (node.allow_expand)
            else "  "
        )
        width = self.scrollable_content_region.width - self._depth(node) * self.guide_depth
        label = row_text(row, self._columns, width - len(prefix))
        label.stylize(style)
        return Text.assemble((prefix, base_style), label)

    def get_label_width(self, node: TreeNode[str]) -> int:
        # What must be visible: a wider label would make the tree scroll sideways
        # rather than cut the interval. Cheap: no Text is built (every line, each build).
        row = self.rows.get(node.data or "")
        if row is None:
            return super().get_label_width(node)
        return 2 + fixed_width(row, self._columns)

    def _invalidate(self) -> None:
        self._columns = self.columns
        super()._invalidate()

    def reload(self) -> None:
        """Rebuild from the roots (after a filter change); expanded levels load again lazily."""
        self._columns = self.columns
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
        node = parent.add(node_label(row), data=row.id, allow_expand=row.has_children)
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
        search = self.search
        if search:
            rows = search_rows(self.service, node_id, search)
        else:
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
            if self.filter is not TreeFilter.ALL or self.search:
                row = _keep_expandability(row, old)
            if row != old:
                self.rows[node_id] = row
                node.set_label(node_label(row))
                node.allow_expand = row.has_children
            if (
                self.filter is TreeFilter.ALL
                and not self.search
                and node_id in self.loaded
                and row.child_count > len(node.children)
            ):
                grown.append(node)
        for node in grown:
            assert node.data is not None
            self.loaded.discard(node.data)
            self.load_children(node)

    # ------------------------------------------------------- jump to a node
    def jump_to(self, node_id: str) -> None:
        """Open the levels down to `node_id` (read off the UI thread) and put the cursor
        on it; a search, a filter or another run shown is left first."""
        if (
            self.search
            or self.filter is not TreeFilter.ALL
            or (self.run_id is not None and node_id.split(".")[0] != str(self.run_id))
        ):
            self.search, self.filter, self.run_id = "", TreeFilter.ALL, None
            self.reload()
        self._read_path(node_id, self.generation)

    @work(thread=True, group="tree", name="tree jump")
    def _read_path(self, node_id: str, generation: int) -> None:
        assert self.service is not None
        parts = node_id.split(".")
        levels = []
        for depth in range(1, len(parts)):
            parent = ".".join(parts[:depth])
            levels.append((parent, self.service.children(parent)))
        self.app.call_from_thread(self._show_path, levels, node_id, generation)

    def _show_path(
        self, levels: list[tuple[str, list[NodeRow]]], node_id: str, generation: int
    ) -> None:
        if generation != self.generation:
            return
        for parent_id, rows in levels:
            node = self.tree_nodes.get(parent_id)
            if node is None:
                break
            self.loaded.add(parent_id)
            self._show_children(node, rows, generation)
            node.expand()
        # The opened levels get their lines at the next refresh: land on the node then.
        self.call_after_refresh(self._land, node_id)

    def _land(self, node_id: str) -> None:
        target = self.tree_nodes.get(node_id)
        if target is not None:
            self.move_cursor(target)
            self.scroll_to_node(target, animate=False)
        self.post_message(self.Jumped(node_id, target is not None))

    class Jumped(Message):
        """A jump ended: on the node, or it does not exist."""

        def __init__(self, node_id: str, found: bool) -> None:
            super().__init__()
            self.node_id = node_id
            self.found = found

    def selected_id(self) -> str | None:
        node = self.cursor_node
        return node.data if node is not None else None


def _keep_expandability(row: NodeRow, old: NodeRow | None) -> NodeRow:
    """Under a filter the unfiltered child count says nothing: keep what the filter found."""
    if old is None:
        return row
    return NodeRow(**{**row.__dict__, "child_count": old.child_count})
