"""Metrics from tool outputs: pick the record a MetricSpec asks for.

`source` says which parser reads the output; `path` the file (stdout when
unset, for go_bench and perf_stat; `.perfsup-callgrind.out` for callgrind);
`select` the benchmark/command/event (default: the first in the output);
`field` the unit or statistic (defaults below). Several values (go test
-count, pyperf runs) give their median.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from perfsup.config import MetricSpec
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.parsers.callgrind import OUT_FILE, parse_callgrind
from perfsup.metrics.parsers.gobench import parse_go_bench
from perfsup.metrics.parsers.hyperfine import parse_hyperfine
from perfsup.metrics.parsers.perfstat import parse_perf_stat
from perfsup.metrics.parsers.pyperf import parse_pyperf
from perfsup.metrics.parsers.pytest_benchmark import parse_pytest_benchmark
from perfsup.metrics.parsers.record import Record

DEFAULT_FIELD = {
    "go_bench": "ns/op",
    "hyperfine": "median",
    "pyperf": "values",
    "pytest_benchmark": "median",
    "callgrind": "total",
}
TOOL_SOURCES = frozenset({*DEFAULT_FIELD, "perf_stat"})


def tool_metric(spec: MetricSpec, stdout: str, workdir: Path) -> float:
    """The value of one tool-sourced metric; MetricParseError says what is missing."""
    text = _text(spec, stdout, workdir)
    unsupported: dict[str, str] = {}
    if spec.source == "go_bench":
        records = parse_go_bench(text)
    elif spec.source == "hyperfine":
        records = parse_hyperfine(text)
    elif spec.source == "pyperf":
        records = parse_pyperf(text)
    elif spec.source == "pytest_benchmark":
        records = parse_pytest_benchmark(text)
    elif spec.source == "callgrind":
        records = parse_callgrind(text)
    elif spec.source == "perf_stat":
        records, unsupported = parse_perf_stat(text)
    else:
        raise MetricParseError(f"metric {spec.name!r}: {spec.source!r} is not a tool source")
    return _pick(spec, records, unsupported)


def _text(spec: MetricSpec, stdout: str, workdir: Path) -> str:
    rel = spec.path or (OUT_FILE if spec.source == "callgrind" else None)
    if rel is None:
        return stdout
    try:
        return (workdir / rel).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MetricParseError(
            f"metric {spec.name!r}: cannot read {rel} ({exc.strerror}); expected the "
            f"{spec.source} output there after the benchmark"
        ) from None


def _pick(spec: MetricSpec, records: list[Record], unsupported: dict[str, str]) -> float:
    if not records and spec.select is None:
        raise MetricParseError(
            f"metric {spec.name!r}: the {spec.source} output counted nothing "
            f"({', '.join(f'{k}: {v}' for k, v in unsupported.items())})"
        )
    wanted_name = spec.select or records[0].name
    if wanted_name in unsupported:
        raise MetricParseError(
            f"metric {spec.name!r}: perf stat reports {unsupported[wanted_name]} for "
            f"{wanted_name!r} (no such counter on this machine)"
        )
    matches = [r for r in records if _name_matches(r, wanted_name)]
    if not matches:
        names = sorted({r.name for r in records})
        raise MetricParseError(
            f"metric {spec.name!r}: no {wanted_name!r} in the {spec.source} output "
            f"(found: {', '.join(names) or 'none'})"
        )
    wanted_field = spec.field or DEFAULT_FIELD.get(spec.source)
    if wanted_field is not None:
        matches = [r for r in matches if r.field == wanted_field]
        if not matches:
            raise MetricParseError(
                f"metric {spec.name!r}: {wanted_name!r} has no {wanted_field!r} "
                f"in the {spec.source} output"
            )
    values = [v for r in matches for v in r.values]
    return float(statistics.median(values))


def _name_matches(record: Record, wanted: str) -> bool:
    """By name (for Go: every -N variant), or by name with its -N suffix."""
    if record.name == wanted:
        return True
    return record.procs is not None and f"{record.name}-{record.procs}" == wanted
