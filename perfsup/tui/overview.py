"""The run overview, always on screen: three fixed lines from `results.overview`."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from perfsup.results.overview import Overview


class RunOverview(Static):
    DEFAULT_CSS = """
    RunOverview { height: 3; padding: 0 1; background: $boost; text-wrap: nowrap;
        text-overflow: ellipsis; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("reading the run...", **kwargs)  # type: ignore[arg-type]
        self.shown: Overview | None = None

    def show(self, overview: Overview | None) -> None:
        if overview is None or overview == self.shown:
            return
        same_text = self.shown is not None and self.shown.lines() == overview.lines()
        self.shown = overview
        if same_text:
            return  # the pace moved in a decimal not shown: no repaint
        text = Text(no_wrap=True)
        text.append(overview.headline(), style="bold")
        text.append("\n" + overview.counts() + "\n")
        machine = overview.machine()
        style = "bold yellow" if overview.raised_note else ""
        text.append(machine, style=style)
        # Three fixed lines (CSS): redraw in place; a layout pass costs the whole screen.
        self.update(text, layout=False)

    @property
    def text(self) -> str:
        return "\n".join(self.shown.lines()[:3]) if self.shown else ""
