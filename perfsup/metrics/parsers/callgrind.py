"""valgrind callgrind instruction counts, and the wrapper that produces them.

A callgrind out file names its events (`events: Ir ...`) and ends with
`totals:` (older files: `summary:`) giving each event's total; `Ir` is the
number of instructions executed, a low-noise measure of work (lower is
better). `wrap_command` runs any benchmark command under callgrind.
"""

from __future__ import annotations

import shlex

from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.record import Record

OUT_FILE = ".perfsup-callgrind.out"


def wrap_command(command: str, out_file: str = OUT_FILE) -> str:
    """`command` run under callgrind, its counts written to `out_file` (children too)."""
    return (
        f"valgrind --tool=callgrind --trace-children=yes "
        f"--callgrind-out-file={shlex.quote(out_file)} sh -c {shlex.quote(command)}"
    )


def parse_callgrind(text: str) -> list[Record]:
    """One record per event ("Ir", ...), field "total"."""
    events: list[str] | None = None
    totals: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("events:"):
            events = line.split(":", 1)[1].split()
        elif line.startswith(("totals:", "summary:")):
            totals = line.split(":", 1)[1].split()
    if events is None or totals is None:
        missing = "events:" if events is None else "totals:/summary:"
        raise MetricParseError(
            f"callgrind output has no '{missing}' line; expected a complete callgrind.out "
            "file (truncated, or not callgrind output?)"
        )
    if len(totals) > len(events) or not totals:
        raise MetricParseError(
            f"callgrind totals {' '.join(totals)!r} do not match events {' '.join(events)!r}"
        )
    records = []
    for event, total in zip(events, totals, strict=False):
        if not total.isdigit():
            raise MetricParseError(f"callgrind total for {event} is {total!r}, not a count")
        records.append(Record(event, "total", [float(total)]))
    return records
