"""The TUI driven by Textual's Pilot on a real run store, real logs and a real git repo.

Every control must leave a Command row for the engine (or refuse, on a
finished run), and the engine's answer must come back as a notification.
"""

from __future__ import annotations

import io
import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import SQLModel, col, select
from textual.command import CommandList, CommandPalette

from perfsup.store import Command, Event, Node, Run, open_store
from perfsup.store.commands import settle_command
from perfsup.tui.app import NOTIFIED_KINDS, PerfsupApp, create_app
from perfsup.tui.keys import KEYS, KeymapError
from perfsup.tui.panes import LogPane
from perfsup.tui.screens import FullLogScreen, HelpScreen, SteerScreen
from perfsup.tui.service import TreeFilter
from perfsup.tui.themes import ThemeError, bundled_themes
from perfsup.tui.tree import RunTree
from tests.helpers import pilot_until
from tests.tui_store import T0, RunFixture, build_run

SIZE = (140, 40)
HOUR = timedelta(hours=1)
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_app(fx: RunFixture, **kwargs: object) -> PerfsupApp:
    return create_app(
        None,
        fx.root,
        fx.config,
        export_dir=fx.root.parent,
        now=lambda: T0 + HOUR,
        **kwargs,  # type: ignore[arg-type]
    )


def commands(fx: RunFixture) -> list[tuple[str, dict[str, object]]]:
    store = open_store(fx.paths.store)
    try:
        with store.session() as s:
            rows = s.exec(select(Command).order_by(col(Command.id))).all()
            return [(c.kind, json.loads(c.args_json)) for c in rows]
    finally:
        store.close()


def tree_settled(app: PerfsupApp) -> bool:
    """Every expanded level of the tree has been read and shown, and no read is running.

    (A tree reader hands its rows to the UI thread and waits for that before it
    finishes, so a finished reader means shown rows.)"""
    tree = app.run_tree
    unread = [
        node_id
        for node_id, node in tree.tree_nodes.items()
        if node.is_expanded and node.allow_expand and node_id not in tree.loaded
    ]
    reading = [w for w in app.workers if w.group == "tree" and not w.is_finished]
    return not unread and not reading


async def opened(pilot, app: PerfsupApp) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app has read the run and its first tree level from the store."""
    await pilot_until(
        pilot,
        lambda: "waiting for the engine" not in app.status_text() and tree_settled(app),
        what="the run read from the store",
    )


async def tree_loaded(pilot, app: PerfsupApp) -> None:  # type: ignore[no-untyped-def]
    """Wait until every read of tree children has finished and been shown."""
    await pilot_until(pilot, lambda: tree_settled(app), what="the tree's reads shown")


async def select_node(pilot, app: PerfsupApp, node_id: str) -> None:  # type: ignore[no-untyped-def]
    """Move the cursor to `node_id` and wait until its panes show it."""
    tree = app.query_one(RunTree)
    tree.move_cursor(tree.tree_nodes[node_id])
    await pilot_until(
        pilot,
        lambda: (
            tree.selected_id() == node_id
            and app.node_panes.detail is not None
            and app.node_panes.detail.row.id == node_id
        ),
        what=f"the panes of {node_id}",
    )


def palette_offers(app: PerfsupApp, text: str) -> bool:
    """The command palette's search is done and its highlighted hit contains `text`."""
    hits = app.screen.query_one(CommandList)
    if hits.highlighted is None:
        return False
    return text in str(hits.get_option_at_index(hits.highlighted).prompt)


async def sent(pilot, fx: RunFixture, count: int = 1) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app has written `count` command rows (or more)."""
    await pilot_until(pilot, lambda: len(commands(fx)) >= count, what=f"{count} command row(s)")


async def on_screen(pilot, app: PerfsupApp, kind: type, shown: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Wait until a screen of `kind` is (or, with shown=False, is no longer) on top."""
    state = "on top" if shown else "closed"
    await pilot_until(
        pilot, lambda: isinstance(app.screen, kind) == shown, what=f"{kind.__name__} {state}"
    )


@pytest.fixture
def running(tmp_path: Path) -> RunFixture:
    return build_run(tmp_path)


@pytest.fixture
def finished(tmp_path: Path) -> RunFixture:
    return build_run(tmp_path, finished=True)


