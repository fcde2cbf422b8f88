"""The README's own commands, run as a new user would type them.

The demo command in a real terminal (tmux) shows the tree; the headless demo
runs; then every line of the README's "In the morning" block runs, as
written, from the demo's repository folder and exits 0 having written what it
says. Each line is read from README.md itself, so the README cannot drift
from what works. The installed `perfsup` command is used (not `python -m`),
as the README does.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def readme_block(heading: str) -> list[str]:
    """The command lines of the first ```sh block under `## heading`, comments cut."""
    section = README.split(f"## {heading}\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, f"README: no sh block under '## {heading}'"
    lines = [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def user_env() -> dict[str, str]:
    """The environment of a person whose shell found `perfsup` on PATH."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def sh(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=user_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )


def run_status(run_dir: Path) -> str | None:
    import sqlite3

    db = run_dir / "perfsup.db"
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT status FROM run ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_readme_demo_command_opens_the_tui_and_names_the_engine_state(tmp_path: Path) -> None:
    demo_line = next(line for line in README.splitlines() if "perfsup demo" in line)
    command = demo_line.split("&&")[-1].strip()  # the install part ran already
    assert command == "perfsup demo", demo_line
    session = f"perfsup-readme-{os.getpid()}"
    demo = tmp_path / "demo"
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    shell = f"export PATH={shlex.quote(path)} TERM=xterm-256color; {command} --dir {demo}; sleep 60"

    def screen() -> str:
        done = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
        )
        return done.stdout

    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45", shell], check=True
    )
    pid = None
    try:
        wait_until(lambda: "1 baseline" in screen(), timeout=180, what="the tree on screen")
        pid = int((demo / "engine.pid").read_text())
        # Wait for the scripted night to end, then quit: the line must say it finished.
        wait_until(
            lambda: run_status(demo / "run") == "finished",
            timeout=400,
            what="the demo run to finish",
        )
        wait_until(lambda: not _alive(pid), timeout=60, what="the demo engine to exit")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        text = wait_until(
            lambda: "The demo engine" in screen() and screen(), timeout=30, what="the quit message"
        )
        assert "The demo engine has finished" in str(text), text
        assert "keeps running" not in str(text), text
    finally:
        if pid is not None and _alive(pid):
            os.killpg(pid, signal.SIGTERM)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_demo_without_a_terminal_starts_no_engine(tmp_path: Path) -> None:
    done = sh(f"perfsup demo --dir {tmp_path / 'demo'}", tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "needs a terminal" in done.stderr and "no engine was started" in done.stderr
    assert not (tmp_path / "demo" / "engine.pid").exists()
    assert not (tmp_path / "demo" / "run" / "perfsup.db").exists()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_tui_that_fails_after_start_stops_its_engine(tmp_path: Path) -> None:
    session = f"perfsup-badtheme-{os.getpid()}"
    demo = tmp_path / "demo"
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    shell = (
        f"export PATH={shlex.quote(path)} TERM=xterm-256color; "
        f"perfsup demo --dir {demo} --theme no-such-theme; echo exit=$?; sleep 60"
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "250", "-y", "20", shell], check=True
    )

    def screen() -> str:
        args = ["tmux", "capture-pane", "-p", "-J", "-t", session]
        return subprocess.run(args, capture_output=True, text=True).stdout

    try:
        text = str(
            wait_until(
                lambda: "exit=" in screen() and screen(), timeout=120, what="perfsup demo to exit"
            )
        )
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert "exit=1" in text, text
    assert "Traceback" not in text, text
    pid = int((demo / "engine.pid").read_text())
    assert f"the engine it started (pid {pid}) was stopped" in text, text
    assert not _alive(pid)
    assert run_status(demo / "run") in (None, "stopped", "finished")


def test_headless_demo_then_every_morning_command(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    done = sh(f"perfsup demo --headless --dir {demo} --seed 7", tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    repo = demo / "repo"
    best = _best_kept(repo)
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    for line in readme_block("In the morning"):
        command = line.replace("1.3.2", best)  # the README's example id: the demo's winner
        if command.startswith("tail -f "):  # follows forever: the file must be there
            status = sh("perfsup status", repo).stdout
            folder = re.search(r"run folder: (\S+)", status)
            assert folder, status
            command = command.replace("tail -f", "tail -n 3").replace("RUN_FOLDER", folder[1])
        result = sh(command, repo)
        assert result.returncode == 0, f"{line}\n{result.stdout[-1500:]}{result.stderr[-1500:]}"
        assert "Traceback" not in result.stderr, line
        outputs[line.split("#")[0].strip()] = result
    # What each line says it writes.
    assert f"{best}" in outputs["perfsup status"].stdout
    assert (repo / "best.patch").read_text().startswith("From ")
    assert (repo / "one.patch").read_text().count("\nFrom ") == 0
    parts = list((repo / "parts").glob("perfsup-*-part*.patch"))
    assert parts and all(p.read_text().startswith("From ") for p in parts), parts
    branches = subprocess.run(
        ["git", "-C", str(repo), "branch", "--list", "faster"], capture_output=True, text=True
    ).stdout
    assert "faster" in branches
    report = repo / "perfsup-report-1.md"
    assert report.is_file() and "![" in report.read_text()
    assert list(repo.glob("perfsup-report-1*.png")), list(repo.iterdir())
    rows = [json.loads(row) for row in (repo / "night.jsonl").read_text().splitlines()]
    assert any(row.get("commit") for row in rows), rows  # one line per experiment
    assert all(row.get("metric") is None for row in rows if row.get("status") == "crash"), rows
    page = (repo / "perfsup-report-1.html").read_text()
    assert page.startswith("<!") and "data:image/png;base64," in page
    tail = outputs[next(k for k in outputs if k.startswith("tail"))].stdout
    assert re.match(r"\d+,[\d.]+$", tail.splitlines()[-1]), tail  # iteration,time_ms


def _best_kept(repo: Path) -> str:
    """The demo's kept experiment, as `perfsup status` lists it (not the baseline)."""
    status = sh("perfsup status", repo).stdout
    found = re.findall(r"(1(?:\.\d+)+)\s+kept\b", status)
    assert found, status
    return str(found[-1])


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _alive(pid: int) -> bool:
    """True while `pid` runs; an exited engine its parent has not reaped yet is gone."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
