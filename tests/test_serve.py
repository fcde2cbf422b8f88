"""`perfsup serve`: the TUI in a real headless Chromium (issue 18, point 7).

The server runs as `perfsup serve` does, in its own process on 127.0.0.1; a
real Chromium opens the page, the terminal in it draws the tree (seen in the
bytes its websocket received), and a key pressed in the page reaches the run
as a command row. On another address every page needs the URL's token.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from perfsup.cli.serve import is_local, page_url
from perfsup.store import Command, open_store
from tests.helpers import wait_until
from tests.helpers.browser import chromium, free_port, headless_page, wait_http
from tests.tui_store import RunFixture, build_run

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(chromium() is None, reason="chromium is not installed")


@contextmanager
def serving(
    run_dir: Path, config: Path, host: str = "127.0.0.1", home: Path | None = None
) -> Iterator[tuple[int, Path]]:
    """`perfsup serve` on a run; its port and its output file (`home`: its HOME)."""
    port = free_port()
    out = run_dir.parent / "serve.out"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    if home is not None:
        env["HOME"] = str(home)
    argv = [sys.executable, "-m", "perfsup", "serve", "-c", str(config), "--run-dir", str(run_dir)]
    with out.open("wb") as handle:
        proc = subprocess.Popen(
            [*argv, "--host", host, "--port", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # the served TUI sessions end with it
        )
    try:
        yield port, out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def command_rows(fx: RunFixture) -> list[str]:
    store = open_store(fx.paths.store)
    try:
        with store.session() as s:
            return [c.kind for c in s.exec(select(Command).order_by(col(Command.id))).all()]
    finally:
        store.close()


def test_the_tui_in_a_browser_shows_the_tree_and_takes_a_key(tmp_path: Path) -> None:
    fx = build_run(tmp_path)
    with serving(fx.root, fx.root.parent / "perfsup.toml") as (port, out):
        url = f"http://127.0.0.1:{port}/"
        assert wait_http(url).status_code == 200
        assert f"serving the TUI at {url}" in out.read_text()
        with headless_page(tmp_path / "chromium") as page:
            page.call("Page.navigate", url=url)
            # The tree's rows reach the browser's terminal.
            wait_until(
                lambda: "Use sets for the membership tests" in page.received_text(),
                what="the tree drawn in the browser",
                timeout=90,
                interval=0.2,
            )
            page.call("Runtime.evaluate", expression="document.querySelector('textarea').focus()")
            page.type_key("p")
            wait_until(lambda: command_rows(fx) == ["pause"], what="the pause row", timeout=30)
            shot = page.screenshot(tmp_path / "browser.png")
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_another_address_needs_the_token_of_the_url(tmp_path: Path) -> None:
    fx = build_run(tmp_path)
    host = "127.0.0.2"  # not 127.0.0.1: served as if to the network (still loopback)
    with serving(fx.root, fx.root.parent / "perfsup.toml", host) as (port, out):
        bare = f"http://{host}:{port}/"
        assert wait_http(bare).status_code == 403
        said = wait_until(lambda: "?token=" in out.read_text() and out.read_text(), what="URL")
        token_url = said.split("serving the TUI at ")[1].split()[0]
        assert token_url.startswith(bare + "?token=") and len(token_url) > len(bare) + 30
        page = httpx.get(token_url, timeout=10)
        assert page.status_code == 200 and "perfsup_token" in page.headers["set-cookie"]
        assert httpx.get(bare + "ws", timeout=10).status_code == 403
        wrong = httpx.get(bare + "?token=guess", timeout=10)
        assert wrong.status_code == 403


def test_only_loopback_names_are_local() -> None:
    assert is_local("127.0.0.1") and is_local("localhost") and is_local("::1")
    assert not is_local("0.0.0.0") and not is_local("192.168.1.5")
    assert page_url("127.0.0.1", 8421, None, None) == "http://127.0.0.1:8421/"
    assert page_url("::1", 80, None, "t") == "http://[::1]:80/?token=t"


def test_bad_serve_arguments_are_one_line(tmp_path: Path) -> None:
    from tests.helpers import perfsup

    missing = perfsup("serve", "-c", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such config file" in missing.stderr
    port = perfsup("serve", "--port", "70000", "--run-dir", str(tmp_path), cwd=tmp_path)
    assert port.returncode == 2 and "expected a port number" in port.stderr
    for done in (missing, port):
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
