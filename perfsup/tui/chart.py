"""The primary metric: kept nodes across iterations and the running node's pairs."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from perfsup.tui.service import Chart


class MetricChart(PlotextPlot):
    def __init__(self, metric: str | None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.metric = metric or "metric"
        self._shown: Chart | None = None

    def show(self, chart: Chart) -> None:
        if chart == self._shown:
            return
        self._shown = chart
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        running = f", {chart.running_id} pairs" if chart.running_id else ""
        plt.title(f"{self.metric}: kept nodes{running}")
        if chart.kept_values:
            xs = [float(x) for x in range(1, len(chart.kept_values) + 1)]
            plt.plot(xs, chart.kept_values, marker="dot", label="kept")
            plt.xticks(xs, chart.kept_labels)
        if chart.parent_values:
            plt.scatter(list(range(1, len(chart.parent_values) + 1)), chart.parent_values,
                        label="parent")  # fmt: skip
        if chart.candidate_values:
            plt.scatter(list(range(1, len(chart.candidate_values) + 1)), chart.candidate_values,
                        label="candidate")  # fmt: skip
        self.refresh()
