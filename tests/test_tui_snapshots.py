"""The main screen, pixel for pixel, in each bundled theme (pytest-textual-snapshot),
and on the store of the demo's real run (tests/data/demo_run.sql) with the run
overview and the node card on screen.

The stores have fixed timestamps and the app a fixed clock, so the screen is
the same on every machine. Update after a deliberate change with
`pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from perfsup.engine.rundir import RunPaths
from perfsup.tui.app import PerfsupApp, create_app
from perfsup.tui.tree import RunTree
from tests.helpers import pilot_until
from tests.tui_store import T0, build_run, demo_run


def main_screen(tmp_path: Path, theme: str) -> PerfsupApp:
    fx = build_run(tmp_path, calibrated=True)
    return create_app(None, fx.root, fx.config, theme=theme, now=lambda: T0 + timedelta(hours=1))


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    app.sub_title = "demo run"  # the run dir's path differs per machine
    tree = app.query_one(RunTree)
    await pilot_until(pilot, lambda: "1.2" in tree.tree_nodes)  # children load in a worker
    tree.tree_nodes["1.2"].expand()
    await pilot_until(pilot, lambda: "1.2.2" in tree.tree_nodes)
    tree.move_cursor(tree.tree_nodes["1.2"])
    panes = app.node_panes
    await pilot_until(
        pilot,
        lambda: panes.detail is not None and panes.detail.row.id == "1.2",
        what="the panes of 1.2",
    )
    await pilot.wait_for_scheduled_animations()  # the tab underline slides in
    await pilot.pause()


@pytest.mark.parametrize("theme", ["perfsup-dark", "perfsup-light", "perfsup-high-contrast"])
def test_main_screen(snap_compare, tmp_path: Path, theme: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(main_screen(tmp_path, theme), terminal_size=(140, 40), run_before=settle)


async def demo_settle(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    # A finished run's header names its folder (a temporary one here): name it the same
    # on every machine. The store and the logs are open already.
    app.paths = RunPaths(Path("demo/run"))
    tree = app.query_one(RunTree)
    await pilot_until(pilot, lambda: "1.2" in tree.tree_nodes)
    tree.tree_nodes["1.2"].expand()
    await pilot_until(pilot, lambda: "1.2.3" in tree.tree_nodes)
    tree.move_cursor(tree.tree_nodes["1.2"])
    panes = app.node_panes
    await pilot_until(
        pilot,
        lambda: panes.detail is not None and panes.detail.row.id == "1.2"
        and app.run_overview.shown is not None and app.sub_title.startswith("demo/run"),
        what="the overview and the card of 1.2",
    )  # fmt: skip
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.mark.parametrize("size", [(140, 40), (100, 34)], ids=["140x40", "100x34"])
def test_demo_run_main_screen(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """The demo's real night: baseline -> best in ms, the raised threshold, 1.2's card."""
    paths, config, finished = demo_run(tmp_path)
    app = create_app(None, paths.root, config, theme="perfsup-dark", now=lambda: finished)
    assert snap_compare(app, terminal_size=size, run_before=demo_settle)
