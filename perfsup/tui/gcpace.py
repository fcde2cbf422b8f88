"""Full garbage collections while the person is not typing, not in the middle of a key.

CPython runs a full (oldest-generation) collection every ten young ones, at
whatever allocation happens to trigger it. In the TUI that walks every
long-lived object not frozen (the widgets' rendered lines, the loaded part of
the tree, the panes' logs: ~50,000 objects, 10-70 ms on the dev machine), and a
cursor key that lands on it waits that long: that was most of the key latency's
p99. Young collections stay as they are (about a millisecond each).

While the app runs, `IdleCollector` raises the oldest generation's threshold so
the automatic full pass almost never comes (it still does after `SAFETY_EVERY`
young collections, so memory stays bounded while someone holds a key down), and
`tick()` (the app calls it from a timer) runs the full pass itself once as many
young collections as CPython would have waited for have run and no key or click
arrived for `IDLE_S`. A flood of log lines with no one typing is collected at
CPython's own pace; a person moving through the tree is not interrupted.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

IDLE_S = 1.0  # no key or click for this long: a full pass will not be felt
FULL_EVERY = 10  # young (generation 1) collections between full passes: CPython's default
SAFETY_EVERY = 500  # the automatic full pass, while interactive: ~70 s of a key held down


def _collections(generation: int) -> int:
    return int(gc.get_stats()[generation]["collections"])


class IdleCollector:
    """Moves the full garbage collections to the moments the UI is idle."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        idle_s: float = IDLE_S,
        full_every: int = FULL_EVERY,
    ) -> None:
        self.clock = clock
        self.idle_s = idle_s
        self.full_every = full_every
        self.last_input = float("-inf")
        self.full_passes = 0  # the passes tick() ran
        self._saved: tuple[int, int, int] | None = None
        self._young_mark = 0
        self._full_mark = 0
        self._mark()

    def start(self) -> None:
        """Defer the automatic full passes (the app calls this once it is mounted)."""
        if self._saved is None:
            first, second, third = gc.get_threshold()
            self._saved = (first, second, third)
            gc.set_threshold(first, second, SAFETY_EVERY)
        self._mark()

    def stop(self) -> None:
        """Give the process back CPython's thresholds as they were."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def input(self) -> None:
        """A key or a click arrived: hold the full pass for another `idle_s`."""
        self.last_input = self.clock()

    def due(self) -> bool:
        """As many young collections ran since the last full pass as CPython waits for."""
        if _collections(2) != self._full_mark:  # a full pass ran meanwhile (ours or automatic)
            self._mark()
        return _collections(1) - self._young_mark >= self.full_every

    def tick(self) -> bool:
        """Run the full pass if it is due and the person is idle; True if it ran."""
        if self.clock() - self.last_input < self.idle_s or not self.due():
            return False
        gc.collect()
        self.full_passes += 1
        self._mark()
        return True

    def _mark(self) -> None:
        self._young_mark = _collections(1)
        self._full_mark = _collections(2)
