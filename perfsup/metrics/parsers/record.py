"""The record every parser produces, and the shared JSON reading."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from perfsup.metrics.errors import MetricParseError


@dataclass
class Record:
    """Values of one measurement: `name` (benchmark, command, event), `field` (unit/statistic)."""

    name: str
    field: str
    values: list[float] = dc_field(default_factory=list)
    procs: int | None = None  # Go's -N suffix (GOMAXPROCS), where given


def parse_json(text: str, what: str) -> Any:
    """JSON text, or MetricParseError naming the format and where it broke."""
    if not text.strip():
        # pytest-benchmark opens its JSON file at start and writes it only if a benchmark ran
        raise MetricParseError(
            f"{what}: not valid JSON (the file is empty: did any benchmark run?); "
            "expected the complete file the tool writes (truncated?)"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MetricParseError(
            f"{what}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "expected the complete file the tool writes (truncated?)"
        ) from None


def number(value: object, what: str) -> float:
    """A finite float from JSON, or MetricParseError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MetricParseError(f"{what}: {value!r} is not a finite number")
    return float(value)
