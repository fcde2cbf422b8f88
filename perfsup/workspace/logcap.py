"""Step logs of bounded size, and reads of their end in constant memory.

A build, check or bench command is model-written code: it may print without
end. Its log keeps the start (where a compiler's first error is) and the end
(where a test runner's summary and the METRIC lines are); what lies between
is dropped, and one line in its place says how much:

    --- perfsup: 523,190,272 bytes of output dropped here (run.max_log_mb = 8) ---

`CappedLog` appends lines as they come (another process tails the file
live). Once the file would pass its limit it is compacted in place: the
marker goes after the head and the newest part is copied down behind it, a
chunk at a time, so memory stays constant. A compaction frees a slack of an
eighth of the limit, so the copying costs a constant amount per byte
written, and the file never holds more than the limit plus one line.
Several commands may append to one log (the benchmark's pairs): a new
`CappedLog` finds the marker an earlier one left and goes on counting.

`telling_line` and `tail_bytes` read the end of a log without reading the
rest.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO

MIB = 1024 * 1024
DEFAULT_MAX_LOG_BYTES = 8 * MIB
_MIN_MAX_BYTES = 4096
_COPY_CHUNK = 256 * 1024
_LINE_SEARCH = 64 * 1024  # runner lines are at most 64 KiB: a line start is this near
_MARKER_PREFIX = b"--- perfsup: "
# A line that says why a command failed, wherever the tool prints it: a Python
# exception ("E   ModuleNotFoundError: ..."), pytest's "FAILED test - why",
# a compiler's or argparse's "error:", Go's "panic:", git's "fatal:".
_TELLING = re.compile(
    r"^(?:E\s+)?[A-Za-z_][\w.]*(?:Error|Exception)\b:?"
    r"|^FAILED \S+ - "
    r"|(?:^|[\s:])(?:fatal )?error(?:\[\w+\])?: "
    r"|^(?:panic|fatal): "
)
_TELLING_LINES = 40  # only the end counts: an old logged exception says nothing
# Lines perfsup writes into a log around a command's own output.
OWN_LINES = ("--- perfsup:", "---- ")
_MARKER = re.compile(rb"--- perfsup: ([0-9,]{1,32}) bytes of output dropped here[^\n]{0,200}\n")


class CappedLog:
    """Appends text lines to `path`, keeping it near `max_bytes` (head and tail)."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_LOG_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max(int(max_bytes), _MIN_MAX_BYTES)
        self.head_limit = self.max_bytes // 2
        self._slack = self.max_bytes // 8
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self._fd).st_size
        self.dropped = 0
        self._marker: tuple[int, int] | None = None  # (start, end) of the marker line
        if self.size > self.head_limit:
            self._find_marker()

    # --------------------------------------------------------------- writing
    def write_line(self, line: str) -> None:
        """Append `line` and a newline; compact when the file passes the limit."""
        self.write(line + "\n")

    def write(self, text: str) -> None:
        data = text.encode("utf-8", errors="replace")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)  # ENOSPC raises here, for the engine
            view = view[written:]
        self.size += len(data)
        if self.size > self.max_bytes:
            self._compact()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> CappedLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ compaction
    def _compact(self) -> None:
        with open(self.path, "r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            newline = b""
            if self._marker is None:
                found = _line_start_before(handle, self.head_limit)
                if found is None:  # no line end near: the marker ends the head's last line
                    found, newline = self.head_limit, b"\n"
                head_end = old_end = found
            else:
                head_end, old_end = self._marker
            keep = self.max_bytes - self._slack - head_end - 200  # 200: the marker's room
            tail_start = _line_start_after(handle, max(size - max(keep, 0), old_end), size)
            self.dropped += tail_start - old_end
            marker = self._marker_line()
            handle.seek(head_end)
            handle.write(newline + marker)
            head_end += len(newline)
            at = head_end + len(marker)
            source = tail_start
            while source < size:  # forward copy: the target is always before the source
                handle.seek(source)
                chunk = handle.read(min(_COPY_CHUNK, size - source))
                if not chunk:
                    break
                handle.seek(at)
                handle.write(chunk)
                at += len(chunk)
                source += len(chunk)
            handle.truncate(at)
        self._marker = (head_end, head_end + len(marker))
        self.size = at

    def _marker_line(self) -> bytes:
        return (
            f"--- perfsup: {self.dropped:,} bytes of output dropped here "
            f"(run.max_log_mb = {self.max_bytes / MIB:g}) ---\n"
        ).encode()

    def _find_marker(self) -> None:
        """The marker an earlier writer left right after the head, if any."""
        start = max(0, self.head_limit - _LINE_SEARCH - 1)
        with open(self.path, "rb") as handle:
            handle.seek(start)
            window = handle.read(self.head_limit + 512 - start)
        for match in _MARKER.finditer(window):
            begin = start + match.start()
            if begin == 0 or window[match.start() - 1 : match.start()] == b"\n":
                self._marker = (begin, start + match.end())
                self.dropped = int(match.group(1).replace(b",", b""))
                return


def _line_start_before(handle: BinaryIO, limit: int) -> int | None:
    """The offset just after the last newline before `limit`; None when none is near."""
    start = max(0, limit - _LINE_SEARCH)
    handle.seek(start)
    window = handle.read(limit - start)
    cut = window.rfind(b"\n")
    return start + cut + 1 if cut >= 0 else None


def _line_start_after(handle: BinaryIO, offset: int, size: int) -> int:
    """The first line start at or after `offset` (or `offset` when none is near)."""
    if offset <= 0:
        return 0
    handle.seek(offset - 1)
    window = handle.read(min(_LINE_SEARCH, size - offset + 1))
    cut = window.find(b"\n")
    return offset + cut if cut >= 0 else offset


# ------------------------------------------------------------------ reading
def tail_bytes(path: Path, count: int) -> bytes:
    """The last `count` bytes of the file at `path` (fewer if it is shorter)."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - count))
        return handle.read(count)


def telling_line(
    path: Path, skip: tuple[str, ...] = OWN_LINES, quiet: tuple[str, ...] = ()
) -> str | None:
    """The line that best says why a command failed, from the end of its log:
    the last error or exception message among its last lines, else its last
    line (lines starting with `skip` never count; `quiet` ones only when
    nothing else was printed). Reads the log's last 64 KiB only."""
    data = tail_bytes(path, _LINE_SEARCH)
    lines = [ln.strip() for ln in data.decode("utf-8", errors="replace").splitlines()]
    if len(data) == _LINE_SEARCH and len(lines) > 1:
        lines = lines[1:]  # the first may be the end of a longer line
    printed = [ln for ln in lines if ln and not ln.startswith(skip)]
    for line in reversed(printed[-_TELLING_LINES:]):
        if _TELLING.search(line):
            return line
    plain = [ln for ln in printed if not ln.startswith(quiet)] or printed
    return plain[-1] if plain else None
