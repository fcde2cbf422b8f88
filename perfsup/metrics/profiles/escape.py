"""`go build -gcflags=-m` output as (file, line, message) records.

The compiler prints `path/file.go:LINE:COL: message` for each decision
(`moved to heap: x`, `x escapes to heap`, `can inline f`, `x does not
escape`) and `# package` headers. Heap moves and escapes are what a person
(or a model) optimising allocations looks at first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from perfsup.metrics.errors import MetricParseError

_LINE = re.compile(r"^(?P<file>[^:\s][^:]*\.go):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?P<msg>.+)$")


@dataclass(frozen=True)
class EscapeNote:
    file: str
    line: int
    message: str

    @property
    def to_heap(self) -> bool:
        return "moved to heap" in self.message or self.message.endswith("escapes to heap")


def parse_escape(text: str) -> list[EscapeNote]:
    """Every file:line: message of the output, in order (duplicates removed)."""
    notes: list[EscapeNote] = []
    seen: set[EscapeNote] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue  # other compiler chatter
        note = EscapeNote(match["file"].removeprefix("./"), int(match["line"]), match["msg"])
        if note not in seen:
            seen.add(note)
            notes.append(note)
    if not notes and text.strip() and "error" in text.lower():
        raise MetricParseError(f"go build -gcflags=-m failed: {text.strip().splitlines()[-1]}")
    return notes
