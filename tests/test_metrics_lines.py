"""METRIC and EXPERIMENT_STATUS lines, as a benchmark prints them among other output."""

from __future__ import annotations

import pytest

from perfsup.metrics.errors import MetricParseError
from perfsup.metrics.lines import parse_metric_lines, parse_number, parse_status_lines

BENCH_OUTPUT = """\
building...
ok   example.com/thing  0.01s
METRIC time_ms=12.5
  METRIC rss_mb=80 allocs=1200
EXPERIMENT_STATUS: warm-up done
METRICS are printed below
METRIC time_ms=11
METRIC ratio=-3.5e-2, tiny=.5; big=2E+6
some trailing text with METRIC time_ms=99 in the middle
"""


def test_collects_every_value_in_order() -> None:
    found = parse_metric_lines(BENCH_OUTPUT)
    assert found == {
        "time_ms": [12.5, 11.0],
        "rss_mb": [80.0],
        "allocs": [1200.0],
        "ratio": [-0.035],
        "tiny": [0.5],
        "big": [2e6],
    }


def test_names_may_carry_dots_slashes_and_spaces_around_equals() -> None:
    found = parse_metric_lines("METRIC decode/time = 1420\nMETRIC a.b-c_d%=1\n")
    assert found == {"decode/time": [1420.0], "a.b-c_d%": [1.0]}


def test_no_metric_lines_gives_empty_result() -> None:
    assert parse_metric_lines("hello\nworld\n") == {}
    assert parse_metric_lines("") == {}


@pytest.mark.parametrize(
    ("line", "expected_in_message"),
    [
        ("METRIC time_ms=12ms", "'12ms' is not a number"),
        ("METRIC time_ms=", "has no value"),
        ("METRIC", "without a pair"),
        ("METRIC time_ms 12", "cannot read"),
        ("METRIC 9lives=1", "cannot read"),
        ("METRIC t=nan", "'nan' is not a number"),
        ("METRIC t=1e999", "too large"),
    ],
)
def test_malformed_metric_line_names_the_line(line: str, expected_in_message: str) -> None:
    with pytest.raises(MetricParseError) as info:
        parse_metric_lines(f"warm-up\n{line}\n")
    message = str(info.value)
    assert expected_in_message in message
    assert "line 2" in message and repr(line) in message


def test_truncated_output_mid_line_is_an_error_not_a_crash() -> None:
    with pytest.raises(MetricParseError, match="no value"):
        parse_metric_lines("METRIC time_ms=12.5\nMETRIC time_ms=")


def test_windows_line_ends() -> None:
    assert parse_metric_lines("METRIC t=1\r\nMETRIC t=2\r\n") == {"t": [1.0, 2.0]}


def test_parse_number_accepts_plain_decimals_only() -> None:
    assert parse_number(" 10 ", "here") == 10.0
    with pytest.raises(MetricParseError, match="here"):
        parse_number("1_000", "here")


def test_status_lines() -> None:
    text = "x\nEXPERIMENT_STATUS: warming up\n  EXPERIMENT_STATUS:done  \nEXPERIMENT_STATUS:\n"
    assert parse_status_lines(text) == ["warming up", "done"]
    assert parse_status_lines(BENCH_OUTPUT) == ["warm-up done"]
