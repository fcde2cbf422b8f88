"""pyperf JSON files (`-o out.json`): one record per benchmark, field "values".

Values are every measured value of every run (warm-ups and calibration runs
excluded), in the file's unit (seconds for timeit).
"""

from __future__ import annotations

from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.record import Record, number, parse_json


def parse_pyperf(text: str) -> list[Record]:
    data = parse_json(text, "pyperf JSON")
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benchmarks, list) or not benchmarks:
        raise MetricParseError("pyperf JSON: expected a non-empty 'benchmarks' list")
    assert isinstance(data, dict)  # checked with benchmarks above
    common = _dict(data.get("metadata"))
    records: list[Record] = []
    for index, bench in enumerate(benchmarks):
        if not isinstance(bench, dict) or not isinstance(bench.get("runs"), list):
            raise MetricParseError(f"pyperf JSON: benchmark {index} has no 'runs' list")
        meta = _dict(bench.get("metadata"))
        name = str(meta.get("name") or common.get("name") or f"benchmark{index}")
        values = [
            number(v, f"pyperf JSON {name!r} value")
            for run in bench["runs"]
            if isinstance(run, dict)
            for v in run.get("values", [])
        ]
        if not values:
            raise MetricParseError(f"pyperf JSON: benchmark {name!r} has no measured values")
        records.append(Record(name, "values", values))
    return records


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}
