"""hyperfine `--export-json` files: one record per (command, statistic), in seconds."""

from __future__ import annotations

from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.record import Record, number, parse_json

STATS = ("mean", "median", "min", "max", "stddev", "user", "system")


def parse_hyperfine(text: str) -> list[Record]:
    data = parse_json(text, "hyperfine JSON")
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or not results:
        raise MetricParseError("hyperfine JSON: expected a non-empty 'results' list")
    records: list[Record] = []
    for index, result in enumerate(results):
        if not isinstance(result, dict) or not isinstance(result.get("command"), str):
            raise MetricParseError(f"hyperfine JSON: result {index} has no 'command'")
        command = result["command"]
        for stat in STATS:
            if result.get(stat) is not None:
                value = number(result[stat], f"hyperfine JSON {command!r} {stat}")
                records.append(Record(command, stat, [value]))
        times = result.get("times")
        if isinstance(times, list) and times:
            values = [number(t, f"hyperfine JSON {command!r} times") for t in times]
            records.append(Record(command, "times", values))
    return records
