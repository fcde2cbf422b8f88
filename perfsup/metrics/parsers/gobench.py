"""`go test -bench` output: one record per (benchmark, unit).

A result line is `BenchmarkName[-N] <iterations> <value> <unit> [<value> <unit>]...`
with units such as ns/op, B/op, allocs/op, MB/s or any custom unit given to
b.ReportMetric. Sub-benchmarks keep their path (`BenchmarkSizes/n=10`). The
`-N` suffix (GOMAXPROCS, from -cpu) is split off into `procs`; `-count`
repeats add values to the same record.
"""

from __future__ import annotations

import math
import re

from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.record import Record

_RESULT = re.compile(r"^(Benchmark\S*)\s+(\d+)\s+(.*)$")
_PROCS = re.compile(r"^(.*?)-(\d+)$")


def parse_go_bench(text: str) -> list[Record]:
    records: dict[tuple[str, str, int | None], Record] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _RESULT.match(line.strip())
        if match is None:
            continue  # goos:, pkg:, PASS, ok, log output, a name line before output
        full, _iterations, rest = match.groups()
        name, procs = full, None
        suffix = _PROCS.match(full)
        if suffix is not None:
            name, procs = suffix.group(1), int(suffix.group(2))
        tokens = rest.split()
        if not tokens or len(tokens) % 2:
            raise MetricParseError(
                f"go test -bench line {number} {line.strip()!r}: expected pairs of "
                "'<value> <unit>' after the iteration count (truncated output?)"
            )
        for value_text, unit in zip(tokens[0::2], tokens[1::2], strict=True):
            try:
                value = float(value_text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise MetricParseError(
                    f"go test -bench line {number}: {value_text!r} before {unit!r} is not a number"
                )
            key = (name, unit, procs)
            records.setdefault(key, Record(name, unit, procs=procs)).values.append(value)
    if not records:
        raise MetricParseError(
            "no 'Benchmark... <iterations> <value> <unit>' lines in the go test -bench output"
        )
    return list(records.values())
