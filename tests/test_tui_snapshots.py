"""The main screen, pixel for pixel, in each bundled theme (pytest-textual-snapshot).

The store is built by the test with fixed timestamps and a fixed clock, so
the screen is the same on every machine. Update after a deliberate change
with `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from perfsup.tui.app import PerfsupApp, create_app
from perfsup.tui.tree import RunTree
from tests.helpers import pilot_until
from tests.tui_store import T0, build_run


def main_screen(tmp_path: Path, theme: str) -> PerfsupApp:
    fx = build_run(tmp_path)
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
