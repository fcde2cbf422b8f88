"""The TUI's garbage: painted lines are freed at once, full collections wait for a pause.

Why it matters: every reference cycle the UI makes is work for Python's cyclic
collector, and a full collection that lands on a key press freezes the screen
for tens of milliseconds (benchmarks/tui_stream.py measures the latency).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.segment import Segment
from textual.strip import Strip

from perfsup.tui.app import PerfsupApp, create_app
from perfsup.tui.gcpace import SAFETY_EVERY, IdleCollector
from perfsup.tui.strips import fix_strip_cycles
from perfsup.tui.tree import RunTree
from tests.helpers import pilot_until
from tests.tui_store import RunFixture, build_run

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    """The process's GC thresholds, put back whatever the test does."""
    saved = gc.get_threshold()
    yield saved
    gc.set_threshold(*saved)


def test_a_strip_divided_into_one_piece_does_not_refer_to_itself() -> None:
    fix_strip_cycles()
    strip = Strip([Segment("hello "), Segment("world")])
    before = sys.getrefcount(strip)
    assert list(strip.divide([11])) == [strip]
    assert sys.getrefcount(strip) == before  # nothing kept a reference: no cycle to collect
    # cut into several pieces, it is divided as Textual always did
    assert [piece.text for piece in strip.divide([3, 8, 11])] == ["hel", "lo wo", "rld"]
    assert [piece.text for piece in strip.divide([5, 11])] == ["hello", " world"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def young_collections(n: int) -> None:
    for _ in range(n):
        gc.collect(1)


def full_collections() -> int:
    return int(gc.get_stats()[2]["collections"])


def test_full_collections_are_deferred_while_running_and_restored_after(
    thresholds: tuple[int, int, int],
) -> None:
    collector = IdleCollector()
    collector.start()
    assert gc.get_threshold() == (thresholds[0], thresholds[1], SAFETY_EVERY)
    collector.stop()
    assert gc.get_threshold() == thresholds


def test_the_full_collection_runs_once_due_and_only_when_no_key_came_lately(
    thresholds: tuple[int, int, int],
) -> None:
    clock = Clock()
    collector = IdleCollector(clock=clock, idle_s=1.0, full_every=3)
    collector.start()
    assert not collector.tick()  # nothing allocated since: not due
    young_collections(3)
    collector.input()  # a key, just now
    clock.now += 0.5
    assert not collector.tick()  # still typing
    clock.now += 0.6
    passes = full_collections()
    assert collector.tick()  # a pause, and due: collected
    assert full_collections() == passes + 1
    assert not collector.tick()  # and not again until as many young ones ran again
    young_collections(3)
    assert collector.tick()
    assert collector.full_passes == 2
    collector.stop()


def test_an_automatic_full_collection_resets_what_is_due(thresholds: tuple[int, int, int]) -> None:
    clock = Clock()
    collector = IdleCollector(clock=clock, full_every=3)
    collector.start()
    young_collections(3)
    gc.collect()  # the safety net (or anyone) ran a full pass meanwhile
    assert not collector.tick()
    collector.stop()


def one_piece_refcount_change() -> int:
    strip = Strip([Segment("a line")])
    before = sys.getrefcount(strip)
    strip.divide([6])
    return sys.getrefcount(strip) - before


async def test_the_app_paints_without_strip_cycles_and_keys_hold_the_full_pass(
    tmp_path: Path, thresholds: tuple[int, int, int]
) -> None:
    fx: RunFixture = build_run(tmp_path)
    app: PerfsupApp = create_app(None, fx.root, fx.config, export_dir=tmp_path)
    assert one_piece_refcount_change() == 0
    async with app.run_test(size=(140, 40)) as pilot:
        tree = app.query_one(RunTree)
        await pilot_until(pilot, lambda: len(tree.tree_nodes) > 1, what="the tree's first level")
        assert gc.get_threshold()[2] == SAFETY_EVERY  # deferred while the app runs
        app.gc_pace.last_input = float("-inf")
        await pilot.press("down")
        assert app.gc_pace.clock() - app.gc_pace.last_input < app.gc_pace.idle_s
    assert gc.get_threshold() == thresholds  # the app gave the process its thresholds back
