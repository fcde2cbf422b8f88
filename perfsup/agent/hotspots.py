"""Put what the profile points at first: hot functions, then the rest.

The parent's profile (the top functions of [profile] python_script under
cProfile and of go_pprof under pprof, Go escape analysis) comes to the
context builder as plain rows. This module keeps the rows that fall in the
source the model sees, orders the source files so the hottest come first
(they survive a tight budget, and a small model reads them first), names the
hot regions first in the list of regions, writes the profile section of the
prompt, and makes the code slices of long hot files (`perfsup.agent.slices`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfsup.agent.slices import CodeSlice, SliceLevel, slice_source

MAX_PROFILE_LINES = 12


@dataclass(frozen=True)
class HotSpot:
    """One function of the profile, in a file the model sees."""

    file: str
    line: int
    function: str
    calls: int
    self_s: float
    cumulative_s: float


def hot_spots(rows: Sequence[Mapping[str, Any]], sources: Mapping[str, str]) -> list[HotSpot]:
    """The profile rows (cProfile `HotFunction` dicts) in `sources`, hottest first."""
    spots = []
    for row in rows:
        try:
            spot = HotSpot(
                str(row["file"]),
                int(row["line"]),
                str(row["function"]),
                int(row["calls"]),
                float(row["self_s"]),
                float(row["cumulative_s"]),
            )
        except (KeyError, TypeError, ValueError):
            continue  # a row from another profile format: not ours to show
        if spot.file in sources:
            spots.append(spot)
    return sorted(spots, key=lambda s: s.self_s, reverse=True)


def hot_first(sources: Mapping[str, str], spots: Sequence[HotSpot]) -> dict[str, str]:
    """`sources` with the files of the hot functions first (hottest file first)."""
    order = list(dict.fromkeys(s.file for s in spots))
    rest = [path for path in sources if path not in order]
    return {path: sources[path] for path in [*order, *rest]}


def hot_regions(regions: Sequence[str], spots: Sequence[HotSpot]) -> list[str]:
    """`path::name` regions with the hot functions' regions first, hottest first."""
    hot: list[str] = []
    for spot in spots:
        for region in regions:
            path, _, name = region.partition("::")
            same = name.split(".")[-1] == spot.function.split(".")[-1]  # Go: `Type.Method`
            if path == spot.file and same and region not in hot:
                hot.append(region)
    return [*hot, *(r for r in regions if r not in hot)]


def profile_section(spots: Sequence[HotSpot], total_s: float | None = None) -> str:
    """The prompt section naming the hot functions, or "" when there are none."""
    if not spots:
        return ""
    total = total_s or sum(s.self_s for s in spots) or 1.0
    lines = [
        "## Profile of the code you are changing (hottest first; start there)",
        *(
            f"- {s.file}:{s.line} {s.function}: {100 * s.self_s / total:.0f}% of the time "
            f"in itself, {s.cumulative_s:.3g} s with what it calls"
            + (f", {s.calls} calls" if s.calls else "")  # pprof samples, it does not count
            for s in spots[:MAX_PROFILE_LINES]
        ),
    ]
    return "\n".join(lines) + "\n"


SLICE_MIN_LINES = 200  # a shorter hot file is shown whole: it costs little
MAX_SLICED_FUNCTIONS = 3  # hot functions shown whole per file: a small model reads every token


def rotated(spots: Sequence[HotSpot], turn: int) -> list[HotSpot]:
    """`spots` with the hot function `turn` (cyclically) first: a different function on a retry."""
    functions = list(dict.fromkeys((s.file, s.function) for s in spots))
    if turn <= 0 or len(functions) < 2:
        return list(spots)
    first = functions[turn % len(functions)]
    return [
        *(s for s in spots if (s.file, s.function) == first),
        *(s for s in spots if (s.file, s.function) != first),
    ]


def code_slices(
    sources: Mapping[str, str],
    spots: Sequence[HotSpot],
    level: SliceLevel = SliceLevel.FULL,
    min_lines: int = SLICE_MIN_LINES,
) -> dict[str, list[CodeSlice]]:
    """Per long hot file, its slices from `level` down to the smallest (largest first)."""
    hot: dict[str, list[tuple[str, int | None]]] = {}
    for spot in spots:
        functions = hot.setdefault(spot.file, [])
        if len(functions) < MAX_SLICED_FUNCTIONS:
            functions.append((spot.function, spot.line))
    found: dict[str, list[CodeSlice]] = {}
    for path, functions in hot.items():
        text = sources.get(path, "")
        if text.count("\n") < min_lines:
            continue
        pieces = [slice_source(path, text, functions, SliceLevel(n)) for n in range(level, 4)]
        unique = list({p.text: p for p in pieces if p is not None}.values())
        if unique:
            found[path] = unique
    return found
