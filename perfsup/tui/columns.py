"""The tree's row as fixed columns: status, id, description, effect, interval.

The effect and its interval sit at the right edge of the tree, so they line
up at every depth and are never cut; the description takes what is left and
is shortened first (with an ellipsis). A row is formatted when it is painted,
for the width the tree has then, so a resize never needs the labels rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from perfsup.results.wording import effect_words, signed_interval
from perfsup.store.models import IN_FLIGHT, NodeStatus
from perfsup.tui.rows import DIMMED, FAILED, NodeRow

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
EFFECT_W = 12  # "97.5% faster"; longer ones ("checks failed") push the description
INTERVAL_W = 12  # "[95.6, 97.9]"; "[-105.3, 2.0]" pushes the description
GAP = 1


@dataclass(frozen=True)
class Columns:
    """What the tree needs to format a row: the primary metric and the view's switches."""

    metric: str = ""
    unit: str = ""
    show_reasons: bool = False  # the description column shows why a node ended as it did


def glyph(status: NodeStatus) -> tuple[str, str]:
    if status in IN_FLIGHT:
        return "●", "bold yellow"
    if status in FAILED and status not in GLYPHS:
        return "✘", "red"
    return GLYPHS.get(status, ("•", ""))


def effect_cell(row: NodeRow, cols: Columns) -> tuple[str, str]:
    """The effect column: the effect in words, the progress, or how the node ended."""
    status = NodeStatus(row.status)
    if row.effect is not None:
        style = "green" if status is NodeStatus.KEPT else ""
        return effect_words(row.effect, cols.metric, cols.unit), style
    if row.progress:
        return row.progress.replace("benchmarking", "bench"), "bold yellow"
    if status in FAILED:
        return status.value.replace("_", " "), "red"
    return "", ""


def description_cell(row: NodeRow, cols: Columns) -> str:
    text = row.description or "(no description yet)"
    if cols.show_reasons and row.reason and NodeStatus(row.status) is not NodeStatus.KEPT:
        text = f"why: {row.reason}"
    if row.priority:
        text = f"prio {row.priority:+d} {text}"
    return text


def fixed_width(row: NodeRow, cols: Columns) -> int:
    """The cells a row needs without its description (what must never be cut)."""
    effect, _ = effect_cell(row, cols)
    interval = signed_interval(row.ci_low, row.ci_high)
    return 2 + len(row.id) + GAP + max(len(effect), EFFECT_W) + GAP + max(len(interval), INTERVAL_W)


def row_text(row: NodeRow, cols: Columns, width: int) -> Text:
    """The row in `width` cells: the description is cut first, the interval never."""
    status = NodeStatus(row.status)
    mark, colour = glyph(status)
    effect, effect_style = effect_cell(row, cols)
    interval = signed_interval(row.ci_low, row.ci_high)
    effect = effect.rjust(EFFECT_W)
    interval = interval.rjust(INTERVAL_W)
    text = Text(no_wrap=True, end="")
    text.append(mark, style=colour)
    text.append(" ")
    room = width - fixed_width(row, cols) - GAP
    text.append(row.id, style="bold")
    description = description_cell(row, cols)
    if room > 0:
        if len(description) > room:
            description = description[: max(room - 1, 0)] + "…"
        text.append(" " + description.ljust(room))
    text.append(" " * GAP)
    text.append(effect, style=effect_style)
    text.append(" " * GAP)
    text.append(interval)
    if status in DIMMED:
        text.stylize("dim")
    return text
