"""Issue 18, points 5 and 6 on the TUI side: stop and prune ask first (one key
to confirm), the baseline's priority is refused with a reason, the help names
keys as people type them, and a screenshot lands in the run folder.

Driven by Textual's Pilot on the real store of tests/tui_store.py."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from textual.command import CommandPalette

from perfsup.tui.dialogs import ConfirmScreen
from perfsup.tui.keys import KEYS, human_key
from perfsup.tui.screens import HelpScreen
from perfsup.tui.themes import bundled_themes
from tests.helpers import pilot_until
from tests.test_tui import SIZE, commands, make_app, on_screen, opened, palette_offers, select_node
from tests.tui_store import RunFixture, build_run

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def running(tmp_path: Path) -> RunFixture:
    return build_run(tmp_path)


@pytest.mark.parametrize(
    ("keys", "node", "asked", "sent"),
    [
        (["S", "n"], None, "cancelled at once", []),
        (["S", "escape"], None, "cancelled at once", []),
        (["S", "S"], None, "cancelled at once", [("stop", {})]),
        (["x", "q"], "1.2", "No new experiments grow below 1.2", []),
        (["x", "x"], "1.2", "No new experiments grow below 1.2", [("prune", {"node": "1.2"})]),
    ],
    ids=["stop-no", "stop-escape", "stop-same-key", "prune-other-key", "prune-same-key"],
)
async def test_stop_and_prune_ask_first_and_say_what_they_do(
    running: RunFixture,
    keys: list[str],
    node: str | None,
    asked: str,
    sent: list[tuple[str, dict[str, object]]],
) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        if node:
            await select_node(pilot, app, node)
        await pilot.press(keys[0])
        await on_screen(pilot, app, ConfirmScreen)
        assert asked in str(app.screen.query_one("#confirm-text").render())
        assert commands(running) == []  # nothing before the answer
        await pilot.press(keys[1])
        await on_screen(pilot, app, ConfirmScreen, shown=False)
        if sent:
            await pilot_until(pilot, lambda: commands(running) == sent, what="the command row")
        else:
            await pilot_until(pilot, lambda: any("cancelled" in n for n in app.notices))
        assert commands(running) == sent
        assert app.query_one("#tree").has_focus  # the key that said no did nothing else


async def test_undo_key_asks_the_engine_to_undo_the_last_prune(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press("u")
        await pilot_until(pilot, lambda: commands(running) == [("unprune", {})])
        assert "undo prune requested" in app.status_text()


@pytest.mark.parametrize("key", ["plus", "minus"])
async def test_priority_of_the_baseline_is_refused_with_a_reason(
    running: RunFixture, key: str
) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await select_node(pilot, app, "1")
        await pilot.press(key)
        await pilot_until(pilot, lambda: any("priority: refused" in n for n in app.notices))
        assert any("1 is the baseline" in n for n in app.notices)
        await select_node(pilot, app, "1.1")  # any other node takes it
        await pilot.press(key)
        await pilot_until(pilot, lambda: len(commands(running)) == 1)
    delta = 1 if key == "plus" else -1
    assert commands(running) == [("priority", {"node": "1.1", "priority": delta})]


async def test_help_shows_sections_human_key_names_and_how_to_move(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press("question_mark")
        await on_screen(pilot, app, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(app.screen.table)  # type: ignore[attr-defined]
        text = console.export_text()
    for raw in ("question_mark", "plus", "minus", "id ()"):
        assert not re.search(rf"(^|\s){re.escape(raw)}(\s|$)", text, re.M), raw
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "Show every key" in rows["?"] and "Raise" in rows["+"] and "Lower" in rows["-"]
    for section in ("The run", "The selected node", "What you see", "Moving around"):
        assert section in text
    assert "remap as [tui.keys] id" in text
    assert "Move between panes" in text and "Switch tabs" in text
    stop = next(k for k in KEYS if k.id == "stop")
    assert "cancelled" in stop.description and "after the current step" not in text
    assert human_key("question_mark") == "?" and human_key("ctrl+p") == "ctrl+p"


async def test_footer_shows_human_key_names(running: RunFixture) -> None:
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        shown = app.get_key_display(app.active_bindings["question_mark"].binding)
    assert shown == "?"


async def test_palette_screenshot_is_saved_in_the_run_folder(
    running: RunFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home-without-downloads"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    shots = running.root / "screenshots"
    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press("ctrl+p")
        await on_screen(pilot, app, CommandPalette)
        await pilot.press(*"Screenshot")
        await pilot_until(pilot, lambda: palette_offers(app, "Screenshot"), what="the hit")
        await pilot.press("enter")
        await pilot_until(pilot, lambda: shots.is_dir() and list(shots.glob("*.svg")))
        await pilot_until(pilot, lambda: any("Saved screenshot" in n for n in app.notices))
    (svg,) = shots.glob("*.svg")
    assert "<svg" in svg.read_text() and "Use sets for the membership" in svg.read_text().replace(
        "&#160;", " "
    )
    assert not (home / "Downloads").exists()


def test_sample_config_suggests_a_theme_that_exists() -> None:
    text = (ROOT / "sample_config.toml").read_text(encoding="utf-8")
    suggested = re.search(r'^# theme = "([^"]+)"', text, re.M)
    assert suggested is not None
    assert suggested.group(1) in {t.name for t in bundled_themes()}


async def test_tab_and_arrows_move_between_panes_and_tabs_as_the_help_says(
    running: RunFixture,
) -> None:
    from textual.widgets import Tabs

    app = make_app(running)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await select_node(pilot, app, "1.2")
        assert app.query_one("#tree").has_focus
        await pilot.press("tab")
        await pilot_until(pilot, lambda: isinstance(app.focused, Tabs), what="the tabs focused")
        tabs = app.focused
        assert isinstance(tabs, Tabs)
        first = tabs.active
        await pilot.press("right")
        await pilot_until(pilot, lambda: tabs.active != first, what="the next tab")
        await pilot.press("shift+tab")
        await pilot_until(pilot, lambda: app.query_one("#tree").has_focus, what="the tree again")
