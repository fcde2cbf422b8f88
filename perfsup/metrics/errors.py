"""The one error type of the metric parsers."""

from __future__ import annotations


class MetricParseError(ValueError):
    """Benchmark output that cannot be read as metrics.

    The message names what was wrong (the line, row or column, quoted) and what
    was expected, so it can be shown to the person or logged as the reason a
    benchmark run counts as failed.
    """
