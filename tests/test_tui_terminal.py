"""`perfsup demo` in a real terminal (tmux): the tree appears, the pause key
reaches the engine, and quitting the TUI leaves the engine running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.store import Command, open_store
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30)
    return done.stdout


def showing(session: str, text: str, timeout: float) -> str:
    """The terminal's screen once it shows `text` (bounded)."""

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", session)

    def screen_with_text() -> str:
        shown = screen()
        return shown if text in shown else ""

    return wait_until(
        screen_with_text,
        what=f"the terminal to show {text!r}",
        timeout=timeout,
        interval=0.2,
        detail=screen,
    )


def commands(demo: Path) -> list[tuple[str, dict[str, object]]]:
    store = open_store(demo / "run" / "perfsup.db")
    try:
        with store.session() as s:
            return [(c.kind, json.loads(c.args_json)) for c in s.exec(select(Command)).all()]
    finally:
        store.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_in_tmux_pause_quit_and_engine_keeps_running(tmp_path: Path) -> None:
    session = f"perfsup-test-{os.getpid()}"
    demo = tmp_path / "demo"
    env = f"PYTHONPATH={ROOT} TERM=xterm-256color"
    command = f"cd {ROOT} && env {env} python -m perfsup demo --dir {demo}; sleep 60"
    tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "45", command)
    tmux("resize-window", "-t", session, "-x", "150", "-y", "45")  # a running server may not
    pid = None
    try:
        showing(session, "1 baseline", timeout=180)
        pid = int((demo / "engine.pid").read_text())
        tmux("send-keys", "-t", session, "p")
        # The TUI queues the command at once; the engine applies it at its next safe
        # point (on a loaded machine a benchmark step can take a while: bounded waits).
        wait_until(lambda: ("pause", {}) in commands(demo), what="a pause row", timeout=60)
        screen = showing(session, "engine paused", timeout=120)
        assert "pause requested" not in screen.split("engine paused")[1].split("\n")[0]
        tmux("send-keys", "-t", session, "q")
        showing(session, "keeps running", timeout=30)
        assert alive(pid), "quitting the TUI stopped the engine"
    finally:
        if pid is not None and alive(pid):
            os.killpg(pid, signal.SIGTERM)  # the engine leads its own session
        tmux("kill-session", "-t", session)
