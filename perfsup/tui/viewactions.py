"""What the person sees, never the run: the overview and charts as the store changes,
and the keys for search, jump and reasons."""

from __future__ import annotations

from textual.app import App

from perfsup.config import Config
from perfsup.tui.chart import MetricChart
from perfsup.tui.findbar import FindBar
from perfsup.tui.overview import RunOverview
from perfsup.tui.service import Chart
from perfsup.tui.tree import RunTree
from perfsup.tui.viewdata import ViewData


class ViewActions(App[None]):
    """`PerfsupApp` (app.py) inherits these; the attributes below are its own."""

    config: Config | None
    run_tree: RunTree
    run_overview: RunOverview
    metric_chart: MetricChart

    def show_view(self, view: ViewData | None, chart: Chart) -> None:
        """The overview and the charts, from the once-a-second read of the store."""
        overview = view.overview if view else None
        self.run_overview.show(overview)
        threshold = overview.threshold if overview else None
        if threshold is None and self.config is not None:
            threshold = self.config.decision.min_effect  # before the first calibration
        self.metric_chart.show(chart, view.progress if view else None, threshold)

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
