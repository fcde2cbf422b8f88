"""Pause, promote and resume in every order, from the TUI to a real engine.

Issue 18 saw promote-while-paused switch the status line to "engine running"
while the engine stayed paused; every later `p` was refused "already paused".
Here the TUI (Pilot) drives an engine running in a thread on a real git repo,
real benchmark processes and a real SQLite store; after each key the status
line must say what the engine really does, and no key may be refused.
Undo of a prune and a finished run continued with more budget go the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import col, select

from perfsup.store import Node, Run, open_store
from perfsup.tui.app import PerfsupApp, create_app
from perfsup.tui.dialogs import ContinueScreen
from perfsup.tui.tree import RunTree
from tests.helpers import pilot_until
from tests.test_engine_commands import FASTER, NO_GAINS, Live, live  # noqa: F401
from tests.test_tui import SIZE, on_screen, select_node

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def attach(run: Live) -> PerfsupApp:
    return create_app(None, run.paths.root, run.engine.config, export_dir=run.paths.root)


def settled(app: PerfsupApp, count: int) -> bool:
    """`count` answers of the engine (applied or refused) have come back."""
    return sum(": applied: " in n or ": refused: " in n for n in app.notices) >= count


def says_what_the_engine_does(app: PerfsupApp, run: Live) -> bool:
    status = app.status_text()
    return ("engine paused" in status) == run.engine.controls.paused and "requested" not in status


async def show(pilot, app: PerfsupApp, node_id: str) -> None:  # type: ignore[no-untyped-def]
    tree = app.query_one(RunTree)
    await pilot_until(pilot, lambda: node_id in tree.tree_nodes, what=f"{node_id} in the tree")
    await select_node(pilot, app, node_id)


ORDERS = {
    "pause-promote-resume": ["p", "P", "p"],
    "promote-pause-resume": ["P", "p", "p"],
    "pause-resume-promote": ["p", "p", "P"],
    "promote-pause-promote-resume": ["P", "p", "P", "p"],
}


@pytest.mark.parametrize("keys", list(ORDERS.values()), ids=list(ORDERS))
async def test_pause_promote_resume_in_any_order(
    live: Callable[..., Live],  # noqa: F811
    keys: list[str],
) -> None:
    run = live([FASTER, *NO_GAINS[:3]], hold=False)
    run.wait_status("1.1", "kept")
    run.hold()
    run.wait_status("1.1.1", "benchmarking")
    app = attach(run)
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, app, "1.1")
        for done, key in enumerate(keys, start=1):
            await pilot.press(key)
            await pilot_until(pilot, lambda n=done: settled(app, n), what=f"answer to key {done}")
            await pilot_until(
                pilot,
                lambda: says_what_the_engine_does(app, run),
                what=f"the status line after {keys[:done]}",
                timeout=15,
            )
        refused = [n for n in app.notices if ": refused: " in n]
        promotes = keys.count("P")
        assert refused == [n for n in refused if "already starting" in n]
        assert len(refused) == promotes - 1
        assert not run.engine.controls.paused  # the last `p` always resumed
        run.release()
        run.wait_status("2.1", "discarded", timeout=60)  # run 2 grew from the promoted node
        # Run 2 may have ended (its script ran out) before the screen polled:
        # the status line then says "run 2 finished: ... · read-only".
        await pilot_until(
            pilot,
            lambda: app.status_text().startswith("run 2 "),
            what="the status line to follow run 2",
            timeout=15,
            detail=app.status_text,
        )
    run.finish()
    assert "promoted" in (run.run(1).stop_reason or "")


async def test_undo_of_a_prune_gives_the_node_back_and_it_grows_again(
    live: Callable[..., Live],  # noqa: F811
) -> None:
    run = live([FASTER, *NO_GAINS[:3]], hold=False)
    run.wait_status("1.1", "kept")
    run.hold()
    run.wait_status("1.1.1", "benchmarking")
    before = run.node("1.1")
    assert before is not None and before.reason
    app = attach(run)
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, app, "1.1")
        await pilot.press("x", "y")
        await pilot_until(pilot, lambda: settled(app, 1), what="the prune applied")
        run.wait_status("1.1", "pruned")
        run.wait_status("1.1.1", "pruned")  # cut short: the experiment in flight
        await pilot.press("u")
        await pilot_until(pilot, lambda: settled(app, 2), what="the undo applied")
        assert any("undo prune: applied: prune of 1.1 undone" in n for n in app.notices)
    kept = run.node("1.1")
    assert kept is not None and kept.status == "kept" and kept.reason == before.reason
    cut = run.node("1.1.1")
    assert cut is not None and cut.status == "cancelled" and "undone" in (cut.reason or "")
    refused = run.send("unprune")
    assert refused.status == "rejected" and refused.result == "no prune to undo"
    run.release()
    run.wait_status("1.1.2", "discarded", timeout=60)  # 1.1 grows children again
    run.finish()


async def test_a_finished_run_continues_with_more_budget_from_the_tui(
    live: Callable[..., Live],  # noqa: F811
    tmp_path: Path,
) -> None:
    run = live(NO_GAINS[:4], extra="[budgets]\nmax_experiments = 1\n", hold=False)
    outcome = run.finish()
    assert outcome.reason == "experiment budget reached (1 of 1)"
    config_path = tmp_path / "perfsup.toml"
    from perfsup.cli.continuing import continue_in_background

    app = create_app(
        None,
        run.paths.root,
        run.engine.config,
        export_dir=tmp_path,
        continue_starter=continue_in_background(config_path, run.paths.root),
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot_until(pilot, lambda: "read-only" in app.status_text(), what="read-only")
        await pilot.press("c")
        await on_screen(pilot, app, ContinueScreen)
        field = app.screen.query_one("#experiments")
        field.value = "2"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot_until(
            pilot, lambda: any(n.startswith("continue: engine started") for n in app.notices)
        )
        # The TUI follows the continued run to its new end.
        await pilot_until(
            pilot,
            lambda: "experiment budget reached (3 of 3) · read-only" in app.status_text(),
            what="the continued run's end on the status line",
            timeout=180,
        )
    store = open_store(run.paths.store)
    try:
        with store.session() as s:
            finished = s.get(Run, 1)
            nodes = s.exec(select(Node.id).where(col(Node.parent_id).is_not(None))).all()
    finally:
        store.close()
    assert finished is not None and finished.status == "finished"
    assert sorted(nodes) == ["1.1", "1.2", "1.3"]
