"""Kill -9 the engine 30 times at random moments on the demo target and
restart it each time: the store stays sound, finished nodes stay exactly as
they were, no worktree or process is left behind, and the run finishes."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perfsup.demo import prepare_demo
from perfsup.engine.orphans import marked_processes
from perfsup.store import NodeStatus
from tests.helpers import git, wait_until

KILLS = 30
FINISHED = {status.value for status in NodeStatus if status.finished}


def finished_nodes(db: Path) -> dict[str, tuple[str, str, str]]:
    """id -> (status, diff, reason) of every finished node, read without the engine."""
    if not db.exists():
        return {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as con:
        try:
            rows = con.execute("SELECT id, status, diff, coalesce(reason, '') FROM node").fetchall()
        except sqlite3.OperationalError:  # killed before the tables existed
            return {}
    return {r[0]: (r[1], r[2], r[3]) for r in rows if r[1] in FINISHED}


@pytest.mark.slow
def test_kill_9_thirty_times_loses_and_leaks_nothing(tmp_path: Path) -> None:
    repo = prepare_demo(tmp_path)
    config = tmp_path / "kill.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [target]
            repo = "{repo}"
            goal = "make bench.py report a lower time_ms"
            [build]
            run = 'python -m compileall -q textstats && python -c "import textstats"'
            [check]
            run = "python check.py"
            [bench]
            run = "python bench.py"
            pairs = 6
            warmup = 0
            [[metrics]]
            name = "time_ms"
            [access]
            writable = ["textstats"]
            protected = ["bench.py", "check.py"]
            [model]
            backend = "scripted"
            script = "{repo / "answers.toml"}"
            [budgets]
            max_experiments = 80
            max_children = 100
            max_failures_in_a_row = 100
            [run]
            keep_worktrees = "none"
            """
        )
    )
    run_dir = tmp_path / "run"
    db = run_dir / "perfsup.db"
    argv = [sys.executable, "-m", "perfsup", "run", "--headless", "-c", str(config)]
    argv += ["--run-dir", str(run_dir)]
    rng = random.Random(5)
    seen: dict[str, tuple[str, str, str]] = {}
    log = (tmp_path / "engine.log").open("ab")
    try:
        for kill in range(KILLS + 1):
            engine = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            if kill == 0:  # the very first start creates the store; kill after that
                wait_until(lambda: finished_nodes(db), what="a first finished node", timeout=120)
            if kill < KILLS:
                time.sleep(rng.uniform(0.0, 4.0))
                engine.send_signal(signal.SIGKILL)
            engine.wait(timeout=120)
            now = finished_nodes(db)
            for node_id, record in seen.items():
                assert now.get(node_id) == record, f"after kill {kill}: {node_id} changed"
            seen = now
        assert engine.returncode == 0
    finally:
        log.close()

    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        status, reason = con.execute("SELECT status, stop_reason FROM run WHERE id = 1").fetchone()
        ids = [r[0] for r in con.execute("SELECT id FROM node")]
        in_flight = con.execute(
            "SELECT count(*) FROM node WHERE status IN "
            "('proposing', 'applying', 'building', 'checking', 'benchmarking')"
        ).fetchone()[0]
        # The run got through all five scripted answers despite the kills, each
        # used once: a restart goes on at the next unused answer, replaying none
        # (the outcomes depend on timing noise; that each answer was used does not).
        calls = con.execute("SELECT count(*) FROM modelcall WHERE ok").fetchone()[0]
        tried = con.execute(
            "SELECT DISTINCT description FROM node WHERE parent_id IS NOT NULL "
            "AND coalesce(description, '') != ''"
        ).fetchall()
    assert calls == 5
    assert len(tried) <= 5, tried  # a node killed before its answer was read has none
    assert status == "finished", reason
    assert len(ids) == len(set(ids))
    assert in_flight == 0
    assert not marked_processes(run_dir)  # no build, check or bench process left
    worktrees = run_dir / "worktrees"
    assert not worktrees.exists() or not list(worktrees.iterdir())
    listed = git(repo, "worktree", "list", "--porcelain")
    assert str(worktrees) not in listed
