"""The README's pictures, taken from the demo's real run (issue 18, point 8).

The demo runs for real (`perfsup demo --headless`, the session's shared run),
the TUI opens on it with the kept speed-up selected and its children shown,
and its screen is exported as SVG in the dark and the light theme; the
browser view is a PNG from a real headless Chromium on `perfsup serve`.
`PERFSUP_UPDATE_DOCS=1 pytest tests/test_docs_screenshots.py` writes them to
docs/; without it the test checks that the committed ones are of the demo.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from perfsup.config import load_config
from perfsup.tui.app import create_app
from perfsup.tui.tree import RunTree
from tests.helpers import pilot_until, wait_until
from tests.helpers.browser import chromium, headless_page, wait_http
from tests.test_serve import serving

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
UPDATE = bool(os.environ.get("PERFSUP_UPDATE_DOCS"))
SIZE = (150, 42)
# Only the demo's run has these: its kept speed-up and its children's answers.
DEMO_ROWS = ("Use sets for the membership tests in unknown_words", "itertools.pairwise_fast")
pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def svg_text(svg: str) -> str:
    """The characters an SVG screenshot shows, in order (entities decoded)."""
    text = "".join(re.findall(r">([^<]*)</text>", svg))
    return text.replace("&#160;", " ").replace("&amp;", "&").replace("&gt;", ">")


async def demo_screen(demo: Path, theme: str) -> str:
    """The main screen on the demo's run, kept speed-up selected (HOME above the demo
    folder, so that the header shows `~/...`, not this machine's folders)."""
    config = load_config(demo / "repo" / "perfsup.toml")
    app = create_app(None, demo / "run", config, theme=theme, export_dir=demo)
    async with app.run_test(size=SIZE) as pilot:
        tree = app.query_one(RunTree)
        await pilot_until(pilot, lambda: "1.2" in tree.tree_nodes, what="the demo's tree")
        tree.tree_nodes["1.2"].expand()
        await pilot_until(pilot, lambda: "1.2.3" in tree.tree_nodes, what="1.2's children")
        tree.move_cursor(tree.tree_nodes["1.2"])
        panes = app.node_panes
        await pilot_until(
            pilot,
            lambda: panes.detail is not None and panes.detail.row.id == "1.2",
            what="the panes of 1.2",
        )
        await pilot_until(pilot, lambda: "read-only" in app.status_text(), what="the status")
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        return app.export_screenshot(title="perfsup demo")


@pytest.mark.parametrize(("theme", "name"), [("perfsup-dark", "dark"), ("perfsup-light", "light")])
async def test_readme_screenshots_are_the_demo_run(
    python_demo: Path, theme: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(python_demo.parent))
    svg = await demo_screen(python_demo, theme)
    shown = svg_text(svg)
    for row in DEMO_ROWS:
        assert row[:40] in shown, row
    assert "1.2.3" in shown  # the rejected edit of the benchmark, in the tree
    target = DOCS / f"tui-main-{name}.svg"
    if UPDATE:
        target.write_text(svg, encoding="utf-8")
    committed = svg_text(target.read_text(encoding="utf-8"))
    assert all(row[:40] in committed for row in DEMO_ROWS), (
        f"{target.name} is not a screenshot of the demo's run; "
        "PERFSUP_UPDATE_DOCS=1 pytest tests/test_docs_screenshots.py makes it"
    )
    assert "def f()" not in committed and "src/app.py" not in committed
    assert "~/" in committed and "/tmp/" not in committed  # no folder of the machine it ran on


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed")
def test_readme_browser_view_is_the_demo_run(python_demo: Path, tmp_path: Path) -> None:
    config = python_demo / "repo" / "perfsup.toml"
    with serving(python_demo / "run", config, home=python_demo.parent) as (port, _out):
        url = f"http://127.0.0.1:{port}/"
        wait_http(url)
        with headless_page(tmp_path / "chromium", width=1280, height=800) as page:
            page.call("Page.navigate", url=url)
            wait_until(
                lambda: DEMO_ROWS[0][:30] in page.received_text(),
                what="the demo's tree in the browser",
                timeout=90,
                interval=0.2,
            )
            wait_until(lambda: "read-only" in page.received_text(), what="the status line")
            page.call("Runtime.evaluate", expression="document.querySelector('textarea').focus()")
            page.press("ArrowDown", 40)
            page.press("ArrowDown", 40)
            page.type_key(" ")  # the kept speed-up, its children shown and its diff
            wait_until(lambda: "1.2.3" in page.received_text(), what="1.2's children")
            wait_until(lambda: "known = set(vocabulary)" in page.received_text(), what="its diff")
            shot = page.screenshot(tmp_path / "browser.png")
            seen = page.received_text()
    assert shot.read_bytes().startswith(b"\x89PNG")
    target = DOCS / "tui-browser.png"
    if UPDATE:
        target.write_bytes(shot.read_bytes())
    assert target.read_bytes().startswith(b"\x89PNG")
    assert "/tmp/" not in seen  # the header shows ~/..., no folder of the machine it ran on
