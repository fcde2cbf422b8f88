"""Parse the metrics CSV convention: one row per iteration, one column per metric.

The first column is the iteration (any header name); every other column is a
metric. A column name may end with its direction, `time_ms (lower is better)`
or `score (higher is better)` (case-insensitive, brackets optional); without
one a metric is higher-is-better. The leftmost metric has the highest priority.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Literal

from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.lines import parse_number

ITERATION_KEY = "iteration"

_DIRECTION = re.compile(
    r"^(?P<name>.*?)\s*[(\[]?\s*(?P<dir>lower|higher)\s+is\s+better\s*[)\]]?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CsvMetric:
    """A metric column: its clean name and which way is better."""

    name: str
    direction: Literal["lower", "higher"]


def parse_metrics_csv(text: str) -> tuple[list[CsvMetric], list[dict[str, float]]]:
    """Read the CSV `text` into its metric columns (priority order) and its rows.

    Each row maps the clean metric names, plus "iteration", to numbers. Blank
    lines are skipped. Raises `MetricParseError` naming the line for a missing
    or bad header, a row with the wrong number of cells (a truncated file) or a
    cell that is not a number.
    """
    records = [(number, row) for number, row in _read(text) if any(cell.strip() for cell in row)]
    if not records:
        raise MetricParseError(
            "the metrics CSV is empty; expected a header row such as "
            "'iteration,time_ms (lower is better)'"
        )
    _, header = records[0]
    metrics = _parse_header(header)
    rows = [_parse_row(number, row, metrics) for number, row in records[1:]]
    return metrics, rows


def _read(text: str) -> list[tuple[int, list[str]]]:
    """Rows with their 1-based line numbers; a broken quote is a clear error."""
    reader = csv.reader(io.StringIO(text), strict=True)
    out: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            out.append((reader.line_num, row))
    except csv.Error as exc:
        raise MetricParseError(
            f"metrics CSV line {reader.line_num}: {exc}; expected comma-separated cells "
            "(was the file cut off inside a quoted cell?)"
        ) from None
    return out


def _parse_header(header: list[str]) -> list[CsvMetric]:
    if len(header) < 2:
        raise MetricParseError(
            f"metrics CSV header {','.join(header)!r} has no metric column; expected the "
            "iteration column followed by at least one metric column"
        )
    metrics: list[CsvMetric] = []
    for position, raw in enumerate(header[1:], start=2):
        metric = _parse_column(raw.strip())
        if not metric.name:
            raise MetricParseError(
                f"metrics CSV header: column {position} has no name ({raw!r}); expected a "
                "metric name such as 'time_ms (lower is better)'"
            )
        if metric.name == ITERATION_KEY or any(m.name == metric.name for m in metrics):
            raise MetricParseError(
                f"metrics CSV header: column {position} name {metric.name!r} is used twice "
                "(or is reserved for the iteration); expected unique metric names"
            )
        metrics.append(metric)
    return metrics


def _parse_column(raw: str) -> CsvMetric:
    match = _DIRECTION.match(raw)
    if match is None:
        return CsvMetric(raw, "higher")
    direction: Literal["lower", "higher"] = (
        "lower" if match.group("dir").lower() == "lower" else "higher"
    )
    return CsvMetric(match.group("name").strip(), direction)


def _parse_row(number: int, row: list[str], metrics: list[CsvMetric]) -> dict[str, float]:
    expected = len(metrics) + 1
    if len(row) != expected:
        hint = " (truncated file?)" if len(row) < expected else ""
        raise MetricParseError(
            f"metrics CSV line {number}: {len(row)} cells {','.join(row)!r}, expected "
            f"{expected} (the iteration and {len(metrics)} metrics){hint}"
        )
    parsed = {ITERATION_KEY: parse_number(row[0], f"metrics CSV line {number}, iteration")}
    for metric, cell in zip(metrics, row[1:], strict=True):
        parsed[metric.name] = parse_number(cell, f"metrics CSV line {number}, {metric.name}")
    return parsed
