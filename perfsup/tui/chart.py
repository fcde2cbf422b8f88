"""The charts under the panes: the night's progress and the running node's pairs.

Progress (left): every measured experiment's primary metric over the hours of
the run, kept ones marked, and the best kept value so far as a step line (the
autoresearch progress plot). Pairs (right, only while a node benchmarks): the
parent and the candidate of each pair, the estimate so far and the line a
candidate must beat (the parent's median moved by the threshold).
"""

from __future__ import annotations

import math
import statistics

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from perfsup.config import Config
from perfsup.results.progress import Progress
from perfsup.results.wording import effect_words, unit_of
from perfsup.tui.service import Chart


class ProgressChart(PlotextPlot):
    def __init__(self, metric: str | None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.metric = metric or "metric"
        self._shown: Progress | None = None

    def show(self, progress: Progress | None) -> None:
        if progress == self._shown:
            return
        self._shown = progress
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        unit = f" ({progress.unit})" if progress and progress.unit else ""
        if progress is None or progress.baseline is None:
            plt.title(f"{self.metric}{unit}: best so far (no baseline measured yet)")
            self.refresh()
            return
        plt.title(f"{self.metric}{unit}: best so far, {progress.direction} is better")
        steps = progress.best_so_far()
        last = max([p.hours for p in progress.points] + [steps[-1][0]])
        scale, axis = (1.0, "hours") if last >= 2 else (60.0, "minutes")  # readable ticks
        xs = [x * scale for x, _ in steps] + [max(last * scale, 1e-3)]
        ys = [y for _, y in steps] + [steps[-1][1]]
        plt.plot(xs, ys, label="best", color="green")
        others = [p for p in progress.points if not p.kept]
        if others:
            plt.scatter([p.hours * scale for p in others], [p.value for p in others],
                        label="not kept", color="gray", marker="dot")  # fmt: skip
        kept = [p for p in progress.points if p.kept]
        if kept:
            plt.scatter([p.hours * scale for p in kept], [p.value for p in kept],
                        label="kept", color="green", marker="hd")  # fmt: skip
        plt.xlabel(axis)
        self.refresh()


class PairsChart(PlotextPlot):
    def __init__(self, metric: str | None, unit: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.metric = metric or "metric"
        self.unit = unit
        self.direction = "lower"
        self._shown: tuple[Chart, float | None] | None = None

    def show(self, chart: Chart, threshold: float | None) -> None:
        if (chart, threshold) == self._shown:
            return
        self._shown = (chart, threshold)
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        pairs = list(zip(chart.parent_values, chart.candidate_values, strict=False))
        if not pairs:
            plt.title(f"{chart.running_id or 'no node'}: no pairs yet")
            self.refresh()
            return
        plt.title(f"{chart.running_id}: {len(pairs)} pairs")
        xs = list(range(1, len(pairs) + 1))
        plt.plot(xs, [p for p, _ in pairs], label="parent", marker="dot")
        plt.plot(xs, [c for _, c in pairs], label="candidate", marker="dot", color="green")
        if threshold is not None:
            parent = statistics.median(p for p, _ in pairs)
            sign = -1 if self.direction == "lower" else 1
            plt.hline(parent * (1 + sign * threshold), color="red")  # what a keep must beat
        plt.xlabel("pair")
        self.refresh()


def pairs_estimate(pairs: list[tuple[float, float]], direction: str) -> float:
    """The pairs' gain so far: the geometric mean of candidate/parent, positive is better."""
    logs = [math.log(c / p) for p, c in pairs if p > 0 and c > 0]
    if not logs:
        return 0.0
    mean = sum(logs) / len(logs)
    return 1.0 - math.exp(mean) if direction == "lower" else math.exp(mean) - 1.0


def pairs_caption(chart: Chart, threshold: float | None, metric: str, unit: str,
                  direction: str) -> str:  # fmt: skip
    """The line under the pair chart: the estimate so far and what a keep must beat."""
    pairs = list(zip(chart.parent_values, chart.candidate_values, strict=False))
    if chart.running_id is None:
        return "no node is benchmarking"
    if not pairs:
        return f"{chart.running_id}: no pairs yet"
    estimate = effect_words(pairs_estimate(pairs, direction), metric, unit)
    text = f"{chart.running_id}: {estimate} so far ({len(pairs)} pairs)"
    if threshold is not None:
        text += f"; a keep needs > {threshold:.1%} (red line)"
    return text


class MetricChart(Vertical):
    """Progress on the left; the running node's pairs on the right while one benchmarks."""

    DEFAULT_CSS = """
    MetricChart { height: 12; }
    MetricChart Horizontal { height: 1fr; }
    MetricChart #pairs-caption { height: 1; display: none; text-wrap: nowrap;
        text-overflow: ellipsis; padding: 0 1; }
    MetricChart.-running #pairs-caption { display: block; }
    MetricChart ProgressChart { width: 1fr; }
    MetricChart PairsChart { width: 1fr; display: none; }
    MetricChart.-running PairsChart { display: block; }
    """

    def __init__(self, metric: str | None, unit: str = "", direction: str = "lower",
                 **kwargs: object) -> None:  # fmt: skip
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.metric = metric
        self.unit = unit
        self.direction = direction
        self.caption = ""

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ProgressChart(self.metric, id="progress-chart")
            pairs = PairsChart(self.metric, self.unit, id="pairs-chart")
            pairs.direction = self.direction
            yield pairs
        yield Static("", id="pairs-caption")

    def show(self, chart: Chart, progress: Progress | None, threshold: float | None) -> None:
        self.query_one(ProgressChart).show(progress)
        running = chart.running_id is not None
        if running != self.has_class("-running"):
            self.set_class(running, "-running")  # a layout, only when a benchmark starts/ends
        if running:
            self.query_one(PairsChart).show(chart, threshold)
            caption = pairs_caption(chart, threshold, self.metric or "", self.unit, self.direction)
            if caption != self.caption:
                self.caption = caption
                self.query_one("#pairs-caption", Static).update(caption, layout=False)


def chart_for(config: Config | None) -> MetricChart:
    spec = config.metrics[0] if config else None
    if spec is None:
        return MetricChart(None, id="chart")
    return MetricChart(spec.name, unit_of(spec.name, spec.unit), spec.direction, id="chart")
