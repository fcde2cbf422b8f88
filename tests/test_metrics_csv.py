"""The metrics CSV convention: iteration first, metrics after, directions in the header."""

from __future__ import annotations

import pytest

from perfsup.metrics.csvlog import CsvMetric, parse_metrics_csv
from perfsup.metrics.errors import MetricParseError

LOG = """\
iter,time_ms (lower is better),throughput (higher is better),score,rss_mb [Lower Is Better]
0,120.5,800,0.91,512
1,110,850.5,0.92,500

2,1.05e2,900,0.93,498
"""


def test_header_directions_and_priority_order() -> None:
    metrics, _rows = parse_metrics_csv(LOG)
    assert metrics == [
        CsvMetric("time_ms", "lower"),
        CsvMetric("throughput", "higher"),
        CsvMetric("score", "higher"),
        CsvMetric("rss_mb", "lower"),
    ]


def test_rows_keyed_by_clean_name_with_iteration() -> None:
    _metrics, rows = parse_metrics_csv(LOG)
    assert len(rows) == 3  # the blank line is skipped
    assert rows[0] == {
        "iteration": 0.0,
        "time_ms": 120.5,
        "throughput": 800.0,
        "score": 0.91,
        "rss_mb": 512.0,
    }
    assert rows[2]["time_ms"] == 105.0


def test_header_only_has_no_rows() -> None:
    metrics, rows = parse_metrics_csv("iteration,time_ms (lower is better)\n")
    assert metrics == [CsvMetric("time_ms", "lower")] and rows == []


def test_quoted_header_cells() -> None:
    metrics, rows = parse_metrics_csv('n,"time, ms (lower is better)"\n1,2\n')
    assert metrics == [CsvMetric("time, ms", "lower")]
    assert rows == [{"iteration": 1.0, "time, ms": 2.0}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("\n\n", "empty"),
        ("iteration\n1\n", "no metric column"),
        ("iteration,t,t (lower is better)\n", "used twice"),
        ("iteration,iteration\n", "used twice"),
        ("iteration, (lower is better)\n", "no name"),
        ("iteration,t\n1,fast\n", "line 2, t: 'fast' is not a number"),
        ("iteration,t\n1,\n", "line 2, t: '' is not a number"),
        ("iteration,t\none,2\n", "line 2, iteration"),
        ("iteration,t,u\n1,2,3\n2,4", "line 3: 2 cells '2,4', expected 3"),
        ("iteration,t\n1,2,3\n", "line 2: 3 cells"),
        ('iteration,t\n1,"2', "cut off"),
    ],
)
def test_bad_input_gives_a_clear_error(text: str, expected: str) -> None:
    with pytest.raises(MetricParseError) as info:
        parse_metrics_csv(text)
    assert expected in str(info.value)


def test_truncated_row_says_so() -> None:
    with pytest.raises(MetricParseError, match="truncated"):
        parse_metrics_csv("iteration,a,b\n1,2,3\n2,4")
