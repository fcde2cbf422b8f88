"""The top functions of a cProfile output file (`python -m cProfile -o FILE ...`)."""

from __future__ import annotations

import pstats
from dataclasses import dataclass
from pathlib import Path

from perfsup.metrics.errors import MetricParseError

PROFILE_FILE = ".perfsup-profile.out"


@dataclass(frozen=True)
class HotFunction:
    file: str
    line: int
    function: str
    calls: int
    self_s: float  # time in the function itself
    cumulative_s: float  # with everything it called


def cprofile_command(script_and_args: str, out_file: str = PROFILE_FILE) -> str:
    """The command that profiles a Python script with the standard library's cProfile."""
    return f"python -m cProfile -o {out_file} {script_and_args}"


def top_functions(path: Path, top: int = 20, root: Path | None = None) -> list[HotFunction]:
    """The `top` functions by self time; files shown relative to `root` where inside it."""
    try:
        stats = pstats.Stats(str(path))
    except (OSError, EOFError, ValueError, TypeError) as exc:  # truncated: EOF or bad marshal
        raise MetricParseError(f"cannot read the profile {path.name}: {exc}") from None
    rows = []
    for (file, line, function), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        shown = file
        if root is not None:
            try:
                shown = str(Path(file).resolve().relative_to(root.resolve()))
            except ValueError:
                shown = file
        rows.append(HotFunction(shown, line, function, calls, tottime, cumtime))
    rows.sort(key=lambda r: r.self_s, reverse=True)
    return rows[:top]
