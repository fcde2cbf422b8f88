"""`perfsup demo` in a real terminal (tmux): the tree appears, the pause key
reaches the engine, and quitting the TUI leaves the engine running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlmodel import select

from perfsup.store import Command, open_store

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30)
    return done.stdout


def wait_for(session: str, predicate, timeout: float) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if predicate(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"timed out; the terminal shows:\n{screen}")


def wait_until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


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
        wait_for(session, lambda s: "1 baseline" in s, timeout=180)
        pid = int((demo / "engine.pid").read_text())
        tmux("send-keys", "-t", session, "p")
        # The TUI queues the command at once; the engine applies it at its next safe
        # point (on a loaded machine a benchmark step can take a while: bounded waits).
        assert wait_until(lambda: ("pause", {}) in commands(demo), timeout=60), "no pause row"
        screen = wait_for(session, lambda s: "engine paused" in s, timeout=120)
        assert "pause requested" not in screen.split("engine paused")[1].split("\n")[0]
        tmux("send-keys", "-t", session, "q")
        wait_for(session, lambda s: "keeps running" in s, timeout=30)
        assert alive(pid), "quitting the TUI stopped the engine"
    finally:
        if pid is not None and alive(pid):
            os.killpg(pid, signal.SIGTERM)  # the engine leads its own session
        tmux("kill-session", "-t", session)
