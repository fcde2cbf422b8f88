"""One Rich style per paint for widgets that ask for it on every line.

Textual's `Tree.render_line` and `RichLog.render_line` read `self.rich_style`
for every line they draw, and Textual computes it afresh each time from every
ancestor's styles: a scroll repaints some 40 lines, and that walk was a large
share of a cursor key. A widget with this mixin computes it once per paint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.style import Style
from textual.dom import DOMNode
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

if TYPE_CHECKING:
    _Mixin = Widget
else:
    # A plain class at run time: Textual finds a widget's CSS and component classes
    # through its first DOMNode base, which must stay the Textual widget.
    _Mixin = object


class PaintStyleCache(_Mixin):
    """Mix in before the Textual widget class: `class X(PaintStyleCache, Tree)`."""

    _paint_style: Style | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        self._paint_style = DOMNode.rich_style.fget(self)  # type: ignore[attr-defined]
        try:
            return super().render_lines(crop)
        finally:
            self._paint_style = None

    @property
    def rich_style(self) -> Style:
        style = self._paint_style
        return style if style is not None else super().rich_style
