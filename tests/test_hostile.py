"""The hostile-edit corpus (tests/data/hostile): every answer is refused before
it is applied or contained by the sandbox, and the engine goes on to the end.
Runs the real CLI engine with the real sandbox (bubblewrap where it works)."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from perfsup.config.model import SandboxSettings
from perfsup.engine.orphans import marked_processes
from perfsup.workspace.sandbox import detect_isolation
from tests.helpers import git, make_repo

DATA = Path(__file__).parent / "data" / "hostile"
CHECK = "python -c 'import sys; sys.path.insert(0, \"src\"); import app; app.check()'"
BENCH = "python -c 'import sys; sys.path.insert(0, \"src\"); import app; app.bench()'\n"


def listen() -> tuple[socket.socket, list[int], threading.Event]:
    """A TCP listener on 127.0.0.1 that counts the connections it gets."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[int] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, accepted, done


@pytest.mark.skipif(
    detect_isolation(SandboxSettings()).kind != "bwrap", reason="needs a working bubblewrap"
)
def test_hostile_answers_are_refused_or_contained(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("outside\n")
    repo = make_repo(
        tmp_path / "repo",
        {"src/app.py": (DATA / "app.py").read_text(), "bench.sh": BENCH, "README.md": "readme\n"},
    )
    os.symlink("../../outside.txt", repo / "src" / "link.txt")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "link")
    shutil.copy(DATA / "answers.toml", tmp_path / "answers.toml")
    config = tmp_path / "perfsup.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [target]
            repo = "repo"
            goal = "make it faster"
            [check]
            run = '''{CHECK}'''
            timeout_s = 5
            [bench]
            run = "bash bench.sh"
            timeout_s = 10
            pairs = 3
            warmup = 0
            [[metrics]]
            name = "t"
            [access]
            writable = ["src"]
            protected = ["bench.sh"]
            [model]
            backend = "scripted"
            script = "answers.toml"
            max_retries = 0
            [budgets]
            max_children = 100
            max_failures_in_a_row = 100
            [sandbox]
            memory_mb = 1024
            processes = 64
            pass_env = ["HOSTILE_PORT", "HOSTILE_OUTSIDE"]
            """
        )
    )
    server, accepted, done = listen()
    owned = tmp_path / "owned.txt"
    env = {
        **os.environ,
        "HOSTILE_PORT": str(server.getsockname()[1]),
        "HOSTILE_OUTSIDE": str(owned),
    }
    run_dir = tmp_path / "run"
    try:
        argv = ["run", "--headless", "-c", str(config), "--run-dir", str(run_dir)]
        engine = subprocess.run(
            [sys.executable, "-m", "perfsup", *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=240,
        )
    finally:
        done.set()
        server.close()
    assert engine.returncode == 0, engine.stdout + engine.stderr
    with sqlite3.connect(run_dir / "perfsup.db") as con:
        rows = dict(con.execute("SELECT id, status || ': ' || coalesce(reason, '') FROM node"))
        run = con.execute("SELECT status, stop_reason FROM run").fetchone()

    def status(node_id: str) -> str:
        return rows[node_id].split(":")[0]

    for node_id in ("1.1", "1.2", "1.3", "1.4", "1.5"):
        assert status(node_id) == "rejected", rows[node_id]
    assert "protected" in rows["1.1"]
    assert "outside" in rows["1.4"] or "symlink" in rows["1.4"], rows["1.4"]
    assert outside.read_text() == "outside\n"  # nothing reached it

    assert status("1.6") == "discarded"  # the forked helper is gone (checked below)
    assert status("1.7") == "checks_failed" and not accepted  # no connection got out
    # Refused (read-only) or swallowed by the box's private /tmp: never on the host.
    assert status("1.8") in ("checks_failed", "discarded") and not owned.exists()
    assert status("1.9") == "checks_failed" and "MemoryError" in rows["1.9"]
    # The fork bomb ran into the process limit (bash gives up after its retries;
    # the check's timeout would end it otherwise) and took nothing else down.
    bomb_log = (run_dir / "logs" / "1.10" / "check.log").read_text()
    assert "fork: retry: Resource temporarily unavailable" in bomb_log
    assert status("1.10") in ("timeout", "checks_failed", "discarded"), rows["1.10"]

    assert run == ("finished", run[1]) and "no answers left" in run[1]
    assert not marked_processes(run_dir)  # nothing outlived its command
