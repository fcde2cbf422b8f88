"""Tail a log file: read what was appended since last time, as clean lines.

No Textual here: the pane calls `read()` from a steady timer, so a flood of
output costs one read per tick, never one UI update per line. ANSI escape
sequences are stripped (a pane never shows them raw); a file that shrank
(rotated or rewritten) is read again from the start.
"""

from __future__ import annotations

import re
from pathlib import Path

# CSI (colours, cursor moves), OSC (titles, links) and lone two-byte escapes.
ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
CHUNK_BYTES = 512 * 1024  # per pane per flush: bounds the time a flush takes


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text) if "\x1b" in text else text


class LogTail:
    """The new complete lines of one file, read incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._partial = b""
        self.lines_read = 0
        self.behind = False  # the last read stopped at max_bytes: more is waiting

    def read(self, keep_last: int | None = None, max_bytes: int = CHUNK_BYTES) -> list[str]:
        """Lines appended since the last call (only the last `keep_last` are returned;
        all are counted in `lines_read`). A partial last line waits for its newline."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                if size < self.offset:  # truncated or replaced: start over
                    self.offset, self._partial = 0, b""
                if size == self.offset:
                    return []
                handle.seek(self.offset)
                data = handle.read(max_bytes)
        except OSError:
            return []
        self.offset += len(data)
        self.behind = len(data) == max_bytes
        data = self._partial + data
        cut = data.rfind(b"\n")
        if cut < 0:
            self._partial = data
            return []
        self._partial = data[cut + 1 :]
        body = data[:cut]
        count = body.count(b"\n") + 1
        self.lines_read += count
        if keep_last is not None and count > keep_last:
            # Bounded pane: only the tail is shown; the whole file stays on disk.
            start = len(body)
            for _ in range(keep_last):
                start = body.rfind(b"\n", 0, start)
                if start < 0:
                    break
            body = body[start + 1 :]
        text = strip_ansi(body.decode("utf-8", errors="replace")).replace("\r", "")
        return text.split("\n")

    def flush_partial(self) -> list[str]:
        """The unfinished last line, once the writer is done."""
        if not self._partial:
            return []
        line, self._partial = self._partial, b""
        self.lines_read += 1
        return [strip_ansi(line.decode("utf-8", errors="replace"))]
