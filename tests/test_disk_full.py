"""A disk that fills up during a step pauses the run (issue 13, point 5).

Before, the log writer's ENOSPC or SQLite's "database or disk is full" ended
the engine with a traceback. Now the experiment in flight ends
`interrupted`, the run pauses with the free-space guard's message, nothing
stored is lost, and after a person's resume the next answer is processed.

One test injects ENOSPC at the executor boundary (runs everywhere); the
other fills a real, small tmpfs from inside a check (needs root to mount).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from perfsup.engine.loop import Engine, RunOutcome
from perfsup.store import Event, Node, NodeStatus, RunStatus, open_store
from perfsup.store.commands import enqueue_command
from perfsup.workspace.executor import LocalExecutor
from perfsup.workspace.runner import CommandResult
from tests.helpers import bench_sh_config, build_engine, make_repo

APP = "def work(n):\n    return n\n"
FREE_SPACE = "free some space, then resume"


def answer(new: str) -> str:
    return (
        f"DESCRIPTION: return {new}\nsrc/app.py\n<<<<<<< SEARCH\n    return n\n=======\n"
        f"    return {new}\n>>>>>>> REPLACE\n"
    )


class FullOnce:
    """The local executor, except that the log writer of the first candidate check
    finds the disk full (what `run_command` raises when its log write gets ENOSPC)."""

    def __init__(self) -> None:
        self.inner = LocalExecutor()
        self.armed = True

    def run(self, command: str, cwd: Path, log_path: Path, timeout_s: float, **kw: Any) -> Any:
        if self.armed and log_path.name == "check.log" and log_path.parent.name != "1":
            self.armed = False
            raise OSError(errno.ENOSPC, "No space left on device", str(log_path))
        result: CommandResult = self.inner.run(command, cwd, log_path, timeout_s, **kw)
        return result


def wait(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def setup(tmp_path: Path, answers: list[str], check: str) -> Path:
    make_repo(
        tmp_path / "repo",
        {"src/app.py": APP, "bench.sh": "echo METRIC t=1\n", "check.sh": check},
    )
    (tmp_path / "answers.toml").write_text(
        "".join(f"[[answer]]\ntext = '''\n{a}'''\n\n" for a in answers)
    )
    config = tmp_path / "perfsup.toml"
    config.write_text(
        bench_sh_config(
            model="max_retries = 0",
            tables='[check]\nrun = "bash check.sh"\n[run]\nmin_free_mb = 0\n'
            "[budgets]\nmax_experiments = 5\n",
        )
    )
    return config


@contextlib.contextmanager
def running(engine: Engine) -> Iterator[list[RunOutcome]]:
    outcome: list[RunOutcome] = []
    thread = threading.Thread(target=lambda: outcome.append(engine.run()), daemon=True)
    thread.start()
    try:
        yield outcome
    finally:
        engine.controls.stop("test over")
        engine.controls.resume()
        thread.join(60)
        assert not thread.is_alive(), "the engine did not end"


def paused_for_disk(store_path: Path) -> Event | None:
    store = open_store(store_path, migrate=False)
    try:
        with store.session() as s:
            events = s.exec(select(Event).where(Event.kind == "paused")).all()
            return next((e for e in events if FREE_SPACE in e.message), None)
    finally:
        store.close()


def resume_and_finish(engine: Engine, outcome: list[RunOutcome]) -> None:
    store = open_store(engine.paths.store, migrate=False)
    try:
        with store.session() as s:
            enqueue_command(s, "resume", {})
    finally:
        store.close()
    wait("the run to end", lambda: outcome)


def check_store(engine: Engine) -> dict[str, Node]:
    store = open_store(engine.paths.store, migrate=False)
    try:
        with store.session() as s:
            assert s.exec(text("PRAGMA integrity_check")).one()[0] == "ok"
            return {n.id: n for n in s.exec(select(Node)).all()}
    finally:
        store.close()


def test_enospc_from_the_log_writer_pauses_the_run_and_loses_nothing(tmp_path: Path) -> None:
    config = setup(tmp_path, [answer("n + 0"), answer("n * 1")], "true\n")
    engine = build_engine(config, tmp_path / "run", executor=FullOnce())
    with running(engine) as outcome:
        event = wait("the pause", lambda: paused_for_disk(engine.paths.store))
        assert event.message.startswith("only ") and "run.min_free_mb = 0" in event.message
        assert engine.controls.paused and not outcome  # paused, not ended
        nodes = check_store(engine)
        assert nodes["1"].status == NodeStatus.KEPT  # the baseline, stored before
        assert nodes["1.1"].status == NodeStatus.INTERRUPTED
        assert "the disk filled up during this experiment" in (nodes["1.1"].reason or "")
        assert not (engine.paths.worktrees / "1.1").exists()
        resume_and_finish(engine, outcome)
    assert outcome[0].status == RunStatus.FINISHED, outcome[0].reason
    nodes = check_store(engine)
    assert nodes["1.2"].status in (NodeStatus.KEPT, NodeStatus.DISCARDED), nodes["1.2"].reason
    engine.store.close()


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
    )
    return done.returncode == 0


def test_a_check_that_fills_a_real_disk_pauses_the_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    if not _mount_tmpfs(run_dir, "24m"):
        pytest.skip("mounting a small tmpfs needs root (the ENOSPC test above runs anyway)")
    try:
        # the candidate's check fills the disk, then prints: the log write or the
        # store's next write finds the disk full
        check = (
            'if grep -q "n + 0" src/app.py; then\n'
            "  head -c 100M /dev/zero > fill 2>/dev/null\n  seq 1 200000\nfi\n"
        )
        config = setup(tmp_path, [answer("n + 0"), answer("n * 1")], check)
        engine = build_engine(config, run_dir)
        with running(engine) as outcome:
            event = wait("the pause", lambda: paused_for_disk(engine.paths.store), timeout=120)
            assert "only 0 MiB free on the disk of" in event.message  # measured when full
            assert engine.controls.paused and not outcome
            nodes = check_store(engine)
            assert nodes["1"].status == NodeStatus.KEPT
            assert nodes["1.1"].status == NodeStatus.INTERRUPTED
            resume_and_finish(engine, outcome)
        assert outcome[0].status == RunStatus.FINISHED, outcome[0].reason
        nodes = check_store(engine)
        assert nodes["1.2"].status in (NodeStatus.KEPT, NodeStatus.DISCARDED), nodes["1.2"].reason
        engine.store.close()
    finally:
        subprocess.run(["umount", "-l", str(run_dir)], capture_output=True)
