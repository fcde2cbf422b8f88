"""pytest-benchmark `--benchmark-json` files: one record per (test, statistic), in seconds."""

from __future__ import annotations

from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.record import Record, number, parse_json

STATS = ("min", "max", "mean", "median", "stddev", "iqr", "ops")


def parse_pytest_benchmark(text: str) -> list[Record]:
    data = parse_json(text, "pytest-benchmark JSON")
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benchmarks, list) or not benchmarks:
        raise MetricParseError("pytest-benchmark JSON: expected a non-empty 'benchmarks' list")
    records: list[Record] = []
    for index, bench in enumerate(benchmarks):
        stats = bench.get("stats") if isinstance(bench, dict) else None
        if not isinstance(stats, dict) or not isinstance(bench.get("name"), str):
            raise MetricParseError(f"pytest-benchmark JSON: benchmark {index} has no name/stats")
        for stat in STATS:
            if stat in stats:
                value = number(stats[stat], f"pytest-benchmark {bench['name']!r} {stat}")
                records.append(Record(bench["name"], stat, [value]))
    return records