@pytest.mark.parametrize(
    ("keys", "node", "expected"),
    [
        (["p"], None, ("pause", {})),
        (["a"], None, ("abort", {})),
        (["S", "y"], None, ("stop", {})),  # stop and prune ask first (issue 18)
        (["x", "y"], "1.3", ("prune", {"node": "1.3"})),
        (["plus"], "1.1", ("priority", {"node": "1.1", "priority": 1})),
        (["minus"], "1.1", ("priority", {"node": "1.1", "priority": -1})),
        (["P"], "1.2", ("promote", {"node": "1.2"})),
    ],
    ids=["pause", "abort", "stop", "prune", "priority-up", "priority-down", "promote"],
)
async def test_each_control_writes_its_command_row(
    running: RunFixture, keys: list[str], node: str | None, expected: tuple[str, dict[str, object]]
) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        if node:
            await select_node(pilot, app, node)
        await pilot.press(*keys)
        await sent(pilot, running)
        assert commands(running) == [expected]
        assert "requested" in app.status_text()


async def test_pause_key_resumes_a_paused_engine(running: RunFixture) -> None:
    store = open_store(running.paths.store)
    with store.session() as s:
        run = s.get(Run, 1)
        assert run is not None
        run.engine_state = "paused"
    store.close()
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        assert "engine paused" in app.status_text()
        await pilot.press("p")
        await sent(pilot, running)
    assert commands(running) == [("resume", {})]


