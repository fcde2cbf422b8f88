"""Collect the configured metrics from one benchmark run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from perfsup.config import MetricSpec
from perfsup.metrics.csvlog import parse_metrics_csv
from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.formats import TOOL_SOURCES, tool_metric
from perfsup.metrics.lines import parse_metric_lines


def collect_metrics(stdout: str, workdir: Path, specs: Sequence[MetricSpec]) -> dict[str, float]:
    """One value per configured metric: the last METRIC line, or the CSV's last row.

    Raises MetricParseError naming the first metric the run did not produce.
    """
    values: dict[str, float] = {}
    from_lines: dict[str, list[float]] | None = None
    csv_cache: dict[str, dict[str, float]] = {}
    for spec in specs:
        if spec.source in TOOL_SOURCES:
            values[spec.name] = tool_metric(spec, stdout, workdir)
        elif spec.source == "metric_lines":
            if from_lines is None:
                from_lines = parse_metric_lines(stdout)
            found = from_lines.get(spec.name)
            if not found:
                raise MetricParseError(
                    f"the benchmark printed no value for metric {spec.name!r} "
                    f"(expected a line 'METRIC {spec.name}=<number>' on stdout)"
                )
            values[spec.name] = found[-1]
        else:
            assert spec.csv_path is not None  # guaranteed by MetricSpec's validator
            if spec.csv_path not in csv_cache:
                csv_cache[spec.csv_path] = _last_csv_row(workdir / spec.csv_path)
            row = csv_cache[spec.csv_path]
            if spec.name not in row:
                raise MetricParseError(
                    f"{spec.csv_path} has no column for metric {spec.name!r} "
                    f"(columns: {', '.join(sorted(row)) or 'none'})"
                )
            values[spec.name] = row[spec.name]
    return values


def _last_csv_row(path: Path) -> dict[str, float]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MetricParseError(f"cannot read the metrics CSV {path.name}: {exc.strerror}") from None
    _columns, rows = parse_metrics_csv(text)
    if not rows:
        raise MetricParseError(f"the metrics CSV {path.name} has no data rows")
    return rows[-1]
