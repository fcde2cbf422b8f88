"""`perf stat -x<sep>` (CSV) and `perf stat -j` (JSON lines) output.

One record per event, field = the unit perf printed ("msec", "" for counts).
Counters this machine cannot count (`<not supported>`, `<not counted>`) are
not records; they are listed in `unsupported` so a metric that asks for one
gets a clear message instead of a zero.
"""

from __future__ import annotations

import json
import math

from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.record import Record

_NOT_COUNTED = ("<not supported>", "<not counted>")


def parse_perf_stat(text: str) -> tuple[list[Record], dict[str, str]]:
    """(records, {event: why not counted}); the format is recognised per line."""
    records: list[Record] = []
    unsupported: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            value_text, unit, event = _json_line(line, number)
        else:
            sep = "," if "," in line else ";"
            fields = line.split(sep)
            if len(fields) < 3:
                raise MetricParseError(
                    f"perf stat line {number} {line!r}: expected 'value{sep}unit{sep}event...' "
                    "(perf stat -x, output; truncated?)"
                )
            value_text, unit, event = fields[0], fields[1], fields[2]
        if value_text in _NOT_COUNTED:
            unsupported[event] = value_text
            continue
        try:
            value = float(value_text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not event:
            raise MetricParseError(
                f"perf stat line {number}: {value_text!r} for event {event!r} is not a number"
            )
        records.append(Record(event, unit, [value]))
    if not records and not unsupported:
        raise MetricParseError("no counters in the perf stat output (expected -x, or -j output)")
    return records, unsupported


def _json_line(line: str, number: int) -> tuple[str, str, str]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        raise MetricParseError(
            f"perf stat -j line {number} is not a complete JSON object (truncated?)"
        ) from None
    if not isinstance(data, dict) or "event" not in data or "counter-value" not in data:
        raise MetricParseError(f"perf stat -j line {number}: expected 'event' and 'counter-value'")
    return str(data["counter-value"]), str(data.get("unit", "")), str(data["event"])
