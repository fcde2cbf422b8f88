"""One small module per benchmark output format, each turning text into `Record`s.

A record is one named measurement series: a Go benchmark and unit, a
hyperfine command and statistic, a perf event... `collect.py` picks the record
a metric asks for (`MetricSpec.select` and `MetricSpec.field`). Every parser
raises `MetricParseError` with a one-line message on malformed or truncated
input, never anything else.
"""

from __future__ import annotations

from perfsup.metrics.parsers.record import Record, parse_json

__all__ = ["Record", "parse_json"]
