"""Stop Textual's `Strip.divide` from turning every painted line into a reference cycle.

The compositor divides each line a widget renders at the screen's cuts. When a
line is not cut at all, Textual (8.x) returns `[self]` and stores that list in
the strip's own cache: the strip then refers to itself and is freed only by the
cyclic garbage collector, with its seven caches and every strip derived from it.
In the 10,000-node tree benchmark that was ~6,400 cycles (~100,000 objects) per
250 cursor keys, which kept the collector busy and made its full passes long.

`fix_strip_cycles()` wraps `Strip.divide` so the one-piece answer is returned
without being cached (building `[self]` costs less than the cache lookup); every
other division is Textual's own code. Harmless if Textual stops caching it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.strip import Strip

_original_divide = Strip.divide


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cell_length = self.cell_length
    kept = [cut for cut in cuts if cut <= cell_length]
    if kept == [cell_length]:
        return [self]  # not cached: a strip must not hold a list holding itself
    return _original_divide(self, kept)


def fix_strip_cycles() -> None:
    """Install the wrapper (idempotent; process-wide, like Textual's own classes)."""
    Strip.divide = _divide  # type: ignore[method-assign]
