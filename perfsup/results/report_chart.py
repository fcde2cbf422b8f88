"""The report's chart: the primary metric of every measured experiment (matplotlib).

Drawn with the non-interactive Agg backend, so it needs no display and never
opens a window; returns PNG bytes.
"""

from __future__ import annotations

import io

__all__ = ["draw_chart"]

_COLOURS = {"keep": "#2a9d4b", "discard": "#8a8a8a"}


def draw_chart(
    points: list[tuple[int, float, str, str]], metric: str, unit: str, direction: str
) -> bytes:
    """PNG of (iteration, value, status, node id) points, with the baseline and best so far."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    base = next((p for p in points if p[0] == 0), None)
    if base is not None:
        ax.axhline(base[1], color="#4a6fa5", linestyle="--", linewidth=1, label="baseline")
    best_x, best_y = [], []
    best: float | None = None
    for x, y, status, _node in sorted(points):
        if status != "keep":
            continue
        if best is None or (y < best if direction == "lower" else y > best):
            best = y
        best_x.append(x)
        best_y.append(best)
    if best_x:
        ax.step(
            best_x,
            best_y,
            where="post",
            color=_COLOURS["keep"],
            linewidth=1.5,
            label="best kept so far",
        )
    for status, label in (("keep", "kept"), ("discard", "discarded")):
        chosen = [p for p in points if p[2] == status and p[0] != 0]
        if chosen:
            ax.scatter(
                [p[0] for p in chosen],
                [p[1] for p in chosen],
                color=_COLOURS[status],
                label=label,
                zorder=3,
            )
            for x, y, _s, node in chosen:
                ax.annotate(node, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("experiment")
    ax.set_ylabel(f"{metric} ({unit})" if unit else metric)
    ax.set_title(f"{metric}: median of the deciding pass ({direction} is better)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