async def test_steer_form_sends_goal_and_hint(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press("s")
        await on_screen(pilot, app, SteerScreen)
        goal = app.screen.query_one("#goal")
        goal.value = "make summarize and top_words faster"  # type: ignore[attr-defined]
        app.screen.query_one("#hint").focus()
        await pilot.press(*"try a Counter")
        await pilot.press("enter")
        await sent(pilot, running)
    assert commands(running) == [
        ("steer", {"goal": "make summarize and top_words faster", "hint": "try a Counter"})
    ]


async def test_steer_cancelled_sends_nothing(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press("s")
        await on_screen(pilot, app, SteerScreen)
        await pilot.press("escape")
        await on_screen(pilot, app, SteerScreen, shown=False)
    assert commands(running) == []


async def test_outcome_of_a_command_is_notified(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await select_node(pilot, app, "1.3")
        await pilot.press("x", "y")
        await pilot.press("p")
        await sent(pilot, running, 2)
        store = open_store(running.paths.store)
        with store.session() as s:  # what the engine does when it drains the queue
            prune, pause = s.exec(select(Command).order_by(col(Command.id))).all()
            settle_command(prune, applied=False, result="1.3 is already pruned")
            settle_command(pause, applied=True, result="paused after the current step")
        store.close()
        await pilot_until(
            pilot, lambda: len(app.notices) >= 2 and "requested" not in app.status_text()
        )
        assert "prune 1.3: refused: 1.3 is already pruned" in app.notices
        assert "pause: applied: paused after the current step" in app.notices
        assert "requested" not in app.status_text()


async def test_command_palette_offers_every_control(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for key in KEYS:
            if key.palette:
                assert key.description in titles
        await pilot.press("ctrl+p")
        await on_screen(pilot, app, CommandPalette)
        await pilot.press(*"Abort the current")
        await pilot_until(pilot, lambda: palette_offers(app, "Abort the current"), what="the hit")
        await pilot.press("enter")
        await sent(pilot, running)
    assert commands(running) == [("abort", {})]


async def test_export_writes_a_patch_git_can_apply(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await select_node(pilot, app, "1.2")
        await pilot.press("e")
        await pilot_until(pilot, lambda: any(n.startswith("export:") for n in app.notices))
    patch = running.root.parent / "perfsup-1.2.patch"
    assert "list(range(9))" in patch.read_text()
    assert "perfsup-node: 1.2" in patch.read_text()  # the same messages as `perfsup export`
    done = subprocess.run(
        ["git", "-C", str(running.repo), "apply", "--check", str(patch)], capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert commands(running) == []  # export never bothers the engine


async def test_export_of_a_node_without_change_is_refused(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await select_node(pilot, app, "1.3")
        await pilot.press("e")
        await pilot_until(
            pilot, lambda: any("1.3 has no change to export" in n for n in app.notices)
        )
    assert not (running.root.parent / "perfsup-1.3.patch").exists()


async def test_export_of_a_node_not_kept_is_refused_with_the_reason(running: RunFixture) -> None:
    # issue 16: the export key obeys export's rule; a failed change is not written
    store = open_store(running.paths.store)
    with store.session() as s:
        kept = s.get(Node, "1.2")
        failed = s.get(Node, "1.2.1")
        assert kept is not None and failed is not None
        failed.commit_sha = kept.commit_sha  # a change of its own, checks_failed
    store.close()
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        tree = app.query_one(RunTree)
        tree.tree_nodes["1.2"].expand()
        await pilot_until(pilot, lambda: "1.2.1" in tree.tree_nodes, what="1.2's children")
        await select_node(pilot, app, "1.2.1")
        await pilot.press("e")
        refused = "1.2.1 was not kept (checks_failed: check failed)"
        await pilot_until(pilot, lambda: any(refused in n for n in app.notices))
    assert not (running.root.parent / "perfsup-1.2.1.patch").exists()


async def test_attach_to_running_run_shows_state_and_progress(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        tree = app.query_one(RunTree)
        tree.tree_nodes["1.2"].expand()
        await pilot_until(pilot, lambda: "1.2.2" in tree.rows)
        row = tree.rows["1.2.2"]
        assert row.progress == "benchmarking 3/6 pairs"
        status = app.status_text()
        assert "engine running: benchmarking 1.2.2" in status
        assert "tokens 5,922 of 100,000" in status
        assert "experiments 5 of 40" in status


async def test_attach_to_finished_run_is_read_only(finished: RunFixture) -> None:
    app = make_app(finished)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        assert "run 1 finished: experiment budget reached (5 of 5) · read-only" in app.status_text()
        await select_node(pilot, app, "1.3")
        await pilot.press("p", "x", "a")
        await pilot_until(
            pilot, lambda: sum("read-only" in n for n in app.notices) >= 3, what="3 refusals"
        )
        assert sum("read-only" in n for n in app.notices) == 3
        await select_node(pilot, app, "1.2")
        await pilot.press("e")
        await pilot_until(pilot, lambda: any(n.startswith("export:") for n in app.notices))
    assert commands(finished) == []
    assert (finished.root.parent / "perfsup-1.2.patch").exists()


async def test_tree_loads_children_only_when_expanded(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        tree = app.query_one(RunTree)
        assert set(tree.tree_nodes) == {"1", "1.1", "1.2", "1.3"}
        await select_node(pilot, app, "1.2")
        await pilot.press("space")
        await pilot_until(pilot, lambda: {"1.2.1", "1.2.2"} <= set(tree.tree_nodes))


async def test_filters_kept_and_failed(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        tree = app.query_one(RunTree)
        await pilot.press("f")
        await pilot_until(pilot, lambda: "1.2" in tree.tree_nodes)
        assert tree.filter is TreeFilter.KEPT
        tree.tree_nodes["1.2"].expand()
        await tree_loaded(pilot, app)
        assert set(tree.tree_nodes) == {"1", "1.2"}
        await pilot.press("f")
        await pilot_until(pilot, lambda: set(tree.tree_nodes) == {"1", "1.2.1"})
        assert tree.filter is TreeFilter.FAILED
        await pilot.press("f")
        await pilot_until(pilot, lambda: set(tree.tree_nodes) == {"1", "1.1", "1.2", "1.3"})


async def test_filter_by_run(tmp_path: Path) -> None:
    fx = build_run(tmp_path, n_runs=2)
    app = make_app(fx)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        tree = app.query_one(RunTree)
        assert {"1", "2"} <= set(tree.tree_nodes)
        await pilot.press("r")
        await pilot_until(pilot, lambda: "1.1" in tree.tree_nodes)
        assert "2" not in tree.tree_nodes
        await pilot.press("r")
        await pilot_until(pilot, lambda: "1" not in tree.tree_nodes)
        await tree_loaded(pilot, app)
        assert set(tree.tree_nodes) == {"2"}


async def test_log_pane_streams_new_lines_without_ansi(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await select_node(pilot, app, "1.2")
        pane = app.query_one("#log-bench", LogPane)
        await pilot_until(pilot, lambda: pane.lines, what="the bench log of 1.2")
        assert pane.lines[0] == "bench of 1.2: line 0"
        with running.paths.log("1.2", "bench").open("a") as log:
            log.write("\x1b[1;31mMETRIC time_ms=57.5\x1b[0m\n")
        # woken by a watch event, or else by the once-a-second poll of the files
        await pilot_until(pilot, lambda: pane.lines[-1] == "METRIC time_ms=57.5")
        assert not any("\x1b" in line for line in pane.lines)


async def test_full_log_is_one_key_away(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await select_node(pilot, app, "1.2")
        await pilot.press("l")
        log = app.screen.query_one("#full-log")
        await pilot_until(pilot, lambda: "agent of 1.2: line 4" in log.lines)  # type: ignore[attr-defined]
        await pilot.press("escape")
        await on_screen(pilot, app, FullLogScreen, shown=False)
        assert app.query_one(RunTree)


async def test_new_winner_and_budget_events_are_notified(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        store = open_store(running.paths.store)
        with store.session() as s:
            s.add(Event(run_id=1, node_id="1.2.2", kind="node_kept", message="kept: faster"))
            s.add(Event(run_id=1, kind="budget_reached", message="token budget reached (9 of 9)"))
        store.close()
        await pilot_until(pilot, lambda: any(n.startswith("budget reached") for n in app.notices))
        assert "new winner: 1.2.2 kept: faster" in app.notices
        assert "budget reached: token budget reached (9 of 9)" in app.notices
        assert not any("run 1 started" in n for n in app.notices)  # history is not news


async def test_model_down_and_noisy_machine_are_notified(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        store = open_store(running.paths.store)
        with store.session() as s:
            for kind, message in [
                ("model_waiting", "ollama at 127.0.0.1:11434 is not answering; next try in 4 s"),
                ("noise_guard", "noise guard: A/A noise hides the 2.0% minimum effect"),
                ("host_guard", "host guard: load 3.1 per core; waiting 30 s"),
            ]:
                s.add(Event(run_id=1, kind=kind, message=message))
        store.close()
        await pilot_until(
            pilot, lambda: sum(n.startswith("noisy machine") for n in app.notices) == 2
        )
        assert any(n.startswith("model server down: ollama at") for n in app.notices)
        assert any("noisy machine: host guard: load 3.1" in n for n in app.notices)


def test_notified_event_kinds_are_the_ones_the_engine_records() -> None:
    engine = Path(__file__).resolve().parent.parent / "perfsup" / "engine"
    source = "\n".join(p.read_text() for p in engine.glob("*.py"))
    for kind in NOTIFIED_KINDS:
        assert f"EventKind.{kind.name}" in source, f"the engine no longer records {kind!r} events"


async def test_help_lists_every_key_with_remaps(tmp_path: Path) -> None:
    fx = build_run(tmp_path, tui='keys = { pause = "z" }')
    app = make_app(fx)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press("question_mark")
        await on_screen(pilot, app, HelpScreen)
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(app.screen.table)  # type: ignore[attr-defined]
        lines = console.export_text().splitlines()
        for key in KEYS:
            assert any(key.description in line and key.id in line for line in lines)
        assert any(line.split()[0] == "z" and "Pause" in line for line in lines if line)
        await pilot.press("escape")
        await on_screen(pilot, app, HelpScreen, shown=False)
        await pilot.press("p")  # the old key no longer pauses
        await pilot.press("z")
        await sent(pilot, fx)
    assert commands(fx) == [("pause", {})]


def test_unknown_key_id_or_theme_is_a_clear_error(running: RunFixture) -> None:
    with pytest.raises(KeymapError, match=r"tui\.keys: unknown binding id 'pasue'"):
        make_app(running, keys={"pasue": "space"})
    with pytest.raises(ThemeError, match=r"tui\.theme = 'nope': no such theme"):
        make_app(running, theme="nope")


@pytest.mark.parametrize("name", ["perfsup-dark", "perfsup-light", "perfsup-high-contrast"])
async def test_theme_from_config(tmp_path: Path, name: str) -> None:
    assert name in {t.name for t in bundled_themes()}
    fx = build_run(tmp_path, tui=f'theme = "{name}"')
    app = make_app(fx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot_until(pilot, lambda: app.theme == name, what=f"the theme {name}")
        assert app.theme == name


async def test_waits_for_the_engine_to_create_the_store(tmp_path: Path) -> None:
    fx = build_run(tmp_path / "later")
    target = tmp_path / "run"
    app = create_app(None, target, fx.config, now=lambda: T0)
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one("#status")
        await pilot_until(
            pilot, lambda: "waiting for the engine" in str(status.render()), what="the wait shown"
        )
        assert "waiting for the engine" in str(status.render())
        import os
        import sqlite3

        connection = sqlite3.connect(fx.paths.store)  # fold the WAL in, then appear at once
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.close()
        os.rename(fx.root, target)
        await pilot_until(pilot, lambda: "engine running" in app.status_text())
        assert "1.2" in app.query_one(RunTree).tree_nodes


async def test_a_run_that_starts_after_attaching_appears(tmp_path: Path) -> None:
    fx = build_run(tmp_path)
    tables = [SQLModel.metadata.tables[t] for t in ("run", "node", "sample", "event", "artifact")]
    store = open_store(fx.paths.store)
    with store.session() as s:  # the engine has created the store but no run yet
        saved = {t.name: [dict(r._mapping) for r in s.execute(t.select())] for t in tables}
        for table in reversed(tables):
            s.execute(table.delete())
    app = make_app(fx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot_until(  # connected, and one read of the store shown
            pilot, lambda: app.service is not None and app.status_info is not None, what="a read"
        )
        assert app.query_one(RunTree).tree_nodes == {}
        with store.session() as s:  # now the engine opens run 1
            for table in tables:
                s.execute(table.insert(), saved[table.name])
        await pilot_until(pilot, lambda: "1.2" in app.query_one(RunTree).tree_nodes)
    store.close()
