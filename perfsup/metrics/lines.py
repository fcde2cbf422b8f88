"""Parse `METRIC name=value` and `EXPERIMENT_STATUS:` lines from a command's stdout.

This is the autoresearch convention: a benchmark prints one line per
measurement, `METRIC name=value`, among any other output. Our reading of it:

- the line starts with the word `METRIC` (leading whitespace allowed) followed
  by whitespace; any other line, including `METRICS ...`, is ignored;
- one line may carry several pairs: `METRIC time_ms=12.5 rss_mb=80`
  (separated by whitespace, optionally a comma or semicolon);
- a name starts with a letter or `_` and may contain letters, digits and
  `_ . - / µ %`; spaces around `=` are tolerated;
- a value is a plain decimal number: `12`, `-3.5`, `.5`, `1e-3`, `2.5E+6`;
  units, `nan` and `inf` are refused (a silent NaN would poison the statistics);
- a name printed several times (one line per benchmark run) collects every
  value in order.

Unlike the permissive upstream parsers, which silently skip a line they cannot
read, a line that starts with `METRIC` but does not follow the form raises
`MetricParseError`: a typo in the bench script should fail loudly once, not
make every experiment look like "metric missing" overnight.
"""

from __future__ import annotations

import math
import re

from perfsup.metrics.errors import MetricParseError

_METRIC_LINE = re.compile(r"^\s*METRIC(?:\s+(?P<rest>.*)|\s*)$")
_STATUS_LINE = re.compile(r"^\s*EXPERIMENT_STATUS:(?P<text>.*)$")
_NAME = r"[A-Za-z_µ][\w.\-/µ%]*"
_PAIR = re.compile(rf"\s*(?P<name>{_NAME})\s*=\s*(?P<value>[^\s,;]*)\s*[,;]?")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def parse_number(text: str, where: str) -> float:
    """Read a plain finite decimal number, or raise naming `where` it was found."""
    stripped = text.strip()
    if not _NUMBER.match(stripped):
        raise MetricParseError(
            f"{where}: {stripped!r} is not a number; expected a plain decimal such as "
            "12, 3.5 or 1e-3 (no units, no nan/inf)"
        )
    value = float(stripped)
    if not math.isfinite(value):
        raise MetricParseError(f"{where}: {stripped!r} is too large; expected a finite number")
    return value


def parse_metric_lines(text: str) -> dict[str, list[float]]:
    """Collect every `METRIC name=value` pair in `text`, in order of appearance.

    Returns name -> values (one value per occurrence). Raises `MetricParseError`
    naming the line number and text for a METRIC line that is not well formed.
    """
    found: dict[str, list[float]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _METRIC_LINE.match(line)
        if match is None:
            continue
        where = f"line {number} {line.strip()!r}"
        for name, value in _pairs(match.group("rest") or "", where):
            found.setdefault(name, []).append(value)
    return found


def _pairs(rest: str, where: str) -> list[tuple[str, float]]:
    """Split the part after `METRIC` into (name, value) pairs; all of it must parse."""
    if not rest.strip():
        raise MetricParseError(f"{where}: METRIC without a pair; expected 'METRIC name=value'")
    pairs: list[tuple[str, float]] = []
    pos = 0
    rest = rest.rstrip()
    while pos < len(rest):
        match = _PAIR.match(rest, pos)
        if match is None or match.end() == pos:
            raise MetricParseError(
                f"{where}: cannot read {rest[pos:].strip()!r}; expected 'METRIC name=value' "
                "pairs, the name starting with a letter"
            )
        if not match.group("value"):
            raise MetricParseError(
                f"{where}: metric {match.group('name')!r} has no value; expected name=number"
            )
        pairs.append((match.group("name"), parse_number(match.group("value"), where)))
        pos = match.end()
    return pairs


def parse_status_lines(text: str) -> list[str]:
    """The text of every `EXPERIMENT_STATUS: <text>` line, stripped; empty ones skipped."""
    statuses: list[str] = []
    for line in text.splitlines():
        match = _STATUS_LINE.match(line)
        if match is not None and match.group("text").strip():
            statuses.append(match.group("text").strip())
    return statuses
